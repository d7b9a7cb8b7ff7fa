package broker

// MQTT 5 completeness: server-initiated DISCONNECT, CONNACK refusals and
// authentication, CONNECT, SUBSCRIBE and UNSUBSCRIBE actions, session
// state, wills, and the subscription options through paho.golang.

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	paho "github.com/eclipse/paho.golang/paho"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// TestServerDisconnect: every DISCONNECT the broker sends on its own
// initiative carries the right reason code and a Reason String, no Session
// Expiry Interval [MQTT-5:3.14.2-2], and is the last packet before the
// broker closes the connection [MQTT-5:3.14.4-1] [MQTT-5:3.14.4-2]
// [MQTT-5:4.13.2-1].
func TestServerDisconnect(t *testing.T) {
	q2 := func(id uint16) *codec.Publish { return &codec.Publish{QoS: 2, PacketID: id, Topic: "sd/t"} }
	cases := []struct {
		name    string
		opts    *Options
		connect func(p *codec.Connect)
		rc      codec.ReasonCode
		provoke func(t *testing.T, srv *Server, c *testkit.Peer)
	}{
		{name: "0x81 Malformed Packet: PUBREL with flags 0 [MQTT-5:4.13.1-1]", rc: codec.MalformedPacket,
			provoke: func(t *testing.T, _ *Server, c *testkit.Peer) { c.SendRaw(t, []byte{0x60, 0x02, 0x00, 0x01}) }},
		{name: "0x82 Protocol Error: a second CONNECT gets no second CONNACK [MQTT-5:3.2.0-2]", rc: codec.ProtocolError,
			provoke: func(t *testing.T, _ *Server, c *testkit.Peer) { c.Send(t, clean5("sd-again")) }},
		{name: "0x82 Protocol Error: AUTH without an Authentication Method [MQTT-5:4.12.0-7]", rc: codec.ProtocolError,
			provoke: func(t *testing.T, _ *Server, c *testkit.Peer) {
				c.Send(t, &codec.Auth{ReasonCode: codec.ContinueAuthentication})
			}},
		{name: "0x82 Protocol Error: a Subscription Identifier from the client [MQTT-5:3.3.4-6]", rc: codec.ProtocolError,
			provoke: func(t *testing.T, _ *Server, c *testkit.Peer) {
				c.Send(t, pub5(0, "sd/t", "x", func(p *codec.Properties) { p.SubscriptionIdentifiers = []int{3} }))
			}},
		{name: "0x8B Server shutting down", rc: codec.ServerShuttingDown,
			provoke: func(t *testing.T, srv *Server, c *testkit.Peer) {
				go srv.Shutdown(context.Background())
			}},
		{name: "0x8D Keep Alive timeout", rc: codec.KeepAliveTimeout,
			connect: func(p *codec.Connect) { p.KeepAlive = 10 },
			provoke: func(t *testing.T, _ *Server, c *testkit.Peer) {
				advance(15 * time.Second) // fake time (synctest)
			}},
		{name: "0x8E Session taken over [MQTT-5:3.1.4-3]", rc: codec.SessionTakenOver,
			provoke: func(t *testing.T, srv *Server, c *testkit.Peer) {
				pipeConnect(t, srv, codec.V5, clean5("sd"))
			}},
		{name: "0x90 Topic Name invalid", rc: codec.TopicNameInvalid,
			provoke: func(t *testing.T, _ *Server, c *testkit.Peer) { c.Send(t, &codec.Publish{Topic: "sd/#"}) }},
		{name: "0x93 Receive Maximum exceeded", opts: &Options{ReceiveMaximum: 1}, rc: codec.ReceiveMaximumExceeded,
			provoke: func(t *testing.T, _ *Server, c *testkit.Peer) {
				c.Send(t, q2(1), q2(2))
				c.ExpectDescribed(t, "PUBREC id=1 rc=0x00")
			}},
		{name: "0x94 Topic Alias invalid: 0 [MQTT-5:3.3.2-8]", rc: codec.TopicAliasInvalid,
			provoke: func(t *testing.T, _ *Server, c *testkit.Peer) { c.Send(t, withAlias(0, "sd/t")) }},
		{name: "0x94 Topic Alias invalid: above the maximum [MQTT-5:3.3.2-9]", opts: &Options{TopicAliasMaximum: 3}, rc: codec.TopicAliasInvalid,
			provoke: func(t *testing.T, _ *Server, c *testkit.Peer) { c.Send(t, withAlias(4, "sd/t")) }},
		{name: "0x95 Packet too large", opts: &Options{MaxPacketSize: 64}, rc: codec.PacketTooLarge,
			provoke: func(t *testing.T, _ *Server, c *testkit.Peer) {
				c.Send(t, &codec.Publish{Topic: "sd/t", Payload: make([]byte, 64)})
			}},
		{name: "0x99 Payload format invalid (QoS 0)", rc: codec.PayloadFormatInvalid,
			provoke: func(t *testing.T, _ *Server, c *testkit.Peer) {
				c.Send(t, pub5(0, "sd/t", "\xff", func(p *codec.Properties) { p.PayloadFormatIndicator = 1 }))
			}},
	}
	for _, tc := range cases {
		inBubble(t, tc.name, func(t *testing.T) {
			srv := startPipeServer(t, tc.opts)
			p := clean5("sd")
			if tc.connect != nil {
				tc.connect(p)
			}
			c, _ := pipeConnect(t, srv, codec.V5, p)
			tc.provoke(t, srv, c)
			expectDisconnect(t, c, tc.rc)
		})
	}
}

