package broker

// Flow control and delivery: Receive Maximum and Maximum Packet Size both
// ways, the QoS 1 and QoS 2 flows with the server on either side, packet
// identifiers, and Message Expiry. Raw-packet tests run in synctest bubbles
// over net.Pipe, where "nothing more was sent" is an exact answer; the
// paho.golang tests run over loopback TCP.

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	paho "github.com/eclipse/paho.golang/paho"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// TestInitialSendQuota: the server's send quota towards a client starts
// non-zero and not above the client's Receive Maximum [MQTT-5:4.9.0-1]
// (nor above its own MaxInflight cap); every PUBACK lets exactly one more
// queued message go [MQTT-5:3.3.4-9], in order.
func TestInitialSendQuota(t *testing.T) {
	cases := []struct {
		name     string
		rm       uint16 // client's Receive Maximum, 0 for absent (65535)
		inflight int    // Options.MaxInflight
		want     int
	}{
		{"Receive Maximum 3", 3, 0, 3},
		{"Receive Maximum absent, MaxInflight 4", 0, 4, 4},
		{"Receive Maximum 10 above MaxInflight 4", 10, 4, 4},
		{"Receive Maximum 1", 1, 0, 1},
	}
	for _, tc := range cases {
		inBubble(t, tc.name, func(t *testing.T) {
			srv := startPipeServer(t, &Options{MaxInflight: tc.inflight})
			p := clean5("quota")
			p.Properties.ReceiveMaximum = tc.rm
			c, _ := pipeConnect(t, srv, codec.V5, p)
			c.Subscribe(t, 1, "quota/t")
			pub, _ := pipeConnect(t, srv, codec.V5, clean5("quota-pub"))
			const n = 8
			for _, s := range payloads(n) {
				pub.Publish(t, 1, "quota/t", s)
			}
			want := func(i int) string { return fmt.Sprintf(`q1 dup=0 retain=0 quota/t "%d"`, i) }
			var window []*codec.Publish
			for i := range tc.want {
				window = append(window, c.ExpectPublish(t, want(i)))
			}
			c.ExpectIdle(t)
			for i := tc.want; i < n; i++ {
				c.Ack(t, window[0])
				window = append(window[1:], c.ExpectPublish(t, want(i)))
				c.ExpectIdle(t)
			}
			for _, p := range window {
				c.Ack(t, p)
			}
			c.ExpectIdle(t)
		})
	}
}

// TestPaho5ReceiveMaximum: a paho.golang client announcing Receive Maximum
// 2 and acknowledging by hand never has more than two unacknowledged QoS 1
// messages from the server [MQTT-5:3.3.4-9]; the rest wait, in order, while
// a QoS 0 message published after them is not held back (Receive Maximum
// counts QoS 1 and 2 only).
func TestPaho5ReceiveMaximum(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	manual := func(cc *paho.ClientConfig) { cc.EnableManualAcknowledgment = true }
	sub := connectP5(t, srv.Addr, p5Props("p5-rm-sub", func(p *paho.ConnectProperties) { p.ReceiveMaximum = u16(2) }), manual)
	sub.sub(t, "p5rm/q1", 1)
	sub.sub(t, "p5rm/end", 0)
	pub := connectP5(t, srv.Addr, v5conn("p5-rm-pub", true, 0))

	const n = 6
	for _, s := range payloads(n) {
		pub.pubSimple(t, "p5rm/q1", 1, false, s)
	}
	pub.pubSimple(t, "p5rm/end", 0, false, "overtakes")
	window := []msg{sub.msgs.expect(t, "p5rm/q1", "0", 1, false), sub.msgs.expect(t, "p5rm/q1", "1", 1, false)}
	sub.msgs.expect(t, "p5rm/end", "overtakes", 0, false) // 2..5 are held back

	for i := 2; i < n; i++ {
		if err := sub.Ack(window[0].p5); err != nil {
			t.Fatal(err)
		}
		window = append(window[1:], sub.msgs.expect(t, "p5rm/q1", fmt.Sprint(i), 1, false))
		// Had the PUBACK released more than one message, the next would
		// come before this sentinel.
		pub.pubSimple(t, "p5rm/end", 0, false, fmt.Sprint("after ", i))
		sub.msgs.expect(t, "p5rm/end", fmt.Sprint("after ", i), 0, false)
	}
	for _, m := range window {
		if err := sub.Ack(m.p5); err != nil {
			t.Fatal(err)
		}
	}
}

