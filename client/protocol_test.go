package client_test

// Client-side protocol rules, checked against the scripted server of
// fake_test.go in fake time.

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"

	"github.com/ternmq/tern/internal/testkit"
)

// In the absence of other packets the client sends PINGREQ every Keep
// Alive ([MQTT-5:3.1.2-20], [MQTT-3:3.1.2-23]); any packet it sends
// restarts the interval; a server that stops answering is declared dead
// after the ping timeout.
func TestKeepAlivePingreq(t *testing.T) {
	for _, v := range versions {
		t.Run(v.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				lost := make(chan error, 1)
				c, s, _ := fakeConnect(t, client.Options{Version: v, KeepAlive: 5 * time.Second,
					PingTimeout: 3 * time.Second, OnConnectionLost: func(err error) { lost <- err }}, nil)
				start := time.Now()
				if p := s.next(); p.Type() != codec.PINGREQ {
					t.Fatalf("got %v, want PINGREQ", p.Type())
				}
				if d := time.Since(start); d != 5*time.Second {
					t.Errorf("first PINGREQ after %v, want 5s", d)
				}
				s.send(&codec.Pingresp{})

				<-time.After(2 * time.Second) // fake time (synctest): the client is idle
				pub(t, c, &client.Message{Topic: "t", Payload: []byte("x")})
				s.nextPublish()
				sent := time.Now()
				if p := s.next(); p.Type() != codec.PINGREQ {
					t.Fatalf("got %v, want PINGREQ", p.Type())
				}
				if d := time.Since(sent); d != 5*time.Second {
					t.Errorf("PINGREQ %v after the last packet, want 5s", d)
				}
				// No PINGRESP this time: the connection is dead after 3s.
				pinged := time.Now()
				err := testkit.WaitFor(t, (<-chan error)(lost), "OnConnectionLost")
				if !errors.Is(err, client.ErrKeepAliveTimeout) {
					t.Errorf("connection lost with %v, want ErrKeepAliveTimeout", err)
				}
				if d := time.Since(pinged); d != 3*time.Second {
					t.Errorf("declared dead %v after the PINGREQ, want 3s", d)
				}
				s.closed()
				if err := c.Publish(context.Background(), &client.Message{Topic: "t", QoS: 1}); !errors.Is(err, client.ErrClosed) {
					t.Errorf("Publish after the loss: %v, want ErrClosed", err)
				}
			})
		})
	}
}

// The client sends at most the server's Receive Maximum of QoS 1 and 2
// PUBLISH packets unacknowledged ([MQTT-5:3.3.4-7], [MQTT-5:4.9.0-2]);
// the others wait, in order, and other packets are not delayed
// ([MQTT-5:3.3.4-8], [MQTT-5:4.9.0-3]).
func TestReceiveMaximumOfServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ack := &codec.Connack{}
		ack.Properties.ReceiveMaximum = 2
		c, s, _ := fakeConnect(t, client.Options{}, ack)
		results := make([]<-chan error, 4)
		for i, topic := range []string{"a", "b", "c", "d"} {
			results[i] = async(func() error {
				return c.Publish(context.Background(), &client.Message{Topic: topic, QoS: 1})
			})
			synctest.Wait() // publish in this order
		}
		p1, p2 := s.nextPublish(), s.nextPublish()
		s.quiet() // c and d wait for the quota
		// A SUBSCRIBE is not held back by the quota.
		subDone := async(func() error {
			_, err := c.Subscribe(context.Background(), func(*client.Message) {}, codec.Subscription{Filter: "x"})
			return err
		})
		sp, ok := s.next().(*codec.Subscribe)
		if !ok {
			t.Fatal("SUBSCRIBE not sent while the send quota is used up")
		}
		s.send(&codec.Suback{PacketID: sp.PacketID, ReasonCodes: []codec.ReasonCode{0}})
		if err := testkit.WaitFor(t, subDone, "Subscribe"); err != nil {
			t.Fatal(err)
		}
		s.send(&codec.Puback{Ack: codec.Ack{PacketID: p2.PacketID}})
		if err := testkit.WaitFor(t, results[1], "Publish b"); err != nil {
			t.Fatal(err)
		}
		p3 := s.nextPublish()
		s.quiet()
		s.send(&codec.Puback{Ack: codec.Ack{PacketID: p1.PacketID}})
		p4 := s.nextPublish()
		if got := p1.Topic + p2.Topic + p3.Topic + p4.Topic; got != "abcd" {
			t.Errorf("sent in order %q, want abcd", got)
		}
		s.send(&codec.Puback{Ack: codec.Ack{PacketID: p3.PacketID}}, &codec.Puback{Ack: codec.Ack{PacketID: p4.PacketID}})
		for i, r := range results {
			if i == 1 {
				continue // already returned
			}
			if err := testkit.WaitFor(t, r, "Publish"); err != nil {
				t.Errorf("publish %d: %v", i, err)
			}
		}
	})
}

