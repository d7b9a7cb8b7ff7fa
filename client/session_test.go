package client_test

// Session resumption after a lost connection, against the scripted server.

import (
	"context"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"

	"github.com/ternmq/tern/internal/testkit"
)

// persistentOpts reconnects and keeps the session for a minute.
func persistentOpts(v codec.Version, lost chan error, reconnected chan *codec.Connack) client.Options {
	o := client.Options{ClientID: "resume", Version: v, AutoReconnect: true, MinBackoff: time.Second, MaxBackoff: 4 * time.Second,
		OnConnectionLost: func(err error) { lost <- err },
		OnReconnect:      func(a *codec.Connack) { reconnected <- a }}
	if v == codec.V5 {
		o.ConnectProperties.SessionExpiryInterval = 60
	} else {
		o.CleanStart = false
	}
	return o
}

// startPublishes publishes QoS 1 "a", QoS 2 "b", QoS 2 "c", QoS 1 "d" in
// that order and returns their results.
func startPublishes(c *client.Client) []<-chan error {
	var res []<-chan error
	for _, m := range []struct {
		topic string
		qos   codec.QoS
	}{{"a", 1}, {"b", 2}, {"c", 2}, {"d", 1}} {
		res = append(res, async(func() error {
			return c.Publish(context.Background(), &client.Message{Topic: m.topic, QoS: m.qos, Payload: []byte(m.topic)})
		}))
		synctest.Wait()
	}
	return res
}

// After a reconnect to a session the server kept, the client resends the
// unacknowledged PUBLISH packets with DUP set and their original packet
// identifiers, and PUBREL for the QoS 2 messages the server had received,
// in the original order ([MQTT-4.4.0-1], [MQTT-3.3.1-1], [MQTT-4.6.0-1]),
// on a connection made with Clean Start 0. A PUBREC is answered with
// PUBREL ([MQTT-5:4.3.3-4]) and the PUBLISH is not sent again after it
// ([MQTT-5:4.3.3-6]); the PUBREL stays unacknowledged until the PUBCOMP
// ([MQTT-5:4.3.3-5]). Callbacks report the loss and the reconnect.
func TestResendAfterReconnect(t *testing.T) {
	for _, v := range versions {
		t.Run(v.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				lost, reconnected := make(chan error, 1), make(chan *codec.Connack, 1)
				c, s, accepted := fakeConnect(t, persistentOpts(v, lost, reconnected), nil)
				res := startPublishes(c)
				var first [4]*codec.Publish
				for i := range first {
					first[i] = s.nextPublish()
					if first[i].Dup {
						t.Errorf("first PUBLISH of %s has DUP set", first[i].Topic) // [MQTT-5:4.3.2-2] [MQTT-5:4.3.3-2] [MQTT-3:4.3.2-1] [MQTT-3:4.3.3-1]
					}
				}
				s.send(&codec.Pubrec{Ack: codec.Ack{PacketID: first[1].PacketID}}) // b received
				if a := s.nextAck(codec.PUBREL); a.PacketID != first[1].PacketID {
					t.Fatalf("PUBREL for %d, want %d", a.PacketID, first[1].PacketID)
				}
				s.nc.Close() // the connection breaks with a, c, d unacknowledged and b's PUBREL unanswered
				testkit.WaitFor(t, (<-chan error)(lost), "OnConnectionLost")

				s2, cp := accept(t, accepted)
				if cp.CleanStart {
					t.Error("reconnected with Clean Start 1: the session would be lost")
				}
				if cp.ClientID != "resume" {
					t.Errorf("reconnected as %q", cp.ClientID)
				}
				s2.send(&codec.Connack{SessionPresent: true})
				if a := testkit.WaitFor(t, (<-chan *codec.Connack)(reconnected), "OnReconnect"); !a.SessionPresent {
					t.Error("OnReconnect: Session Present 0")
				}
				p := s2.nextPublish()
				if p.Topic != "a" || !p.Dup || p.PacketID != first[0].PacketID {
					t.Fatalf("first resend: %s dup=%v id=%d, want a with DUP and id %d", p.Topic, p.Dup, p.PacketID, first[0].PacketID)
				}
				if a := s2.nextAck(codec.PUBREL); a.PacketID != first[1].PacketID {
					t.Fatalf("second resend: PUBREL %d, want %d", a.PacketID, first[1].PacketID)
				}
				for _, want := range first[2:] {
					p := s2.nextPublish()
					if p.Topic != want.Topic || !p.Dup || p.PacketID != want.PacketID {
						t.Fatalf("resend: %s dup=%v id=%d, want %s with DUP and id %d", p.Topic, p.Dup, p.PacketID, want.Topic, want.PacketID)
					}
				}
				s2.quiet()
				// The server had completed b before the connection broke:
				// PUBCOMP "Packet Identifier not found" ends b's flow too.
				s2.send(&codec.Puback{Ack: codec.Ack{PacketID: first[0].PacketID}},
					&codec.Pubcomp{Ack: codec.Ack{PacketID: first[1].PacketID, ReasonCode: codec.PacketIdentifierNotFound}},
					&codec.Pubrec{Ack: codec.Ack{PacketID: first[2].PacketID}})
				s2.nextAck(codec.PUBREL)
				s2.send(&codec.Pubcomp{Ack: codec.Ack{PacketID: first[2].PacketID}},
					&codec.Puback{Ack: codec.Ack{PacketID: first[3].PacketID}})
				for i, r := range res {
					if err := testkit.WaitFor(t, r, "Publish"); err != nil {
						t.Errorf("publish %d: %v", i, err)
					}
				}
			})
		})
	}
}