// TestServerReceiveMaximum: the server announces its Receive Maximum in the
// CONNACK; a client may have that many QoS 2 PUBLISH packets unacknowledged
// (a re-sent one with the same packet identifier does not count twice, and
// PUBCOMP frees a slot); one more is answered with DISCONNECT 0x93 and is
// not routed [MQTT-5:3.3.4-7].
func TestServerReceiveMaximum(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := startPipeServer(t, &Options{ReceiveMaximum: 2})
		sub, _ := pipeConnect(t, srv, codec.V5, clean5("srm-sub"))
		sub.Subscribe(t, 1, "srm/#")
		c, ack := pipeConnect(t, srv, codec.V5, clean5("srm"))
		if ack.Properties.ReceiveMaximum != 2 {
			t.Fatalf("CONNACK Receive Maximum %d, want 2", ack.Properties.ReceiveMaximum)
		}
		q2 := func(id uint16, payload string) *codec.Publish {
			return &codec.Publish{QoS: 2, PacketID: id, Topic: "srm/t", Payload: []byte(payload)}
		}
		c.Send(t, q2(1, "a"), q2(2, "b"))
		c.ExpectDescribed(t, "PUBREC id=1 rc=0x00", "PUBREC id=2 rc=0x00")
		again := q2(2, "b")
		again.Dup = true
		c.Send(t, again)
		c.ExpectDescribed(t, "PUBREC id=2 rc=0x00")
		c.Send(t, &codec.Pubrel{Ack: codec.Ack{PacketID: 1}})
		c.ExpectDescribed(t, "PUBCOMP id=1 rc=0x00")
		c.Send(t, q2(3, "c"))
		c.ExpectDescribed(t, "PUBREC id=3 rc=0x00")
		c.Send(t, q2(4, "d"))
		expectDisconnect(t, c, codec.ReceiveMaximumExceeded)

		for _, s := range []string{"a", "b", "c"} {
			sub.ExpectMessage(t, "srm/t", s)
		}
		sub.ExpectIdle(t)
	})
}

// publishSize returns the size of a QoS 1 PUBLISH to topic with an n-byte
// payload and no properties.
func publishSize(t testing.TB, topic string, n int) int {
	t.Helper()
	p := codec.Publish{QoS: 1, PacketID: 1, Topic: topic, Payload: make([]byte, n)}
	size, err := p.Size(codec.V5)
	if err != nil {
		t.Fatal(err)
	}
	return size
}

// payloadFor returns the payload length that makes a QoS 1 PUBLISH to topic
// exactly size bytes long.
func payloadFor(t testing.TB, topic string, size int) int {
	t.Helper()
	for n := 0; n < size; n++ {
		if publishSize(t, topic, n) == size {
			return n
		}
	}
	t.Fatalf("no payload makes a PUBLISH to %s of %d bytes", topic, size)
	return 0
}

