package broker

// Interop with github.com/eclipse/paho.mqtt.golang, an MQTT 3.1.1 client.

import (
	"testing"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/ternmq/tern/internal/testkit"
)

// QoS 0, 1 and 2 round trips between 3.1.1 clients, with each message
// forwarded at the lower of its QoS and the subscription's maximum
// [MQTT-3:3.8.4-6]. The publisher's QoS 1/2 PUBLISH is acknowledged
// [MQTT-3:3.3.4-1], and first deliveries carry DUP 0 (QoS 0 ones
// [MQTT-3:3.3.1-2]).
func TestPaho3QoSRoundTrip_MQTT3_3_8_4_6(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	sub := connectP3(t, srv.Addr, "p3-rt-sub", true)
	pub := connectP3(t, srv.Addr, "p3-rt-pub", true)
	for sq := byte(0); sq <= 2; sq++ {
		sub.sub(t, "rt/"+string('0'+sq)+"/#", sq)
	}
	for sq := byte(0); sq <= 2; sq++ {
		for pq := byte(0); pq <= 2; pq++ {
			topic := "rt/" + string('0'+sq) + "/" + string('0'+pq)
			pub.pub(t, topic, pq, false, "payload "+topic)
			m := sub.msgs.expect(t, topic, "payload "+topic, min(pq, sq), false)
			if m.Dup {
				t.Errorf("%s: DUP set on a first delivery", topic)
			}
		}
	}
}

// Retained messages between 3.1.1 clients: stored and sent to a new
// subscriber with RETAIN 1 [MQTT-3:3.3.1-5] [MQTT-3:3.3.1-6]
// [MQTT-3:3.3.1-8]; forwarded to existing subscribers with RETAIN 0
// [MQTT-3:3.3.1-9]; replaced by a newer retained message; untouched by a
// non-retained one [MQTT-3:3.3.1-12]; cleared by an empty retained payload,
// which existing subscribers still receive [MQTT-3:3.3.1-10]
// [MQTT-3:3.3.1-11].
func TestPaho3Retained_MQTT3_3_3_1_8(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	pub := connectP3(t, srv.Addr, "p3-ret-pub", true)
	live := connectP3(t, srv.Addr, "p3-ret-live", true)
	live.sub(t, "ret/#", 2)

	pub.pub(t, "ret/a", 1, true, "v1")
	live.msgs.expect(t, "ret/a", "v1", 1, false) // [MQTT-3:3.3.1-9]

	s1 := connectP3(t, srv.Addr, "p3-ret-s1", true)
	s1.sub(t, "ret/+", 2)
	s1.msgs.expect(t, "ret/a", "v1", 1, true) // [MQTT-3:3.3.1-6] [MQTT-3:3.3.1-8]

	// Replace, then publish without RETAIN: the retained message is v2.
	pub.pub(t, "ret/a", 2, true, "v2")
	pub.pub(t, "ret/a", 0, false, "not retained")
	live.msgs.expect(t, "ret/a", "v2", 2, false)
	live.msgs.expect(t, "ret/a", "not retained", 0, false)
	s1.msgs.expect(t, "ret/a", "v2", 2, false)
	s1.msgs.expect(t, "ret/a", "not retained", 0, false)

	s2 := connectP3(t, srv.Addr, "p3-ret-s2", true)
	s2.sub(t, "ret/a", 1)
	s2.msgs.expect(t, "ret/a", "v2", 1, true) // [MQTT-3:3.3.1-5] [MQTT-3:3.3.1-12]

	// Clear: the empty message is still forwarded [MQTT-3:3.3.1-10] ...
	pub.pub(t, "ret/a", 1, true, "")
	live.msgs.expect(t, "ret/a", "", 1, false)

	// ... and a new subscriber gets nothing retained [MQTT-3:3.3.1-11]: the
	// first message it receives is the sentinel published after its SUBACK.
	s3 := connectP3(t, srv.Addr, "p3-ret-s3", true)
	s3.sub(t, "ret/#", 1)
	pub.pub(t, "ret/sentinel", 1, false, "end")
	s3.msgs.expect(t, "ret/sentinel", "end", 1, false)
}

