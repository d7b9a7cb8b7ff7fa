package broker

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// TestShutdownKicksLateConnection: a connection counted by
// serveInBackground before Shutdown began, but whose serving goroutine
// registered it only after Shutdown had taken its list of connections to
// kick, is kicked too. Before, nothing ended it: a client that had sent its
// CONNECT and then kept silent (no keep-alive) held Shutdown until its
// context ended. This was the rare hang of
// TestWebSocketSilentPeers/never_reads: under load the HTTP handler's
// goroutine started serving the deaf client's WebSocket after the test
// had called Shutdown.
//
// The test takes the two steps of serveInBackground itself (track, then
// serve on a new goroutine) with Shutdown's snapshot between them.
func TestShutdownKicksLateConnection(t *testing.T) {
	connect := testkit.Encode(codec.V5, &codec.Connect{Version: codec.V5, ClientID: "late", CleanStart: true})
	tests := []struct {
		name   string
		noPark bool
		// dial returns the server's side of a connection whose client has
		// sent connect, and the client's side of it, if it reads.
		dial func(t *testing.T, srv *Server) (server net.Conn, client *testkit.Peer)
	}{
		{name: "tcp, parked reader", dial: lateTCP(connect)},
		{name: "tcp, reader goroutine", noPark: true, dial: lateTCP(connect)},
		{name: "websocket", dial: lateWebSocket(connect)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServer(t, nil).Server
			srv.noPark = tt.noPark
			nc, client := tt.dial(t, srv)

			if !srv.track(1) { // serveInBackground's first step
				t.Fatal("server closing before Shutdown")
			}
			shut := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), testkit.Timeout)
				defer cancel()
				shut <- srv.Shutdown(ctx)
			}()
			// closing is set under the lock under which Shutdown takes its
			// list of connections: once it is seen, the list is taken.
			testkit.WaitFor(t, testkit.Became(t, srv.isClosing), "Shutdown to begin")
			go srv.serve(context.Background(), nc, true, false) // its second step

			if err := testkit.WaitFor(t, shut, "Shutdown"); err != nil {
				t.Fatalf("Shutdown with a connection registered after it began: %v", err)
			}
			if client != nil {
				client.ExpectClosed(t)
			}
		})
	}
}

// lateTCP returns a dial function for TestShutdownKicksLateConnection:
// a loopback TCP connection whose client has sent connect.
func lateTCP(connect []byte) func(t *testing.T, srv *Server) (net.Conn, *testkit.Peer) {
	return func(t *testing.T, _ *Server) (net.Conn, *testkit.Peer) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		client := testkit.Dial(t, ln.Addr().String(), codec.V5)
		nc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		client.SendRaw(t, connect)
		return nc, client
	}
}

// lateWebSocket returns a dial function for
// TestShutdownKicksLateConnection: a WebSocket accepted as
// WebSocketHandler accepts it (over a wsSocket on Linux), whose client
// has sent connect in one binary message and then reads what comes, so
// that it answers the close handshake (a client that never reads holds the
// handshake for wsCloseTimeout; TestWebSocketSilentPeers has one).
func lateWebSocket(connect []byte) func(t *testing.T, srv *Server) (net.Conn, *testkit.Peer) {
	return func(t *testing.T, srv *Server) (net.Conn, *testkit.Peer) {
		accepted := make(chan net.Conn, 1)
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hw := &hijackRecorder{ResponseWriter: w}
			ws, err := websocket.Accept(hw, r, &websocket.AcceptOptions{Subprotocols: []string{Subprotocol}})
			if err != nil {
				return
			}
			accepted <- newWSConn(ws, hw.conn, hw.sock)
		}))
		t.Cleanup(hs.Close)
		ws := wsDial(t, "ws"+strings.TrimPrefix(hs.URL, "http"), nil)
		nc := testkit.WaitFor(t, accepted, "the WebSocket accepted")
		wsWrite(t, ws, websocket.MessageBinary, connect)
		closed := make(chan struct{})
		go func() {
			defer close(closed)
			for {
				if _, _, err := ws.Read(context.Background()); err != nil {
					return // the close handshake answered, or the connection gone
				}
			}
		}()
		t.Cleanup(func() { testkit.WaitFor(t, closed, "the server to close the WebSocket") })
		return nc, nil
	}
}

// TestShutdownSilentWebSocketsBeforeConnect: Shutdown does not wait for
// WebSocket clients that have not sent their CONNECT and never read. Each
// is kicked with nothing to say, so kick closes it at once, running the
// WebSocket close handshake on Shutdown's goroutine; the handshake sends
// the close frame and does not wait for the peer's, as after any kick.
// Before, kick set its read deadline only after that close, which then
// waited wsCloseTimeout for each peer, one after the other: six such
// clients held Shutdown for 12 s.
func TestShutdownSilentWebSocketsBeforeConnect(t *testing.T) {
	const peers = 6 // peers × wsCloseTimeout > testkit.Timeout
	ts := startWSServer(t, &Options{ConnectTimeout: time.Minute}, WebSocketOptions{})
	for range peers {
		wsDial(t, ts.URL, nil)
	}
	testkit.WaitFor(t, testkit.Became(t, func() bool {
		ts.mu.Lock()
		defer ts.mu.Unlock()
		return len(ts.conns) == peers
	}), "the WebSocket connections served")
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Timeout)
	defer cancel()
	start := time.Now()
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with %d silent WebSocket clients: %v after %v", peers, err, time.Since(start))
	}
}
