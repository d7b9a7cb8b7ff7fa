package broker

// Shared subscriptions, $share/{ShareName}/{filter} (5.0 section 4.8.2).

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	paho "github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// TestSharedRoundRobin: each message published to a shared subscription
// goes to exactly one of its online members, in turn: with two 5.0 members
// (paho.golang) and one 3.1.1 member (paho.mqtt.golang, which may use
// $share too) every message arrives once, none twice, and each member gets
// a third.
func TestSharedRoundRobin(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	a := connectP5(t, srv.Addr, v5conn("srr-a", true, 0))
	b := connectP5(t, srv.Addr, v5conn("srr-b", true, 0))
	c := connectP3(t, srv.Addr, "srr-c", true)
	a.sub(t, "$share/rr/srr/#", 1)
	b.sub(t, "$share/rr/srr/#", 1)
	// paho.mqtt.golang reports the grant of a $share filter under the
	// filter without "$share/{ShareName}/".
	tok := c.Subscribe("$share/rr/srr/#", 1, nil)
	if !tok.WaitTimeout(testkit.Timeout) || tok.Error() != nil {
		t.Fatalf("3.1.1 SUBSCRIBE $share/rr/srr/#: %v", tok.Error())
	}
	if got := tok.(*mqtt.SubscribeToken).Result(); got["srr/#"] != 1 {
		t.Fatalf("3.1.1 SUBACK %v, want QoS 1 granted", got)
	}
	for _, m := range []interface {
		sub(testing.TB, string, byte)
	}{a, b, c} {
		m.sub(t, "srr-end", 1)
	}
	pub := connectP5(t, srv.Addr, v5conn("srr-pub", true, 0))
	const n = 30
	for i := range n {
		pub.pubSimple(t, fmt.Sprintf("srr/%d", i%4), 1, false, fmt.Sprint(i))
	}
	pub.pubSimple(t, "srr-end", 1, false, "end")

	var all []string
	for name, in := range map[string]*inbox{"a": a.msgs, "b": b.msgs, "c (3.1.1)": c.msgs} {
		var got []string
		for {
			m := in.next(t)
			if m.Topic == "srr-end" {
				break
			}
			if m.QoS != 1 || m.Retain {
				t.Errorf("member %s got %v, want QoS 1 and RETAIN 0", name, m)
			}
			got = append(got, m.Payload)
		}
		if len(got) != n/3 {
			t.Errorf("member %s got %d messages (%v), want %d in turn", name, len(got), got, n/3)
		}
		all = append(all, got...)
	}
	slices.SortFunc(all, func(a, b string) int { return cmp.Or(cmp.Compare(len(a), len(b)), cmp.Compare(a, b)) })
	if !slices.Equal(all, payloads(n)) {
		t.Fatalf("members received %v, want each of 0..%d exactly once", all, n-1)
	}
}

// TestPaho5SharedAndNonShared: one client with a shared and a non-shared
// subscription to the same topic gets both copies, each PUBLISH with the
// Subscription Identifier of its own subscription [MQTT-5:3.3.4-5].
func TestPaho5SharedAndNonShared(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	c := connectP5(t, srv.Addr, v5conn("sns", true, 0))
	subWithID := func(filter string, id int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), testkit.Timeout)
		defer cancel()
		sa, err := c.Subscribe(ctx, &paho.Subscribe{
			Properties:    &paho.SubscribeProperties{SubscriptionIdentifier: &id},
			Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1}},
		})
		if err != nil || len(sa.Reasons) != 1 || sa.Reasons[0] != 1 {
			t.Fatalf("SUBSCRIBE %s: %v %v", filter, sa, err)
		}
	}
	subWithID("$share/g/sns/t", 1)
	subWithID("sns/t", 2)
	pub := connectP5(t, srv.Addr, v5conn("sns-pub", true, 0))
	pub.pubSimple(t, "sns/t", 1, false, "one")
	pub.pubSimple(t, "sns/t", 1, false, "two")
	ids := map[string][]int{}
	for range 4 {
		m := c.msgs.next(t)
		if m.Topic != "sns/t" || m.p5.Properties == nil || m.p5.Properties.SubscriptionIdentifier == nil {
			t.Fatalf("got %v without a Subscription Identifier", m)
		}
		ids[m.Payload] = append(ids[m.Payload], *m.p5.Properties.SubscriptionIdentifier)
	}
	for _, p := range []string{"one", "two"} {
		slices.Sort(ids[p])
		if !slices.Equal(ids[p], []int{1, 2}) {
			t.Errorf("%q arrived with Subscription Identifiers %v, want one copy with 1 and one with 2", p, ids[p])
		}
	}
}