// TestDisconnectFitsMaximumPacketSize: the Reason String is left out of a
// DISCONNECT when it would make the packet larger than the client's
// Maximum Packet Size [MQTT-5:3.14.2-3] [MQTT-5:3.1.2-24], and no User
// Property is added [MQTT-5:3.14.2-4]; the reason code is still sent.
func TestDisconnectFitsMaximumPacketSize(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := startPipeServer(t, nil)
		const limit = 20
		p := clean5("dfit")
		p.Properties.MaximumPacketSize = limit
		c, _ := pipeConnect(t, srv, codec.V5, p)
		c.Send(t, &codec.Auth{ReasonCode: codec.ContinueAuthentication})
		d := testkit.Expect[*codec.Disconnect](t, c)
		if d.ReasonCode != codec.ProtocolError || d.Properties.ReasonString != "" || len(d.Properties.UserProperties) > 0 {
			t.Fatalf("got DISCONNECT 0x%02x with Reason String %q, want 0x82 without", byte(d.ReasonCode), d.Properties.ReasonString)
		}
		if b := testkit.Encode(codec.V5, d); len(b) > limit {
			t.Fatalf("DISCONNECT of %d bytes, above the client's Maximum Packet Size %d", len(b), limit)
		}
		c.ExpectClosed(t)
	})
}

// blockingLog is a slog handler that waits, on a record whose message is
// msg, until release is closed: a test holds a connection's reader at a
// known point with it.
type blockingLog struct {
	msg     string
	release chan struct{}
}

func (h *blockingLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *blockingLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *blockingLog) WithGroup(string) slog.Handler            { return h }
func (h *blockingLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		<-h.release
	}
	return nil
}

// TestNothingAfterDisconnect: a message routed to a client while the
// broker is taking its session over (the DISCONNECT 0x8E is queued, the
// connection not yet closed) is not written after the DISCONNECT
// [MQTT-5:3.14.4-1]; it stays in the session and goes to the connection
// that took it over.
func TestNothingAfterDisconnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &blockingLog{msg: "subscription refused", release: make(chan struct{})}
		srv := startPipeServer(t, &Options{Logger: slog.New(st)})

		// The victim's reader blocks logging its refused second
		// subscription; its writer blocks writing the CONNACK, because
		// nobody reads the pipe yet, so everything queued meanwhile goes
		// out in one batch.
		cn, sn := net.Pipe()
		go srv.ServeConn(context.Background(), sn)
		go cn.Write(testkit.Encode(codec.V5,
			persistent(codec.V5, "victim"),
			&codec.Subscribe{PacketID: 1, Subscriptions: []codec.Subscription{{Filter: "nad/t", QoS: 1}}},
			&codec.Subscribe{PacketID: 2, Subscriptions: []codec.Subscription{{Filter: "nad/#/bad", QoS: 1}}}))
		synctest.Wait()

		taker := pipeRaw(t, srv, codec.V5)
		taker.Send(t, persistent(codec.V5, "victim")) // kicks the victim, waits for it to end
		pub, _ := pipeConnect(t, srv, codec.V5, clean5("nad-pub"))
		pub.Publish(t, 1, "nad/t", "routed during the take-over")
		close(st.release)

		victim := testkit.NewPeer(t, cn, codec.V5, testkit.Bubble)
		victim.ExpectDescribed(t, "CONNACK sp=0 rc=0x00", "SUBACK id=1 [0x01]")
		expectDisconnect(t, victim, codec.SessionTakenOver)

		taker.ExpectDescribed(t, "CONNACK sp=1 rc=0x00")
		taker.ExpectMessage(t, "nad/t", "routed during the take-over")
		taker.ExpectIdle(t)
	})
}

// sendAsync writes packets without waiting for the server to read them
// all: a server that refuses the CONNECT may close before reading what
// follows it.
func sendAsync(c *testkit.Peer, pkts ...codec.Packet) {
	b := testkit.Encode(c.Version(), pkts...)
	go c.Conn().Write(b)
}

