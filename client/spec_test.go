package client_test

// The client's obligations in the two specifications, each checked
// against the scripted server of fake_test.go, which sees every byte the
// client sends, in fake time.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"

	"github.com/ternmq/tern/internal/testkit"
)

// packetID returns the Packet Identifier of a packet that carries one.
func packetID(t *testing.T, p codec.Packet) uint16 {
	t.Helper()
	switch p := p.(type) {
	case *codec.Publish:
		return p.PacketID
	case *codec.Subscribe:
		return p.PacketID
	case *codec.Unsubscribe:
		return p.PacketID
	case *codec.Pubrel:
		return p.PacketID
	}
	t.Fatalf("got %s, want a packet with a Packet Identifier", testkit.Describe(p))
	return 0
}

// idOp is an operation that takes a Packet Identifier.
type idOp struct {
	name string
	run  func(c *client.Client) error
}

func publishOp(topic string, qos codec.QoS) idOp {
	return idOp{fmt.Sprintf("PUBLISH %s QoS %d", topic, qos), func(c *client.Client) error {
		return c.Publish(context.Background(), &client.Message{Topic: topic, QoS: qos})
	}}
}

func subscribeOp(filter string) idOp {
	return idOp{"SUBSCRIBE " + filter, func(c *client.Client) error {
		_, err := c.Subscribe(context.Background(), func(*client.Message) {}, codec.Subscription{Filter: filter, QoS: 1})
		return err
	}}
}

func unsubscribeOp(filter string) idOp {
	return idOp{"UNSUBSCRIBE " + filter, func(c *client.Client) error {
		return c.Unsubscribe(context.Background(), filter)
	}}
}

// inFlight is an operation the server has received and not acknowledged.
type inFlight struct {
	op  idOp
	p   codec.Packet
	res <-chan error
}

// start runs ops one after the other, each left unacknowledged, and
// returns them with the packets the server got.
func start(t *testing.T, c *client.Client, s *fakeServer, ops ...idOp) []inFlight {
	t.Helper()
	var fl []inFlight
	for _, o := range ops {
		res := async(func() error { return o.run(c) })
		fl = append(fl, inFlight{o, s.next(), res})
	}
	return fl
}

// ack completes the flow of an operation the server got as p: PUBACK,
// PUBREC then PUBCOMP (after the client's PUBREL, unless the PUBREL was
// already sent), SUBACK or UNSUBACK.
func ack(t *testing.T, s *fakeServer, p codec.Packet, released bool) {
	t.Helper()
	id := packetID(t, p)
	switch p := p.(type) {
	case *codec.Publish:
		if p.QoS == 1 {
			s.send(&codec.Puback{Ack: codec.Ack{PacketID: id}})
			return
		}
		if !released {
			s.send(&codec.Pubrec{Ack: codec.Ack{PacketID: id}})
			s.nextAck(codec.PUBREL)
		}
		s.send(&codec.Pubcomp{Ack: codec.Ack{PacketID: id}})
	case *codec.Pubrel:
		s.send(&codec.Pubcomp{Ack: codec.Ack{PacketID: id}})
	case *codec.Subscribe:
		s.send(&codec.Suback{PacketID: id, ReasonCodes: []codec.ReasonCode{codec.GrantedQoS1}})
	case *codec.Unsubscribe:
		s.send(&codec.Unsuback{PacketID: id, ReasonCodes: []codec.ReasonCode{codec.Success}})
	}
}