// Client→server topic aliases: the first PUBLISH of a topic carries topic
// and alias, later ones the alias alone; aliases stay within the server's
// Topic Alias Maximum ([MQTT-5:3.2.2-17], [MQTT-5:3.3.2-9]), are never 0
// ([MQTT-5:3.3.2-8]), and are not used when the server sets none
// ([MQTT-5:3.2.2-18]).
func TestTopicAliasesToServer(t *testing.T) {
	type sent struct {
		topic string
		alias uint16
	}
	send := func(t *testing.T, aliasMax uint16) []sent {
		var got []sent
		synctest.Test(t, func(t *testing.T) {
			ack := &codec.Connack{}
			ack.Properties.TopicAliasMaximum = aliasMax
			c, s, _ := fakeConnect(t, client.Options{}, ack)
			for _, topic := range []string{"a/1", "a/1", "b/2", "c/3", "a/1", "b/2"} {
				pub(t, c, &client.Message{Topic: topic, Payload: []byte(topic)})
				p := s.nextPublish()
				if p.Properties.Has(codec.PropTopicAlias) && p.Properties.TopicAlias == 0 {
					t.Error("Topic Alias 0 sent")
				}
				got = append(got, sent{p.Topic, p.Properties.TopicAlias})
			}
		})
		return got
	}
	t.Run("maximum 2", func(t *testing.T) {
		got := send(t, 2)
		want := []sent{{"a/1", 1}, {"", 1}, {"b/2", 2}, {"c/3", 0}, {"", 1}, {"", 2}}
		if len(got) != len(want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("PUBLISH %d: topic %q alias %d, want %q alias %d", i, got[i].topic, got[i].alias, want[i].topic, want[i].alias)
			}
		}
	})
	t.Run("none", func(t *testing.T) {
		for i, s := range send(t, 0) {
			if s.alias != 0 || s.topic == "" {
				t.Errorf("PUBLISH %d: topic %q alias %d without a server Topic Alias Maximum", i, s.topic, s.alias)
			}
		}
	})
}

// Server→client topic aliases up to the client's Topic Alias Maximum are
// accepted [MQTT-5:3.3.2-10]; one above it closes the connection with
// DISCONNECT 0x94; aliases do not survive the connection
// [MQTT-5:3.3.2-7].
func TestTopicAliasesFromServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lost := make(chan error, 2)
		opts := client.Options{AutoReconnect: true, MinBackoff: time.Second,
			OnConnectionLost: func(err error) { lost <- err }}
		opts.ConnectProperties.TopicAliasMaximum = 3
		c, s, accepted := fakeConnect(t, opts, nil)
		in := newInbox()
		subscribeFake(t, c, s, in, "#")

		withAlias := func(topic string, alias uint16) *codec.Publish {
			p := &codec.Publish{Topic: topic, Payload: []byte("x")}
			p.Properties.TopicAlias = alias
			return p
		}
		s.send(withAlias("x/y", 3))
		s.send(withAlias("", 3))
		s.send(withAlias("z", 1))
		for _, want := range []string{"x/y", "x/y", "z"} {
			m := in.next(t)
			if m.Topic != want || m.Properties.TopicAlias != 0 {
				t.Errorf("handler got topic %q alias %d, want %q and no alias", m.Topic, m.Properties.TopicAlias, want)
			}
		}
		s.send(withAlias("w", 4))
		d, ok := s.next().(*codec.Disconnect)
		if !ok || d.ReasonCode != codec.TopicAliasInvalid {
			t.Fatalf("got %v, want DISCONNECT Topic Alias invalid", d)
		}
		s.closed()
		testkit.WaitFor(t, (<-chan error)(lost), "OnConnectionLost")

		// The next connection starts without aliases.
		s2, _ := accept(t, accepted)
		s2.send(&codec.Connack{SessionPresent: true})
		s2.send(withAlias("", 3))
		d, ok = s2.next().(*codec.Disconnect)
		if !ok || d.ReasonCode != codec.ProtocolError {
			t.Fatalf("got %v, want DISCONNECT Protocol Error for an alias of the last connection", d)
		}
		s2.closed()
		testkit.WaitFor(t, (<-chan error)(lost), "OnConnectionLost")
		c.Disconnect(context.Background(), codec.NormalDisconnection)
	})
}