// TestMaximumPacketSizeToClient: a PUBLISH exactly at the client's Maximum
// Packet Size is sent; one byte more, by payload or by properties, is not
// [MQTT-5:3.1.2-24], whether it is forwarded live at QoS 0 or 1 or sent as
// a retained message on subscribe. Each such message is discarded as if it
// had been delivered [MQTT-5:3.1.2-25] (with Receive Maximum 1 the next one
// still comes) and counted in Stats().Dropped. A 3.1.1 subscriber to the
// same topics, which has no limit, receives all of them.
func TestMaximumPacketSizeToClient(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := startPipeServer(t, nil)
		const limit = 64
		p := clean5("mps")
		p.Properties.MaximumPacketSize = limit
		p.Properties.ReceiveMaximum = 1
		c, _ := pipeConnect(t, srv, codec.V5, p)
		c.Subscribe(t, 1, "mps/#")
		v3, _ := pipeConnect(t, srv, codec.V311, &codec.Connect{ClientID: "mps-311", CleanStart: true})
		v3.Subscribe(t, 1, "mps/#")
		pub, _ := pipeConnect(t, srv, codec.V5, clean5("mps-pub"))

		n := payloadFor(t, "mps/t", limit)
		exact := strings.Repeat("a", n)
		over := strings.Repeat("b", n+1)
		overQoS0 := strings.Repeat("c", n+3) // no packet identifier: 2 bytes less
		dropped := srv.Stats().Dropped.Load()

		pub.Publish(t, 1, "mps/t", exact)
		pub.Publish(t, 1, "mps/t", over)
		pub.Publish(t, 0, "mps/t", overQoS0)
		pub.PublishWith(t, pub5(1, "mps/t", exact[:n-4], func(p *codec.Properties) {
			p.UserProperties = []codec.UserProperty{{Key: "k", Value: "v"}} // 1+2+1+2+1 = 7 bytes more
		}))
		pub.PublishWith(t, &codec.Publish{QoS: 1, Retain: true, Topic: "mps/r", Payload: []byte(over)})
		pub.Publish(t, 1, "mps/t", "last")

		got := c.ExpectMessage(t, "mps/t", exact)
		if size, _ := got.Size(codec.V5); size != limit {
			t.Errorf("the fitting PUBLISH is %d bytes, want exactly %d", size, limit)
		}
		c.ExpectMessage(t, "mps/t", "last")
		c.ExpectIdle(t)
		// The retained message is too large on subscribe as well.
		c.Subscribe(t, 1, "mps/r")
		c.ExpectIdle(t)
		if d := srv.Stats().Dropped.Load() - dropped; d != 5 {
			t.Errorf("Stats().Dropped grew by %d, want 5 (four forwarded, one retained)", d)
		}

		for _, s := range []string{exact, over, overQoS0, exact[:n-4]} {
			v3.ExpectMessage(t, "mps/t", s)
		}
		v3.ExpectMessage(t, "mps/r", over)
		v3.ExpectMessage(t, "mps/t", "last")
		v3.ExpectIdle(t)
	})
}

// TestPaho5MaximumPacketSize: paho.golang announcing a Maximum Packet Size
// of 128 never receives a larger PUBLISH [MQTT-5:3.1.2-24]; the broker
// counts the drop and goes on [MQTT-5:3.1.2-25].
func TestPaho5MaximumPacketSize(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	sub := connectP5(t, srv.Addr, p5Props("p5-mps-sub", func(p *paho.ConnectProperties) { p.MaximumPacketSize = u32(128) }))
	sub.sub(t, "p5mps/#", 1)
	pub := connectP5(t, srv.Addr, v5conn("p5-mps-pub", true, 0))
	pub.pubSimple(t, "p5mps/t", 1, false, strings.Repeat("x", 200))
	pub.pubSimple(t, "p5mps/t", 1, false, "small")
	sub.msgs.expect(t, "p5mps/t", "small", 1, false)
	if d := srv.Stats().Dropped.Load(); d != 1 {
		t.Errorf("Stats().Dropped = %d, want 1", d)
	}
}