// member connects a client to srv in version v with p (a clean 5.0 session
// when nil) and subscribes it to filter at qos.
func member(t *testing.T, srv *Server, v codec.Version, id string, p *codec.Connect, filter string, qos codec.QoS) *testkit.Peer {
	t.Helper()
	if p == nil {
		p = &codec.Connect{ClientID: id, CleanStart: true}
	}
	c, _ := pipeConnect(t, srv, v, p)
	c.Subscribe(t, qos, filter)
	return c
}

// TestSharedRetained: a shared subscription gets no retained messages when
// it is made (5.0 section 4.8.2), not even with Retain Handling 0, while a
// non-shared subscription of the same session to the same topic does.
func TestSharedRetained(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := startPipeServer(t, nil)
		pub, _ := pipeConnect(t, srv, codec.V5, clean5("shr-pub"))
		pub.PublishWith(t, &codec.Publish{QoS: 1, Retain: true, Topic: "shr/t", Payload: []byte("retained")})
		for _, v := range bothVersions {
			c := member(t, srv, v, "shr-"+v.String(), nil, "$share/g/shr/#", 1)
			c.ExpectIdle(t)
			c.Subscribe(t, 1, "shr/t")
			c.Ack(t, c.ExpectPublish(t, `q1 dup=0 retain=1 shr/t "retained"`))
			c.ExpectIdle(t)
		}
	})
}

// TestSharedGrantedQoS: members of one group get each message at the QoS
// granted to their own subscription [MQTT-5:4.8.2-3]; a 3.1.1 member takes
// its turn like the others.
func TestSharedGrantedQoS(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := startPipeServer(t, nil)
		members := []*testkit.Peer{
			member(t, srv, codec.V5, "sq-0", nil, "$share/g/sq/t", 0),
			member(t, srv, codec.V311, "sq-1", nil, "$share/g/sq/t", 1),
			member(t, srv, codec.V5, "sq-2", nil, "$share/g/sq/t", 2),
		}
		pub, _ := pipeConnect(t, srv, codec.V5, clean5("sq-pub"))
		for _, s := range payloads(6) {
			pub.Publish(t, 2, "sq/t", s)
		}
		for i, m := range members {
			var got []*codec.Publish
			for _, k := range []int{i, i + 3} {
				got = append(got, m.ExpectPublish(t, fmt.Sprintf(`q%d dup=0 retain=0 sq/t "%d"`, i, k)))
			}
			for _, p := range got {
				m.Ack(t, p)
			}
			m.ExpectIdle(t)
		}
	})
}