// A 3.1.1 will is published when the network connection is lost without a
// DISCONNECT [MQTT-3:3.1.2-8], as a non-retained or retained message as its
// Will Retain flag says [MQTT-3:3.1.2-16] [MQTT-3:3.1.2-17]; it is
// discarded after a DISCONNECT [MQTT-3:3.14.4-3] [MQTT-3:3.1.2-10].
func TestPaho3Will_MQTT3_3_1_2_8(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	watcher := connectP3(t, srv.Addr, "p3-will-watch", true)
	watcher.sub(t, "will/#", 2)

	t.Run("network loss publishes the will [MQTT-3:3.1.2-8] [MQTT-3:3.1.2-16]", func(t *testing.T) {
		c := connectP3(t, srv.Addr, "p3-will-lost", true, p3Will("will/lost", "gone", 1, false))
		c.conn().kill()
		watcher.msgs.expect(t, "will/lost", "gone", 1, false)
		testkit.WaitFor(t, c.lost, "paho's connection-lost callback")
	})

	t.Run("retained will [MQTT-3:3.1.2-17]", func(t *testing.T) {
		c := connectP3(t, srv.Addr, "p3-will-ret", true, p3Will("will/retained", "gone for good", 2, true))
		c.conn().kill()
		// Forwarded to the existing subscription with RETAIN 0 ...
		watcher.msgs.expect(t, "will/retained", "gone for good", 2, false)
		// ... and stored: a new subscriber receives it with RETAIN 1, but
		// not the will of the previous subtest, published with Will Retain
		// 0 [MQTT-3:3.1.2-16].
		late := connectP3(t, srv.Addr, "p3-will-late", true)
		late.sub(t, "will/+", 2)
		late.msgs.expect(t, "will/retained", "gone for good", 2, true)
		watcher.pub(t, "will/late-sentinel", 1, false, "end")
		late.msgs.expect(t, "will/late-sentinel", "end", 1, false)
		watcher.msgs.expect(t, "will/late-sentinel", "end", 1, false)
	})

	t.Run("DISCONNECT discards the will [MQTT-3:3.14.4-3] [MQTT-3:3.1.2-10]", func(t *testing.T) {
		c := connectP3(t, srv.Addr, "p3-will-bye", true, p3Will("will/bye", "must not appear", 1, false))
		c.leave(t)
		barrier(t, srv.Addr, "p3-will-bye")
		watcher.pub(t, "will/sentinel", 1, false, "end")
		watcher.msgs.expect(t, "will/sentinel", "end", 1, false)
	})
}

// Client take-over in 3.1.1: a second connection with the same client id
// makes the server disconnect the first [MQTT-3:3.1.4-2]; as that is not a
// DISCONNECT, the first connection's will is published [MQTT-3:3.1.2-8].
func TestPaho3TakeOver_MQTT3_3_1_4_2(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	watcher := connectP3(t, srv.Addr, "p3-to-watch", true)
	watcher.sub(t, "to/#", 1)

	first := connectP3(t, srv.Addr, "p3-same", false, p3Will("to/will", "first lost", 1, false))
	first.sub(t, "to/data", 1)
	second := connectP3(t, srv.Addr, "p3-same", false)
	testkit.WaitFor(t, first.lost, "the first client to be disconnected")
	watcher.msgs.expect(t, "to/will", "first lost", 1, false)
	if !second.present {
		t.Error("the second connection did not resume the session (Session Present 0)")
	}
	// The session, with its subscription, now serves the second client.
	watcher.pub(t, "to/data", 1, false, "for second")
	second.msgs.expect(t, "to/data", "for second", 1, false)
}

