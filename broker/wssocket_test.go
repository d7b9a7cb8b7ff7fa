package broker

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (server, client *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.(*net.TCPConn), c.(*net.TCPConn)
}

// TestWSSocketRest: a write by anyone but the connection's writer never
// waits for the socket; what the kernel does not take at once is written
// by a goroutine of its own, before what is written after it; the
// writer's write (beginWrite, Write, flushRest) returns once all of it is
// on the socket; the peer reads every byte in order.
func TestWSSocketRest(t *testing.T) {
	server, client := tcpPair(t)
	server.SetWriteBuffer(32 << 10)
	client.SetReadBuffer(16 << 10)
	s := newWSSocket(server)
	if s == nil {
		t.Skip("no non-blocking writes on this system")
	}
	if !s.idle() {
		t.Fatal("a new socket is not idle")
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	if n, err := s.Write(big); n != len(big) || err != nil {
		t.Fatalf("non-blocking Write = %d, %v; want %d, nil", n, err, len(big))
	}
	if s.idle() {
		t.Fatal("idle with 1 MiB not taken by a peer that does not read")
	}
	// A second non-blocking write (a pong, say) queues behind the rest.
	if n, err := s.Write([]byte("pong")); n != 4 || err != nil {
		t.Fatalf("queued Write = %d, %v", n, err)
	}

	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(client)
		got <- b
	}()
	s.beginWrite()
	if _, err := s.Write([]byte("after")); err != nil {
		t.Fatal(err)
	}
	if err := s.flushRest(); err != nil {
		t.Fatal(err)
	}
	if !s.idle() {
		t.Fatal("not idle after flushRest")
	}
	// With nothing left over the writer writes straight to the socket.
	s.beginWrite()
	if _, err := s.Write([]byte("last")); err != nil {
		t.Fatal(err)
	}
	if err := s.flushRest(); err != nil {
		t.Fatal(err)
	}
	server.CloseWrite()
	want := append(append(append(append([]byte{}, big...), "pong"...), "after"...), "last"...)
	if b := testkit.WaitFor(t, got, "the peer's read"); !bytes.Equal(b, want) {
		t.Fatalf("peer read %d bytes, want %d in order", len(b), len(want))
	}
}

// TestWSSocketFailed: once a write fails, every later one fails, also
// the writer's.
func TestWSSocketFailed(t *testing.T) {
	server, client := tcpPair(t)
	s := newWSSocket(server)
	if s == nil {
		t.Skip("no non-blocking writes on this system")
	}
	client.SetLinger(0)
	client.Close() // a reset: the next writes fail
	<-testkit.Became(t, func() bool {
		_, err := s.Write([]byte("x"))
		return err != nil
	})
	if s.idle() {
		t.Error("idle after a failed write")
	}
	s.beginWrite()
	s.Write([]byte("y"))
	if err := s.flushRest(); err == nil {
		t.Error("flushRest after a failed write: nil error")
	}
}

// TestWriteNowRestWebSocket: a packet written inline to a WebSocket
// subscriber that is not reading, larger than the socket takes, is
// finished by the socket's own goroutine (the writer claim is released
// at once), and the packets queued after it, which go through the writer
// goroutine, follow it: the subscriber, once it reads, gets every packet
// whole and in order [MQTT-4.6.0-5 of 3.1.1].
func TestWriteNowRestWebSocket(t *testing.T) {
	if !inlineWrites {
		t.Skip("no inline writes on this system")
	}
	ts := startWSServer(t, &Options{OutboundBuffer: 8 << 20, MaxPacketSize: 2 << 20}, WebSocketOptions{})
	dialer := &net.Dialer{}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err == nil {
			c.(*net.TCPConn).SetReadBuffer(16 << 10) // the peer takes little
		}
		return c, err
	}}
	t.Cleanup(tr.CloseIdleConnections)
	ws := wsDial(t, ts.URL, &websocket.DialOptions{Subprotocols: []string{Subprotocol}, HTTPClient: &http.Client{Transport: tr}})
	ws.SetReadLimit(4 << 20)
	sub := testkit.NewPeer(t, websocket.NetConn(context.Background(), ws, websocket.MessageBinary), codec.V311, testkit.RealTime)
	sub.Connect(t, &codec.Connect{ClientID: "rest-sub", CleanStart: true})
	sub.Subscribe(t, 0, "rest/#")
	ss := sessionOf(t, ts.Server, "rest-sub")
	ss.mu.Lock()
	c := ss.conn
	ss.mu.Unlock()
	wc := c.nc.(*wsConn)
	wc.raw.(*net.TCPConn).SetWriteBuffer(32 << 10)

	pub := testkit.Dial(t, ts.Addr, codec.V311)
	pub.Connect(t, &codec.Connect{ClientID: "rest-pub", CleanStart: true})
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	msgs := [][]byte{big}
	for i := range 20 {
		msgs = append(msgs, []byte("after-"+strconv.Itoa(i)))
	}
	pub.Publish(t, 1, "rest/t", string(big)) // PUBACK: routed, written inline
	c.outMu.Lock()
	inline := c.inlined
	c.outMu.Unlock()
	if !inline {
		t.Fatal("the first packet was not written inline")
	}
	if wc.canWriteNow() {
		t.Fatal("1 MiB went out to a WebSocket peer that does not read")
	}
	for _, m := range msgs[1:] {
		pub.Publish(t, 1, "rest/t", string(m))
	}
	for i, m := range msgs {
		p := testkit.Expect[*codec.Publish](t, sub)
		if !bytes.Equal(p.Payload, m) {
			t.Fatalf("message %d: %d bytes %.20q, want %d bytes %.20q", i, len(p.Payload), p.Payload, len(m), m)
		}
	}
	sub.ExpectIdle(t)
}