// TestMaximumPacketSizeFromClient: the server announces its Maximum Packet
// Size (Options.MaxPacketSize); a PUBLISH of exactly that size is accepted,
// one byte larger [MQTT-5:3.2.2-15] gets DISCONNECT 0x95 with a Reason
// String, and is not routed. A 3.1.1 client is just disconnected.
func TestMaximumPacketSizeFromClient(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const limit = 128
		srv := startPipeServer(t, &Options{MaxPacketSize: limit})
		sub, _ := pipeConnect(t, srv, codec.V5, clean5("mpsin-sub"))
		sub.Subscribe(t, 1, "mpsin/#")

		c, ack := pipeConnect(t, srv, codec.V5, clean5("mpsin"))
		if ack.Properties.MaximumPacketSize != limit {
			t.Fatalf("CONNACK Maximum Packet Size %d, want %d", ack.Properties.MaximumPacketSize, limit)
		}
		n := payloadFor(t, "mpsin/t", limit)
		c.Publish(t, 1, "mpsin/t", strings.Repeat("a", n))
		c.Send(t, &codec.Publish{QoS: 1, PacketID: 99, Topic: "mpsin/t", Payload: make([]byte, n+1)})
		expectDisconnect(t, c, codec.PacketTooLarge)

		v3, _ := pipeConnect(t, srv, codec.V311, &codec.Connect{ClientID: "mpsin-311", CleanStart: true})
		// No Properties Length in 3.1.1: one byte less than 5.0.
		v3.Publish(t, 1, "mpsin/t", strings.Repeat("b", n+1))
		v3.Send(t, &codec.Publish{QoS: 1, PacketID: 2, Topic: "mpsin/t", Payload: make([]byte, n+2)})
		v3.ExpectClosed(t)

		sub.ExpectMessage(t, "mpsin/t", strings.Repeat("a", n))
		sub.ExpectMessage(t, "mpsin/t", strings.Repeat("b", n+1))
		sub.ExpectIdle(t)
	})
}

// TestServerQoS1Sender: the server as the sender of QoS 1 messages. Each
// new message gets a packet identifier not in use and goes out with DUP 0
// [MQTT-5:4.3.2-1] [MQTT-5:4.3.2-2] [MQTT-3:4.3.2-1] [MQTT-3:2.3.1-4]; it
// stays unacknowledged until its PUBACK, so exactly the unacknowledged ones
// are re-sent on the next connection [MQTT-5:4.3.2-3]. Identifiers wrap
// from 65535 to 1 and skip those still in use.
func TestServerQoS1Sender(t *testing.T) {
	for _, v := range bothVersions {
		inBubble(t, v.String(), func(t *testing.T) {
			srv := startPipeServer(t, nil)
			pub, _ := pipeConnect(t, srv, codec.V5, clean5("q1s-pub"))
			c, _ := pipeConnect(t, srv, v, persistent(v, "q1s"))
			c.Subscribe(t, 1, "q1s/t")
			for _, s := range payloads(3) {
				pub.Publish(t, 1, "q1s/t", s)
			}
			var ps []*codec.Publish
			ids := map[uint16]bool{}
			for i := range 3 {
				p := c.ExpectPublish(t, fmt.Sprintf(`q1 dup=0 retain=0 q1s/t "%d"`, i))
				if p.PacketID == 0 || ids[p.PacketID] {
					t.Fatalf("packet identifier %d reused or zero (in use: %v)", p.PacketID, ids)
				}
				ids[p.PacketID] = true
				ps = append(ps, p)
			}
			c.Send(t, &codec.Puback{Ack: codec.Ack{PacketID: ps[1].PacketID}})
			c.ExpectIdle(t)
			c.Close()

			c, _ = pipeConnect(t, srv, v, persistent(v, "q1s"))
			c.ExpectDescribed(t,
				fmt.Sprintf(`PUBLISH q1 dup=1 retain=0 id=%d q1s/t "0"`, ps[0].PacketID),
				fmt.Sprintf(`PUBLISH q1 dup=1 retain=0 id=%d q1s/t "2"`, ps[2].PacketID))
			c.Send(t, &codec.Puback{Ack: codec.Ack{PacketID: ps[0].PacketID}}, &codec.Puback{Ack: codec.Ack{PacketID: ps[2].PacketID}})
			c.ExpectIdle(t)

			// Wrap: 65535, then 1 (0 is never used); then, with both still
			// unacknowledged, the next identifier after 65534 is 2.
			// Packet identifiers follow the session's delivery sequence
			// numbers (ring.pidOf): an empty queue skips to the number
			// after id's; one with messages in flight goes on from them.
			setNext := func(id uint16) {
				ss := sessionOf(t, srv, "q1s")
				ss.mu.Lock()
				if q := &ss.q; q.head == q.tail {
					seq := q.tail
					for pidOf(seq) != id+1 {
						seq++
					}
					q.head, q.next, q.tail = seq, seq, seq
				}
				ss.mu.Unlock()
			}
			setNext(65534)
			pub.Publish(t, 1, "q1s/t", "a")
			pub.Publish(t, 1, "q1s/t", "b")
			a := c.ExpectPublish(t, `q1 dup=0 retain=0 q1s/t "a"`)
			b := c.ExpectPublish(t, `q1 dup=0 retain=0 q1s/t "b"`)
			setNext(65534)
			pub.Publish(t, 1, "q1s/t", "c")
			cc := c.ExpectPublish(t, `q1 dup=0 retain=0 q1s/t "c"`)
			if got := []uint16{a.PacketID, b.PacketID, cc.PacketID}; !slices.Equal(got, []uint16{65535, 1, 2}) {
				t.Errorf("packet identifiers %v, want [65535 1 2]", got)
			}
			for _, p := range []*codec.Publish{a, b, cc} {
				c.Ack(t, p)
			}
			c.ExpectIdle(t)
		})
	}
}