// TestSharedQoS1Redistribution: QoS 1 messages a member has not
// acknowledged when its connection is lost, in flight or waiting behind its
// Receive Maximum, go to another online member, once; the member that left
// gets none of them again when it comes back.
func TestSharedQoS1Redistribution(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := startPipeServer(t, nil)
		pa := persistent(codec.V5, "sd-a")
		pa.Properties.ReceiveMaximum = 1
		a := member(t, srv, codec.V5, "", pa, "$share/g/sd/t", 1)
		b := member(t, srv, codec.V5, "sd-b", nil, "$share/g/sd/t", 1)
		pub, _ := pipeConnect(t, srv, codec.V5, clean5("sd-pub"))
		for _, s := range payloads(3) {
			pub.Publish(t, 1, "sd/t", s)
		}
		a.ExpectPublish(t, `q1 dup=0 retain=0 sd/t "0"`) // not acknowledged; "2" waits behind it
		a.ExpectIdle(t)
		b.Ack(t, b.ExpectPublish(t, `q1 dup=0 retain=0 sd/t "1"`))
		a.Close()

		b.Ack(t, b.ExpectPublish(t, `q1 dup=0 retain=0 sd/t "0"`))
		b.Ack(t, b.ExpectPublish(t, `q1 dup=0 retain=0 sd/t "2"`))
		b.ExpectIdle(t)

		a, ack := pipeConnect(t, srv, codec.V5, pa)
		wantSessionPresent(t, ack, true)
		a.ExpectIdle(t)
		// Still a member: the turns go on.
		pub.Publish(t, 1, "sd/t", "3")
		pub.Publish(t, 1, "sd/t", "4")
		a.ExpectMessage(t, "sd/t", "3")
		b.ExpectMessage(t, "sd/t", "4")
	})
}

// TestSharedQoS2StaysWithMember: a QoS 2 message whose delivery to a member
// has started stays with that member when its connection breaks and is
// completed when it reconnects [MQTT-5:4.8.2-4], PUBLISH or PUBREL alike;
// if the member's session ends first, no other member gets it
// [MQTT-5:4.8.2-5].
func TestSharedQoS2StaysWithMember(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := startPipeServer(t, nil)
		pa := persistent(codec.V5, "s2-a")
		pa.Properties.SessionExpiryInterval = 30
		a := member(t, srv, codec.V5, "", pa, "$share/g/s2/t", 2)
		b := member(t, srv, codec.V5, "s2-b", nil, "$share/g/s2/t", 2)
		pub, _ := pipeConnect(t, srv, codec.V5, clean5("s2-pub"))

		// Turn 1 is a's, turn 2 b's, and so on.
		pub.Publish(t, 2, "s2/t", "published")
		pub.Publish(t, 2, "s2/t", "to b")
		pub.Publish(t, 2, "s2/t", "released")
		m1 := a.ExpectPublish(t, `q2 dup=0 retain=0 s2/t "published"`)
		m3 := a.ExpectPublish(t, `q2 dup=0 retain=0 s2/t "released"`)
		a.Send(t, &codec.Pubrec{Ack: codec.Ack{PacketID: m3.PacketID}})
		a.ExpectDescribed(t, fmt.Sprintf("PUBREL id=%d rc=0x00", m3.PacketID))
		b.Ack(t, b.ExpectPublish(t, `q2 dup=0 retain=0 s2/t "to b"`))
		a.Close()
		b.ExpectIdle(t)

		a, _ = pipeConnect(t, srv, codec.V5, pa)
		a.ExpectDescribed(t,
			fmt.Sprintf(`PUBLISH q2 dup=1 retain=0 id=%d s2/t "published"`, m1.PacketID),
			fmt.Sprintf("PUBREL id=%d rc=0x00", m3.PacketID))
		a.Send(t, &codec.Pubcomp{Ack: codec.Ack{PacketID: m3.PacketID}})
		a.Ack(t, m1)
		a.ExpectIdle(t)
		b.ExpectIdle(t)

		// Now one in flight when a's session ends: b never gets it.
		pub.Publish(t, 2, "s2/t", "to b again")
		pub.Publish(t, 2, "s2/t", "dies with a")
		b.Ack(t, b.ExpectPublish(t, `q2 dup=0 retain=0 s2/t "to b again"`))
		a.ExpectPublish(t, `q2 dup=0 retain=0 s2/t "dies with a"`)
		a.Close()
		advance(31 * time.Second) // fake time (synctest): past a's Session Expiry Interval
		b.ExpectIdle(t)
		a, ack := pipeConnect(t, srv, codec.V5, pa)
		wantSessionPresent(t, ack, false)
		a.ExpectIdle(t)
		b.ExpectIdle(t)
	})
}