// subscribeFake subscribes c to filters at QoS 2 through the fake
// server, with in's handler.
func subscribeFake(t *testing.T, c *client.Client, s *fakeServer, in inbox, filters ...string) {
	t.Helper()
	subscribeHandler(t, c, s, in.handle, filters...)
}

// An incoming QoS 2 message is handed to the handlers once, however many
// times it is resent before the PUBREL ([MQTT-5:4.3.3-10],
// [MQTT-3:4.3.3-2]); PUBREL gets PUBCOMP ([MQTT-5:4.3.3-11]), after which
// the packet identifier carries a new message ([MQTT-5:4.3.3-12]). A
// PUBREL for an unknown identifier gets PUBCOMP 0x92.
func TestInboundQoS2ExactlyOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, s, _ := fakeConnect(t, client.Options{}, nil)
		in := newInbox()
		subscribeFake(t, c, s, in, "q2")
		msg := &codec.Publish{Topic: "q2", QoS: 2, PacketID: 7, Payload: []byte("once")}
		s.send(msg)
		in.expect(t, "q2", "once")
		if a := s.nextAck(codec.PUBREC); a.PacketID != 7 {
			t.Fatalf("PUBREC for %d, want 7", a.PacketID)
		}
		dup := *msg
		dup.Dup = true
		s.send(&dup)
		if a := s.nextAck(codec.PUBREC); a.PacketID != 7 {
			t.Fatalf("PUBREC for %d, want 7", a.PacketID)
		}
		s.quiet()
		if len(in) != 0 {
			t.Fatal("a resent QoS 2 message was handed to the handler again")
		}
		s.send(&codec.Pubrel{Ack: codec.Ack{PacketID: 7}})
		if a := s.nextAck(codec.PUBCOMP); a.PacketID != 7 || a.ReasonCode != codec.Success {
			t.Fatalf("PUBCOMP %d %v, want 7 Success", a.PacketID, a.ReasonCode)
		}
		s.send(&codec.Publish{Topic: "q2", QoS: 2, PacketID: 7, Payload: []byte("new")})
		in.expect(t, "q2", "new")
		s.nextAck(codec.PUBREC)
		s.send(&codec.Pubrel{Ack: codec.Ack{PacketID: 9}})
		if a := s.nextAck(codec.PUBCOMP); a.PacketID != 9 || a.ReasonCode != codec.PacketIdentifierNotFound {
			t.Fatalf("PUBCOMP %d %v, want 9 Packet Identifier not found", a.PacketID, a.ReasonCode)
		}
	})
}

