package broker

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// Protocol tests with the raw client over TCP: the details a full client
// library hides (flags, packet identifiers, reason codes, what is not sent).

var bothVersions = []codec.Version{codec.V311, codec.V5}

// persistent returns a CONNECT that keeps its session after the connection:
// CleanSession 0 for 3.1.1, Clean Start 0 with a Session Expiry Interval for 5.0.
func persistent(v codec.Version, id string) *codec.Connect {
	p := &codec.Connect{Version: v, ClientID: id}
	if v == codec.V5 {
		p.Properties.SessionExpiryInterval = 300
	}
	return p
}

// connected dials srv and connects with p (Version set from v).
func connected(t *testing.T, srv *testServer, v codec.Version, p *codec.Connect) (*testkit.Peer, *codec.Connack) {
	t.Helper()
	c := testkit.Dial(t, srv.Addr, v)
	return c, c.Connect(t, p)
}

// publisher connects a 5.0 client with a clean session.
func publisher(t *testing.T, srv *testServer, id string) *testkit.Peer {
	t.Helper()
	c, _ := connected(t, srv, codec.V5, &codec.Connect{ClientID: id, CleanStart: true})
	return c
}

func wantSessionPresent(t *testing.T, ack *codec.Connack, want bool) {
	t.Helper()
	if ack.SessionPresent != want {
		t.Fatalf("Session Present %v, want %v", ack.SessionPresent, want)
	}
}

// TestSessionPresent follows one client id through new, resumed and clean
// sessions.
func TestSessionPresent(t *testing.T) {
	for _, v := range bothVersions {
		t.Run(v.String(), func(t *testing.T) {
			srv := startServer(t, nil)
			pub := publisher(t, srv, "sp-pub")

			// No session yet: Session Present 0 [MQTT-3:3.2.2-3]
			// [MQTT-5:3.2.2-3], and a new session is made [MQTT-5:3.1.2-6].
			c, ack := connected(t, srv, v, persistent(v, "sp"))
			wantSessionPresent(t, ack, false)
			c.Subscribe(t, 1, "sp/t")
			c.Disconnect(t)

			// QoS 1 messages for the offline session are kept [MQTT-3:3.1.2-5].
			pub.Publish(t, 1, "sp/t", "while away")
			pub.Publish(t, 0, "sp/t", "qos 0, not queued")
			pub.ExpectIdle(t) // PINGRESP: the QoS 0 message has been routed

			// Resumed: Session Present 1 [MQTT-3:3.2.2-2] [MQTT-5:3.2.2-3],
			// with its subscriptions and queue [MQTT-3:3.1.2-4] [MQTT-5:3.1.2-5].
			c, ack = connected(t, srv, v, persistent(v, "sp"))
			wantSessionPresent(t, ack, true)
			c.ExpectMessage(t, "sp/t", "while away")
			c.ExpectIdle(t)
			pub.Publish(t, 1, "sp/t", "live")
			c.ExpectMessage(t, "sp/t", "live")
			c.Disconnect(t)

			// Clean: Session Present 0 [MQTT-3:3.2.2-1] [MQTT-5:3.2.2-2], and
			// the old session with its subscription is gone [MQTT-3:3.1.2-6]
			// [MQTT-5:3.1.2-4].
			clean := persistent(v, "sp")
			clean.CleanStart = true
			c, ack = connected(t, srv, v, clean)
			wantSessionPresent(t, ack, false)
			pub.Publish(t, 1, "sp/t", "nobody subscribed")
			c.ExpectIdle(t)
			c.Disconnect(t)

			// A 3.1.1 clean session ends with its connection [MQTT-3:3.1.2-6];
			// a 5.0 one lasts for its Session Expiry Interval [MQTT-5:3.1.2-23].
			_, ack = connected(t, srv, v, persistent(v, "sp"))
			wantSessionPresent(t, ack, v == codec.V5)
		})
	}
}

