package broker

// Interop with github.com/eclipse/paho.golang, an MQTT 5.0 client.

import (
	"testing"
	"time"

	paho "github.com/eclipse/paho.golang/paho"

	"github.com/ternmq/tern/internal/testkit"
)

// QoS 0, 1 and 2 round trips between 5.0 clients, each message forwarded at
// the lower of its QoS and the subscription's maximum [MQTT-5:3.8.4-8],
// the SUBACK showing the granted QoS [MQTT-5:3.8.4-7], the publisher's
// QoS 1/2 PUBLISH acknowledged [MQTT-5:3.3.4-1] and first deliveries with
// DUP 0 (QoS 0 ones [MQTT-5:3.3.1-2]).
func TestPaho5QoSRoundTrip_MQTT5_3_8_4_8(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	sub := connectP5(t, srv.Addr, v5conn("p5-rt-sub", true, 0))
	pub := connectP5(t, srv.Addr, v5conn("p5-rt-pub", true, 0))
	for sq := byte(0); sq <= 2; sq++ {
		sub.sub(t, "rt/"+string('0'+sq)+"/#", sq)
	}
	for sq := byte(0); sq <= 2; sq++ {
		for pq := byte(0); pq <= 2; pq++ {
			topic := "rt/" + string('0'+sq) + "/" + string('0'+pq)
			pub.pubSimple(t, topic, pq, false, "payload "+topic)
			m := sub.msgs.expect(t, topic, "payload "+topic, min(pq, sq), false)
			if m.Dup {
				t.Errorf("%s: DUP set on a first delivery", topic)
			}
		}
	}
}

// Retained messages between 5.0 clients: stored, replaced and cleared
// [MQTT-5:3.3.1-5] [MQTT-5:3.3.1-6] [MQTT-5:3.3.1-7]; not touched by a
// non-retained PUBLISH [MQTT-5:3.3.1-8]; sent on subscribe with RETAIN 1
// under Retain Handling 0 [MQTT-5:3.3.1-9], 1 [MQTT-5:3.3.1-10] and never
// under 2 [MQTT-5:3.3.1-11]; RETAIN 0 on normal forwarding unless Retain As
// Published [MQTT-5:3.3.1-12] [MQTT-5:3.3.1-13].
func TestPaho5Retained_MQTT5_3_3_1_12(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	pub := connectP5(t, srv.Addr, v5conn("p5-ret-pub", true, 0))
	live := connectP5(t, srv.Addr, v5conn("p5-ret-live", true, 0))
	live.sub(t, "ret/#", 2)
	rap := connectP5(t, srv.Addr, v5conn("p5-ret-rap", true, 0))
	rap.subOpts(t, paho.SubscribeOptions{Topic: "ret/#", QoS: 2, RetainAsPublished: true})

	pub.pubSimple(t, "ret/a", 1, true, "v1")
	live.msgs.expect(t, "ret/a", "v1", 1, false) // [MQTT-5:3.3.1-12]
	rap.msgs.expect(t, "ret/a", "v1", 1, true)   // [MQTT-5:3.3.1-13]

	s1 := connectP5(t, srv.Addr, v5conn("p5-ret-s1", true, 0))
	s1.sub(t, "ret/+", 2)
	s1.msgs.expect(t, "ret/a", "v1", 1, true) // [MQTT-5:3.3.1-9]

	// Replace, then a non-retained PUBLISH that must not replace it.
	pub.pubSimple(t, "ret/a", 2, true, "v2")
	pub.pubSimple(t, "ret/a", 0, false, "not retained")
	live.msgs.expect(t, "ret/a", "v2", 2, false)
	live.msgs.expect(t, "ret/a", "not retained", 0, false)
	rap.msgs.expect(t, "ret/a", "v2", 2, true)
	rap.msgs.expect(t, "ret/a", "not retained", 0, false)

	t.Run("Retain Handling 1 sends only for a new subscription [MQTT-5:3.3.1-10]", func(t *testing.T) {
		c := connectP5(t, srv.Addr, v5conn("p5-ret-rh1", true, 0))
		o := paho.SubscribeOptions{Topic: "ret/a", QoS: 1, RetainHandling: 1}
		c.subOpts(t, o)
		c.msgs.expect(t, "ret/a", "v2", 1, true) // [MQTT-5:3.3.1-5] [MQTT-5:3.3.1-8]
		c.subOpts(t, o)                          // exists now: nothing sent
		pub.pubSimple(t, "ret/a", 1, false, "sentinel")
		c.msgs.expect(t, "ret/a", "sentinel", 1, false)
	})
	t.Run("Retain Handling 2 never sends [MQTT-5:3.3.1-11]", func(t *testing.T) {
		c := connectP5(t, srv.Addr, v5conn("p5-ret-rh2", true, 0))
		c.subOpts(t, paho.SubscribeOptions{Topic: "ret/a", QoS: 1, RetainHandling: 2})
		pub.pubSimple(t, "ret/a", 1, false, "sentinel")
		c.msgs.expect(t, "ret/a", "sentinel", 1, false)
	})

	// Clear with an empty payload: forwarded as usual [MQTT-5:3.3.1-6], not
	// stored [MQTT-5:3.3.1-7].
	pub.pubSimple(t, "ret/a", 1, true, "")
	live.msgs.expect(t, "ret/a", "sentinel", 1, false)
	live.msgs.expect(t, "ret/a", "sentinel", 1, false)
	live.msgs.expect(t, "ret/a", "", 1, false)
	s3 := connectP5(t, srv.Addr, v5conn("p5-ret-s3", true, 0))
	s3.sub(t, "ret/#", 1)
	pub.pubSimple(t, "ret/sentinel", 1, false, "end")
	s3.msgs.expect(t, "ret/sentinel", "end", 1, false)
}

