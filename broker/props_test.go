package broker

// Properties: forwarded unchanged to 5.0 subscribers, dropped (and nothing
// else changed) for 3.1.1 subscribers, the Payload Format Indicator check,
// Request Response Information and Request Problem Information.

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"

	paho "github.com/eclipse/paho.golang/paho"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// forwardedProps are the properties a publisher sets and every 5.0
// subscriber must get back unchanged: User Properties with a repeated key,
// in an order that is not sorted.
func forwardedProps(p *codec.Properties) {
	p.PayloadFormatIndicator = 1
	p.ContentType = "text/plain; charset=utf-8"
	p.ResponseTopic = "props/reply"
	p.CorrelationData = []byte{0, 1, 0xfe, 0xff}
	p.UserProperties = []codec.UserProperty{{Key: "z", Value: "1"}, {Key: "a", Value: "2"}, {Key: "z", Value: "3"}, {Key: "", Value: ""}}
}

// checkForwarded compares the forwarded properties of p with forwardedProps.
func checkForwarded(t testing.TB, p *codec.Publish) {
	t.Helper()
	var want codec.Properties
	forwardedProps(&want)
	got := &p.Properties
	if got.PayloadFormatIndicator != 1 {
		t.Errorf("Payload Format Indicator %d, want 1 [MQTT-5:3.3.2-4]", got.PayloadFormatIndicator)
	}
	if got.ContentType != want.ContentType {
		t.Errorf("Content Type %q, want %q [MQTT-5:3.3.2-20]", got.ContentType, want.ContentType)
	}
	if got.ResponseTopic != want.ResponseTopic {
		t.Errorf("Response Topic %q, want %q [MQTT-5:3.3.2-15]", got.ResponseTopic, want.ResponseTopic)
	}
	if !bytes.Equal(got.CorrelationData, want.CorrelationData) {
		t.Errorf("Correlation Data %x, want %x [MQTT-5:3.3.2-16]", got.CorrelationData, want.CorrelationData)
	}
	if !slices.Equal(got.UserProperties, want.UserProperties) {
		t.Errorf("User Properties %q, want %q in order [MQTT-5:3.3.2-17] [MQTT-5:3.3.2-18]", got.UserProperties, want.UserProperties)
	}
}

// TestPaho5PropertiesForwarded: paho.golang publishes with Payload Format
// Indicator, Content Type, Response Topic, Correlation Data and User
// Properties; a paho.golang subscriber gets them unchanged, live at each
// QoS and as a retained message [MQTT-5:3.3.2-4] [MQTT-5:3.3.2-15]
// [MQTT-5:3.3.2-16] [MQTT-5:3.3.2-17] [MQTT-5:3.3.2-18] [MQTT-5:3.3.2-20].
func TestPaho5PropertiesForwarded(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	sub := connectP5(t, srv.Addr, v5conn("pp-sub", true, 0))
	sub.sub(t, "pp/#", 2)
	pub := connectP5(t, srv.Addr, v5conn("pp-pub", true, 0))
	props := func() *paho.PublishProperties {
		return &paho.PublishProperties{
			PayloadFormat:   b8(1),
			ContentType:     "application/json",
			ResponseTopic:   "pp/reply",
			CorrelationData: []byte{0xde, 0xad, 0, 0xbe, 0xef},
			User:            paho.UserProperties{{Key: "k", Value: "1"}, {Key: "a", Value: "2"}, {Key: "k", Value: "3"}},
		}
	}
	check := func(m msg) {
		t.Helper()
		got, want := m.p5.Properties, props()
		if got == nil || got.PayloadFormat == nil || *got.PayloadFormat != 1 || got.ContentType != want.ContentType ||
			got.ResponseTopic != want.ResponseTopic || !bytes.Equal(got.CorrelationData, want.CorrelationData) ||
			!slices.Equal(got.User, want.User) {
			t.Fatalf("%v: properties %+v, want %+v", m, got, want)
		}
	}
	for qos := byte(0); qos <= 2; qos++ {
		topic := fmt.Sprint("pp/", qos)
		if rc := pub.pub(t, &paho.Publish{Topic: topic, QoS: qos, Payload: []byte(`{"q":1}`), Properties: props()}); rc != 0 {
			t.Fatalf("PUBLISH %s: reason code %#x", topic, rc)
		}
		check(sub.msgs.expect(t, topic, `{"q":1}`, qos, false))
	}
	if rc := pub.pub(t, &paho.Publish{Topic: "pp/retained", QoS: 1, Retain: true, Payload: []byte("{}"), Properties: props()}); rc != 0 {
		t.Fatalf("retained PUBLISH: reason code %#x", rc)
	}
	check(sub.msgs.expect(t, "pp/retained", "{}", 1, false))
	late := connectP5(t, srv.Addr, v5conn("pp-late", true, 0))
	late.sub(t, "pp/retained", 1)
	check(late.msgs.expect(t, "pp/retained", "{}", 1, true))
}