// TestServerQoS2Sender: the server as the sender of QoS 2 messages: a new
// identifier and DUP 0 for each message [MQTT-5:4.3.3-1] [MQTT-5:4.3.3-2]
// [MQTT-3:4.3.3-1]; the PUBLISH is unacknowledged until its PUBREC, so it
// is re-sent on the next connection [MQTT-5:4.3.3-3]; a PUBREC is answered
// with a PUBREL with the same identifier [MQTT-5:4.3.3-4] [MQTT-5:2.2.1-5]
// [MQTT-3:2.3.1-6], which is unacknowledged until its PUBCOMP and re-sent
// until then [MQTT-5:4.3.3-5].
func TestServerQoS2Sender(t *testing.T) {
	for _, v := range bothVersions {
		inBubble(t, v.String(), func(t *testing.T) {
			srv := startPipeServer(t, nil)
			pub, _ := pipeConnect(t, srv, codec.V5, clean5("q2s-pub"))
			c, _ := pipeConnect(t, srv, v, persistent(v, "q2s"))
			c.Subscribe(t, 2, "q2s/t")
			pub.Publish(t, 2, "q2s/t", "a")
			pub.Publish(t, 2, "q2s/t", "b")
			a := c.ExpectPublish(t, `q2 dup=0 retain=0 q2s/t "a"`)
			b := c.ExpectPublish(t, `q2 dup=0 retain=0 q2s/t "b"`)
			if a.PacketID == b.PacketID || a.PacketID == 0 || b.PacketID == 0 {
				t.Fatalf("packet identifiers %d and %d, want two distinct non-zero ones", a.PacketID, b.PacketID)
			}
			c.Send(t, &codec.Pubrec{Ack: codec.Ack{PacketID: b.PacketID}})
			c.ExpectDescribed(t, fmt.Sprintf("PUBREL id=%d rc=0x00", b.PacketID))
			c.Close()

			c, _ = pipeConnect(t, srv, v, persistent(v, "q2s"))
			c.ExpectDescribed(t,
				fmt.Sprintf(`PUBLISH q2 dup=1 retain=0 id=%d q2s/t "a"`, a.PacketID),
				fmt.Sprintf("PUBREL id=%d rc=0x00", b.PacketID))
			c.ExpectIdle(t)
			c.Send(t, &codec.Pubrec{Ack: codec.Ack{PacketID: a.PacketID}}, &codec.Pubcomp{Ack: codec.Ack{PacketID: b.PacketID}})
			c.ExpectDescribed(t, fmt.Sprintf("PUBREL id=%d rc=0x00", a.PacketID))
			c.Close()

			c, _ = pipeConnect(t, srv, v, persistent(v, "q2s"))
			c.ExpectDescribed(t, fmt.Sprintf("PUBREL id=%d rc=0x00", a.PacketID))
			c.ExpectIdle(t)
			c.Send(t, &codec.Pubcomp{Ack: codec.Ack{PacketID: a.PacketID}})
			c.Close()

			c, _ = pipeConnect(t, srv, v, persistent(v, "q2s"))
			c.ExpectIdle(t)
		})
	}
}