// When the server reports no session after a reconnect, the client
// discards its session state [MQTT-5:3.2.2-5]: it subscribes again, sends
// the messages the server never acknowledged as new ones (DUP 0), treats
// the QoS 2 message the server had received as delivered, and forgets the
// inbound QoS 2 state.
func TestSessionNotPresent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lost, reconnected := make(chan error, 1), make(chan *codec.Connack, 1)
		c, s, accepted := fakeConnect(t, persistentOpts(codec.V5, lost, reconnected), nil)
		in := newInbox()
		done := async(func() error {
			_, err := c.Subscribe(context.Background(), in.handle,
				codec.Subscription{Filter: "in/#", QoS: 2}, codec.Subscription{Filter: "other", QoS: 1})
			return err
		})
		ids := map[string]int{}
		for range 2 { // one SUBSCRIBE per filter, each with its Subscription Identifier
			sp := s.next().(*codec.Subscribe)
			ids[sp.Subscriptions[0].Filter] = sp.Properties.SubscriptionIdentifiers[0]
			s.send(&codec.Suback{PacketID: sp.PacketID, ReasonCodes: []codec.ReasonCode{codec.ReasonCode(sp.Subscriptions[0].QoS)}})
		}
		if err := testkit.WaitFor(t, done, "Subscribe"); err != nil {
			t.Fatal(err)
		}
		// An inbound QoS 2 message waiting for its PUBREL.
		s.send(&codec.Publish{Topic: "in/1", QoS: 2, PacketID: 5, Payload: []byte("x")})
		in.expect(t, "in/1", "x")
		s.nextAck(codec.PUBREC)

		res := startPublishes(c)
		var first [4]*codec.Publish
		for i := range first {
			first[i] = s.nextPublish()
		}
		s.send(&codec.Pubrec{Ack: codec.Ack{PacketID: first[1].PacketID}})
		s.nextAck(codec.PUBREL)
		s.nc.Close()
		testkit.WaitFor(t, (<-chan error)(lost), "OnConnectionLost")

		s2, _ := accept(t, accepted)
		s2.send(&codec.Connack{SessionPresent: false})
		testkit.WaitFor(t, (<-chan *codec.Connack)(reconnected), "OnReconnect")
		for _, want := range []codec.Subscription{{Filter: "in/#", QoS: 2}, {Filter: "other", QoS: 1}} {
			sp, ok := s2.next().(*codec.Subscribe)
			if !ok || len(sp.Subscriptions) != 1 || sp.Subscriptions[0] != want ||
				len(sp.Properties.SubscriptionIdentifiers) != 1 || sp.Properties.SubscriptionIdentifiers[0] != ids[want.Filter] {
				t.Fatalf("got %+v, want SUBSCRIBE %+v with Subscription Identifier %d", sp, want, ids[want.Filter])
			}
			s2.send(&codec.Suback{PacketID: sp.PacketID, ReasonCodes: []codec.ReasonCode{codec.ReasonCode(want.QoS)}})
		}
		var again []*codec.Publish
		for _, want := range []string{"a", "c", "d"} {
			p := s2.nextPublish()
			if p.Topic != want || p.Dup {
				t.Fatalf("got %s dup=%v, want %s as a new message (DUP 0)", p.Topic, p.Dup, want)
			}
			again = append(again, p)
		}
		s2.quiet() // no PUBREL for b
		for _, p := range again {
			if p.QoS == 1 {
				s2.send(&codec.Puback{Ack: codec.Ack{PacketID: p.PacketID}})
			} else {
				s2.send(&codec.Pubrec{Ack: codec.Ack{PacketID: p.PacketID}})
				s2.send(&codec.Pubcomp{Ack: codec.Ack{PacketID: s2.nextAck(codec.PUBREL).PacketID}})
			}
		}
		for i, r := range res {
			if err := testkit.WaitFor(t, r, "Publish"); err != nil {
				t.Errorf("publish %d: %v", i, err)
			}
		}
		// The old inbound packet identifier 5 now carries a new message.
		s2.send(&codec.Publish{Topic: "in/1", QoS: 2, PacketID: 5, Payload: []byte("y")})
		in.expect(t, "in/1", "y")
		s2.nextAck(codec.PUBREC)
	})
}

// Reconnect attempts back off exponentially, with jitter, up to
// MaxBackoff, and stop when Disconnect is called.
func TestReconnectBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lost, reconnected := make(chan error, 1), make(chan *codec.Connack, 1)
		opts := persistentOpts(codec.V5, lost, reconnected)
		c, s, accepted := fakeConnect(t, opts, nil)
		s.nc.Close()
		testkit.WaitFor(t, (<-chan error)(lost), "OnConnectionLost")
		last := time.Now()
		for i, max := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
			nc := testkit.WaitFor(t, (<-chan net.Conn)(accepted), "a reconnect attempt")
			d := time.Since(last)
			if d < max/2 || d > max {
				t.Errorf("attempt %d after %v, want between %v and %v", i+1, d, max/2, max)
			}
			nc.Close() // refuse: no CONNACK
			last = time.Now()
		}
		if err := c.Disconnect(context.Background(), codec.NormalDisconnection); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		select {
		case <-accepted:
			t.Error("dialled again after Disconnect")
		default:
		}
	})
}