// Every new SUBSCRIBE, UNSUBSCRIBE and QoS 1 or 2 PUBLISH gets a Packet
// Identifier no other unacknowledged packet holds, even when the
// identifiers wrap around ([MQTT-3:2.3.1-2], [MQTT-5:2.2.1-3]); a packet
// sent again after a reconnect keeps its identifier, and an identifier is
// free again only once the PUBACK, PUBCOMP (not the PUBREC), SUBACK or
// UNSUBACK has come ([MQTT-3:2.3.1-3]).
func TestPacketIdentifiers(t *testing.T) {
	for _, v := range versions {
		t.Run(v.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				lost, back := make(chan error, 1), make(chan *codec.Connack, 1)
				c, s, accepted := fakeConnect(t, persistentOpts(v, lost, back), nil)
				ops := []idOp{publishOp("a", 1), subscribeOp("s"), unsubscribeOp("u"), publishOp("b", 2)}

				client.SetNextPacketID(c, 65532)
				held := start(t, c, s, ops...)
				for i, f := range held {
					if id := packetID(t, f.p); id != 65532+uint16(i) {
						t.Errorf("%s: Packet Identifier %d, want %d", f.op.name, id, 65532+i)
					}
				}
				b := held[3].p.(*codec.Publish)
				s.send(&codec.Pubrec{Ack: codec.Ack{PacketID: b.PacketID}})
				if a := s.nextAck(codec.PUBREL); a.PacketID != b.PacketID {
					t.Fatalf("PUBREL %d, want %d", a.PacketID, b.PacketID)
				}
				// All four identifiers are in use, b's too (PUBREC is not
				// the end of its flow): a new message skips them all.
				client.SetNextPacketID(c, 65532)
				extra := start(t, c, s, publishOp("c", 1))[0]
				if id := packetID(t, extra.p); id != 1 {
					t.Fatalf("a new PUBLISH got Packet Identifier %d, in use or not the next free one (1)", id)
				}

				// The connection breaks: everything is sent again with
				// the same identifiers.
				s.nc.Close()
				testkit.WaitFor(t, (<-chan error)(lost), "OnConnectionLost")
				s2, _ := accept(t, accepted)
				s2.send(&codec.Connack{SessionPresent: true})
				testkit.WaitFor(t, (<-chan *codec.Connack)(back), "OnReconnect")
				var again []codec.Packet
				for _, want := range []struct {
					typ codec.PacketType
					id  uint16
				}{{codec.SUBSCRIBE, 65533}, {codec.UNSUBSCRIBE, 65534}, {codec.PUBLISH, 65532}, {codec.PUBREL, 65535}, {codec.PUBLISH, 1}} {
					p := s2.next()
					if p.Type() != want.typ || packetID(t, p) != want.id {
						t.Fatalf("resent %s, want %v with Packet Identifier %d", testkit.Describe(p), want.typ, want.id)
					}
					again = append(again, p)
				}
				s2.quiet()

				// Acknowledged, the four identifiers are free again; 1 is not.
				for _, p := range again[:4] {
					ack(t, s2, p, true)
				}
				for _, f := range held {
					if err := testkit.WaitFor(t, f.res, f.op.name); err != nil {
						t.Fatalf("%s: %v", f.op.name, err)
					}
				}
				client.SetNextPacketID(c, 65532)
				reused := start(t, c, s2, publishOp("d", 1), subscribeOp("s2"), unsubscribeOp("u2"), publishOp("e", 2), publishOp("f", 1))
				for i, want := range []uint16{65532, 65533, 65534, 65535, 2} {
					if id := packetID(t, reused[i].p); id != want {
						t.Errorf("%s: Packet Identifier %d, want %d", reused[i].op.name, id, want)
					}
				}
				ack(t, s2, again[4], false)
				for _, f := range reused {
					ack(t, s2, f.p, false)
				}
				for _, f := range append(reused, extra) {
					if err := testkit.WaitFor(t, f.res, f.op.name); err != nil {
						t.Errorf("%s: %v", f.op.name, err)
					}
				}
			})
		})
	}
}

// A 3.1.1 client asked for an empty ClientID connects with CleanSession 1,
// on every connection, whatever Options.CleanStart says
// ([MQTT-3:3.1.3-7]); with a ClientID, or in 5.0 (where the server
// assigns one), Options.CleanStart is sent as it is.
func TestEmptyClientIDCleanSession(t *testing.T) {
	for _, tc := range []struct {
		v          codec.Version
		id         string
		cleanStart bool
		want       bool
	}{
		{codec.V311, "", false, true},
		{codec.V311, "", true, true},
		{codec.V311, "dev-1", false, false},
		{codec.V311, "dev-1", true, true},
		{codec.V5, "", false, false},
	} {
		t.Run(fmt.Sprintf("%v/id=%q/CleanStart=%v", tc.v, tc.id, tc.cleanStart), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				lost := make(chan error, 1)
				_, s, connect, accepted := fakeConnectSeen(t, client.Options{Version: tc.v, ClientID: tc.id, CleanStart: tc.cleanStart,
					AutoReconnect: true, OnConnectionLost: func(err error) { lost <- err }}, nil)
				if connect.ClientID != tc.id || connect.CleanStart != tc.want {
					t.Errorf("CONNECT ClientID %q Clean Start %v, want %q %v", connect.ClientID, connect.CleanStart, tc.id, tc.want)
				}
				s.nc.Close()
				testkit.WaitFor(t, (<-chan error)(lost), "OnConnectionLost")
				s2, again := accept(t, accepted)
				if again.ClientID != tc.id || again.CleanStart != tc.want {
					t.Errorf("reconnect: CONNECT ClientID %q Clean Start %v, want %q %v", again.ClientID, again.CleanStart, tc.id, tc.want)
				}
				s2.send(&codec.Connack{})
			})
		})
	}
}