// TestServerQoSReceiver: the server as the receiver. A QoS 1 PUBLISH is
// answered with a PUBACK carrying its packet identifier [MQTT-5:4.3.2-4]
// [MQTT-5:2.2.1-5] [MQTT-3:2.3.1-6]; after that PUBACK the same identifier,
// even with DUP 1, is a new message and is routed again [MQTT-5:4.3.2-5].
// PUBREC and PUBCOMP carry the identifier of their PUBLISH and PUBREL.
func TestServerQoSReceiver(t *testing.T) {
	for _, v := range bothVersions {
		inBubble(t, v.String(), func(t *testing.T) {
			srv := startPipeServer(t, nil)
			sub, _ := pipeConnect(t, srv, codec.V5, clean5("qr-sub"))
			sub.Subscribe(t, 2, "qr/#")
			c, _ := pipeConnect(t, srv, v, &codec.Connect{ClientID: "qr", CleanStart: true})

			c.Send(t, &codec.Publish{QoS: 1, PacketID: 513, Topic: "qr/1", Payload: []byte("first")})
			c.ExpectDescribed(t, "PUBACK id=513 rc=0x00")
			c.Send(t, &codec.Publish{QoS: 1, Dup: true, PacketID: 513, Topic: "qr/1", Payload: []byte("second")})
			c.ExpectDescribed(t, "PUBACK id=513 rc=0x00")
			c.Send(t, &codec.Publish{QoS: 2, PacketID: 1027, Topic: "qr/2", Payload: []byte("third")})
			c.ExpectDescribed(t, "PUBREC id=1027 rc=0x00")
			c.Send(t, &codec.Pubrel{Ack: codec.Ack{PacketID: 1027}})
			c.ExpectDescribed(t, "PUBCOMP id=1027 rc=0x00")

			sub.ExpectMessage(t, "qr/1", "first")
			sub.ExpectMessage(t, "qr/1", "second")
			sub.ExpectMessage(t, "qr/2", "third")
			sub.ExpectIdle(t)
		})
	}
}

// TestRetainedMessageExpiry: a retained message keeps its Message Expiry
// Interval: a new subscriber gets it with the interval reduced by the time
// it has been stored [MQTT-5:3.3.2-6], and once the interval has passed it
// is no longer sent [MQTT-5:3.3.2-5]; retained messages without an
// interval stay.
func TestRetainedMessageExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := startPipeServer(t, nil)
		pub, _ := pipeConnect(t, srv, codec.V5, clean5("rx-pub"))
		for _, p := range []*codec.Publish{
			pub5(1, "rx/short", "10 s", expiring(10)),
			pub5(1, "rx/long", "100 s", expiring(100)),
			pub5(1, "rx/forever", "no expiry", nil),
		} {
			p.Retain = true
			pub.PublishWith(t, p)
		}
		receive := func(c *testkit.Peer, n int) map[string]*codec.Publish {
			t.Helper()
			got := map[string]*codec.Publish{}
			for range n {
				p := testkit.Expect[*codec.Publish](t, c)
				if !p.Retain {
					t.Fatalf("got %s, want a retained message", testkit.Describe(p))
				}
				got[p.Topic] = p
				c.Ack(t, p)
			}
			c.ExpectIdle(t)
			return got
		}

		advance(4 * time.Second) // fake time (synctest)
		s1, _ := pipeConnect(t, srv, codec.V5, clean5("rx-s1"))
		s1.Subscribe(t, 1, "rx/#")
		got := receive(s1, 3)
		wantExpiry(t, got["rx/short"], 6)
		wantExpiry(t, got["rx/long"], 96)
		if p := got["rx/forever"]; p.Properties.Has(codec.PropMessageExpiryInterval) {
			t.Errorf("Message Expiry Interval on a message published without one: %d", p.Properties.MessageExpiryInterval)
		}

		advance(6 * time.Second) // fake time (synctest): 10 s after publishing
		s2, _ := pipeConnect(t, srv, codec.V5, clean5("rx-s2"))
		s2.Subscribe(t, 1, "rx/#")
		got = receive(s2, 2)
		if got["rx/long"] == nil || got["rx/forever"] == nil {
			t.Fatalf("got retained %v, want rx/long and rx/forever", slices.Collect(mapKeys(got)))
		}
		wantExpiry(t, got["rx/long"], 90)
	})
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestExpiryInSendQueue: messages waiting for a connected client's Receive
// Maximum expire too: one whose interval passes while it waits is never
// sent [MQTT-5:3.3.2-5]; the next is sent with its interval reduced by the
// wait [MQTT-5:3.3.2-6].
func TestExpiryInSendQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := startPipeServer(t, nil)
		p := clean5("xq")
		p.Properties.ReceiveMaximum = 1
		c, _ := pipeConnect(t, srv, codec.V5, p)
		c.Subscribe(t, 1, "xq/t")
		pub, _ := pipeConnect(t, srv, codec.V5, clean5("xq-pub"))
		pub.PublishWith(t, pub5(1, "xq/t", "holds the window", nil))
		pub.PublishWith(t, pub5(1, "xq/t", "expires", expiring(5)))
		pub.PublishWith(t, pub5(1, "xq/t", "waits", expiring(20)))
		first := c.ExpectPublish(t, `q1 dup=0 retain=0 xq/t "holds the window"`)
		c.ExpectIdle(t)

		advance(8 * time.Second) // fake time (synctest)
		c.Ack(t, first)
		wantExpiry(t, c.ExpectMessage(t, "xq/t", "waits"), 12)
		c.ExpectIdle(t)
	})
}

