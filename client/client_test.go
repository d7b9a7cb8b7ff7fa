package client_test

import (
	"fmt"
	"testing"

	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/internal/testkit/brokerkit"
)

var versions = []codec.Version{codec.V311, codec.V5}

// Publish at each QoS to a subscriber of the same client: Publish returns
// after the flow completes, the handler gets the message at the QoS of
// the subscription's grant.
func TestPublishSubscribeQoS(t *testing.T) {
	srv := brokerkit.Start(t, nil, broker.WebSocketOptions{})
	for _, v := range versions {
		t.Run(v.String(), func(t *testing.T) {
			c := connect(t, srv.TCP, client.Options{ClientID: "pubsub-" + v.String(), Version: v})
			in := newInbox()
			sub(t, c, in, "qos/#", 2)
			for q := codec.QoS(0); q <= 2; q++ {
				topic := fmt.Sprintf("qos/%d", q)
				pub(t, c, &client.Message{Topic: topic, QoS: q, Payload: []byte("hello")})
				m := in.expect(t, topic, "hello")
				if m.QoS != q {
					t.Errorf("received QoS %d, want %d", m.QoS, q)
				}
			}
		})
	}
}