// TestConnackRefusals: a refused CONNECT gets a CONNACK with the reason
// code, Session Present 0, and then the connection is closed, with no
// DISCONNECT since no CONNACK below 0x80 was sent [MQTT-5:3.14.0-1]; data
// sent after the CONNECT is not processed ([MQTT-5:3.1.4-6]
// [MQTT-3:3.1.4-5]: a PUBLISH pipelined behind it is not routed).
func TestConnackRefusals(t *testing.T) {
	auth := AuthenticatorFunc(func(_ context.Context, l *Login) codec.ReasonCode {
		switch l.Connect.ClientID {
		case "bad-id":
			return codec.ClientIdentifierNotValid
		case "intruder":
			return codec.NotAuthorized
		}
		return codec.Success
	})
	cases := []struct {
		name string
		v    codec.Version
		p    *codec.Connect
		want string
	}{
		{"unknown Authentication Method: 0x8C [MQTT-5:4.12.0-1]", codec.V5,
			&codec.Connect{ClientID: "scram", CleanStart: true, Properties: codec.Properties{AuthenticationMethod: "SCRAM-SHA-1", AuthenticationData: []byte("n,,n=user")}},
			"CONNACK sp=0 rc=0x8c"},
		{"client id refused: 0x85 [MQTT-5:3.1.3-8]", codec.V5, &codec.Connect{ClientID: "bad-id"}, "CONNACK sp=0 rc=0x85"},
		{"client id refused: 0x02 [MQTT-3:3.1.3-9]", codec.V311, &codec.Connect{ClientID: "bad-id"}, "CONNACK sp=0 rc=0x02"},
		{"authentication fails: 0x87 [MQTT-5:3.1.4-2]", codec.V5, &codec.Connect{ClientID: "intruder", CleanStart: true}, "CONNACK sp=0 rc=0x87"},
		{"authentication fails: 0x05", codec.V311, &codec.Connect{ClientID: "intruder", CleanStart: true}, "CONNACK sp=0 rc=0x05"},
		{"will payload not UTF-8 although its Payload Format Indicator says so: 0x99", codec.V5,
			&codec.Connect{ClientID: "bad-will", CleanStart: true, Will: &codec.Will{Topic: "cr/will", Payload: []byte{0xff},
				Properties: codec.Properties{PayloadFormatIndicator: 1}}},
			"CONNACK sp=0 rc=0x99"},
	}
	for _, tc := range cases {
		inBubble(t, tc.name, func(t *testing.T) {
			srv := startPipeServer(t, &Options{Authenticator: auth})
			sub, _ := pipeConnect(t, srv, codec.V5, clean5("cr-sub"))
			sub.Subscribe(t, 0, "cr/#")
			c := pipeRaw(t, srv, tc.v)
			tc.p.Version = tc.v
			sendAsync(c, tc.p, &codec.Publish{Topic: "cr/t", Payload: []byte("must not be routed")})
			c.ExpectDescribed(t, tc.want)
			c.ExpectClosed(t)
			sub.ExpectIdle(t)
		})
	}
}

// TestMaxConnections: with Options.MaxConnections open connections, a
// further 5.0 CONNECT gets CONNACK 0x97 (Quota exceeded) and a 3.1.1 one
// 0x03 (Server unavailable), and each is closed; once a connection ends
// there is room again.
func TestMaxConnections(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := startPipeServer(t, &Options{MaxConnections: 2})
		a, _ := pipeConnect(t, srv, codec.V5, clean5("mc-a"))
		pipeConnect(t, srv, codec.V311, &codec.Connect{ClientID: "mc-b", CleanStart: true})
		for _, tc := range []struct {
			v    codec.Version
			want string
		}{{codec.V5, "CONNACK sp=0 rc=0x97"}, {codec.V311, "CONNACK sp=0 rc=0x03"}} {
			c := pipeRaw(t, srv, tc.v)
			c.Send(t, &codec.Connect{Version: tc.v, ClientID: "mc-c", CleanStart: true})
			c.ExpectDescribed(t, tc.want)
			c.ExpectClosed(t)
		}
		a.Disconnect(t)
		synctest.Wait()
		pipeConnect(t, srv, codec.V5, clean5("mc-c"))
	})
}

// TestConnackFirst: a client that sends no Authentication
// Method gets a CONNACK without one and never an AUTH packet
// [MQTT-5:4.12.0-6]. The CONNACK accepting the CONNECT is the first packet
// the server sends, before the messages a resumed session has waiting
// [MQTT-5:3.2.0-1] [MQTT-3:3.2.0-1], and carries 0x00 [MQTT-5:3.1.4-5]
// [MQTT-3:3.1.4-4].
func TestConnackFirst(t *testing.T) {
	for _, v := range bothVersions {
		inBubble(t, v.String(), func(t *testing.T) {
			srv := startPipeServer(t, nil)
			pub, _ := pipeConnect(t, srv, codec.V5, clean5("cf-pub"))
			c, _ := pipeConnect(t, srv, v, persistent(v, "cf"))
			c.Subscribe(t, 1, "cf/t")
			c.Disconnect(t)
			for _, s := range payloads(3) {
				pub.Publish(t, 1, "cf/t", s)
			}
			c = pipeRaw(t, srv, v)
			c.Send(t, persistent(v, "cf"))
			ack := testkit.Expect[*codec.Connack](t, c)
			if ack.ReasonCode != codec.Success || !ack.SessionPresent {
				t.Fatalf("first packet %s, want CONNACK sp=1 rc=0x00", testkit.Describe(ack))
			}
			if ack.Properties.AuthenticationMethod != "" || ack.Properties.AuthenticationData != nil {
				t.Errorf("CONNACK with Authentication Method %q", ack.Properties.AuthenticationMethod)
			}
			for _, s := range payloads(3) {
				c.ExpectMessage(t, "cf/t", s)
			}
			c.ExpectIdle(t)
		})
	}
}