// TestRedelivery: when a session resumes, the server re-sends
// unacknowledged QoS 1 and 2 PUBLISH packets with DUP set and their
// original packet identifiers, and PUBREL for QoS 2 messages already
// PUBRECed, instead of the PUBLISH [MQTT-3:4.4.0-1] [MQTT-5:4.4.0-1]
// [MQTT-3:3.3.1-1] [MQTT-5:3.3.1-1] [MQTT-5:4.3.3-6]. The DUP flag of the
// incoming PUBLISH is not propagated [MQTT-3:3.3.1-3] [MQTT-5:3.3.1-3].
func TestRedelivery(t *testing.T) {
	for _, v := range bothVersions {
		t.Run(v.String(), func(t *testing.T) {
			srv := startServer(t, nil)
			pub := publisher(t, srv, "rd-pub")
			c, _ := connected(t, srv, v, persistent(v, "rd"))
			c.Subscribe(t, 1, "rd/q1")
			c.Subscribe(t, 2, "rd/q2")

			pub.PublishWith(t, &codec.Publish{QoS: 1, Dup: true, Topic: "rd/q1", Payload: []byte("m1")})
			pub.Publish(t, 1, "rd/q1", "m2")
			pub.Publish(t, 1, "rd/q1", "m3")
			pub.Publish(t, 2, "rd/q2", "n1")
			pub.Publish(t, 2, "rd/q2", "n2")
			m1 := c.ExpectPublish(t, `q1 dup=0 retain=0 rd/q1 "m1"`)
			m2 := c.ExpectPublish(t, `q1 dup=0 retain=0 rd/q1 "m2"`)
			m3 := c.ExpectPublish(t, `q1 dup=0 retain=0 rd/q1 "m3"`)
			n1 := c.ExpectPublish(t, `q2 dup=0 retain=0 rd/q2 "n1"`)
			n2 := c.ExpectPublish(t, `q2 dup=0 retain=0 rd/q2 "n2"`)

			// Acknowledge m2 and half of n1, then lose the connection.
			c.Send(t, &codec.Puback{Ack: codec.Ack{PacketID: m2.PacketID}}, &codec.Pubrec{Ack: codec.Ack{PacketID: n1.PacketID}})
			c.ExpectDescribed(t, fmt.Sprintf("PUBREL id=%d rc=0x00", n1.PacketID))
			c.Close()

			c, ack := connected(t, srv, v, persistent(v, "rd"))
			wantSessionPresent(t, ack, true)
			c.ExpectDescribed(t,
				fmt.Sprintf(`PUBLISH q1 dup=1 retain=0 id=%d rd/q1 "m1"`, m1.PacketID),
				fmt.Sprintf(`PUBLISH q1 dup=1 retain=0 id=%d rd/q1 "m3"`, m3.PacketID),
				fmt.Sprintf("PUBREL id=%d rc=0x00", n1.PacketID),
				fmt.Sprintf(`PUBLISH q2 dup=1 retain=0 id=%d rd/q2 "n2"`, n2.PacketID))
			c.ExpectIdle(t)

			// Complete everything: nothing is re-sent on the next resume.
			c.Send(t,
				&codec.Puback{Ack: codec.Ack{PacketID: m1.PacketID}},
				&codec.Puback{Ack: codec.Ack{PacketID: m3.PacketID}},
				&codec.Pubcomp{Ack: codec.Ack{PacketID: n1.PacketID}},
				&codec.Pubrec{Ack: codec.Ack{PacketID: n2.PacketID}})
			c.ExpectDescribed(t, fmt.Sprintf("PUBREL id=%d rc=0x00", n2.PacketID))
			c.Send(t, &codec.Pubcomp{Ack: codec.Ack{PacketID: n2.PacketID}})
			c.Disconnect(t)
			c, _ = connected(t, srv, v, persistent(v, "rd"))
			c.ExpectIdle(t)

			if v != codec.V5 {
				return
			}
			// A PUBACK or PUBREC with a failure code acknowledges the
			// message: it is not re-sent [MQTT-5:4.4.0-2].
			pub.Publish(t, 1, "rd/q1", "refused")
			pub.Publish(t, 2, "rd/q2", "refused too")
			r1 := c.ExpectPublish(t, `q1 dup=0 retain=0 rd/q1 "refused"`)
			r2 := c.ExpectPublish(t, `q2 dup=0 retain=0 rd/q2 "refused too"`)
			c.Send(t,
				&codec.Puback{Ack: codec.Ack{PacketID: r1.PacketID, ReasonCode: codec.UnspecifiedError}},
				&codec.Pubrec{Ack: codec.Ack{PacketID: r2.PacketID, ReasonCode: codec.UnspecifiedError}})
			c.ExpectIdle(t)
			c.Close()
			c, _ = connected(t, srv, v, persistent(v, "rd"))
			c.ExpectIdle(t)
		})
	}
}