// TestMixedVersionsProperties: a 5.0 and a 3.1.1 subscriber on the same
// topics get the same messages (topic, payload, QoS, RETAIN, DUP) whether
// forwarded live or sent as retained messages on subscribe; the 5.0 one
// with the publisher's properties, the 3.1.1 one without (its packets decode
// as plain 3.1.1 PUBLISH packets with exactly the same topic and payload).
// A 3.1.1 publisher's messages reach the 5.0 subscriber with no properties.
func TestMixedVersionsProperties(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := startPipeServer(t, nil)
		connect := func(v codec.Version, id string) *testkit.Peer {
			c, _ := pipeConnect(t, srv, v, &codec.Connect{ClientID: id, CleanStart: true})
			return c
		}
		s5, s3 := connect(codec.V5, "mvp-s5"), connect(codec.V311, "mvp-s3")
		s5.Subscribe(t, 2, "mvp/#")
		s3.Subscribe(t, 2, "mvp/#")
		pub5c, pub3c := connect(codec.V5, "mvp-p5"), connect(codec.V311, "mvp-p3")

		type sent struct {
			qos    codec.QoS
			retain bool
			topic  string
			v5     bool // published by the 5.0 client, with properties
		}
		var all []sent
		for _, v5 := range []bool{true, false} {
			for qos := codec.QoS(0); qos <= 2; qos++ {
				for _, retain := range []bool{false, true} {
					s := sent{qos, retain, fmt.Sprintf("mvp/%v/%d/%v", v5, qos, retain), v5}
					p := &codec.Publish{QoS: qos, Retain: retain, Topic: s.topic, Payload: []byte("payload " + s.topic)}
					if v5 {
						forwardedProps(&p.Properties)
						pub5c.PublishWith(t, p)
					} else {
						pub3c.PublishWith(t, p)
					}
					all = append(all, s)
				}
			}
		}
		same := func(s sent, p5, p3 *codec.Publish, retained bool) {
			t.Helper()
			for _, p := range []*codec.Publish{p5, p3} {
				if p.Topic != s.topic || string(p.Payload) != "payload "+s.topic || p.QoS != s.qos || p.Retain != retained || p.Dup {
					t.Fatalf("got %s, want %s at QoS %d with RETAIN %v", testkit.Describe(p), s.topic, s.qos, retained)
				}
			}
			if s.v5 {
				checkForwarded(t, p5)
			} else if pp := &p5.Properties; pp.PayloadFormatIndicator != 0 || pp.ContentType != "" || pp.ResponseTopic != "" ||
				pp.CorrelationData != nil || len(pp.UserProperties) > 0 {
				t.Errorf("a 3.1.1 publisher's message reached the 5.0 subscriber with properties %+v", p5.Properties)
			}
		}
		receive := func(c *testkit.Peer, n int) []*codec.Publish {
			var got []*codec.Publish
			for range n {
				got = append(got, testkit.Expect[*codec.Publish](t, c))
			}
			for _, p := range got {
				c.Ack(t, p)
			}
			c.ExpectIdle(t)
			return got
		}
		got5, got3 := receive(s5, len(all)), receive(s3, len(all))
		for i, s := range all {
			same(s, got5[i], got3[i], false) // forwarded: RETAIN 0 [MQTT-3:3.3.1-9] [MQTT-5:3.3.1-12]
		}

		// Retained messages sent on subscribe: RETAIN 1 for both.
		l5, l3 := connect(codec.V5, "mvp-l5"), connect(codec.V311, "mvp-l3")
		l5.Subscribe(t, 2, "mvp/+/+/true")
		l3.Subscribe(t, 2, "mvp/+/+/true")
		byTopic := func(ps []*codec.Publish) map[string]*codec.Publish {
			m := map[string]*codec.Publish{}
			for _, p := range ps {
				m[p.Topic] = p
			}
			return m
		}
		r5, r3 := byTopic(receive(l5, len(all)/2)), byTopic(receive(l3, len(all)/2))
		for _, s := range all {
			if s.retain {
				if r5[s.topic] == nil || r3[s.topic] == nil {
					t.Fatalf("retained %s missing (5.0: %v, 3.1.1: %v)", s.topic, r5[s.topic] != nil, r3[s.topic] != nil)
				}
				same(s, r5[s.topic], r3[s.topic], true)
			}
		}
	})
}