// TestClientIdentifiers: client ids of 1 to 23 characters from [0-9a-zA-Z]
// are accepted [MQTT-5:3.1.3-5] [MQTT-3:3.1.3-5], and the client id is what
// identifies a session's state [MQTT-5:3.1.3-2] [MQTT-3:3.1.3-2]: two
// clients with ids that differ in one character keep separate sessions.
// Clean Start discards the session of that client id only
// [MQTT-5:3.1.4-4] [MQTT-3:3.1.4-3].
func TestClientIdentifiers(t *testing.T) {
	for _, v := range bothVersions {
		inBubble(t, v.String(), func(t *testing.T) {
			srv := startPipeServer(t, nil)
			const alnum = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			ids := []string{alnum[:23], alnum[:22] + "X", alnum[39:62], "Z"}
			pub, _ := pipeConnect(t, srv, codec.V5, clean5("ci-pub"))
			for i, id := range ids {
				c, ack := pipeConnect(t, srv, v, persistent(v, id))
				wantSessionPresent(t, ack, false)
				c.Subscribe(t, 1, fmt.Sprint("ci/", i))
				c.Disconnect(t)
			}
			for i := range ids {
				pub.Publish(t, 1, fmt.Sprint("ci/", i), ids[i])
			}
			for i, id := range ids {
				c, ack := pipeConnect(t, srv, v, persistent(v, id))
				wantSessionPresent(t, ack, true)
				c.ExpectMessage(t, fmt.Sprint("ci/", i), id)
				c.ExpectIdle(t)
				c.Disconnect(t)
			}

			// Clean Start discards the session of that client id only
			// [MQTT-5:3.1.4-4] [MQTT-3:3.1.4-3].
			pub.Publish(t, 1, "ci/0", "queued for a discarded session")
			pub.Publish(t, 1, "ci/1", "queued for a kept session")
			clean := persistent(v, ids[0])
			clean.CleanStart = true
			c, ack := pipeConnect(t, srv, v, clean)
			wantSessionPresent(t, ack, false)
			c.ExpectIdle(t)
			c, ack = pipeConnect(t, srv, v, persistent(v, ids[1]))
			wantSessionPresent(t, ack, true)
			c.ExpectMessage(t, "ci/1", "queued for a kept session")
		})
	}
}

// TestSubscribeActions: a SUBSCRIBE with several filters is handled like a
// sequence of SUBSCRIBE packets answered by one SUBACK [MQTT-5:3.8.4-5]
// [MQTT-3:3.8.4-4] [MQTT-5:3.8.4-1] [MQTT-3:3.8.4-1] with the packet
// identifier of the SUBSCRIBE [MQTT-5:3.8.4-2] [MQTT-3:3.8.4-2]
// [MQTT-5:2.2.1-6] [MQTT-3:2.3.1-7] and one reason code per filter
// [MQTT-5:3.8.4-6]; each valid filter's retained messages follow. A
// SUBSCRIBE with an existing filter replaces that subscription: its
// retained messages are sent again at the new QoS, and a message matching
// it arrives once, at the new QoS [MQTT-5:3.8.4-3] [MQTT-3:3.8.4-3].
// Forwarded messages carry the topic they were published to, which matches
// the filter [MQTT-5:3.3.2-3] [MQTT-3:3.3.2-3].
func TestSubscribeActions(t *testing.T) {
	for _, v := range bothVersions {
		inBubble(t, v.String(), func(t *testing.T) {
			srv := startPipeServer(t, nil)
			pub, _ := pipeConnect(t, srv, codec.V5, clean5("sa-pub"))
			pub.PublishWith(t, &codec.Publish{QoS: 2, Retain: true, Topic: "sa/one", Payload: []byte("r1")})
			pub.PublishWith(t, &codec.Publish{QoS: 2, Retain: true, Topic: "sa/two/w", Payload: []byte("r2")})
			c, _ := pipeConnect(t, srv, v, &codec.Connect{ClientID: "sa", CleanStart: true})
			c.Send(t, &codec.Subscribe{PacketID: 4242, Subscriptions: []codec.Subscription{
				{Filter: "sa/one", QoS: 1}, {Filter: "sa/#/bad", QoS: 1}, {Filter: "sa/+/w", QoS: 2},
			}})
			fail := "0x80"
			if v == codec.V5 {
				fail = "0x8f"
			}
			c.ExpectDescribed(t, "SUBACK id=4242 [0x01 "+fail+" 0x02]")
			r1 := c.ExpectPublish(t, `q1 dup=0 retain=1 sa/one "r1"`)
			r2 := c.ExpectPublish(t, `q2 dup=0 retain=1 sa/two/w "r2"`)
			c.Ack(t, r1)
			c.Ack(t, r2)

			c.Send(t, &codec.Subscribe{PacketID: 4243, Subscriptions: []codec.Subscription{{Filter: "sa/one", QoS: 0}}})
			c.ExpectDescribed(t, "SUBACK id=4243 [0x00]", `PUBLISH q0 dup=0 retain=1 sa/one "r1"`)
			pub.Publish(t, 2, "sa/one", "live")
			pub.Publish(t, 2, "sa/x/w", "wild")
			c.ExpectDescribed(t, `PUBLISH q0 dup=0 retain=0 sa/one "live"`)
			c.Ack(t, c.ExpectPublish(t, `q2 dup=0 retain=0 sa/x/w "wild"`))
			c.ExpectIdle(t)
		})
	}
}