// Disconnect sends DISCONNECT as the last packet and closes the network
// connection ([MQTT-3:3.14.4-1], [MQTT-3:3.14.4-2]; 5.0 [MQTT-5:3.14.4-1],
// [MQTT-5:3.14.4-2]), though a QoS 1 publish waits for its PUBACK, a
// handler is still busy with a QoS 1 message whose PUBACK is due when it
// returns, and the keep-alive timer runs; Publish then fails with
// ErrClosed.
func TestDisconnectIsLast(t *testing.T) {
	for _, v := range versions {
		t.Run(v.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, s, _ := fakeConnect(t, client.Options{Version: v, ClientID: "bye", KeepAlive: 5 * time.Second}, nil)
				release, handling := make(chan struct{}), make(chan struct{})
				subscribeHandler(t, c, s, func(*client.Message) { close(handling); <-release }, "busy")
				s.send(&codec.Publish{Topic: "busy", QoS: 1, PacketID: 9})
				testkit.WaitFor(t, (<-chan struct{})(handling), "the handler")
				pending := async(func() error { return c.Publish(context.Background(), &client.Message{Topic: "t", QoS: 1}) })
				s.nextPublish()
				<-time.After(4 * time.Second) // fake time: a PINGREQ is due in 1s

				done := async(func() error { return c.Disconnect(context.Background(), codec.NormalDisconnection) })
				d := testkit.Expect[*codec.Disconnect](t, s.Peer)
				if d.ReasonCode != codec.NormalDisconnection {
					t.Errorf("DISCONNECT %v, want Normal disconnection", d.ReasonCode)
				}
				s.closed() // nothing after the DISCONNECT, and the connection is closed
				if err := testkit.WaitFor(t, pending, "Publish"); !errors.Is(err, client.ErrClosed) {
					t.Errorf("pending Publish: %v, want ErrClosed", err)
				}
				close(release) // the handler returns: its PUBACK has nowhere to go
				if err := testkit.WaitFor(t, done, "Disconnect"); err != nil {
					t.Fatal(err)
				}
				if err := c.Publish(context.Background(), &client.Message{Topic: "t"}); !errors.Is(err, client.ErrClosed) {
					t.Errorf("Publish after Disconnect: %v, want ErrClosed", err)
				}
			})
		})
	}
}

// subscribeHandler subscribes c to filters at QoS 2 with h through the
// fake server.
func subscribeHandler(t *testing.T, c *client.Client, s *fakeServer, h client.Handler, filters ...string) {
	t.Helper()
	subs := make([]codec.Subscription, len(filters))
	for i, f := range filters {
		subs[i] = codec.Subscription{Filter: f, QoS: 2}
	}
	done := async(func() error {
		_, err := c.Subscribe(context.Background(), h, subs...)
		return err
	})
	for n := 0; n < len(filters); {
		sp := testkit.Expect[*codec.Subscribe](t, s.Peer)
		codes := make([]codec.ReasonCode, len(sp.Subscriptions))
		for i := range codes {
			codes[i] = codec.GrantedQoS2
		}
		n += len(codes)
		s.send(&codec.Suback{PacketID: sp.PacketID, ReasonCodes: codes})
	}
	if err := testkit.WaitFor(t, done, "Subscribe"); err != nil {
		t.Fatal(err)
	}
}

