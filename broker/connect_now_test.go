package broker

import (
	"runtime"
	"testing"
	"time"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// TestConnectNow drives the ways a TCP connection's CONNECT reaches the
// broker (connect_now.go): whole at accept (served by Serve's goroutine up
// to the park), in pieces (the reader goroutine waits for the rest), with
// more packets behind it in the same write (the reader goroutine goes on
// after the CONNACK), for a client id whose session exists (a take-over,
// never served inline), and wrong (the connection ends). Every case must
// behave as the spec says whichever path served it.
func TestConnectNow(t *testing.T) {
	srv := startServer(t, nil)
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, p *testkit.Peer)
	}{
		{"whole", func(t *testing.T, p *testkit.Peer) {
			p.Connect(t, &codec.Connect{ClientID: "now-whole", CleanStart: true})
			p.ExpectIdle(t)
		}},
		{"in pieces", func(t *testing.T, p *testkit.Peer) {
			b := connectBytes(codec.V311, "now-pieces", nil)
			for i := range b {
				p.SendRaw(t, b[i:i+1]) // one byte a write: some reads find part of it
			}
			if ack := testkit.Expect[*codec.Connack](t, p); ack.ReasonCode != codec.Success {
				t.Fatalf("CONNACK %s", ack.ReasonCode)
			}
			p.ExpectIdle(t)
		}},
		{"SUBSCRIBE behind it", func(t *testing.T, p *testkit.Peer) {
			p.Send(t, &codec.Connect{ClientID: "now-sub", CleanStart: true},
				&codec.Subscribe{PacketID: 1, Subscriptions: []codec.Subscription{{Filter: "now/#", QoS: 1}}},
				&codec.Pingreq{})
			// [MQTT-3.2.0-1]: the CONNACK first, then the answers in order.
			p.ExpectDescribed(t, "CONNACK sp=0 rc=0x00", "SUBACK id=1 [0x01]", "PINGRESP")
			p.Publish(t, 0, "now/x", "hello")
			p.ExpectMessage(t, "now/x", "hello")
		}},
		{"take-over", func(t *testing.T, p *testkit.Peer) {
			p.Connect(t, &codec.Connect{ClientID: "now-twice", CleanStart: true})
			q := testkit.Dial(t, srv.Addr, codec.V311)
			q.Connect(t, &codec.Connect{ClientID: "now-twice", CleanStart: true})
			p.ExpectClosed(t) // [MQTT-3:3.1.4-2]
			q.ExpectIdle(t)
		}},
		{"first packet not CONNECT", func(t *testing.T, p *testkit.Peer) {
			p.Send(t, &codec.Pingreq{}) // [MQTT-3.1.0-1]: no PINGRESP, a close
			p.ExpectClosed(t)
		}},
		{"unsupported protocol level", func(t *testing.T, p *testkit.Peer) {
			// [MQTT-3:3.1.2-2]: CONNACK 0x01, then the close.
			p.SendRaw(t, connectBytes(codec.V311, "now-level", func(b []byte) { b[connectLevelAt] = 3 }))
			if ack := testkit.Expect[*codec.Connack](t, p); ack.ReasonCode != codec.RefusedProtocolVersion {
				t.Fatalf("CONNACK %s, want 0x01", ack.ReasonCode)
			}
			p.ExpectClosed(t)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 10 { // both paths, whichever the timing picks
				p := testkit.Dial(t, srv.Addr, codec.V311)
				tc.run(t, p)
				p.Close()
			}
		})
	}
	testkit.WaitFor(t, testkit.Became(t, func() bool { return srv.connCount() == 0 }), "every connection ended")
}

// TestConnectDeadlineTCP is TestConnectDeadline over TCP, where a
// CONNECT that is not whole at accept is awaited by a reader goroutine
// with the deadline: silence and a partial CONNECT end at it, not before;
// a CONNECT completed before it is accepted.
func TestConnectDeadlineTCP(t *testing.T) {
	const timeout = 300 * time.Millisecond
	srv := startServer(t, &Options{ConnectTimeout: timeout})
	for _, tc := range []struct {
		name   string
		send   int // bytes of the CONNECT sent at once
		finish bool
	}{{"silent", 0, false}, {"partial", 6, false}, {"completed", 6, true}} {
		t.Run(tc.name, func(t *testing.T) {
			p := testkit.Dial(t, srv.Addr, codec.V311)
			defer p.Close()
			b := connectBytes(codec.V311, "deadline-"+tc.name, nil)
			start := time.Now()
			if tc.send > 0 {
				p.SendRaw(t, b[:tc.send])
			}
			if !tc.finish {
				p.ExpectClosed(t)
				// The broker's clock starts at accept, a little after or
				// before Dial returns here: a margin for that.
				if took := time.Since(start); took < timeout*3/4 {
					t.Errorf("closed after %v, before the CONNECT deadline (%v)", took, timeout)
				}
				return
			}
			p.SendRaw(t, b[tc.send:])
			testkit.Expect[*codec.Connack](t, p)
			p.ExpectIdle(t)
		})
	}
}

// TestConnectNowGoroutines: connections whose CONNECT is served by Serve's
// goroutine leave no goroutine behind once parked (Linux).
func TestConnectNowGoroutines(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("connections park on Linux only")
	}
	const n = 200
	srv := startServer(t, nil)
	g0 := runtime.NumGoroutine()
	conns := make([]*testkit.Peer, n)
	for i := range conns {
		conns[i] = testkit.Dial(t, srv.Addr, codec.V311)
		conns[i].Connect(t, &codec.Connect{ClientID: "g-" + string(rune('a'+i%26)) + string(rune('a'+i/26)), CleanStart: true})
	}
	testkit.WaitFor(t, testkit.Became(t, func() bool { return srv.parkedCount() == n }), "every connection parked")
	// Each peer has its reader goroutine; the broker none per connection.
	testkit.WaitFor(t, testkit.Became(t, func() bool { return runtime.NumGoroutine()-g0 <= n+2 }), "no broker goroutine per connection")
}