// TestUnsubscribeActions: an UNSUBSCRIBE with several filters is handled
// like a sequence of UNSUBSCRIBE packets answered by one UNSUBACK with its
// packet identifier [MQTT-5:3.10.4-6] [MQTT-3:3.10.4-6] [MQTT-5:2.2.1-6]
// [MQTT-3:2.3.1-7]; QoS 1 and 2 deliveries already started complete
// [MQTT-5:3.10.4-3] [MQTT-3:3.10.4-3]; no new message is added for the
// removed filters [MQTT-3:3.10.4-2], while the remaining one still works.
func TestUnsubscribeActions(t *testing.T) {
	for _, v := range bothVersions {
		inBubble(t, v.String(), func(t *testing.T) {
			srv := startPipeServer(t, nil)
			pub, _ := pipeConnect(t, srv, codec.V5, clean5("ua-pub"))
			c, _ := pipeConnect(t, srv, v, &codec.Connect{ClientID: "ua", CleanStart: true})
			c.Subscribe(t, 2, "ua/1", "ua/2", "ua/kept")
			pub.Publish(t, 1, "ua/1", "started 1")
			pub.Publish(t, 2, "ua/2", "started 2")
			m1 := c.ExpectPublish(t, `q1 dup=0 retain=0 ua/1 "started 1"`)
			m2 := c.ExpectPublish(t, `q2 dup=0 retain=0 ua/2 "started 2"`)

			c.Send(t, &codec.Unsubscribe{PacketID: 777, Filters: []string{"ua/1", "ua/2", "ua/never"}})
			if v == codec.V5 {
				c.ExpectDescribed(t, "UNSUBACK id=777 [0x00 0x00 0x11]")
			} else {
				c.ExpectDescribed(t, "UNSUBACK id=777 []")
			}
			c.Send(t, &codec.Puback{Ack: codec.Ack{PacketID: m1.PacketID}}, &codec.Pubrec{Ack: codec.Ack{PacketID: m2.PacketID}})
			c.ExpectDescribed(t, fmt.Sprintf("PUBREL id=%d rc=0x00", m2.PacketID))
			c.Send(t, &codec.Pubcomp{Ack: codec.Ack{PacketID: m2.PacketID}})

			pub.Publish(t, 1, "ua/1", "gone")
			pub.Publish(t, 2, "ua/2", "gone")
			pub.Publish(t, 1, "ua/kept", "kept")
			c.ExpectMessage(t, "ua/kept", "kept")
			c.ExpectIdle(t)
		})
	}
}

// TestSessionState: the server keeps a session's state as long as its
// connection is open, however long [MQTT-5:4.1.0-1] [MQTT-3:4.1.0-2]
// (here a day without a packet: Keep Alive 0), and a persistent session's
// state for the whole life of the session [MQTT-3:4.1.0-1]: each incoming
// message is added to the state of every session with a matching
// subscription, connected or not [MQTT-5:4.5.0-1] [MQTT-3:4.5.0-1]. Once
// the connection is closed and the Session Expiry Interval has passed, the
// state is discarded [MQTT-5:4.1.0-2]: subscriptions, queued and
// unacknowledged messages.
func TestSessionState(t *testing.T) {
	for _, v := range bothVersions {
		inBubble(t, v.String(), func(t *testing.T) {
			srv := startPipeServer(t, &Options{MaxInflight: 1})
			const expiry = 2 * 24 * 3600 // two days, in seconds
			keep := func(id string) *codec.Connect {
				p := persistent(v, id)
				if v == codec.V5 {
					p.Properties.SessionExpiryInterval = expiry
				}
				return p
			}
			pub, _ := pipeConnect(t, srv, codec.V5, clean5("ss-pub"))
			online, _ := pipeConnect(t, srv, v, &codec.Connect{ClientID: "ss-online", CleanStart: true})
			online.Subscribe(t, 1, "ss/#")
			away, _ := pipeConnect(t, srv, v, keep("ss-away"))
			away.Subscribe(t, 1, "ss/#")
			away.Disconnect(t)
			other, _ := pipeConnect(t, srv, v, keep("ss-other"))
			other.Subscribe(t, 1, "elsewhere/#")
			other.Disconnect(t)

			pub.Publish(t, 1, "ss/t", "0")
			pub.Publish(t, 1, "ss/t", "1")
			m0 := online.ExpectPublish(t, `q1 dup=0 retain=0 ss/t "0"`) // "1" waits: MaxInflight 1
			advance(24 * time.Hour)                                     // fake time (synctest)
			online.Ack(t, m0)
			online.ExpectMessage(t, "ss/t", "1")
			pub.Publish(t, 1, "ss/t", "2")
			online.ExpectMessage(t, "ss/t", "2")
			online.ExpectIdle(t)

			away, _ = pipeConnect(t, srv, v, keep("ss-away"))
			away.ExpectMessage(t, "ss/t", "0")
			away.ExpectPublish(t, `q1 dup=0 retain=0 ss/t "1"`) // in flight, never acknowledged
			away.Close()
			other, _ = pipeConnect(t, srv, v, keep("ss-other"))
			other.ExpectIdle(t)
			other.Disconnect(t)
			if v == codec.V311 {
				return // a 3.1.1 session lives until it is cleaned
			}

			pub.Publish(t, 1, "ss/t", "3") // queued for "ss-away"
			advance(expiry * time.Second)  // fake time (synctest): the Session Expiry Interval
			synctest.Wait()
			srv.mu.Lock()
			_, kept := srv.sessions["ss-away"]
			srv.mu.Unlock()
			if kept {
				t.Fatal("the session is still held after its Session Expiry Interval")
			}
			away, ack := pipeConnect(t, srv, v, keep("ss-away"))
			wantSessionPresent(t, ack, false)
			pub.Publish(t, 1, "ss/t", "4")
			away.ExpectIdle(t)
		})
	}
}