// The client acknowledges every QoS 1 and 2 PUBLISH by its QoS, whether
// the application handles the message or not: with no subscription and
// no DefaultHandler, with subscriptions the topic does not match, after
// the subscription was ended, and with a handler that ignores it
// ([MQTT-4.5.0-2]). A QoS 0 message gets no acknowledgement.
func TestAckWhateverTheApplicationDoes(t *testing.T) {
	ignore := func(*client.Message) {}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, c *client.Client, s *fakeServer)
	}{
		{"no subscription", func(*testing.T, *client.Client, *fakeServer) {}},
		{"no matching subscription", func(t *testing.T, c *client.Client, s *fakeServer) {
			subscribeHandler(t, c, s, ignore, "other/#", "x/+/y")
		}},
		{"unsubscribed", func(t *testing.T, c *client.Client, s *fakeServer) {
			subscribeHandler(t, c, s, ignore, "x/#")
			done := async(func() error { return c.Unsubscribe(context.Background(), "x/#") })
			up := testkit.Expect[*codec.Unsubscribe](t, s.Peer)
			s.send(&codec.Unsuback{PacketID: up.PacketID, ReasonCodes: []codec.ReasonCode{codec.Success}})
			if err := testkit.WaitFor(t, done, "Unsubscribe"); err != nil {
				t.Fatal(err)
			}
		}},
		{"handler ignores it", func(t *testing.T, c *client.Client, s *fakeServer) {
			subscribeHandler(t, c, s, ignore, "x/#")
		}},
	} {
		for _, v := range versions {
			t.Run(tc.name+"/"+v.String(), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					c, s, _ := fakeConnect(t, client.Options{Version: v, ClientID: "acks"}, nil)
					tc.setup(t, c, s)
					s.send(&codec.Publish{Topic: "x/0", Payload: []byte("0")})
					s.send(&codec.Publish{Topic: "x/1", QoS: 1, PacketID: 11, Payload: []byte("1")})
					if a := s.nextAck(codec.PUBACK); a.PacketID != 11 {
						t.Errorf("PUBACK %d, want 11", a.PacketID)
					}
					s.send(&codec.Publish{Topic: "x/2", QoS: 2, PacketID: 12, Payload: []byte("2")})
					if a := s.nextAck(codec.PUBREC); a.PacketID != 12 {
						t.Errorf("PUBREC %d, want 12", a.PacketID)
					}
					s.send(&codec.Pubrel{Ack: codec.Ack{PacketID: 12}})
					if a := s.nextAck(codec.PUBCOMP); a.PacketID != 12 || a.ReasonCode != codec.Success {
						t.Errorf("PUBCOMP %d %v, want 12 Success", a.PacketID, a.ReasonCode)
					}
					s.quiet() // and nothing for the QoS 0 message
				})
			})
		}
	}
}

// The client sends PUBREL in the order the PUBRECs arrive, whatever the
// order of the PUBLISH packets ([MQTT-4.6.0-4]).
func TestPubrelInPubrecOrder(t *testing.T) {
	for _, order := range [][]int{{2, 0, 1}, {1, 2, 0}, {0, 1, 2}} {
		for _, v := range versions {
			t.Run(fmt.Sprintf("%v/%v", v, order), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					c, s, _ := fakeConnect(t, client.Options{Version: v, ClientID: "order"}, nil)
					fl := start(t, c, s, publishOp("a", 2), publishOp("b", 2), publishOp("c", 2))
					var recs []codec.Packet
					for _, i := range order {
						recs = append(recs, &codec.Pubrec{Ack: codec.Ack{PacketID: packetID(t, fl[i].p)}})
					}
					s.send(recs...) // in one write
					for _, i := range order {
						want := packetID(t, fl[i].p)
						if a := s.nextAck(codec.PUBREL); a.PacketID != want {
							t.Fatalf("PUBREL %d, want %d (%s)", a.PacketID, want, fl[i].op.name)
						}
					}
					for _, f := range fl {
						ack(t, s, f.p, true)
						if err := testkit.WaitFor(t, f.res, f.op.name); err != nil {
							t.Errorf("%s: %v", f.op.name, err)
						}
					}
				})
			})
		}
	}
}