// TestPaho5And3Properties: the same with the two paho clients: the 3.1.1
// subscriber (paho.mqtt.golang) gets what the 5.0 one (paho.golang) gets,
// minus the properties.
func TestPaho5And3Properties(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	s5 := connectP5(t, srv.Addr, v5conn("p53-s5", true, 0))
	s3 := connectP3(t, srv.Addr, "p53-s3", true)
	s5.sub(t, "p53/#", 2)
	s3.sub(t, "p53/#", 2)
	pub := connectP5(t, srv.Addr, v5conn("p53-pub", true, 0))
	for qos := byte(0); qos <= 2; qos++ {
		topic := fmt.Sprint("p53/", qos)
		pub.pub(t, &paho.Publish{Topic: topic, QoS: qos, Payload: []byte("héllo"), Properties: &paho.PublishProperties{
			PayloadFormat: b8(1), ContentType: "text/plain", User: paho.UserProperties{{Key: "k", Value: "v"}},
		}})
		m5 := s5.msgs.expect(t, topic, "héllo", qos, false)
		s3.msgs.expect(t, topic, "héllo", qos, false)
		if p := m5.p5.Properties; p == nil || p.ContentType != "text/plain" || len(p.User) != 1 {
			t.Fatalf("5.0 subscriber got properties %+v", p)
		}
	}
}

// TestPayloadFormatIndicator: with Payload Format Indicator 1 the payload
// must be UTF-8. A valid one is forwarded with the indicator
// [MQTT-5:3.3.2-4]; an invalid one is refused with 0x99 (Payload format
// invalid): PUBACK for QoS 1, PUBREC for QoS 2 (the exchange then ends), and
// DISCONNECT for QoS 0, which has no acknowledgement; a refused message is
// not routed. Without the indicator a payload is not checked.
func TestPayloadFormatIndicator(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := startPipeServer(t, nil)
		sub, _ := pipeConnect(t, srv, codec.V5, clean5("pfi-sub"))
		sub.Subscribe(t, 1, "pfi/#")
		c, _ := pipeConnect(t, srv, codec.V5, clean5("pfi"))
		utf8 := func(p *codec.Properties) { p.PayloadFormatIndicator = 1 }
		bad := []byte{'o', 'k', 0xc3, 0x28} // an invalid 2-byte sequence

		c.PublishWith(t, pub5(1, "pfi/t", "ünïcödé ✓", utf8))
		c.PublishWith(t, &codec.Publish{QoS: 1, Topic: "pfi/t", Payload: bad}) // not checked
		c.Send(t, &codec.Publish{QoS: 1, PacketID: 10, Topic: "pfi/t", Payload: bad, Properties: codec.Properties{PayloadFormatIndicator: 1}})
		c.ExpectDescribed(t, "PUBACK id=10 rc=0x99")
		c.Send(t, &codec.Publish{QoS: 2, PacketID: 11, Topic: "pfi/t", Payload: bad, Properties: codec.Properties{PayloadFormatIndicator: 1}})
		c.ExpectDescribed(t, "PUBREC id=11 rc=0x99")
		c.Send(t, &codec.Pubrel{Ack: codec.Ack{PacketID: 11}})
		c.ExpectDescribed(t, "PUBCOMP id=11 rc=0x92") // the refused exchange is over
		c.Send(t, &codec.Publish{Topic: "pfi/t", Payload: bad, Properties: codec.Properties{PayloadFormatIndicator: 1}})
		expectDisconnect(t, c, codec.PayloadFormatInvalid)

		if p := sub.ExpectMessage(t, "pfi/t", "ünïcödé ✓"); p.Properties.PayloadFormatIndicator != 1 {
			t.Errorf("forwarded with Payload Format Indicator %d, want 1", p.Properties.PayloadFormatIndicator)
		}
		if p := sub.ExpectMessage(t, "pfi/t", string(bad)); p.Properties.Has(codec.PropPayloadFormatIndicator) {
			t.Errorf("forwarded with Payload Format Indicator %d, want none", p.Properties.PayloadFormatIndicator)
		}
		sub.ExpectIdle(t)
	})
}