// TestOrdering: messages from one client to one topic reach each
// subscriber in the order they were published, per topic and QoS
// [MQTT-3:4.6.0-5] [MQTT-3:4.6.0-6] [MQTT-5:4.6.0-5] [MQTT-5:4.6.0-6],
// also when the subscriber's Receive Maximum makes the server queue them.
func TestOrdering(t *testing.T) {
	const n = 100
	srv := startServer(t, nil)
	var subs []*testkit.Peer
	for _, v := range bothVersions {
		p := &codec.Connect{ClientID: "ord-" + v.String(), CleanStart: true}
		p.Properties.ReceiveMaximum = 3
		c, _ := connected(t, srv, v, p)
		c.Subscribe(t, 1, "ord/#")
		subs = append(subs, c)
	}

	// Pipeline every PUBLISH in one write, QoS 0 and 1 on two topics.
	pub := publisher(t, srv, "ord-pub")
	var pkts []codec.Packet
	for i := range n {
		pkts = append(pkts,
			&codec.Publish{QoS: 1, PacketID: uint16(i + 1), Topic: "ord/1", Payload: fmt.Appendf(nil, "%d", i)},
			&codec.Publish{QoS: 0, Topic: "ord/0", Payload: fmt.Appendf(nil, "%d", i)})
	}
	pub.Send(t, pkts...)
	for i := range n {
		pub.ExpectDescribed(t, fmt.Sprintf("PUBACK id=%d rc=0x00", i+1))
	}

	for _, c := range subs {
		next := map[string]int{}
		for range 2 * n {
			p := testkit.Expect[*codec.Publish](t, c)
			if want := fmt.Sprint(next[p.Topic]); string(p.Payload) != want {
				t.Fatalf("%s: got message %q on %s, want %s", c.Version(), p.Payload, p.Topic, want)
			}
			next[p.Topic]++
			c.Ack(t, p)
		}
		c.ExpectIdle(t)
	}
}

// TestQoS2InboundDuplicate: until the PUBREL, a re-sent QoS 2 PUBLISH with
// the same packet identifier is acknowledged again but not routed again
// [MQTT-3:4.3.3-2] [MQTT-5:4.3.3-8] [MQTT-5:4.3.3-10]; after the PUBCOMP
// [MQTT-5:4.3.3-11] the identifier starts a new message [MQTT-5:4.3.3-12].
func TestQoS2InboundDuplicate(t *testing.T) {
	for _, v := range bothVersions {
		t.Run(v.String(), func(t *testing.T) {
			srv := startServer(t, nil)
			sub, _ := connected(t, srv, codec.V5, &codec.Connect{ClientID: "q2-sub", CleanStart: true})
			sub.Subscribe(t, 1, "q2/t")
			c, _ := connected(t, srv, v, &codec.Connect{ClientID: "q2-pub", CleanStart: true})

			first := &codec.Publish{QoS: 2, PacketID: 7, Topic: "q2/t", Payload: []byte("first")}
			c.Send(t, first)
			c.ExpectDescribed(t, "PUBREC id=7 rc=0x00")
			first.Dup = true
			c.Send(t, first)
			c.ExpectDescribed(t, "PUBREC id=7 rc=0x00")
			c.Send(t, &codec.Pubrel{Ack: codec.Ack{PacketID: 7}})
			c.ExpectDescribed(t, "PUBCOMP id=7 rc=0x00")

			c.PublishWith(t, &codec.Publish{QoS: 2, PacketID: 7, Topic: "q2/t", Payload: []byte("second")})

			sub.ExpectMessage(t, "q2/t", "first")
			sub.ExpectMessage(t, "q2/t", "second")
			sub.ExpectIdle(t)
		})
	}
}