// TestSharedRefusedNotResent: a member that answers PUBACK or PUBREC with a
// reason code of 0x80 or more has finished with the message: the server
// discards it and does not send it to another member [MQTT-5:4.8.2-6],
// not even when the member then leaves.
func TestSharedRefusedNotResent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := startPipeServer(t, nil)
		a := member(t, srv, codec.V5, "", persistent(codec.V5, "sx-a"), "$share/g/sx/t", 2)
		pub, _ := pipeConnect(t, srv, codec.V5, clean5("sx-pub"))
		pub.Publish(t, 1, "sx/t", "q1")
		pub.Publish(t, 2, "sx/t", "q2")
		q1 := a.ExpectPublish(t, `q1 dup=0 retain=0 sx/t "q1"`)
		q2 := a.ExpectPublish(t, `q2 dup=0 retain=0 sx/t "q2"`)
		b := member(t, srv, codec.V5, "sx-b", nil, "$share/g/sx/t", 2)
		a.Send(t,
			&codec.Puback{Ack: codec.Ack{PacketID: q1.PacketID, ReasonCode: codec.UnspecifiedError}},
			&codec.Pubrec{Ack: codec.Ack{PacketID: q2.PacketID, ReasonCode: codec.ImplementationSpecificError}})
		a.ExpectIdle(t) // no PUBREL for a refused QoS 2 message
		a.Close()
		b.ExpectIdle(t)
		a, _ = pipeConnect(t, srv, codec.V5, persistent(codec.V5, "sx-a"))
		a.ExpectIdle(t)
	})
}

// TestSharedSubscribeErrors: an invalid shared subscription filter is
// refused in the SUBACK, 0x8F for 5.0 [MQTT-5:4.8.2-1] [MQTT-5:4.8.2-2],
// 0x80 for 3.1.1, without affecting the other filters of the SUBSCRIBE;
// No Local on a shared subscription is a Protocol Error: DISCONNECT 0x82
// [MQTT-5:3.8.3-4].
func TestSharedSubscribeErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := startPipeServer(t, nil)
		filters := []string{"$share//t", "$share/g", "$share/g/", "$share/g+/t", "$share/#/t", "$share/g/t#", "$share/g/ok/#"}
		s := &codec.Subscribe{PacketID: 9}
		for _, f := range filters {
			s.Subscriptions = append(s.Subscriptions, codec.Subscription{Filter: f, QoS: 1})
		}
		for _, tc := range []struct {
			v    codec.Version
			want string
		}{
			{codec.V5, "SUBACK id=9 [0x8f 0x8f 0x8f 0x8f 0x8f 0x8f 0x01]"},
			{codec.V311, "SUBACK id=9 [0x80 0x80 0x80 0x80 0x80 0x80 0x01]"},
		} {
			c, _ := pipeConnect(t, srv, tc.v, &codec.Connect{ClientID: "sse-" + tc.v.String(), CleanStart: true})
			c.Send(t, s)
			c.ExpectDescribed(t, tc.want)
			c.ExpectIdle(t)
		}

		c, _ := pipeConnect(t, srv, codec.V5, clean5("sse-nl"))
		c.Send(t, &codec.Subscribe{PacketID: 1, Subscriptions: []codec.Subscription{{Filter: "$share/g/nl", QoS: 1, NoLocal: true}}})
		expectDisconnect(t, c, codec.ProtocolError)
	})
}