// 5.0 wills: published with their properties, in order, on network loss
// [MQTT-5:3.1.2-8] [MQTT-5:3.1.3-10]; discarded after DISCONNECT 0x00
// [MQTT-5:3.14.4-3] [MQTT-5:3.1.2-10]; published after DISCONNECT 0x04
// (Disconnect with Will Message).
func TestPaho5Will_MQTT5_3_1_2_8(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	watcher := connectP5(t, srv.Addr, v5conn("p5-will-watch", true, 0))
	watcher.sub(t, "will/#", 2)

	t.Run("network loss publishes the will with its properties [MQTT-5:3.1.2-8] [MQTT-5:3.1.3-10]", func(t *testing.T) {
		cp := v5Will(v5conn("p5-will-lost", true, 0), "will/lost", "gone", 2, false, 0)
		// paho.golang v0.23.0 packs Will Properties in the CONNECT's
		// context and drops the PUBLISH-only ones (Content Type and the
		// like), so the User Properties carry the check.
		cp.WillProperties.User = paho.UserProperties{{Key: "k", Value: "1"}, {Key: "a", Value: "2"}, {Key: "k", Value: "3"}}
		c := connectP5(t, srv.Addr, cp)
		c.pc.kill()
		m := watcher.msgs.expect(t, "will/lost", "gone", 2, false)
		props := m.p5.Properties
		if props == nil {
			t.Fatal("will properties not forwarded")
		}
		want := cp.WillProperties.User
		if len(props.User) != len(want) {
			t.Fatalf("user properties %v, want %v", props.User, want)
		}
		for i := range want {
			if props.User[i] != want[i] {
				t.Fatalf("user properties %v, want %v in order", props.User, want)
			}
		}
	})

	t.Run("DISCONNECT 0x04 publishes the will", func(t *testing.T) {
		c := connectP5(t, srv.Addr, v5Will(v5conn("p5-will-04", true, 0), "will/04", "asked for", 1, false, 0))
		c.leave(t, 0x04)
		watcher.msgs.expect(t, "will/04", "asked for", 1, false)
	})

	t.Run("DISCONNECT 0x00 discards the will [MQTT-5:3.14.4-3] [MQTT-5:3.1.2-10]", func(t *testing.T) {
		c := connectP5(t, srv.Addr, v5Will(v5conn("p5-will-00", true, 0), "will/00", "must not appear", 1, false, 0))
		c.leave(t, 0x00)
		barrier(t, srv.Addr, "p5-will-00")
		watcher.pubSimple(t, "will/sentinel", 1, false, "end")
		watcher.msgs.expect(t, "will/sentinel", "end", 1, false)
	})
}