// TestPublishReasonCodes: the reason codes of 5.0 PUBACK, PUBREC and
// PUBCOMP, and what a refused message leaves behind.
func TestPublishReasonCodes(t *testing.T) {
	srv := startServer(t, nil)
	sub, _ := connected(t, srv, codec.V5, &codec.Connect{ClientID: "rc-sub", CleanStart: true})
	sub.Subscribe(t, 2, "rc/#", "$SYS/tern-test/#")
	c := publisher(t, srv, "rc-pub")

	// $SYS belongs to the broker: Not authorized.
	c.Send(t, &codec.Publish{QoS: 1, PacketID: 1, Topic: "$SYS/tern-test/x"})
	c.ExpectDescribed(t, "PUBACK id=1 rc=0x87")

	// A refused QoS 2 PUBLISH ends its exchange: the same packet identifier
	// then starts a new message [MQTT-5:4.3.3-9].
	c.Send(t, &codec.Publish{QoS: 2, PacketID: 9, Topic: "$SYS/tern-test/x"})
	c.ExpectDescribed(t, "PUBREC id=9 rc=0x87")
	c.PublishWith(t, &codec.Publish{QoS: 2, PacketID: 9, Topic: "rc/t", Payload: []byte("accepted")})

	// A payload that is not UTF-8 although the Payload Format Indicator
	// says so: Payload format invalid.
	bad := &codec.Publish{QoS: 1, PacketID: 2, Topic: "rc/t", Payload: []byte{0xff}}
	bad.Properties.PayloadFormatIndicator = 1
	c.Send(t, bad)
	c.ExpectDescribed(t, "PUBACK id=2 rc=0x99")

	// PUBREL for a packet identifier the server does not hold: Packet
	// Identifier not found, and still a PUBCOMP [MQTT-5:4.3.3-11].
	c.Send(t, &codec.Pubrel{Ack: codec.Ack{PacketID: 77}})
	c.ExpectDescribed(t, "PUBCOMP id=77 rc=0x92")

	sub.ExpectMessage(t, "rc/t", "accepted")
	sub.ExpectIdle(t)
}

// TestUnsubscribe: one UNSUBACK with the packet identifier of the
// UNSUBSCRIBE, even for a filter that matched nothing [MQTT-3:3.10.4-4]
// [MQTT-3:3.10.4-5] [MQTT-5:3.10.4-4] [MQTT-5:3.10.4-5]; in 5.0 one reason
// code per filter, in order, 0x11 for No subscription existed
// [MQTT-5:3.11.3-1] [MQTT-5:3.11.3-2]. The removed subscription gets no
// more messages [MQTT-3:3.10.4-1] [MQTT-5:3.10.4-1] [MQTT-5:3.10.4-2].
func TestUnsubscribe(t *testing.T) {
	for _, v := range bothVersions {
		t.Run(v.String(), func(t *testing.T) {
			srv := startServer(t, nil)
			pub := publisher(t, srv, "un-pub")
			c, _ := connected(t, srv, v, &codec.Connect{ClientID: "un", CleanStart: true})
			c.Subscribe(t, 1, "un/a", "un/b")
			c.Send(t, &codec.Unsubscribe{PacketID: 42, Filters: []string{"un/a", "un/none"}})
			if v == codec.V5 {
				c.ExpectDescribed(t, "UNSUBACK id=42 [0x00 0x11]")
			} else {
				c.ExpectDescribed(t, "UNSUBACK id=42 []")
			}
			pub.Publish(t, 1, "un/a", "gone")
			pub.Publish(t, 1, "un/b", "kept")
			c.ExpectMessage(t, "un/b", "kept")
			c.ExpectIdle(t)
		})
	}
}

// retainedTopic connects a publisher and leaves a retained message on topic.
func retainedTopic(t *testing.T, srv *testServer, topic, payload string) *testkit.Peer {
	t.Helper()
	pub := publisher(t, srv, "retain-pub")
	pub.PublishWith(t, &codec.Publish{QoS: 1, Retain: true, Topic: topic, Payload: []byte(payload)})
	return pub
}

// TestRetainedFlag311: a retained message sent because of a new
// subscription has RETAIN 1 [MQTT-3:3.3.1-8] [MQTT-3:3.3.1-6]; a message
// forwarded to an established subscription has RETAIN 0 however it was
// published [MQTT-3:3.3.1-9].
func TestRetainedFlag311(t *testing.T) {
	srv := startServer(t, nil)
	pub := retainedTopic(t, srv, "ret/a", "old")
	c, _ := connected(t, srv, codec.V311, &codec.Connect{ClientID: "ret", CleanStart: true})
	c.Subscribe(t, 1, "ret/a")
	c.Ack(t, c.ExpectPublish(t, `q1 dup=0 retain=1 ret/a "old"`))
	pub.PublishWith(t, &codec.Publish{QoS: 1, Retain: true, Topic: "ret/a", Payload: []byte("new")})
	c.Ack(t, c.ExpectPublish(t, `q1 dup=0 retain=0 ret/a "new"`))
	c.ExpectIdle(t)
}