// Handlers never block the read loop, and acknowledgements (PUBACK for
// QoS 1, [MQTT-5:4.3.2-4] [MQTT-3:4.3.2-2]; PUBREC for QoS 2,
// [MQTT-5:4.3.3-8]) go out only after the handlers return, in the order
// the messages arrived ([MQTT-4.6.0-2], [MQTT-4.6.0-3]), even when a later
// message's handler finishes first.
func TestAckOrderAndSlowHandlers(t *testing.T) {
	for _, qos := range []codec.QoS{1, 2} {
		ackType := codec.PUBACK
		if qos == 2 {
			ackType = codec.PUBREC
		}
		t.Run(ackType.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, s, _ := fakeConnect(t, client.Options{}, nil)
				release := make(chan struct{})
				slowGot := make(chan *client.Message, 10)
				slow := func(m *client.Message) { slowGot <- m; <-release }
				fast := newInbox()
				for _, sub := range []struct {
					filter string
					h      client.Handler
				}{{"slow/#", slow}, {"fast/#", fast.handle}} {
					done := async(func() error {
						_, err := c.Subscribe(context.Background(), sub.h, codec.Subscription{Filter: sub.filter, QoS: 2})
						return err
					})
					sp := s.next().(*codec.Subscribe)
					s.send(&codec.Suback{PacketID: sp.PacketID, ReasonCodes: []codec.ReasonCode{2}})
					if err := testkit.WaitFor(t, done, "Subscribe"); err != nil {
						t.Fatal(err)
					}
				}
				s.send(&codec.Publish{Topic: "slow/1", QoS: qos, PacketID: 1, Payload: []byte("1")},
					&codec.Publish{Topic: "fast/2", QoS: qos, PacketID: 2, Payload: []byte("2")},
					&codec.Publish{Topic: "fast/3", QoS: qos, PacketID: 3, Payload: []byte("3")})
				testkit.WaitFor(t, (<-chan *client.Message)(slowGot), "the slow handler")
				// The fast subscription is served while the slow handler blocks.
				fast.expect(t, "fast/2", "2")
				fast.expect(t, "fast/3", "3")
				// No acknowledgement yet: message 1 is still being handled.
				s.quiet()
				close(release)
				for _, id := range []uint16{1, 2, 3} {
					if a := s.nextAck(ackType); a.PacketID != id {
						t.Fatalf("%v for %d, want %d", ackType, a.PacketID, id)
					}
				}
			})
		})
	}
}

// The client holds the server to the Receive Maximum it announced: with
// handlers busy, the messages stay unacknowledged, and one more closes the
// connection with DISCONNECT 0x93.
func TestReceiveMaximumOfClient(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		opts := client.Options{}
		opts.ConnectProperties.ReceiveMaximum = 2
		c, s, _ := fakeConnect(t, opts, nil)
		release := make(chan struct{})
		defer close(release)
		done := async(func() error {
			_, err := c.Subscribe(context.Background(), func(*client.Message) { <-release }, codec.Subscription{Filter: "#", QoS: 1})
			return err
		})
		sp := s.next().(*codec.Subscribe)
		s.send(&codec.Suback{PacketID: sp.PacketID, ReasonCodes: []codec.ReasonCode{1}})
		testkit.WaitFor(t, done, "Subscribe")
		s.send(&codec.Publish{Topic: "a", QoS: 1, PacketID: 1}, &codec.Publish{Topic: "a", QoS: 1, PacketID: 2})
		s.quiet()
		s.send(&codec.Publish{Topic: "a", QoS: 1, PacketID: 3})
		d, ok := s.next().(*codec.Disconnect)
		if !ok || d.ReasonCode != codec.ReceiveMaximumExceeded {
			t.Fatalf("got %v, want DISCONNECT Receive Maximum exceeded", d)
		}
		s.closed()
	})
}

