package broker

// Interop of Options.MaxQoS and Options.DisableRetain with
// github.com/eclipse/paho.golang, an MQTT 5.0 client.

import (
	"context"
	"errors"
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