// TestRetainHandling: the 5.0 Retain Handling subscription option.
func TestRetainHandling(t *testing.T) {
	srv := startServer(t, nil)
	retainedTopic(t, srv, "ret/a", "r")
	c, _ := connected(t, srv, codec.V5, &codec.Connect{ClientID: "rh", CleanStart: true})
	sub := func(filter string, rh byte) {
		t.Helper()
		c.SubscribeWith(t, &codec.Subscribe{Subscriptions: []codec.Subscription{{Filter: filter, QoS: 1, RetainHandling: rh}}})
	}
	retained := `q1 dup=0 retain=1 ret/a "r"`

	sub("ret/a", 0) // sent [MQTT-5:3.3.1-9]
	c.Ack(t, c.ExpectPublish(t, retained))
	c.ExpectIdle(t)
	sub("ret/a", 0) // sent again when the subscription is replaced [MQTT-5:3.8.4-4]
	c.Ack(t, c.ExpectPublish(t, retained))
	c.ExpectIdle(t)

	sub("ret/+", 1) // new subscription: sent [MQTT-5:3.3.1-10]
	c.Ack(t, c.ExpectPublish(t, retained))
	c.ExpectIdle(t)
	sub("ret/+", 1) // existing subscription: not sent [MQTT-5:3.3.1-10]
	c.ExpectIdle(t)

	sub("ret/#", 2) // never sent [MQTT-5:3.3.1-11]
	c.ExpectIdle(t)
}

// TestRetainAsPublished: with Retain As Published 1 a forwarded message
// keeps its RETAIN flag [MQTT-5:3.3.1-13]; with 0 it is cleared
// [MQTT-5:3.3.1-12].
func TestRetainAsPublished(t *testing.T) {
	srv := startServer(t, nil)
	var subs []*testkit.Peer
	for _, rap := range []bool{true, false} {
		c, _ := connected(t, srv, codec.V5, &codec.Connect{ClientID: fmt.Sprint("rap-", rap), CleanStart: true})
		c.SubscribeWith(t, &codec.Subscribe{Subscriptions: []codec.Subscription{
			{Filter: "rap/x", QoS: 1, RetainAsPublished: rap, RetainHandling: 2}}})
		subs = append(subs, c)
	}
	retainedTopic(t, srv, "rap/x", "kept")
	subs[0].Ack(t, subs[0].ExpectPublish(t, `q1 dup=0 retain=1 rap/x "kept"`))
	subs[1].Ack(t, subs[1].ExpectPublish(t, `q1 dup=0 retain=0 rap/x "kept"`))
}

// TestNoLocal: with No Local a client does not get its own messages back
// [MQTT-5:3.8.3-3]; other subscribers of the topic do.
func TestNoLocal(t *testing.T) {
	srv := startServer(t, nil)
	self, _ := connected(t, srv, codec.V5, &codec.Connect{ClientID: "nl", CleanStart: true})
	self.SubscribeWith(t, &codec.Subscribe{Subscriptions: []codec.Subscription{{Filter: "nl/x", QoS: 1, NoLocal: true}}})
	other, _ := connected(t, srv, codec.V5, &codec.Connect{ClientID: "nl-other", CleanStart: true})
	other.Subscribe(t, 1, "nl/x")

	self.Publish(t, 1, "nl/x", "mine")
	other.ExpectMessage(t, "nl/x", "mine")
	self.ExpectIdle(t)
	publisher(t, srv, "nl-pub").Publish(t, 1, "nl/x", "theirs")
	self.ExpectMessage(t, "nl/x", "theirs")
	other.ExpectMessage(t, "nl/x", "theirs")
}