// The limits of the server's CONNACK are honoured before sending: Maximum
// QoS ([MQTT-5:3.2.2-11]), Retain Available ([MQTT-5:3.2.2-14]) and
// Maximum Packet Size ([MQTT-5:3.2.2-15]) are refused with the reason code
// the server would use, and nothing is sent.
func TestServerLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ack := &codec.Connack{}
		ack.Properties.MaximumQoS = 1
		ack.Properties.Mark(codec.PropMaximumQoS)
		ack.Properties.Mark(codec.PropRetainAvailable) // 0
		ack.Properties.MaximumPacketSize = 64
		c, s, _ := fakeConnect(t, client.Options{}, ack)
		if q, r := c.ServerLimits(); q != 1 || r {
			t.Errorf("ServerLimits() = %d, %v; want 1, false", q, r)
		}
		for _, tc := range []struct {
			m    *client.Message
			code codec.ReasonCode
		}{
			{&client.Message{Topic: "t", QoS: 2}, codec.QoSNotSupported},
			{&client.Message{Topic: "t", Retain: true}, codec.RetainNotSupported},
			{&client.Message{Topic: "t", QoS: 1, Payload: make([]byte, 100)}, codec.PacketTooLarge},
		} {
			err := c.Publish(context.Background(), tc.m)
			var re *client.ReasonError
			if !errors.As(err, &re) || re.Code != tc.code {
				t.Errorf("Publish(%+v) = %v, want a ReasonError %v", tc.m, err, tc.code)
			}
		}
		s.quiet()
		pub(t, c, &client.Message{Topic: "t", Payload: make([]byte, 40)}) // within the limits
		s.nextPublish()
	})
}

// A PUBACK or PUBREC with a failure reason code fails the Publish with a
// *ReasonError, and the message is not sent again, nor a PUBREL
// ([MQTT-5:4.4.0-2]).
func TestPublishRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, s, _ := fakeConnect(t, client.Options{}, nil)
		for _, tc := range []struct {
			qos  codec.QoS
			code codec.ReasonCode
		}{{1, codec.NotAuthorized}, {2, codec.QuotaExceeded}} {
			res := async(func() error {
				return c.Publish(context.Background(), &client.Message{Topic: "t", QoS: tc.qos})
			})
			p := s.nextPublish()
			a := codec.Ack{PacketID: p.PacketID, ReasonCode: tc.code}
			a.Properties.ReasonString = "no"
			if tc.qos == 1 {
				s.send(&codec.Puback{Ack: a})
			} else {
				s.send(&codec.Pubrec{Ack: a})
			}
			var re *client.ReasonError
			if err := testkit.WaitFor(t, res, "Publish"); !errors.As(err, &re) || re.Code != tc.code || re.Reason != "no" || re.Op != "publish" {
				t.Errorf("QoS %d: got %v, want ReasonError %v", tc.qos, err, tc.code)
			}
			s.quiet()
		}
	})
}

// A 5.0 server's DISCONNECT reaches OnConnectionLost as a *ReasonError.
func TestServerDisconnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lost := make(chan error, 1)
		_, s, _ := fakeConnect(t, client.Options{OnConnectionLost: func(err error) { lost <- err }}, nil)
		d := &codec.Disconnect{ReasonCode: codec.ServerShuttingDown}
		d.Properties.ReasonString = "bye"
		s.send(d)
		err := testkit.WaitFor(t, (<-chan error)(lost), "OnConnectionLost")
		var re *client.ReasonError
		if !errors.As(err, &re) || re.Op != "disconnect" || re.Code != codec.ServerShuttingDown || re.Reason != "bye" {
			t.Errorf("got %v, want ReasonError disconnect Server shutting down", err)
		}
		s.closed()
	})
}

// A refused CONNECT is a *ReasonError; 3.1.1 return codes are given their
// 5.0 names.
func TestConnectRefused(t *testing.T) {
	for _, tc := range []struct {
		v    codec.Version
		rc   codec.ReasonCode
		want codec.ReasonCode
	}{
		{codec.V311, codec.RefusedBadUserNameOrPassword, codec.BadUserNameOrPassword},
		{codec.V311, codec.RefusedNotAuthorized, codec.NotAuthorized},
		{codec.V5, codec.Banned, codec.Banned},
	} {
		t.Run(tc.v.String()+"/"+tc.want.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				dial, accepted := pipeDialer()
				res := async(func() error {
					_, err := client.Connect(context.Background(), "mqtt://fake", client.Options{Version: tc.v, Dialer: dial})
					return err
				})
				s, cp := accept(t, accepted)
				if cp.Version != tc.v {
					t.Errorf("CONNECT version %v, want %v", cp.Version, tc.v)
				}
				s.send(&codec.Connack{ReasonCode: tc.rc})
				err := testkit.WaitFor(t, res, "Connect")
				var re *client.ReasonError
				if !errors.As(err, &re) || re.Op != "connect" || re.Code != tc.want {
					t.Errorf("got %v, want ReasonError connect %v", err, tc.want)
				}
				s.closed()
			})
		})
	}
}