// TestWillRetain: the will is stored with the session and published when
// the connection is lost [MQTT-5:3.1.2-7]; with Will Retain 1 as a
// retained message [MQTT-5:3.1.2-15] that later subscribers get, with Will
// Retain 0 as a non-retained one [MQTT-5:3.1.2-14]. A 3.1.1 connection
// without a will publishes nothing when it ends [MQTT-3:3.1.2-12].
func TestWillRetain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := startPipeServer(t, nil)
		watcher, _ := pipeConnect(t, srv, codec.V5, clean5("wr-watch"))
		watcher.SubscribeWith(t, &codec.Subscribe{Subscriptions: []codec.Subscription{
			{Filter: "wr/#", QoS: 1, RetainAsPublished: true}, {Filter: "#", QoS: 1}}}) // "#": sees any will at all
		for _, retain := range []bool{true, false} {
			c, _ := pipeConnect(t, srv, codec.V5, &codec.Connect{ClientID: fmt.Sprint("wr-", retain), CleanStart: true,
				Will: &codec.Will{Topic: fmt.Sprint("wr/", retain), Payload: []byte("gone"), QoS: 1, Retain: retain}})
			c.Close()
			watcher.Ack(t, watcher.ExpectPublish(t, fmt.Sprintf(`q1 dup=0 retain=%d wr/%v "gone"`, map[bool]int{true: 1}[retain], retain)))
		}
		nowill, _ := pipeConnect(t, srv, codec.V311, &codec.Connect{ClientID: "wr-none", CleanStart: true})
		nowill.Close()
		watcher.ExpectIdle(t)

		late, _ := pipeConnect(t, srv, codec.V5, clean5("wr-late"))
		late.Subscribe(t, 1, "wr/#")
		late.Ack(t, late.ExpectPublish(t, `q1 dup=0 retain=1 wr/true "gone"`))
		late.ExpectIdle(t)
	})
}

// TestPaho5NoLocal: paho.golang with No Local does not get its own
// messages [MQTT-5:3.8.3-3]; without it, it does; another client's
// messages arrive either way.
func TestPaho5NoLocal(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	self := connectP5(t, srv.Addr, v5conn("p5-nl", true, 0))
	self.subOpts(t, paho.SubscribeOptions{Topic: "p5nl/quiet", QoS: 1, NoLocal: true})
	self.subOpts(t, paho.SubscribeOptions{Topic: "p5nl/echo", QoS: 1})
	other := connectP5(t, srv.Addr, v5conn("p5-nl-other", true, 0))

	self.pubSimple(t, "p5nl/quiet", 1, false, "mine")
	self.pubSimple(t, "p5nl/echo", 1, false, "mine")
	other.pubSimple(t, "p5nl/quiet", 1, false, "theirs")
	self.msgs.expect(t, "p5nl/echo", "mine", 1, false)
	self.msgs.expect(t, "p5nl/quiet", "theirs", 1, false)
}

// TestPaho5SubscriptionIdentifiers: paho.golang subscribing with a
// Subscription Identifier gets it on each message of that subscription
// [MQTT-5:3.3.4-3]; replacing the subscription with another identifier, or
// with none, changes what the messages carry; a retained message sent on
// subscribe carries the identifier too.
func TestPaho5SubscriptionIdentifiers(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	c := connectP5(t, srv.Addr, v5conn("p5-sid", true, 0))
	pub := connectP5(t, srv.Addr, v5conn("p5-sid-pub", true, 0))
	pub.pubSimple(t, "p5sid/r", 1, true, "retained")
	subscribe := func(filter string, id int) {
		t.Helper()
		s := &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1}}}
		if id > 0 {
			s.Properties = &paho.SubscribeProperties{SubscriptionIdentifier: &id}
		}
		ctx, cancel := context.WithTimeout(context.Background(), testkit.Timeout)
		defer cancel()
		if _, err := c.Subscribe(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	idOf := func(m msg) int {
		if m.p5.Properties == nil || m.p5.Properties.SubscriptionIdentifier == nil {
			return 0
		}
		return *m.p5.Properties.SubscriptionIdentifier
	}
	subscribe("p5sid/#", 42)
	if id := idOf(c.msgs.expect(t, "p5sid/r", "retained", 1, true)); id != 42 {
		t.Errorf("retained message with Subscription Identifier %d, want 42", id)
	}
	for _, want := range []int{42, 268435455, 0} {
		if want != 42 {
			subscribe("p5sid/#", want)
			c.msgs.expect(t, "p5sid/r", "retained", 1, true)
		}
		pub.pubSimple(t, "p5sid/x", 1, false, fmt.Sprint(want))
		if id := idOf(c.msgs.expect(t, "p5sid/x", fmt.Sprint(want), 1, false)); id != want {
			t.Errorf("Subscription Identifier %d, want %d", id, want)
		}
	}
}

// TestSubscriptionIdentifiersRetained: a retained message sent because of
// one subscription carries that subscription's identifier only, even when
// other subscriptions of the session match it too; a live message carries
// all of them [MQTT-5:3.3.4-4].
func TestSubscriptionIdentifiersRetained(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := startPipeServer(t, nil)
		pub, _ := pipeConnect(t, srv, codec.V5, clean5("sir-pub"))
		pub.PublishWith(t, &codec.Publish{QoS: 1, Retain: true, Topic: "sir/t", Payload: []byte("r")})
		c, _ := pipeConnect(t, srv, codec.V5, clean5("sir"))
		for i, f := range []string{"sir/#", "sir/+", "sir/t"} {
			s := &codec.Subscribe{Subscriptions: []codec.Subscription{{Filter: f, QoS: 1}}}
			s.Properties.SubscriptionIdentifiers = []int{i + 1}
			c.SubscribeWith(t, s)
			p := c.ExpectPublish(t, `q1 dup=0 retain=1 sir/t "r"`)
			if !slices.Equal(p.Properties.SubscriptionIdentifiers, []int{i + 1}) {
				t.Errorf("retained message for %s with Subscription Identifiers %v, want [%d]", f, p.Properties.SubscriptionIdentifiers, i+1)
			}
			c.Ack(t, p)
		}
		pub.Publish(t, 1, "sir/t", "live")
		p := c.ExpectMessage(t, "sir/t", "live")
		if got := slices.Sorted(slices.Values(p.Properties.SubscriptionIdentifiers)); !slices.Equal(got, []int{1, 2, 3}) {
			t.Errorf("live message with Subscription Identifiers %v, want [1 2 3]", got)
		}
		c.ExpectIdle(t)
	})
}