// TestSubscriptionIdentifiers: one PUBLISH per message for overlapping
// subscriptions, at the highest of their QoS [MQTT-5:3.3.4-2], carrying
// the Subscription Identifier of every matching subscription that has one
// [MQTT-5:3.3.4-3] [MQTT-5:3.3.4-4].
func TestSubscriptionIdentifiers(t *testing.T) {
	srv := startServer(t, nil)
	c, _ := connected(t, srv, codec.V5, &codec.Connect{ClientID: "sid", CleanStart: true})
	withID := func(id int, filter string, qos codec.QoS) *codec.Subscribe {
		s := &codec.Subscribe{Subscriptions: []codec.Subscription{{Filter: filter, QoS: qos}}}
		if id > 0 {
			s.Properties.SubscriptionIdentifiers = []int{id}
		}
		return s
	}
	c.SubscribeWith(t, withID(5, "sid/+", 0))
	c.SubscribeWith(t, withID(7, "sid/#", 1))
	c.SubscribeWith(t, withID(0, "sid/x", 0))
	pub := publisher(t, srv, "sid-pub")

	for _, tc := range []struct {
		topic string
		qos   codec.QoS
		ids   []int
	}{
		{"sid/x", 1, []int{5, 7}},
		{"sid/y", 1, []int{5, 7}},
		{"sid/y/z", 1, []int{7}},
	} {
		pub.Publish(t, 1, tc.topic, "m")
		p := c.ExpectPublish(t, fmt.Sprintf(`q%d dup=0 retain=0 %s "m"`, tc.qos, tc.topic))
		got := slices.Sorted(slices.Values(p.Properties.SubscriptionIdentifiers))
		if !slices.Equal(got, tc.ids) {
			t.Errorf("%s: Subscription Identifiers %v, want %v", tc.topic, got, tc.ids)
		}
		c.Ack(t, p)
		c.ExpectIdle(t) // one copy only
	}
}

// TestClientReceiveMaximum: the server never has more unacknowledged QoS 1
// and 2 PUBLISH packets towards a client than the client's Receive Maximum
// [MQTT-5:3.3.4-9]; a QoS 2 message counts until its PUBCOMP. Other
// packets are not held back meanwhile [MQTT-5:3.3.4-10]: expectIdle's
// PINGREQ is answered while the window is full.
func TestClientReceiveMaximum(t *testing.T) {
	srv := startServer(t, nil)
	p := &codec.Connect{ClientID: "rm", CleanStart: true}
	p.Properties.ReceiveMaximum = 2
	c, _ := connected(t, srv, codec.V5, p)
	c.Subscribe(t, 2, "rm/#")
	pub := publisher(t, srv, "rm-pub")
	for i := range 5 {
		pub.Publish(t, 1, "rm/1", fmt.Sprint(i))
	}

	m0 := c.ExpectPublish(t, `q1 dup=0 retain=0 rm/1 "0"`)
	m1 := c.ExpectPublish(t, `q1 dup=0 retain=0 rm/1 "1"`)
	c.ExpectIdle(t)
	c.Ack(t, m0)
	m2 := c.ExpectPublish(t, `q1 dup=0 retain=0 rm/1 "2"`)
	c.ExpectIdle(t)
	c.Ack(t, m1)
	c.Ack(t, m2)
	c.Ack(t, c.ExpectPublish(t, `q1 dup=0 retain=0 rm/1 "3"`))
	c.Ack(t, c.ExpectPublish(t, `q1 dup=0 retain=0 rm/1 "4"`))
	c.ExpectIdle(t)

	for i := range 3 {
		pub.Publish(t, 2, "rm/2", fmt.Sprint(i))
	}
	n0 := c.ExpectPublish(t, `q2 dup=0 retain=0 rm/2 "0"`)
	n1 := c.ExpectPublish(t, `q2 dup=0 retain=0 rm/2 "1"`)
	c.Send(t, &codec.Pubrec{Ack: codec.Ack{PacketID: n0.PacketID}})
	c.ExpectDescribed(t, fmt.Sprintf("PUBREL id=%d rc=0x00", n0.PacketID))
	c.ExpectIdle(t) // n0 still counts until PUBCOMP
	c.Send(t, &codec.Pubcomp{Ack: codec.Ack{PacketID: n0.PacketID}})
	n2 := c.ExpectPublish(t, `q2 dup=0 retain=0 rm/2 "2"`)
	c.Ack(t, n1)
	c.Ack(t, n2)
	c.ExpectIdle(t)
}

// TestClientMaximumPacketSize: a message that would make a PUBLISH larger
// than the client's Maximum Packet Size is not sent to it
// [MQTT-5:3.1.2-24], and the server goes on as if it had been delivered
// [MQTT-5:3.1.2-25]: with Receive Maximum 1 the next message still comes.
func TestClientMaximumPacketSize(t *testing.T) {
	srv := startServer(t, nil)
	p := &codec.Connect{ClientID: "mps", CleanStart: true}
	p.Properties.MaximumPacketSize = 64
	p.Properties.ReceiveMaximum = 1
	c, _ := connected(t, srv, codec.V5, p)
	c.Subscribe(t, 1, "mps/t")
	pub := publisher(t, srv, "mps-pub")
	pub.Publish(t, 1, "mps/t", strings.Repeat("x", 100))
	pub.Publish(t, 0, "mps/t", strings.Repeat("y", 100))
	pub.Publish(t, 1, "mps/t", "fits")
	c.ExpectMessage(t, "mps/t", "fits")
	c.ExpectIdle(t)
}