// A Server Keep Alive in the CONNACK replaces the client's Keep Alive,
// shorter or longer, and 0 turns PINGREQ off ([MQTT-5:3.1.2-21],
// [MQTT-5:3.2.2-21]).
func TestServerKeepAlive(t *testing.T) {
	for _, tc := range []struct {
		name   string
		client time.Duration
		server int // -1: no Server Keep Alive
		want   time.Duration
	}{
		{"shorter", time.Minute, 3, 3 * time.Second},
		{"longer", 5 * time.Second, 20, 20 * time.Second},
		{"zero", 5 * time.Second, 0, 0},
		{"absent", 5 * time.Second, -1, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ack := &codec.Connack{}
				if tc.server >= 0 {
					ack.Properties.ServerKeepAlive = uint16(tc.server)
					ack.Properties.Mark(codec.PropServerKeepAlive)
				}
				c, s, connect, _ := fakeConnectSeen(t, client.Options{KeepAlive: tc.client}, ack)
				if connect.KeepAlive != uint16(tc.client/time.Second) {
					t.Errorf("CONNECT Keep Alive %d, want %v", connect.KeepAlive, tc.client)
				}
				if got := c.Connack().Properties.ServerKeepAlive; tc.server >= 0 && got != uint16(tc.server) {
					t.Errorf("Connack().Properties.ServerKeepAlive = %d, want %d", got, tc.server)
				}
				start := time.Now()
				if tc.want == 0 {
					<-time.After(time.Hour) // fake time
					s.quiet()
					return
				}
				// Silence until the interval is all but over: Recv waits at
				// most testkit.Timeout, so wait in two steps.
				<-time.After(tc.want - time.Second)
				s.quiet()
				if p := s.next(); p.Type() != codec.PINGREQ {
					t.Fatalf("got %s, want PINGREQ", testkit.Describe(p))
				}
				if d := time.Since(start); d != tc.want {
					t.Errorf("PINGREQ after %v, want %v", d, tc.want)
				}
			})
		})
	}
}

// stepAuth is an enhanced authentication method with one round trip:
// the CONNECT carries "hello", the server's AUTH "challenge" is answered
// with "response", and the CONNACK must carry "welcome".
type stepAuth struct{}

func (stepAuth) Method() string { return "x-step" }

func (stepAuth) Begin() (client.AuthExchange, []byte, error) {
	return stepExchange{}, []byte("hello"), nil
}

type stepExchange struct{}

func (stepExchange) Next(d []byte) ([]byte, error) {
	if string(d) != "challenge" {
		return nil, fmt.Errorf("unexpected server data %q", d)
	}
	return []byte("response"), nil
}

func (stepExchange) Finish(d []byte) error {
	if string(d) != "welcome" {
		return fmt.Errorf("unexpected server data %q", d)
	}
	return nil
}

// authenticate plays the server's side of stepAuth up to, not including,
// the CONNACK, then lets a minute of fake time pass, in which the client
// must send nothing: no PINGREQ, and none of the packets it has waiting.
func authenticate(t *testing.T, s *fakeServer, connect *codec.Connect) {
	t.Helper()
	if m, d := connect.Properties.AuthenticationMethod, connect.Properties.AuthenticationData; m != "x-step" || string(d) != "hello" {
		t.Fatalf("CONNECT Authentication Method %q Data %q", m, d)
	}
	s.send(&codec.Auth{ReasonCode: codec.ContinueAuthentication,
		Properties: codec.Properties{AuthenticationMethod: "x-step", AuthenticationData: []byte("challenge")}})
	a := testkit.Expect[*codec.Auth](t, s.Peer)
	if a.ReasonCode != codec.ContinueAuthentication || string(a.Properties.AuthenticationData) != "response" {
		t.Fatalf("got AUTH %v %q, want 0x18 response", a.ReasonCode, a.Properties.AuthenticationData)
	}
	<-time.After(time.Minute) // fake time: Keep Alive is 5s
	s.quiet()
}

