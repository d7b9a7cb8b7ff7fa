package broker

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// TestWriteNowKeepsOrder: publishers on their own connections publish at
// once to one subscriber; half of them wait for each PUBACK (so the
// subscriber's writer is often idle and the publisher's goroutine writes
// inline), half send without waiting (so a writer goroutine batches).
// Each publisher's messages arrive complete and in the order sent
// [MQTT-4.6.0-5 of 3.1.1: ordered topics per publisher]; with the
// subscriber over TCP and over WebSocket, on both of which the inline
// path was taken (Linux).
func TestWriteNowKeepsOrder(t *testing.T) {
	for _, transport := range []string{"tcp", "websocket"} {
		t.Run(transport, func(t *testing.T) {
			var srv *testServer
			var sub *testkit.Peer
			if transport == "tcp" {
				srv = startServer(t, nil)
				sub = testkit.Dial(t, srv.Addr, codec.V311)
			} else {
				ws := startWSServer(t, nil, WebSocketOptions{})
				srv = ws.testServer
				sub, _ = wsRaw(t, ws.URL, codec.V311)
			}
			testWriteNowOrder(t, transport, srv, sub)
		})
	}
}

func testWriteNowOrder(t *testing.T, transport string, srv *testServer, sub *testkit.Peer) {
	const publishers, each = 8, 300
	sub.Connect(t, &codec.Connect{ClientID: "order-sub", CleanStart: true})
	sub.Subscribe(t, 1, "order/#")

	t.Run("publish", func(t *testing.T) {
		for p := range publishers {
			t.Run(strconv.Itoa(p), func(t *testing.T) {
				t.Parallel()
				pub := testkit.Dial(t, srv.Addr, codec.V311)
				pub.Connect(t, &codec.Connect{ClientID: "order-pub-" + strconv.Itoa(p), CleanStart: true})
				qos := codec.QoS(p % 2)
				for i := range each {
					pub.Publish(t, qos, "order/"+strconv.Itoa(p), fmt.Sprintf("%d/%d", p, i))
				}
			})
		}
	})

	next := make([]int, publishers)
	for range publishers * each {
		m := testkit.Expect[*codec.Publish](t, sub)
		if m.QoS == 1 {
			sub.Send(t, &codec.Puback{Ack: codec.Ack{PacketID: m.PacketID}})
		}
		ps, is, _ := strings.Cut(string(m.Payload), "/")
		p, _ := strconv.Atoi(ps)
		i, _ := strconv.Atoi(is)
		if p < 0 || p >= publishers || i != next[p] {
			t.Fatalf("got message %q, want %d/%d next from that publisher", m.Payload, p, next[p])
		}
		next[p]++
	}
	sub.ExpectIdle(t)

	ss := sessionOf(t, srv.Server, "order-sub")
	ss.mu.Lock()
	c := ss.conn
	ss.mu.Unlock()
	c.outMu.Lock()
	inline := c.inlined
	c.outMu.Unlock()
	if inlineWrites && !inline {
		t.Errorf("no packet was written inline over %s", transport)
	}
}

// TestWriteNowRest: an inline write that the socket takes only part of
// (a 1 MiB packet to a client that is not reading, with a 64 KiB send
// buffer) leaves the rest to the writer goroutine, which writes it
// before the packets queued after it; the client, once it reads, gets
// every packet whole and in order.
func TestWriteNowRest(t *testing.T) {
	server, client := tcpPair(t)
	server.SetWriteBuffer(64 << 10) // far below the packet

	srv := New(Options{OutboundBuffer: 8 << 20})
	c := newConn(srv, server)
	c.version = codec.V311
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	msgs := [][]byte{big}
	for i := range 20 {
		msgs = append(msgs, []byte("after-"+strconv.Itoa(i)))
	}
	for _, m := range msgs {
		d := &delivery{msg: &Message{Topic: "rest/t", Payload: m}}
		if !c.enqueuePublish(d, 0, false, true) {
			t.Fatal("queue refused a packet")
		}
	}
	c.outMu.Lock()
	if inlineWrites && !c.inlined {
		t.Error("the first packet was not written inline")
	}
	c.outMu.Unlock()

	r := codec.NewReader(client, 0)
	r.SetVersion(codec.V311)
	for i, m := range msgs {
		p, err := r.ReadPacket()
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if got := p.(*codec.Publish).Payload; !bytes.Equal(got, m) {
			t.Fatalf("packet %d: %d bytes %.20q, want %d bytes %.20q", i, len(got), got, len(m), m)
		}
	}
	c.closeQueue()
	c.waitWriter()
	server.Close()
}