// TestPaho5PayloadFormatInvalid: paho.golang sees the 0x99 PUBACK of a
// QoS 1 message whose payload is not the UTF-8 its indicator announces.
func TestPaho5PayloadFormatInvalid(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	c := connectP5(t, srv.Addr, v5conn("p5-pfi", true, 0))
	rc := c.pub(t, &paho.Publish{Topic: "pfi/x", QoS: 1, Payload: []byte{0xff, 0xfe},
		Properties: &paho.PublishProperties{PayloadFormat: b8(1)}})
	if rc != 0x99 {
		t.Fatalf("PUBACK reason code %#x, want 0x99", rc)
	}
}

// TestPaho5ResponseInformation: a client that sets Request Response
// Information gets Options.ResponseInformation in the CONNACK; one that
// does not, or asks a server with none configured, gets none
// [MQTT-5:3.1.2-28].
func TestPaho5ResponseInformation(t *testing.T) {
	t.Parallel()
	srv := startServer(t, &Options{ResponseInformation: "tern/responses/"})
	plain := startServer(t, nil)
	for _, tc := range []struct {
		name string
		addr string
		ask  bool
		want string
	}{
		{"asked", srv.Addr, true, "tern/responses/"},
		{"not asked", srv.Addr, false, ""},
		{"asked, none configured", plain.Addr, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := connectP5(t, tc.addr, p5Props("p5-ri", func(p *paho.ConnectProperties) { p.RequestResponseInfo = tc.ask }))
			if got := c.ack.Properties.ResponseInfo; got != tc.want {
				t.Fatalf("CONNACK Response Information %q, want %q", got, tc.want)
			}
		})
	}
}

// TestRequestResponseInformationZero: an explicit Request Response
// Information 0 gets no Response Information [MQTT-5:3.1.2-28].
func TestRequestResponseInformationZero(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := startPipeServer(t, &Options{ResponseInformation: "tern/responses/"})
		p := clean5("rri0")
		p.Properties.Mark(codec.PropRequestResponseInformation)
		_, ack := pipeConnect(t, srv, codec.V5, p)
		if ack.Properties.Has(codec.PropResponseInformation) {
			t.Fatalf("CONNACK Response Information %q for Request Response Information 0", ack.Properties.ResponseInformation)
		}
	})
}