// TestUnauthorizedPublish311: a 3.1.1 client has no way to learn that a
// PUBLISH was refused, so the server acknowledges it as usual (QoS 1 and
// 2) and drops it [MQTT-3:3.3.5-2].
func TestUnauthorizedPublish311(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := startPipeServer(t, nil)
		sub, _ := pipeConnect(t, srv, codec.V5, clean5("up-sub"))
		sub.Subscribe(t, 2, "$SYS/#")
		c, _ := pipeConnect(t, srv, codec.V311, &codec.Connect{ClientID: "up", CleanStart: true})
		c.Publish(t, 1, "$SYS/forged", "q1")
		c.Publish(t, 2, "$SYS/forged", "q2")
		c.Publish(t, 0, "$SYS/forged", "q0")
		c.ExpectIdle(t)
		sub.ExpectIdle(t)
	})
}

// TestRetainedQoS0Replaces311: a retained QoS 0 message replaces the
// retained message of its topic [MQTT-3:3.3.1-7].
func TestRetainedQoS0Replaces311(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := startPipeServer(t, nil)
		c, _ := pipeConnect(t, srv, codec.V311, &codec.Connect{ClientID: "rq0", CleanStart: true})
		c.PublishWith(t, &codec.Publish{QoS: 1, Retain: true, Topic: "rq0/t", Payload: []byte("old")})
		c.PublishWith(t, &codec.Publish{QoS: 0, Retain: true, Topic: "rq0/t", Payload: []byte("new")})
		s, _ := pipeConnect(t, srv, codec.V311, &codec.Connect{ClientID: "rq0-sub", CleanStart: true})
		s.Subscribe(t, 1, "rq0/t")
		s.ExpectDescribed(t, `PUBLISH q0 dup=0 retain=1 rq0/t "new"`)
		s.ExpectIdle(t)
	})
}

// TestByteStreamTransports: the broker speaks MQTT over any ordered,
// lossless byte stream [MQTT-5:4.2.0-1] [MQTT-3:7.1.1-1]: TCP (Serve) and
// an in-memory pipe (ServeConn) on one server. PUBLISH packets written one
// byte at a time arrive whole and in order at subscribers on both.
func TestByteStreamTransports(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	cn, sn := net.Pipe()
	go srv.ServeConn(context.Background(), sn)
	piped := testkit.NewPeer(t, cn, codec.V311, testkit.RealTime)
	piped.Connect(t, &codec.Connect{ClientID: "bs-pipe", CleanStart: true})
	piped.Subscribe(t, 1, "bs/#")
	tcp, _ := connected(t, srv, codec.V5, clean5("bs-tcp"))
	tcp.Subscribe(t, 1, "bs/#")

	pub, _ := connected(t, srv, codec.V5, clean5("bs-pub"))
	const n = 50
	var pkts []codec.Packet
	for i := range n {
		pkts = append(pkts, &codec.Publish{QoS: 1, PacketID: uint16(i + 1), Topic: fmt.Sprint("bs/", i%3), Payload: []byte(fmt.Sprint(i))})
	}
	b := testkit.Encode(codec.V5, pkts...)
	for i := range b {
		pub.SendRaw(t, b[i:i+1])
	}
	for i := range n {
		pub.ExpectDescribed(t, fmt.Sprintf("PUBACK id=%d rc=0x00", i+1))
	}
	for _, c := range []*testkit.Peer{piped, tcp} {
		for i := range n {
			c.ExpectMessage(t, fmt.Sprint("bs/", i%3), fmt.Sprint(i))
		}
		c.ExpectIdle(t)
	}
}

// TestWillMessageExpiry: a will's Message Expiry Interval is its lifetime
// from when it is published (5.0 section 3.1.3.2.4), however long the
// connection lasted and however long the Will Delay Interval: subscribers
// get the full interval [MQTT-5:3.3.2-6], and a retained will expires that
// long after its publication [MQTT-5:3.3.2-5]. Its other properties are
// forwarded like a PUBLISH's, User Properties in order [MQTT-5:3.1.3-10].
func TestWillMessageExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := startPipeServer(t, nil)
		watcher := willWatcher(t, srv)
		w := will("will/x", "gone", 10)
		w.QoS, w.Retain = 1, true
		forwardedProps(&w.Properties)
		w.Properties.MessageExpiryInterval = 60
		p := &codec.Connect{ClientID: "wx", CleanStart: true, Will: w}
		p.Properties.SessionExpiryInterval = 100
		c, _ := pipeConnect(t, srv, codec.V5, p)
		advance(2 * time.Minute) // fake time (synctest): longer than the will's interval
		c.Close()
		advance(10 * time.Second) // fake time (synctest): the Will Delay Interval
		got := watcher.ExpectMessage(t, "will/x", "gone")
		wantExpiry(t, got, 60)
		checkForwarded(t, got)

		advance(59 * time.Second) // fake time (synctest)
		s, _ := pipeConnect(t, srv, codec.V5, clean5("wx-s"))
		s.Subscribe(t, 1, "will/#")
		wantExpiry(t, s.ExpectMessage(t, "will/x", "gone"), 1)
		advance(time.Second) // fake time (synctest)
		s.Subscribe(t, 1, "will/x")
		s.ExpectIdle(t)
	})
}