// TestExpiryAfterSending: once a QoS 1 or 2 PUBLISH has been sent, Message
// Expiry no longer applies to it [MQTT-5:4.3.3-7]: after the interval has
// passed it is still re-sent on the next connection (it must be
// [MQTT-5:4.4.0-1]), with an interval that has run down to 0.
func TestExpiryAfterSending(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := startPipeServer(t, nil)
		pub, _ := pipeConnect(t, srv, codec.V5, clean5("xs-pub"))
		c, _ := pipeConnect(t, srv, codec.V5, persistent(codec.V5, "xs"))
		c.Subscribe(t, 2, "xs/#")
		pub.PublishWith(t, pub5(2, "xs/2", "qos 2", expiring(5)))
		pub.PublishWith(t, pub5(1, "xs/1", "qos 1", expiring(5)))
		q2 := c.ExpectPublish(t, `q2 dup=0 retain=0 xs/2 "qos 2"`)
		q1 := c.ExpectPublish(t, `q1 dup=0 retain=0 xs/1 "qos 1"`)
		wantExpiry(t, q2, 5)
		c.Close()

		advance(time.Minute) // fake time (synctest)
		c, _ = pipeConnect(t, srv, codec.V5, persistent(codec.V5, "xs"))
		var again []*codec.Publish
		for _, want := range []*codec.Publish{q2, q1} {
			p := testkit.Expect[*codec.Publish](t, c)
			if !p.Dup || p.PacketID != want.PacketID || p.Topic != want.Topic || string(p.Payload) != string(want.Payload) {
				t.Fatalf("got %s, want %s re-sent with DUP", testkit.Describe(p), testkit.Describe(want))
			}
			wantExpiry(t, p, 0) // run down, not wrapped around
			again = append(again, p)
		}
		for _, p := range again {
			c.Ack(t, p)
		}
		c.ExpectIdle(t)
	})
}

// TestQoS2ReceiverExpiry: the server, as the receiver of a QoS 2 message
// whose Message Expiry Interval passes before the PUBREL, completes the
// acknowledgement sequence [MQTT-5:4.3.3-13], while the expired message is
// not delivered to a subscriber that was offline meanwhile
// [MQTT-5:3.3.2-5].
func TestQoS2ReceiverExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := startPipeServer(t, nil)
		sub, _ := pipeConnect(t, srv, codec.V5, persistent(codec.V5, "x2r-sub"))
		sub.Subscribe(t, 2, "x2r/t")
		sub.Disconnect(t)

		c, _ := pipeConnect(t, srv, codec.V5, clean5("x2r"))
		p := pub5(2, "x2r/t", "short-lived", expiring(1))
		p.PacketID = 7
		c.Send(t, p)
		c.ExpectDescribed(t, "PUBREC id=7 rc=0x00")
		advance(10 * time.Second) // fake time (synctest)
		c.Send(t, &codec.Pubrel{Ack: codec.Ack{PacketID: 7}})
		c.ExpectDescribed(t, "PUBCOMP id=7 rc=0x00")

		sub, _ = pipeConnect(t, srv, codec.V5, persistent(codec.V5, "x2r-sub"))
		sub.ExpectIdle(t)
	})
}