// TestWriteNowBurst: packets queued one after the other for a connection
// whose writer has rested for writeNowBurstRest (a publisher's write that
// carried several messages, routed microseconds apart) are written inline,
// up to writeNowBurst of them; the next goes to a writer goroutine, and
// after a writer goroutine has run, a packet waits for writeNowIdle of
// rest before it is written inline again. After a shorter rest, only one
// is. The client gets every packet, in the
// order queued [MQTT-4.6.0-5 of 3.1.1].
func TestWriteNowBurst(t *testing.T) {
	if !inlineWrites {
		t.Skip("no inline writes on this system")
	}
	server, client := tcpPair(t)
	srv := New(Options{})
	srv.opts.writeNowIdle = time.Hour // rest only when the test says so
	c := newConn(srv, server)
	c.version = codec.V311
	rest := func() {
		c.outMu.Lock()
		c.idleSince = monotime() - int64(2*time.Hour)
		c.outMu.Unlock()
	}
	n := 0
	send := func() {
		d := &delivery{msg: &Message{Topic: "burst/t", Payload: []byte(strconv.Itoa(n))}}
		n++
		if !c.enqueuePublish(d, 0, false, true) {
			t.Fatal("queue refused a packet")
		}
	}
	// state returns whether a writer (goroutine) holds the connection and
	// the inline run.
	state := func() (bool, uint8) {
		c.outMu.Lock()
		defer c.outMu.Unlock()
		return c.writing, c.inlineRun
	}
	idle := func() {
		testkit.WaitFor(t, testkit.Became(t, func() bool { w, _ := state(); return !w }), "the writer goroutine to finish")
	}

	rest()
	for i := range writeNowBurst {
		send()
		if w, run := state(); w || int(run) != i+1 {
			t.Fatalf("packet %d of a burst: writer busy %t, inline run %d; want it written inline (run %d)", i, w, run, i+1)
		}
	}
	send() // one more: a writer goroutine
	idle()
	if _, run := state(); run != writeNowBurst {
		t.Fatalf("packet %d: inline run %d after it, want %d (written by a writer goroutine)", writeNowBurst, run, writeNowBurst)
	}
	send() // right after a writer goroutine, without rest: another
	idle()
	if _, run := state(); run != writeNowBurst {
		t.Fatalf("packet after a writer goroutine: inline run %d, want %d (not inline)", run, writeNowBurst)
	}
	rest()
	send() // after rest: inline again
	if w, run := state(); w || run != 1 {
		t.Fatalf("packet after rest: writer busy %t, inline run %d; want it written inline (run 1)", w, run)
	}
	idle()
	// A rest long enough for an inline write but shorter than
	// writeNowBurstRest: this packet inline, and no burst after it.
	c.outMu.Lock()
	srv.opts.writeNowIdle = writeNowBurstRest / 4
	c.idleSince = monotime() - int64(writeNowBurstRest/2)
	c.outMu.Unlock()
	send()
	if w, run := state(); w || run != writeNowBurst {
		t.Fatalf("packet after a short rest: writer busy %t, inline run %d; want it written inline (run %d: no burst)", w, run, writeNowBurst)
	}

	r := codec.NewReader(client, 0)
	r.SetVersion(codec.V311)
	for i := range n {
		p, err := r.ReadPacket()
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if got := string(p.(*codec.Publish).Payload); got != strconv.Itoa(i) {
			t.Fatalf("packet %d has payload %q, want %q", i, got, strconv.Itoa(i))
		}
	}
	c.closeQueue()
	c.waitWriter()
	server.Close()
}
