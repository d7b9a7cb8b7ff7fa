// Package brokerkit starts a whole Tern broker for the tests of other
// packages: MQTT over TCP on a free loopback port and over WebSocket at
// /mqtt of an httptest server, both stopped when the test ends.
//
// It is apart from testkit because it imports the broker: the broker's own
// in-package tests use testkit, and a package's tests cannot import a
// package that imports it.
package brokerkit

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/internal/testkit"
)

// Broker is an in-process broker on loopback.
type Broker struct {
	*broker.Server
	Addr string // host:port of MQTT over TCP
	TCP  string // mqtt://host:port
	WS   string // ws://host:port/mqtt
	Mux  *http.ServeMux
}

// Logger logs to stderr at debug level under -v, and nowhere otherwise
// (nil: the broker's and the client's default).
func Logger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

// Start starts a broker with opts (nil for the defaults) on 127.0.0.1:0
// and an httptest server whose Mux serves its WebSocket endpoint at /mqtt
// with wsOpts; a test may add handlers to Mux. Both stop when the test
// ends.
func Start(t testing.TB, opts *broker.Options, wsOpts broker.WebSocketOptions) *Broker {
	t.Helper()
	var o broker.Options
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = Logger()
	}
	srv := broker.New(o)
	mux := http.NewServeMux()
	mux.Handle("/mqtt", srv.WebSocketHandler(wsOpts))
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		hs.CloseClientConnections()
		hs.Close()
	})
	addr := testkit.ServeLoopback(t, srv) // shut down before hs closes (cleanups run last first)
	return &Broker{
		Server: srv,
		Addr:   addr,
		TCP:    "mqtt://" + addr,
		WS:     "ws://" + strings.TrimPrefix(hs.URL, "http://") + "/mqtt",
		Mux:    mux,
	}
}

// Offline returns a channel closed once srv lists the session id as
// offline: its connection has ended and the session is kept. A test that
// publishes to a session it has just disconnected waits for this first,
// or the message may still go out on the closing connection. The broker
// has no event for it, so its list is read every millisecond
// (testkit.Became).
func Offline(t testing.TB, srv *broker.Server, id string) <-chan struct{} {
	return testkit.Became(t, func() bool {
		for _, s := range srv.Sessions() {
			if s.ID == id && !s.Online {
				return true
			}
		}
		return false
	})
}