// The Will Delay Interval: the will is published when the delay has passed
// [MQTT-5:3.1.2-8], not before; when the session ends first it is
// published then; a new connection within the delay cancels it
// [MQTT-5:3.1.3-9].
func TestPaho5WillDelay_MQTT5_3_1_3_9(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)

	t.Run("published after the delay [MQTT-5:3.1.2-8]", func(t *testing.T) {
		t.Parallel()
		watcher := connectP5(t, srv.Addr, v5conn("p5-wd-watch1", true, 0))
		watcher.sub(t, "wd/delayed", 1)
		const delay = time.Second
		c := connectP5(t, srv.Addr, v5Will(v5conn("p5-wd-1", true, 60), "wd/delayed", "late", 1, false, uint32(delay/time.Second)))
		start := time.Now()
		c.pc.kill()
		watcher.msgs.expect(t, "wd/delayed", "late", 1, false)
		if elapsed := time.Since(start); elapsed < delay {
			t.Fatalf("will published after %v, before its delay of %v", elapsed, delay)
		}
	})

	t.Run("published when the session ends first [MQTT-5:3.1.2-8]", func(t *testing.T) {
		t.Parallel()
		watcher := connectP5(t, srv.Addr, v5conn("p5-wd-watch2", true, 0))
		watcher.sub(t, "wd/expired", 1)
		const expiry = time.Second
		c := connectP5(t, srv.Addr, v5Will(v5conn("p5-wd-2", true, uint32(expiry/time.Second)), "wd/expired", "session over", 1, false, 3600))
		start := time.Now()
		c.pc.kill()
		watcher.msgs.expect(t, "wd/expired", "session over", 1, false)
		if elapsed := time.Since(start); elapsed < expiry {
			t.Fatalf("will published after %v, before the session expired (%v)", elapsed, expiry)
		}
	})

	t.Run("cancelled by a reconnect within the delay [MQTT-5:3.1.3-9]", func(t *testing.T) {
		t.Parallel()
		watcher := connectP5(t, srv.Addr, v5conn("p5-wd-watch3", true, 0))
		watcher.sub(t, "wd3/#", 1)
		// The will of "p5-wd-3" would fire one second after its loss; the
		// control client's, lost later and with a two-second delay, fires
		// well after that. So if the control will arrives first, the
		// cancelled one was never sent.
		c := connectP5(t, srv.Addr, v5Will(v5conn("p5-wd-3", true, 60), "wd3/cancelled", "must not appear", 1, false, 1))
		c.pc.kill()
		again := connectP5(t, srv.Addr, v5conn("p5-wd-3", false, 60))
		if !again.ack.SessionPresent {
			t.Fatal("Session Present 0 on reconnect within the session expiry")
		}
		ctl := connectP5(t, srv.Addr, v5Will(v5conn("p5-wd-ctl", true, 60), "wd3/control", "control", 1, false, 2))
		ctl.pc.kill()
		watcher.msgs.expect(t, "wd3/control", "control", 1, false)
	})
}

// Client take-over in 5.0: the existing connection receives DISCONNECT 0x8E
// (Session taken over) and is closed [MQTT-5:3.1.4-3]; its will is
// published.
func TestPaho5TakeOver_MQTT5_3_1_4_3(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	watcher := connectP5(t, srv.Addr, v5conn("p5-to-watch", true, 0))
	watcher.sub(t, "to/#", 1)

	first := connectP5(t, srv.Addr, v5Will(v5conn("p5-same", true, 60), "to/will", "first lost", 1, false, 0))
	second := connectP5(t, srv.Addr, v5conn("p5-same", false, 60))
	d := testkit.WaitFor(t, first.disc, "DISCONNECT to the first client")
	if d.ReasonCode != 0x8E {
		t.Fatalf("DISCONNECT reason code %#x, want 0x8E", d.ReasonCode)
	}
	first.pc.serverClosed(t)
	watcher.msgs.expect(t, "to/will", "first lost", 1, false)
	if !second.ack.SessionPresent {
		t.Error("the second connection did not resume the session")
	}
}