// A 3.1.1 persistent session (CleanSession 0): Session Present says whether
// state was kept [MQTT-3:3.2.2-2] [MQTT-3:3.2.2-3], QoS 1 and 2 messages
// published while the client is offline are kept [MQTT-3:3.1.2-5] and
// delivered in order when it resumes [MQTT-3:3.1.2-4]; CleanSession 1
// discards it [MQTT-3:3.1.2-6] [MQTT-3:3.2.2-1].
func TestPaho3PersistentSession_MQTT3_3_1_2_5(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	pub := connectP3(t, srv.Addr, "p3-ps-pub", true)

	c := connectP3(t, srv.Addr, "p3-ps", false)
	if c.present {
		t.Fatal("Session Present 1 for a new session [MQTT-3:3.2.2-3]")
	}
	c.sub(t, "ps/#", 2)
	c.leave(t)

	pub.pub(t, "ps/1", 1, false, "one")
	pub.pub(t, "ps/2", 2, false, "two")
	pub.pub(t, "ps/3", 1, false, "three")

	c = connectP3(t, srv.Addr, "p3-ps", false)
	if !c.present {
		t.Fatal("Session Present 0 for a stored session [MQTT-3:3.2.2-2]")
	}
	c.msgs.expect(t, "ps/1", "one", 1, false)
	c.msgs.expect(t, "ps/2", "two", 2, false)
	c.msgs.expect(t, "ps/3", "three", 1, false)
	// Still subscribed after the resume.
	pub.pub(t, "ps/4", 2, false, "four")
	c.msgs.expect(t, "ps/4", "four", 2, false)
	c.leave(t)

	// CleanSession 1 discards the session: no Session Present, no
	// subscription (the first message is the sentinel on a new filter).
	c = connectP3(t, srv.Addr, "p3-ps", true)
	if c.present {
		t.Fatal("Session Present 1 with CleanSession 1 [MQTT-3:3.2.2-1]")
	}
	c.sub(t, "other", 1)
	pub.pub(t, "ps/5", 1, false, "five")
	pub.pub(t, "other", 1, false, "sentinel")
	c.msgs.expect(t, "other", "sentinel", 1, false)
}

// Unacknowledged QoS 1 messages are re-sent with DUP 1 and their original
// packet identifiers when a 3.1.1 client resumes its session
// [MQTT-3:3.3.1-1] [MQTT-3:4.4.0-1].
func TestPaho3Redelivery_MQTT3_4_4_0_1(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	pub := connectP3(t, srv.Addr, "p3-rd-pub", true)
	c := connectP3(t, srv.Addr, "p3-rd", false, func(o *mqtt.ClientOptions) { o.SetAutoAckDisabled(true) })
	c.sub(t, "rd/#", 1)
	pub.pub(t, "rd/1", 1, false, "one")
	pub.pub(t, "rd/2", 1, false, "two")
	ids := map[string]uint16{
		"rd/1": c.msgs.expect(t, "rd/1", "one", 1, false).ID,
		"rd/2": c.msgs.expect(t, "rd/2", "two", 1, false).ID,
	}
	c.conn().kill() // never acknowledged

	c = connectP3(t, srv.Addr, "p3-rd", false)
	if !c.present {
		t.Fatal("Session Present 0 on resume")
	}
	for _, want := range []struct{ topic, payload string }{{"rd/1", "one"}, {"rd/2", "two"}} {
		m := c.msgs.expect(t, want.topic, want.payload, 1, false)
		if !m.Dup {
			t.Errorf("re-sent %s without DUP [MQTT-3:3.3.1-1]", want.topic)
		}
		if m.ID != ids[want.topic] {
			t.Errorf("re-sent %s with packet id %d, want the original %d", want.topic, m.ID, ids[want.topic])
		}
	}
	// The resumed session goes on with new messages.
	pub.pub(t, "rd/3", 1, false, "three")
	if m := c.msgs.expect(t, "rd/3", "three", 1, false); m.Dup {
		t.Error("DUP set on a first delivery")
	}
}

// Overlapping subscriptions of a 3.1.1 client: one copy at the maximum QoS
// of the matching subscriptions [MQTT-3:3.3.5-1] (Mosquitto sends two).
func TestPaho3OverlappingSubscriptions_MQTT3_3_3_5_1(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	pub := connectP3(t, srv.Addr, "p3-ov-pub", true)
	c := connectP3(t, srv.Addr, "p3-ov", true)
	c.sub(t, "a/#", 0)
	c.sub(t, "a/+", 2)

	pub.pub(t, "a/b", 2, false, "x")
	pub.pub(t, "a/c", 1, false, "y")
	pub.pub(t, "a/b/c", 2, false, "z") // only a/# matches
	pub.pub(t, "a/end", 0, false, "sentinel")
	// A second copy of any of them would arrive before the next one.
	c.msgs.expect(t, "a/b", "x", 2, false)
	c.msgs.expect(t, "a/c", "y", 1, false)
	c.msgs.expect(t, "a/b/c", "z", 0, false)
	c.msgs.expect(t, "a/end", "sentinel", 0, false)
}