// TestSharedMembership: subscribing again to the same shared subscription
// changes the member's options without adding a second membership, so one
// UNSUBSCRIBE leaves the group; a session that ends leaves it too; a group
// left by all its members is gone (UNSUBACK 0x11 for it afterwards).
func TestSharedMembership(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := startPipeServer(t, nil)
		a := member(t, srv, codec.V5, "sm-a", nil, "$share/g/sm/t", 0)
		a.Subscribe(t, 1, "$share/g/sm/t")
		b := member(t, srv, codec.V5, "sm-b", nil, "$share/g/sm/t", 1)
		pub, _ := pipeConnect(t, srv, codec.V5, clean5("sm-pub"))
		pub.Publish(t, 1, "sm/t", "0")
		pub.Publish(t, 1, "sm/t", "1")
		a.Ack(t, a.ExpectPublish(t, `q1 dup=0 retain=0 sm/t "0"`)) // the new QoS
		b.Ack(t, b.ExpectPublish(t, `q1 dup=0 retain=0 sm/t "1"`))

		a.Send(t, &codec.Unsubscribe{PacketID: 5, Filters: []string{"$share/g/sm/t"}})
		a.ExpectDescribed(t, "UNSUBACK id=5 [0x00]")
		for _, s := range payloads(3) {
			pub.Publish(t, 1, "sm/t", s)
			b.ExpectMessage(t, "sm/t", s)
		}
		a.ExpectIdle(t)

		c := member(t, srv, codec.V5, "sm-c", nil, "$share/g/sm/t", 1)
		b.Disconnect(t) // a clean session ends, and leaves the group
		for _, s := range payloads(2) {
			pub.Publish(t, 1, "sm/t", s)
			c.ExpectMessage(t, "sm/t", s)
		}
		c.Send(t, &codec.Unsubscribe{PacketID: 6, Filters: []string{"$share/g/sm/t"}})
		c.ExpectDescribed(t, "UNSUBACK id=6 [0x00]")
		c.Send(t, &codec.Unsubscribe{PacketID: 7, Filters: []string{"$share/g/sm/t"}})
		c.ExpectDescribed(t, "UNSUBACK id=7 [0x11]")
		pub.Publish(t, 1, "sm/t", "nobody")
		a.ExpectIdle(t)
		c.ExpectIdle(t)
		srv.mu.Lock()
		groups := len(srv.groups)
		srv.mu.Unlock()
		if groups != 0 {
			t.Errorf("%d shared subscription groups left, want none", groups)
		}
	})
}

// TestSharedMemberSessionEnds: when a member's session ends with QoS 1
// messages it has not acknowledged, and no other member is online, they go
// to another member's session, which queues them (5.0 section 4.8.2: the
// Server SHOULD send them to another subscribed Client), rather than
// dying with the session: at once for a session that ends with its
// connection, and when the Session Expiry Interval passes for one that
// outlives it.
func TestSharedMemberSessionEnds(t *testing.T) {
	for _, tc := range []struct {
		name   string
		expiry uint32 // of the member that leaves
	}{{"clean session", 0}, {"session expiry", 5}} {
		inBubble(t, tc.name, func(t *testing.T) {
			srv := startPipeServer(t, nil)
			pb := persistent(codec.V5, "se-b")
			b := member(t, srv, codec.V5, "", pb, "$share/g/se/t", 1)
			b.Disconnect(t) // offline, still a member
			pa := persistent(codec.V5, "se-a")
			pa.Properties.SessionExpiryInterval = tc.expiry
			a := member(t, srv, codec.V5, "", pa, "$share/g/se/t", 1)
			pub, _ := pipeConnect(t, srv, codec.V5, clean5("se-pub"))
			pub.Publish(t, 1, "se/t", "m")
			a.ExpectPublish(t, `q1 dup=0 retain=0 se/t "m"`) // never acknowledged
			a.Close()
			advance(time.Duration(tc.expiry)*time.Second + time.Millisecond) // fake time (synctest)

			b, ack := pipeConnect(t, srv, codec.V5, pb)
			wantSessionPresent(t, ack, true)
			b.ExpectMessage(t, "se/t", "m")
			b.ExpectIdle(t)
		})
	}
}
