package broker

// Interop of Options.MaxQoS and Options.DisableRetain with
// github.com/eclipse/paho.golang, an MQTT 5.0 client.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"

	paho "github.com/eclipse/paho.golang/paho"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// TestPaho5MaxQoS: paho reads Maximum QoS 1 [MQTT-5:3.2.2-9] and Retain
// Available 0 from the CONNACK and, holding itself to them as a client
// must (statements 3.2.2-11 and 3.2.2-14, the client's), refuses a QoS 2 or retained PUBLISH
// before sending it; its QoS 2 SUBSCRIBE is granted QoS 1
// [MQTT-5:3.2.2-10] and a QoS 1 message arrives at QoS 1.
func TestPaho5MaxQoS(t *testing.T) {
	t.Parallel()
	srv := startServer(t, &Options{MaxQoS: new(codec.AtLeastOnce), DisableRetain: true})
	c := connectP5(t, srv.Addr, v5conn("p5-maxqos", true, 0))
	if q := c.ack.Properties.MaximumQoS; q == nil || *q != 1 {
		t.Fatalf("paho sees Maximum QoS %v, want 1", q)
	}
	if c.ack.Properties.RetainAvailable {
		t.Fatal("paho sees Retain Available 1, want 0")
	}

	ctx, cancel := context.WithTimeout(context.Background(), testkit.Timeout)
	defer cancel()
	sa, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "mq/#", QoS: 2}}})
	if err != nil {
		t.Fatalf("SUBSCRIBE: %v", err)
	}
	if len(sa.Reasons) != 1 || sa.Reasons[0] != 1 {
		t.Fatalf("SUBACK %v, want granted QoS 1", sa.Reasons)
	}
	for _, p := range []*paho.Publish{
		{Topic: "mq/two", QoS: 2, Payload: []byte("x")},
		{Topic: "mq/kept", QoS: 0, Retain: true, Payload: []byte("x")},
	} {
		if _, err := c.Publish(ctx, p); !errors.Is(err, paho.ErrInvalidArguments) {
			t.Errorf("paho PUBLISH QoS %d retain %v: %v, want it refused by the client", p.QoS, p.Retain, err)
		}
	}
	c.pubSimple(t, "mq/one", 1, false, "within the limits")
	c.msgs.expect(t, "mq/one", "within the limits", 1, false)
}

// TestMaxQoSAsMosquitto: Tern with MaxQoS 1 and DisableRetain and a real
// Mosquitto 2.0 with max_qos 1 and retain_available false answer the same
// packets alike, in 3.1.1 and 5.0: a CONNECT with a QoS 2 or retained will
// is refused (5.0: CONNACK 0x9B [MQTT-5:3.2.2-12], 0x9A
// [MQTT-5:3.2.2-13]; 3.1.1: closed without a CONNACK), a QoS 2 or retained
// PUBLISH closes the connection (5.0: after DISCONNECT 0x9B, 0x9A
// [MQTT-5:4.13.1-1]), a SUBSCRIBE at QoS 0, 1, 2 is granted 0, 1, 1
// [MQTT-5:3.2.2-10]; a 5.0 CONNACK says Maximum QoS 1 [MQTT-5:3.2.2-9]
// and Retain Available 0.
func TestMaxQoSAsMosquitto(t *testing.T) {
	t.Parallel()
	port := testkit.FreePort(t)
	testkit.StartMosquitto(t, "listener "+strconv.Itoa(port)+" 127.0.0.1\nallow_anonymous true\nmax_qos 1\nretain_available false\n")
	tern := startServer(t, &Options{MaxQoS: new(codec.AtLeastOnce), DisableRetain: true})
	brokers := []struct{ name, addr string }{{"tern", tern.Addr}, {"mosquitto", fmt.Sprintf("127.0.0.1:%d", port)}}

	will := func(qos codec.QoS, retain bool) *codec.Will {
		return &codec.Will{Topic: "w", Payload: []byte("gone"), QoS: qos, Retain: retain}
	}
	for _, tc := range []struct {
		name      string
		will      *codec.Will
		then      codec.Packet // sent once connected
		v5, v311  []string     // the packets received after the CONNECT's (Describe), then closed
		stillOpen bool         // not closed after them
	}{
		{name: "will QoS 2", will: will(2, false), v5: []string{"CONNACK sp=0 rc=0x9b"}},
		{name: "retained will", will: will(0, true), v5: []string{"CONNACK sp=0 rc=0x9a"}},
		{name: "PUBLISH QoS 2", then: &codec.Publish{QoS: 2, PacketID: 1, Topic: "t", Payload: []byte("x")},
			v5: []string{"DISCONNECT rc=0x9b"}},
		{name: "retained PUBLISH", then: &codec.Publish{Retain: true, Topic: "t", Payload: []byte("x")},
			v5: []string{"DISCONNECT rc=0x9a"}},
		{name: "SUBSCRIBE", then: &codec.Subscribe{PacketID: 1, Subscriptions: []codec.Subscription{
			{Filter: "a", QoS: 0}, {Filter: "b", QoS: 1}, {Filter: "c", QoS: 2}}},
			v5: []string{"SUBACK id=1 [0x00 0x01 0x01]"}, v311: []string{"SUBACK id=1 [0x00 0x01 0x01]"}, stillOpen: true},
	} {
		for _, b := range brokers {
			for _, v := range []codec.Version{codec.V311, codec.V5} {
				t.Run(b.name+"/"+v.String()+"/"+tc.name, func(t *testing.T) {
					c := testkit.Dial(t, b.addr, v)
					defer c.Close()
					want := tc.v311
					if v == codec.V5 {
						want = tc.v5
					}
					c.Send(t, &codec.Connect{ClientID: "mq-" + b.name, CleanStart: true, Will: tc.will})
					if tc.then != nil {
						ack := testkit.Expect[*codec.Connack](t, c)
						if v == codec.V5 {
							p := ack.Properties
							if !p.Has(codec.PropMaximumQoS) || p.MaximumQoS != 1 || !p.Has(codec.PropRetainAvailable) || p.RetainAvailable != 0 {
								t.Errorf("CONNACK Maximum QoS %d (present %v), Retain Available %d (present %v); want 1 and 0",
									p.MaximumQoS, p.Has(codec.PropMaximumQoS), p.RetainAvailable, p.Has(codec.PropRetainAvailable))
							}
						}
						c.Send(t, tc.then)
					}
					c.ExpectDescribed(t, want...)
					if tc.stillOpen {
						c.ExpectIdle(t)
					} else {
						c.ExpectClosed(t)
					}
				})
			}
		}
	}
}