// With an Authentication Method, the client sends nothing but AUTH
// before the CONNACK, on its first connection and on a reconnect with
// publishes and a subscription waiting to be sent ([MQTT-5:3.1.2-30]).
func TestOnlyAuthBeforeConnack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dial, accepted := pipeDialer()
		lost := make(chan error, 1)
		opts := client.Options{ClientID: "auth", Auth: stepAuth{}, Dialer: dial, KeepAlive: 5 * time.Second,
			AutoReconnect: true, MinBackoff: time.Second, ConnectTimeout: time.Hour,
			OnConnectionLost: func(err error) { lost <- err }}
		opts.ConnectProperties.SessionExpiryInterval = 600
		res := connectAsync(opts)
		welcome := &codec.Connack{Properties: codec.Properties{AuthenticationMethod: "x-step", AuthenticationData: []byte("welcome")}}
		s, connect := accept(t, accepted)
		authenticate(t, s, connect)
		s.send(welcome)
		r := testkit.WaitFor(t, res, "Connect")
		if r.err != nil {
			t.Fatal(r.err)
		}
		c := r.c
		defer c.Disconnect(context.Background(), codec.NormalDisconnection)

		fl := start(t, c, s, subscribeOp("s"), publishOp("a", 1))
		s.nc.Close()
		testkit.WaitFor(t, (<-chan error)(lost), "OnConnectionLost")
		s2, connect := accept(t, accepted)
		b := async(func() error { return c.Publish(context.Background(), &client.Message{Topic: "b", QoS: 1}) })
		if err := c.Publish(context.Background(), &client.Message{Topic: "q0"}); !errors.Is(err, client.ErrNotConnected) {
			t.Errorf("QoS 0 Publish during the authentication: %v, want ErrNotConnected", err)
		}
		authenticate(t, s2, connect)
		welcome.SessionPresent = true
		s2.send(welcome)
		var again []codec.Packet
		for _, want := range []string{"SUBSCRIBE s", "PUBLISH a", "PUBLISH b"} {
			p := s2.next()
			got := testkit.Describe(p)
			switch p := p.(type) {
			case *codec.Subscribe:
				got = "SUBSCRIBE " + p.Subscriptions[0].Filter
			case *codec.Publish:
				got = "PUBLISH " + p.Topic
			}
			if got != want {
				t.Fatalf("after the CONNACK: got %s, want %s", got, want)
			}
			again = append(again, p)
		}
		for _, p := range again {
			ack(t, s2, p, false)
		}
		for _, ch := range []<-chan error{fl[0].res, fl[1].res, b} {
			if err := testkit.WaitFor(t, ch, "the operations"); err != nil {
				t.Error(err)
			}
		}
	})
}

// A client that connected with Clean Start 1 has no session state: a
// CONNACK with Session Present 1 makes it close the connection
// ([MQTT-5:3.2.2-4]), after DISCONNECT 0x82 for a 5.0 server, and Connect
// fails. Without Clean Start, Session Present 1 resumes the server's
// session.
func TestSessionPresentWithoutSession(t *testing.T) {
	for _, tc := range []struct {
		v          codec.Version
		cleanStart bool
	}{{codec.V5, true}, {codec.V311, true}, {codec.V5, false}, {codec.V311, false}} {
		t.Run(fmt.Sprintf("%v/CleanStart=%v", tc.v, tc.cleanStart), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				dial, accepted := pipeDialer()
				res := make(chan error, 1)
				go func() {
					c, err := client.Connect(context.Background(), "mqtt://fake",
						client.Options{Version: tc.v, ClientID: "sp", CleanStart: tc.cleanStart, Dialer: dial})
					if err == nil {
						err = c.Disconnect(context.Background(), codec.NormalDisconnection)
					}
					res <- err
				}()
				s, _ := accept(t, accepted)
				s.send(&codec.Connack{SessionPresent: true})
				if !tc.cleanStart {
					testkit.Expect[*codec.Disconnect](t, s.Peer) // Disconnect, after a normal session
					if err := testkit.WaitFor(t, (<-chan error)(res), "Connect"); err != nil {
						t.Fatalf("Session Present 1 without Clean Start: %v", err)
					}
					return
				}
				if tc.v == codec.V5 {
					if d := testkit.Expect[*codec.Disconnect](t, s.Peer); d.ReasonCode != codec.ProtocolError {
						t.Errorf("DISCONNECT %v, want Protocol Error", d.ReasonCode)
					}
				}
				s.closed()
				if err := testkit.WaitFor(t, (<-chan error)(res), "Connect"); err == nil || !strings.Contains(err.Error(), "Session Present") {
					t.Errorf("Connect: %v, want an error about Session Present", err)
				}
			})
		})
	}
}
