//go:build !linux

package broker

import (
	"errors"
	"log/slog"
	"net"
)

// poller exists on Linux only (poll_linux.go); elsewhere every connection
// keeps its reader goroutine.
type poller struct{}

func newPoller(*slog.Logger) (*poller, error) {
	return nil, errors.New("parked readers need Linux")
}

func (*poller) add(*conn) bool { return false }
func (*poller) remove(*conn)   {}
func (*poller) stop()          {}
func (*poller) len() int       { return 0 }
func (*poller) start(c *conn)  { go c.resume() }

func parkerFor(net.Conn) *parker { return nil }

func (*parker) readable() bool { return true }
