package broker

// 3.1.1 and 5.0 clients on one broker: messages both ways, $-topics, and
// keep-alive expiry.

import (
	"fmt"
	"testing"
	"time"

	paho "github.com/eclipse/paho.golang/paho"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// A 3.1.1 client (paho.mqtt.golang) and a 5.0 client (paho.golang) exchange
// messages both ways at every QoS, each delivered once at the lower of the
// published QoS and the subscription's maximum ([MQTT-3:3.8.4-6] for the
// 3.1.1 subscriber, [MQTT-5:3.8.4-8] for the 5.0 one).
func TestMixedVersionsExchange(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	s3 := connectP3(t, srv.Addr, "mx-s3", true)
	s5 := connectP5(t, srv.Addr, v5conn("mx-s5", true, 0))
	p3 := connectP3(t, srv.Addr, "mx-p3", true)
	p5 := connectP5(t, srv.Addr, v5conn("mx-p5", true, 0))

	type sub struct {
		name string
		in   *inbox
	}
	subs := []sub{{"3.1.1", s3.msgs}, {"5.0", s5.msgs}}
	for sq := byte(0); sq <= 2; sq++ {
		filter := fmt.Sprintf("mx/%d/#", sq)
		s3.sub(t, filter, sq)
		s5.sub(t, filter, sq)
	}
	s3.sub(t, "mx/end", 0)
	s5.sub(t, "mx/end", 0)

	// Each publisher's QoS 2 PUBLISH is acknowledged only after it has been
	// routed, so the publishers' messages do not interleave.
	type want struct {
		topic string
		qos   byte // as published
		subq  byte
	}
	var wants []want
	publishers := []struct {
		name string
		pub  func(topic string, qos byte, payload string)
	}{
		{"v311", func(topic string, qos byte, payload string) { p3.pub(t, topic, qos, false, payload) }},
		{"v5", func(topic string, qos byte, payload string) { p5.pubSimple(t, topic, qos, false, payload) }},
	}
	for _, p := range publishers {
		for sq := byte(0); sq <= 2; sq++ {
			for pq := byte(0); pq <= 2; pq++ {
				topic := fmt.Sprintf("mx/%d/%s/%d", sq, p.name, pq)
				p.pub(topic, pq, "from "+p.name)
				wants = append(wants, want{topic, pq, sq})
			}
		}
	}
	p5.pubSimple(t, "mx/end", 0, false, "sentinel")

	for _, s := range subs {
		t.Run("to "+s.name, func(t *testing.T) {
			for _, w := range wants {
				m := s.in.next(t)
				if m.Topic != w.topic || m.QoS != min(w.qos, w.subq) || m.Retain || m.Payload == "" {
					t.Fatalf("got %v, want %s at QoS %d", m, w.topic, min(w.qos, w.subq))
				}
			}
			// Exactly one copy each: the sentinel comes next.
			s.in.expect(t, "mx/end", "sentinel", 0, false)
		})
	}
}

// $-topics [MQTT-4.7.2-1]: a topic filter starting with a wildcard does not
// match topic names starting with $, a filter starting with $ does; clients
// may publish to $-topics other than $SYS/, which belongs to the broker (a
// 3.1.1 publisher is acknowledged and dropped, a 5.0 one gets 0x87).
func TestDollarTopics_MQTT_4_7_2_1(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	wild3 := connectP3(t, srv.Addr, "dl-wild3", true)
	wild3.sub(t, "#", 1)
	wild3.sub(t, "+/x", 1)
	wild5 := connectP5(t, srv.Addr, v5conn("dl-wild5", true, 0))
	wild5.sub(t, "#", 1)
	wild5.sub(t, "+/+", 1)
	dollar := connectP5(t, srv.Addr, v5conn("dl-dollar", true, 0))
	dollar.sub(t, "$foo/#", 1)
	dollar.sub(t, "$SYS/#", 1)

	p3 := connectP3(t, srv.Addr, "dl-p3", true)
	p3.pub(t, "$SYS/x", 1, false, "refused") // acknowledged, not routed
	p5 := connectP5(t, srv.Addr, v5conn("dl-p5", true, 0))
	if rc := p5.pub(t, &paho.Publish{Topic: "$SYS/x", QoS: 1, Payload: []byte("refused")}); rc != 0x87 {
		t.Errorf("PUBACK for $SYS/x: %#x, want 0x87 (Not authorized)", rc)
	}
	p3.pub(t, "$foo/x", 1, false, "dollar from 3.1.1")
	p5.pubSimple(t, "$foo/x", 1, false, "dollar from 5.0")
	p5.pubSimple(t, "plain/x", 1, false, "sentinel")

	// The $foo subscriber gets both $foo messages and no $SYS/x.
	dollar.msgs.expect(t, "$foo/x", "dollar from 3.1.1", 1, false)
	dollar.msgs.expect(t, "$foo/x", "dollar from 5.0", 1, false)
	// The wildcard subscribers see the sentinel first: no $ topic reached them.
	wild3.msgs.expect(t, "plain/x", "sentinel", 1, false)
	wild5.msgs.expect(t, "plain/x", "sentinel", 1, false)
	// Nothing after the $foo messages either (a routed $SYS/x would have
	// come before them); check with a sentinel on $foo.
	p5.pubSimple(t, "$foo/end", 0, false, "sentinel")
	dollar.msgs.expect(t, "$foo/end", "sentinel", 0, false)
}

// Keep-alive: a client that goes silent is disconnected after one and a
// half times its Keep Alive ([MQTT-3:3.1.2-24], [MQTT-5:3.1.2-22]) as if
// the network had failed, so its will is published; a 5.0 client is told
// why with DISCONNECT 0x8D (Keep Alive timeout).
func TestKeepAliveExpiry(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	for _, tc := range []struct {
		name string
		v    codec.Version
	}{
		{"[MQTT-3:3.1.2-24]", codec.V311},
		{"[MQTT-5:3.1.2-22]", codec.V5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			topic := "ka/" + tc.v.String()
			watcher := connectP5(t, srv.Addr, v5conn("ka-watch-"+tc.v.String(), true, 0))
			watcher.sub(t, topic, 1)
			start := time.Now()
			c := testkit.Dial(t, srv.Addr, tc.v)
			c.Connect(t, &codec.Connect{
				CleanStart: true, KeepAlive: 1, ClientID: "ka-" + tc.v.String(),
				Will: &codec.Will{Topic: topic, Payload: []byte("silent"), QoS: 1},
			})
			// Stay silent; the broker must close within 1.5 s.
			if tc.v == codec.V5 {
				if d := testkit.Expect[*codec.Disconnect](t, c); d.ReasonCode != codec.KeepAliveTimeout {
					t.Fatalf("got %s, want DISCONNECT 0x8D", testkit.Describe(d))
				}
			}
			c.ExpectClosed(t)
			elapsed := time.Since(start)
			if elapsed < 1500*time.Millisecond {
				t.Fatalf("closed after %v, before 1.5 × Keep Alive", elapsed)
			}
			watcher.msgs.expect(t, topic, "silent", 1, false)
		})
	}
}