// TestRedeliveryMaximumPacketSize: a message in flight when the connection
// was lost is not re-sent to a new connection whose Maximum Packet Size it
// exceeds [MQTT-5:3.1.2-24]; it is discarded as if delivered
// [MQTT-5:3.1.2-25] and counted, and the others are re-sent.
func TestRedeliveryMaximumPacketSize(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := startPipeServer(t, nil)
		pub, _ := pipeConnect(t, srv, codec.V5, clean5("rmps-pub"))
		c, _ := pipeConnect(t, srv, codec.V5, persistent(codec.V5, "rmps"))
		c.Subscribe(t, 1, "rmps/t")
		pub.Publish(t, 1, "rmps/t", strings.Repeat("x", 200))
		pub.Publish(t, 1, "rmps/t", "small")
		testkit.Expect[*codec.Publish](t, c)
		small := testkit.Expect[*codec.Publish](t, c)
		c.Close()

		p := persistent(codec.V5, "rmps")
		p.Properties.MaximumPacketSize = 100
		c, _ = pipeConnect(t, srv, codec.V5, p)
		c.ExpectDescribed(t, fmt.Sprintf(`PUBLISH q1 dup=1 retain=0 id=%d rmps/t "small"`, small.PacketID))
		c.Ack(t, small)
		c.ExpectIdle(t)
		if d := srv.Stats().Dropped.Load(); d != 1 {
			t.Errorf("Stats().Dropped = %d, want 1", d)
		}
		c.Close()
		c, _ = pipeConnect(t, srv, codec.V5, persistent(codec.V5, "rmps"))
		c.ExpectIdle(t) // discarded, not kept for a later connection
	})
}

// TestMessageExpiryZero: a Message Expiry Interval of 0 is a lifetime of
// zero seconds: the message goes to the subscribers it can be sent to at
// once, with the interval 0 [MQTT-5:3.3.2-6], and is not kept for anyone
// else [MQTT-5:3.3.2-5] (an offline session, a later subscriber to its
// retained topic).
func TestMessageExpiryZero(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := startPipeServer(t, nil)
		online, _ := pipeConnect(t, srv, codec.V5, clean5("mez-on"))
		online.Subscribe(t, 1, "mez/#")
		away, _ := pipeConnect(t, srv, codec.V5, persistent(codec.V5, "mez-away"))
		away.Subscribe(t, 1, "mez/#")
		away.Disconnect(t)
		pub, _ := pipeConnect(t, srv, codec.V5, clean5("mez-pub"))
		pub.PublishWith(t, pub5(0, "mez/0", "qos 0", expiring(0)))
		pub.PublishWith(t, pub5(1, "mez/1", "qos 1", expiring(0)))
		r := pub5(1, "mez/r", "retained", expiring(0))
		r.Retain = true
		pub.PublishWith(t, r)
		for _, want := range []struct{ topic, payload string }{{"mez/0", "qos 0"}, {"mez/1", "qos 1"}, {"mez/r", "retained"}} {
			wantExpiry(t, online.ExpectMessage(t, want.topic, want.payload), 0)
		}
		online.ExpectIdle(t)

		away, _ = pipeConnect(t, srv, codec.V5, persistent(codec.V5, "mez-away"))
		away.ExpectIdle(t)
		late, _ := pipeConnect(t, srv, codec.V5, clean5("mez-late"))
		late.Subscribe(t, 1, "mez/r")
		late.ExpectIdle(t)
	})
}