// noProblemInfo fails if p, an acknowledgement, carries a Reason String or
// User Properties.
func noProblemInfo(t testing.TB, p codec.Packet) {
	t.Helper()
	var props *codec.Properties
	switch p := p.(type) {
	case *codec.Puback:
		props = &p.Properties
	case *codec.Pubrec:
		props = &p.Properties
	case *codec.Pubrel:
		props = &p.Properties
	case *codec.Pubcomp:
		props = &p.Properties
	case *codec.Suback:
		props = &p.Properties
	case *codec.Unsuback:
		props = &p.Properties
	default:
		return
	}
	if props.ReasonString != "" || len(props.UserProperties) > 0 {
		t.Errorf("%s carries Reason String %q / User Properties %q although Request Problem Information is 0 [MQTT-5:3.1.2-29]",
			testkit.Describe(p), props.ReasonString, props.UserProperties)
	}
}

// TestRequestProblemInformationZero: a client with Request Problem
// Information 0 gets no Reason String or User Properties on any PUBACK,
// PUBREC, PUBREL, PUBCOMP, SUBACK or UNSUBACK, success or failure
// [MQTT-5:3.1.2-29]; PUBLISH packets still carry the publisher's User
// Properties, and the DISCONNECT may explain itself.
func TestRequestProblemInformationZero(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := startPipeServer(t, nil)
		p := clean5("rpi0")
		p.Properties.Mark(codec.PropRequestProblemInformation)
		c, ack := pipeConnect(t, srv, codec.V5, p)
		if ack.Properties.ReasonString != "" {
			t.Logf("CONNACK Reason String %q (allowed)", ack.Properties.ReasonString)
		}
		pub, _ := pipeConnect(t, srv, codec.V5, clean5("rpi0-pub"))
		check := func(want ...string) {
			t.Helper()
			for _, w := range want {
				got := c.Recv(t)
				if testkit.Describe(got) != w {
					t.Fatalf("got %s, want %s", testkit.Describe(got), w)
				}
				noProblemInfo(t, got)
			}
		}

		c.Send(t, &codec.Subscribe{PacketID: 1, Subscriptions: []codec.Subscription{{Filter: "rpi/#", QoS: 2}, {Filter: "rpi/#/x"}}})
		check("SUBACK id=1 [0x02 0x8f]")
		c.Send(t,
			&codec.Publish{QoS: 1, PacketID: 2, Topic: "$SYS/forged"},
			&codec.Publish{QoS: 1, PacketID: 3, Topic: "rpi/bad", Payload: []byte{0xff}, Properties: codec.Properties{PayloadFormatIndicator: 1}},
			&codec.Publish{QoS: 2, PacketID: 4, Topic: "$SYS/forged"},
			&codec.Pubrel{Ack: codec.Ack{PacketID: 99}},
			&codec.Unsubscribe{PacketID: 5, Filters: []string{"none"}})
		check("PUBACK id=2 rc=0x87", "PUBACK id=3 rc=0x99", "PUBREC id=4 rc=0x87", "PUBCOMP id=99 rc=0x92", "UNSUBACK id=5 [0x11]")

		pub.PublishWith(t, pub5(2, "rpi/t", "m", func(p *codec.Properties) { p.UserProperties = []codec.UserProperty{{Key: "k", Value: "v"}} }))
		m := c.ExpectPublish(t, `q2 dup=0 retain=0 rpi/t "m"`)
		if len(m.Properties.UserProperties) != 1 {
			t.Errorf("PUBLISH User Properties %q, want the publisher's", m.Properties.UserProperties)
		}
		c.Send(t, &codec.Pubrec{Ack: codec.Ack{PacketID: m.PacketID}})
		check(fmt.Sprintf("PUBREL id=%d rc=0x00", m.PacketID))
		c.Send(t, &codec.Pubcomp{Ack: codec.Ack{PacketID: m.PacketID}})
		c.PublishWith(t, &codec.Publish{QoS: 1, Topic: "other/ok"})
		c.Send(t, &codec.Publish{QoS: 2, PacketID: 6, Topic: "other/ok"})
		check("PUBREC id=6 rc=0x00")
		c.Send(t, &codec.Pubrel{Ack: codec.Ack{PacketID: 6}})
		check("PUBCOMP id=6 rc=0x00")
		c.ExpectIdle(t)
		c.Send(t, &codec.Auth{})
		expectDisconnect(t, c, codec.ProtocolError)
	})
}