// TestTakeOver: a CONNECT with the client id of a connected client closes
// the older connection [MQTT-3:3.1.4-2]; a 5.0 client is first told why
// with DISCONNECT 0x8E [MQTT-5:3.1.4-3]. The old connection's will is
// published, as for any connection that ends without DISCONNECT.
func TestTakeOver(t *testing.T) {
	for _, v := range bothVersions {
		t.Run(v.String(), func(t *testing.T) {
			srv := startServer(t, nil)
			watcher := publisher(t, srv, "to-watcher")
			watcher.Subscribe(t, 1, "will/#")
			old, _ := connected(t, srv, v, &codec.Connect{ClientID: "to", CleanStart: true,
				Will: &codec.Will{Topic: "will/to", Payload: []byte("taken over")}})
			_, ack := connected(t, srv, v, &codec.Connect{ClientID: "to", CleanStart: true})
			wantSessionPresent(t, ack, false)
			if v == codec.V5 {
				old.ExpectDescribed(t, "DISCONNECT rc=0x8e")
			}
			old.ExpectClosed(t)
			watcher.ExpectMessage(t, "will/to", "taken over")
		})
	}
}

// TestPanicInConnection: a panic while serving one connection (here in the
// Authenticate hook) closes only that connection; the server and its other
// clients carry on.
func TestPanicInConnection(t *testing.T) {
	srv := startServer(t, &Options{
		Authenticator: AuthenticatorFunc(func(_ context.Context, l *Login) codec.ReasonCode {
			if l.ClientID == "boom" {
				panic("test panic in Authenticate")
			}
			return codec.Success
		}),
	})
	sub, _ := connected(t, srv, codec.V5, &codec.Connect{ClientID: "calm", CleanStart: true})
	sub.Subscribe(t, 1, "p/t")

	boom := testkit.Dial(t, srv.Addr, codec.V5)
	boom.Send(t, &codec.Connect{Version: codec.V5, ClientID: "boom", CleanStart: true})
	boom.ExpectClosed(t)

	pub := publisher(t, srv, "after-panic")
	pub.Publish(t, 1, "p/t", "still here")
	sub.ExpectMessage(t, "p/t", "still here")
}

// TestAssignedClientIdentifier: 5.0 clients that send an empty client id
// each get a new, distinct Assigned Client Identifier in the CONNACK
// [MQTT-5:3.2.2-16] [MQTT-5:3.1.3-6], and the session behaves as if the
// client had sent it [MQTT-5:3.1.3-7].
func TestAssignedClientIdentifier(t *testing.T) {
	srv := startServer(t, nil)
	var ids []string
	var conns []*testkit.Peer
	for range 2 {
		c, ack := connected(t, srv, codec.V5, &codec.Connect{CleanStart: true})
		id := ack.Properties.AssignedClientIdentifier
		if id == "" || slices.Contains(ids, id) {
			t.Fatalf("Assigned Client Identifier %q, want a new one (have %q)", id, ids)
		}
		ids = append(ids, id)
		conns = append(conns, c)
	}
	conns[0].Subscribe(t, 1, "aci/t")
	conns[1].Publish(t, 1, "aci/t", "hello")
	conns[0].ExpectMessage(t, "aci/t", "hello")
}

// TestConnackProperties: a 5.0 CONNACK announces the server's limits from
// Options.
func TestConnackProperties(t *testing.T) {
	srv := startServer(t, &Options{MaxPacketSize: 4096, ReceiveMaximum: 7, TopicAliasMaximum: 9})
	_, ack := connected(t, srv, codec.V5, &codec.Connect{ClientID: "props", CleanStart: true})
	p := &ack.Properties
	if p.MaximumPacketSize != 4096 || p.ReceiveMaximum != 7 || p.TopicAliasMaximum != 9 {
		t.Errorf("CONNACK Maximum Packet Size %d, Receive Maximum %d, Topic Alias Maximum %d; want 4096, 7, 9",
			p.MaximumPacketSize, p.ReceiveMaximum, p.TopicAliasMaximum)
	}
}
