//go:build !linux

package broker

import (
	"net"
	"syscall"
)

// keepAliveOnAccept does nothing here: whether accepted sockets inherit
// the listener's keep-alive differs between systems, so each connection
// that needs it sets it (conn.tcpKeepAlive).
func keepAliveOnAccept(net.Listener) bool { return false }

// ListenControl is nil here (a net.ListenConfig without Control):
// whether accepted connections inherit the listener's options differs
// between systems, so the broker sets them per connection.
var ListenControl func(network, address string, rc syscall.RawConn) error