// TestRefusalsFitMaximumPacketSize provokes each acknowledgement the
// server sends with a reason code of failure, to a client whose Maximum
// Packet Size is small: none carries a Reason String or User Property
// that would make it larger than that maximum, and each packet fits
// [MQTT-5:3.1.2-24]. The server adds neither property to these packets,
// so each fits whatever its reason.
func TestRefusalsFitMaximumPacketSize(t *testing.T) {
	const limit = 16
	withID := func(p *codec.Publish) *codec.Publish { p.PacketID = 9; return p }
	badUTF8 := withID(pub5(1, "fit/u", "\xff\xfe", func(p *codec.Properties) { p.PayloadFormatIndicator = 1 }))
	cases := []struct {
		name, rule string
		send       codec.Packet
		want       string // the answer, as testkit.Describe gives it (its start)
		props      func(codec.Packet) *codec.Properties
	}{
		{"PUBACK not authorized", "MQTT-5:3.4.2-2 MQTT-5:3.4.2-3", withID(pub5(1, "$SYS/fit", "x", nil)), "PUBACK", ackProps},
		{"PUBACK payload format invalid", "MQTT-5:3.4.2-2 MQTT-5:3.4.2-3", badUTF8, "PUBACK", ackProps},
		{"PUBREC not authorized", "MQTT-5:3.5.2-2 MQTT-5:3.5.2-3", withID(pub5(2, "$SYS/fit", "x", nil)), "PUBREC", ackProps},
		{"PUBREL packet id not found", "MQTT-5:3.6.2-2 MQTT-5:3.6.2-3", &codec.Pubrec{Ack: codec.Ack{PacketID: 77}}, "PUBREL", ackProps},
		{"PUBCOMP packet id not found", "MQTT-5:3.7.2-2 MQTT-5:3.7.2-3", &codec.Pubrel{Ack: codec.Ack{PacketID: 78}}, "PUBCOMP", ackProps},
		{"SUBACK topic filter invalid", "MQTT-5:3.9.2-1 MQTT-5:3.9.2-2",
			&codec.Subscribe{PacketID: 5, Subscriptions: []codec.Subscription{{Filter: "a/#/b", QoS: 1}}}, "SUBACK",
			func(p codec.Packet) *codec.Properties { return &p.(*codec.Suback).Properties }},
		{"UNSUBACK no subscription existed", "MQTT-5:3.11.2-1 MQTT-5:3.11.2-2",
			&codec.Unsubscribe{PacketID: 6, Filters: []string{"never/subscribed"}}, "UNSUBACK",
			func(p codec.Packet) *codec.Properties { return &p.(*codec.Unsuback).Properties }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := startPipeServer(t, nil)
				p := clean5("fit")
				p.Properties.MaximumPacketSize = limit
				c, _ := pipeConnect(t, srv, codec.V5, p)
				c.Send(t, tc.send)
				got := c.Recv(t)
				d := testkit.Describe(got)
				if !strings.HasPrefix(d, tc.want) || strings.Contains(d, "rc=0x00") {
					t.Fatalf("got %s, want a %s with a failure reason code", d, tc.want)
				}
				if pr := tc.props(got); pr.ReasonString != "" || len(pr.UserProperties) > 0 {
					t.Fatalf("%s carries Reason String %q and %d User Properties [%s]", tc.want, pr.ReasonString, len(pr.UserProperties), tc.rule)
				}
				if b := testkit.Encode(codec.V5, got); len(b) > limit {
					t.Fatalf("%s of %d bytes, above the client's Maximum Packet Size %d", tc.want, len(b), limit)
				}
			})
		})
	}
}

// TestRefusedConnackFitsMaximumPacketSize: a CONNACK that refuses a
// CONNECT (an Authentication Method the server does not know) carries no
// Reason String or User Property that would make it larger than the
// client's Maximum Packet Size [MQTT-5:3.2.2-19] [MQTT-5:3.2.2-20], and
// fits it [MQTT-5:3.1.2-24].
func TestRefusedConnackFitsMaximumPacketSize(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := startPipeServer(t, nil)
		const limit = 16
		p := clean5("fit")
		p.Properties.MaximumPacketSize = limit
		p.Properties.AuthenticationMethod = "NOPE-1"
		c := pipeRaw(t, srv, codec.V5)
		c.Send(t, p)
		ack := testkit.Expect[*codec.Connack](t, c)
		if ack.ReasonCode != codec.BadAuthenticationMethod {
			t.Fatalf("CONNACK %s, want 0x8C Bad authentication method", ack.ReasonCode)
		}
		if pr := ack.Properties; pr.ReasonString != "" || len(pr.UserProperties) > 0 {
			t.Fatalf("CONNACK carries Reason String %q and %d User Properties", pr.ReasonString, len(pr.UserProperties))
		}
		if b := testkit.Encode(codec.V5, ack); len(b) > limit {
			t.Fatalf("CONNACK of %d bytes, above the client's Maximum Packet Size %d", len(b), limit)
		}
		c.ExpectClosed(t)
	})
}

// ackProps returns the properties of a PUBACK, PUBREC, PUBREL or PUBCOMP.
func ackProps(p codec.Packet) *codec.Properties {
	switch a := p.(type) {
	case *codec.Puback:
		return &a.Properties
	case *codec.Pubrec:
		return &a.Properties
	case *codec.Pubrel:
		return &a.Properties
	case *codec.Pubcomp:
		return &a.Properties
	}
	panic(fmt.Sprintf("%T is not a publish acknowledgement", p))
}