// A shared subscription's handler gets the messages matching its filter.
func TestSharedSubscriptionDispatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, s, _ := fakeConnect(t, client.Options{}, nil)
		in := newInbox()
		subscribeFake(t, c, s, in, "$share/g/s/+")
		s.send(&codec.Publish{Topic: "s/x", Payload: []byte("shared")})
		in.expect(t, "s/x", "shared")
	})
}

// A client sends no Subscription Identifier in a PUBLISH
// ([MQTT-5:3.3.4-6]) and no Topic Alias of the caller's choosing: the ones
// in Message.Properties are dropped.
func TestPublishStripsServerOnlyProperties(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, s, _ := fakeConnect(t, client.Options{}, nil)
		m := &client.Message{Topic: "t", Payload: []byte("x")}
		m.Properties.SubscriptionIdentifiers = []int{5}
		m.Properties.TopicAlias = 9
		m.Properties.ContentType = "text/plain"
		pub(t, c, m)
		p := s.nextPublish()
		if p.Properties.Has(codec.PropSubscriptionIdentifier) || p.Properties.Has(codec.PropTopicAlias) {
			t.Errorf("PUBLISH carries Subscription Identifier %v / Topic Alias %d", p.Properties.SubscriptionIdentifiers, p.Properties.TopicAlias)
		}
		if p.Topic != "t" || p.Properties.ContentType != "text/plain" {
			t.Errorf("PUBLISH %q content type %q", p.Topic, p.Properties.ContentType)
		}
		if m.Properties.TopicAlias != 9 || len(m.Properties.SubscriptionIdentifiers) != 1 {
			t.Error("Publish modified the caller's Message")
		}
	})
}

// With Subscription Identifiers, a server that sends one copy per
// matching subscription ([MQTT-5:3.3.4-5]) does not make handlers see
// duplicates: each copy goes to the handler of the identifier it carries;
// one copy with both identifiers ([MQTT-5:3.3.4-4]) reaches both handlers
// once; a copy without identifiers is matched by topic.
func TestSubscriptionIdentifierRouting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, s, _ := fakeConnect(t, client.Options{}, nil)
		hash, plus := newInbox(), newInbox()
		ids := map[string]int{}
		for _, sub := range []struct {
			filter string
			in     inbox
		}{{"d/#", hash}, {"d/+", plus}} {
			done := async(func() error {
				_, err := c.Subscribe(context.Background(), sub.in.handle, codec.Subscription{Filter: sub.filter, QoS: 1})
				return err
			})
			sp := s.next().(*codec.Subscribe)
			if len(sp.Properties.SubscriptionIdentifiers) != 1 {
				t.Fatalf("SUBSCRIBE without a Subscription Identifier: %+v", sp.Properties)
			}
			ids[sub.filter] = sp.Properties.SubscriptionIdentifiers[0]
			s.send(&codec.Suback{PacketID: sp.PacketID, ReasonCodes: []codec.ReasonCode{1}})
			if err := testkit.WaitFor(t, done, "Subscribe"); err != nil {
				t.Fatal(err)
			}
		}
		if ids["d/#"] == ids["d/+"] {
			t.Fatal("two filters share a Subscription Identifier")
		}
		withIDs := func(payload string, subIDs ...int) *codec.Publish {
			p := &codec.Publish{Topic: "d/x", Payload: []byte(payload)}
			p.Properties.SubscriptionIdentifiers = subIDs
			return p
		}
		s.send(withIDs("copy", ids["d/#"]), withIDs("copy", ids["d/+"]))
		s.send(withIDs("one", ids["d/#"], ids["d/+"]))
		s.send(withIDs("none"))
		for _, in := range []inbox{hash, plus} {
			for _, want := range []string{"copy", "one", "none"} {
				in.expect(t, "d/x", want)
			}
		}
		s.quiet()
		if len(hash)+len(plus) != 0 {
			t.Errorf("duplicates: %d and %d more messages", len(hash), len(plus))
		}
	})
}