// TestWebSocketKeepAliveAfterLinger: a WebSocket client that has sent
// packets and then stays silent is closed at one and a half times its Keep
// Alive, with DISCONNECT 0x8D, though its reader first lingers for the
// next message (messageSoon) and then waits on a fresh goroutine
// [MQTT-5:3.1.2-22]; one that keeps sending within the linger is served
// on the same goroutine, every packet answered.
func TestWebSocketKeepAliveAfterLinger(t *testing.T) {
	ts := startWSServer(t, nil, WebSocketOptions{})
	t.Run("busy", func(t *testing.T) {
		c, _ := wsRaw(t, ts.URL, codec.V5)
		c.Connect(t, &codec.Connect{ClientID: "busy", CleanStart: true})
		c.Subscribe(t, 1, "busy/#")
		for i := range 50 {
			c.Publish(t, 0, "busy/t", strconv.Itoa(i)) // within the linger of the last
			c.ExpectMessage(t, "busy/t", strconv.Itoa(i))
		}
	})
	t.Run("silent", func(t *testing.T) {
		start := time.Now()
		c, _ := wsRaw(t, ts.URL, codec.V5)
		c.Connect(t, &codec.Connect{ClientID: "silent", CleanStart: true, KeepAlive: 1})
		c.Send(t, &codec.Pingreq{})
		testkit.Expect[*codec.Pingresp](t, c)
		if d := testkit.Expect[*codec.Disconnect](t, c); d.ReasonCode != codec.KeepAliveTimeout {
			t.Fatalf("got %s, want DISCONNECT 0x8D", testkit.Describe(d))
		}
		c.ExpectClosed(t)
		if elapsed := time.Since(start); elapsed < 1500*time.Millisecond {
			t.Fatalf("closed after %v, before 1.5 × Keep Alive", elapsed)
		}
	})
}

// TestWebSocketLazyReadDeadline: the read deadline under a WebSocket moves
// lazily (wsConn.extendRead): a read that meets a linger's end, or a
// keep-alive deadline the broker has moved on since, is tried again with
// the broker's deadline. A message that stalls between its frames for
// longer than any linger is still read whole, and a client that pings
// within its Keep Alive is never closed, though the deadline on the
// socket lags behind [MQTT-5:3.1.2-22].
func TestWebSocketLazyReadDeadline(t *testing.T) {
	ts := startWSServer(t, nil, WebSocketOptions{})
	t.Run("stall inside a message", func(t *testing.T) {
		c, ws := wsRaw(t, ts.URL, codec.V5)
		c.Connect(t, &codec.Connect{ClientID: "stall", CleanStart: true})
		c.Send(t, &codec.Pingreq{}) // a packet handled: the reader lingers after it
		testkit.Expect[*codec.Pingresp](t, c)
		b := testkit.Encode(codec.V5, &codec.Publish{QoS: 1, PacketID: 1, Topic: "stall/t", Payload: []byte("whole")})
		ctx := testkit.Context(t)
		w, err := ws.Writer(ctx, websocket.MessageBinary)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(b[:3]); err != nil { // one frame per Write
			t.Fatal(err)
		}
		// A pause, not a wait for an event: the reader's linger ends
		// meanwhile, inside the message.
		<-time.After(2 * lingerUntil)
		if _, err := w.Write(b[3:]); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		c.ExpectDescribed(t, "PUBACK id=1 rc=0x00")
	})
	t.Run("pings within Keep Alive", func(t *testing.T) {
		c, _ := wsRaw(t, ts.URL, codec.V5)
		c.Connect(t, &codec.Connect{ClientID: "pinger", CleanStart: true, KeepAlive: 1})
		tick := time.NewTicker(400 * time.Millisecond) // pacing: 4 pings span 2 × 1.5 s deadlines
		defer tick.Stop()
		for range 8 {
			<-tick.C
			c.Send(t, &codec.Pingreq{})
			testkit.Expect[*codec.Pingresp](t, c)
		}
	})
}