// A 5.0 persistent session (Session Expiry Interval > 0): Session Present
// [MQTT-5:3.2.2-2] [MQTT-5:3.2.2-3]; the session and its subscriptions are
// kept after the connection closes [MQTT-5:3.1.2-23] and resumed with Clean
// Start 0 [MQTT-5:3.1.2-5], delivering the QoS 1/2 messages queued while
// offline in order; Clean Start 1 discards it [MQTT-5:3.1.2-4]; Clean Start
// 0 without a session creates one [MQTT-5:3.1.2-6]; a Session Expiry
// Interval of 0 in DISCONNECT ends the session.
func TestPaho5PersistentSession_MQTT5_3_1_2_23(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	pub := connectP5(t, srv.Addr, v5conn("p5-ps-pub", true, 0))

	c := connectP5(t, srv.Addr, v5conn("p5-ps", false, 60))
	if c.ack.SessionPresent {
		t.Fatal("Session Present 1 for a new session [MQTT-5:3.1.2-6] [MQTT-5:3.2.2-3]")
	}
	c.sub(t, "ps/#", 2)
	c.leave(t, 0)

	pub.pubSimple(t, "ps/1", 1, false, "one")
	pub.pubSimple(t, "ps/2", 2, false, "two")
	pub.pubSimple(t, "ps/3", 1, false, "three")

	c = connectP5(t, srv.Addr, v5conn("p5-ps", false, 60))
	if !c.ack.SessionPresent {
		t.Fatal("Session Present 0 for a stored session [MQTT-5:3.2.2-3]")
	}
	c.msgs.expect(t, "ps/1", "one", 1, false)
	c.msgs.expect(t, "ps/2", "two", 2, false)
	c.msgs.expect(t, "ps/3", "three", 1, false)

	// Session Expiry Interval 0 in DISCONNECT: the session ends now.
	zero := uint32(0)
	c.Disconnect(&paho.Disconnect{Properties: &paho.DisconnectProperties{SessionExpiryInterval: &zero}})
	c.pc.serverClosed(t)
	c = connectP5(t, srv.Addr, v5conn("p5-ps", false, 60))
	if c.ack.SessionPresent {
		t.Fatal("Session Present 1 after DISCONNECT set the Session Expiry Interval to 0")
	}
	c.sub(t, "ps/#", 1)
	c.leave(t, 0)

	// Clean Start 1 discards the stored session.
	c = connectP5(t, srv.Addr, v5conn("p5-ps", true, 60))
	if c.ack.SessionPresent {
		t.Fatal("Session Present 1 with Clean Start 1 [MQTT-5:3.2.2-2] [MQTT-5:3.1.2-4]")
	}
	c.sub(t, "other", 1)
	pub.pubSimple(t, "ps/4", 1, false, "four")
	pub.pubSimple(t, "other", 1, false, "sentinel")
	c.msgs.expect(t, "other", "sentinel", 1, false)
}

// Unacknowledged QoS 1 and QoS 2 messages are re-sent with DUP 1 and their
// original packet identifiers when a 5.0 client resumes its session
// [MQTT-5:3.3.1-1] [MQTT-5:4.4.0-1].
func TestPaho5Redelivery_MQTT5_4_4_0_1(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	pub := connectP5(t, srv.Addr, v5conn("p5-rd-pub", true, 0))
	manual := func(cc *paho.ClientConfig) { cc.EnableManualAcknowledgment = true }
	c := connectP5(t, srv.Addr, v5conn("p5-rd", false, 60), manual)
	c.sub(t, "rd/#", 2)
	pub.pubSimple(t, "rd/1", 1, false, "one")
	ids := map[string]uint16{"rd/1": c.msgs.expect(t, "rd/1", "one", 1, false).ID}
	// A QoS 2 PUBLISH without PUBREC: the publisher's side completes
	// (the broker owns the message), the subscriber's does not.
	pub.pubSimple(t, "rd/2", 2, false, "two")
	ids["rd/2"] = c.msgs.expect(t, "rd/2", "two", 2, false).ID
	c.pc.kill()

	c = connectP5(t, srv.Addr, v5conn("p5-rd", false, 60))
	if !c.ack.SessionPresent {
		t.Fatal("Session Present 0 on resume")
	}
	for _, want := range []struct {
		topic, payload string
		qos            byte
	}{{"rd/1", "one", 1}, {"rd/2", "two", 2}} {
		m := c.msgs.expect(t, want.topic, want.payload, want.qos, false)
		if !m.Dup {
			t.Errorf("re-sent %s without DUP [MQTT-5:3.3.1-1]", want.topic)
		}
		if m.ID != ids[want.topic] {
			t.Errorf("re-sent %s with packet id %d, want the original %d", want.topic, m.ID, ids[want.topic])
		}
	}
	pub.pubSimple(t, "rd/3", 2, false, "three")
	c.msgs.expect(t, "rd/3", "three", 2, false)
}

// Publishing to $SYS/ is refused with 0x87 (Not authorized) while other
// $-topics are allowed.
func TestPaho5DollarTopicPublish(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	c := connectP5(t, srv.Addr, v5conn("p5-dollar", true, 0))
	if rc := c.pub(t, &paho.Publish{Topic: "$SYS/x", QoS: 1, Payload: []byte("no")}); rc != 0x87 {
		t.Errorf("PUBACK for $SYS/x: %#x, want 0x87", rc)
	}
	if rc := c.pub(t, &paho.Publish{Topic: "$foo/x", QoS: 1, Payload: []byte("yes")}); rc != 0 {
		t.Errorf("PUBACK for $foo/x: %#x, want 0", rc)
	}
}
