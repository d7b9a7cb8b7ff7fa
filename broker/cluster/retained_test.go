package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// retainedSubject waits until TERN_RETAINED holds (want true) or does not
// hold a message for topic.
func (m member) retainedSubject(t testing.TB, topic string, want bool) {
	t.Helper()
	ctx := testkit.Context(t)
	s, err := m.node.JetStream().Stream(ctx, StreamRetained)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "a retained message of "+topic+" in the stream", func() bool {
		call, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		_, err := s.GetLastMsgForSubject(call, streamSubject(RetainedPrefix, topic))
		if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			t.Logf("get %s: %v", topic, err)
		}
		return (err == nil) == want
	})
}

// synced waits until every node's replica of stream has what its leader
// has: a read served by any replica then sees it (see retained.go).
func synced(t testing.TB, ms []member, stream string) {
	t.Helper()
	ctx := testkit.Context(t)
	s, err := ms[0].node.JetStream().Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	last := info.State.LastSeq
	for _, m := range ms {
		eventually(t, fmt.Sprintf("%s's replica of %s at sequence %d", m.node.ID(), stream, last), func() bool {
			jsz, err := m.node.NATSServer().Jsz(&server.JSzOptions{Accounts: true, Streams: true})
			if err != nil {
				return false
			}
			for _, acc := range jsz.AccountDetails {
				for _, sd := range acc.Streams {
					if sd.Name == stream {
						return sd.State.LastSeq >= last
					}
				}
			}
			return false
		})
	}
}

// TestRetainedAcrossNodes sets retained messages on nodes 2 and 1 and
// reads them from new subscriptions on every node, following the retained
// rules; an empty retained message on node 1 clears the topic everywhere.
func TestRetainedAcrossNodes(t *testing.T) {
	ms := startDurableCluster(t, 3)
	n1, n2, n3 := ms[0], ms[1], ms[2]

	// Live subscribers on node 3 when the retained message is published.
	rap := dial(t, n3, codec.V5, "rap")
	rap.SubscribeWith(t, &codec.Subscribe{Subscriptions: []codec.Subscription{{Filter: "r/#", QoS: 1, RetainAsPublished: true}}})
	plain := dial(t, n3, codec.V311, "plain")
	plain.Subscribe(t, 1, "r/#")

	pub2 := dial(t, n2, codec.V5, "pub2")
	pub2.PublishWith(t, &codec.Publish{QoS: 1, Retain: true, Topic: "r/a", Payload: []byte("kept on 2")}) // PUBACK after TERN_RETAINED has it
	// [MQTT-3.3.1-13] (5.0): Retain As Published keeps the flag;
	// [MQTT-3.3.1-9] (3.1.1) and [MQTT-3.3.1-12] (5.0): else it is 0.
	rap.Ack(t, rap.ExpectPublish(t, `q1 dup=0 retain=1 r/a "kept on 2"`))
	plain.Ack(t, plain.ExpectPublish(t, `q1 dup=0 retain=0 r/a "kept on 2"`))

	pub1 := dial(t, n1, codec.V311, "pub1")
	pub1.PublishWith(t, &codec.Publish{Retain: true, Topic: "r/b", Payload: []byte("kept on 1")}) // QoS 0: no PUBACK to wait for
	pub1.PublishWith(t, &codec.Publish{QoS: 1, Retain: true, Topic: "$x/y", Payload: []byte("dollar")})
	n1.retainedSubject(t, "r/b", true)
	synced(t, ms, StreamRetained)
	rap.ExpectPublish(t, `q0 dup=0 retain=1 r/b "kept on 1"`)
	plain.ExpectPublish(t, `q0 dup=0 retain=0 r/b "kept on 1"`)

	// [MQTT-3.3.1-6] (3.1.1), [MQTT-3.3.1-9] (5.0): a new subscription
	// gets the last retained message of each matching topic, with RETAIN
	// set, whichever node it was published on; '#' does not match a '$'
	// topic [MQTT-4.7.2-1].
	want := []string{`q0 dup=0 retain=1 r/b "kept on 1"`, `q1 dup=0 retain=1 r/a "kept on 2"`}
	for _, m := range ms {
		for _, v := range []codec.Version{codec.V311, codec.V5} {
			p := dial(t, m, v, "new")
			p.Subscribe(t, 1, "#")
			if got := recvAll(t, p, 2); !slices.Equal(got, want) {
				t.Errorf("a new %v subscriber on %s got %q, want %q", v, m.node.ID(), got, want)
			}
			p.Disconnect(t)
		}
	}
	d := dial(t, n3, codec.V5, "dollar")
	d.Subscribe(t, 1, "$x/#")
	d.ExpectMessage(t, "$x/y", "dollar")

	// Retain Handling 2: none [MQTT-3.3.1-11]; 1: only for a new
	// subscription [MQTT-3.3.1-10].
	rh := dial(t, n3, codec.V5, "rh")
	rh.SubscribeWith(t, &codec.Subscribe{Subscriptions: []codec.Subscription{{Filter: "r/#", QoS: 1, RetainHandling: 2}}})
	rh.SubscribeWith(t, &codec.Subscribe{Subscriptions: []codec.Subscription{{Filter: "r/+", QoS: 1, RetainHandling: 1}}})
	if got := recvAll(t, rh, 2); !slices.Equal(got, want) {
		t.Errorf("Retain Handling 1 on a new subscription got %q, want %q", got, want)
	}
	rh.SubscribeWith(t, &codec.Subscribe{Subscriptions: []codec.Subscription{{Filter: "r/+", QoS: 1, RetainHandling: 1}}})
	rh.ExpectIdle(t)

	// An empty retained message on node 1 removes the topic's retained
	// message for every node [MQTT-3.3.1-6] (5.0), [MQTT-3.3.1-10] and
	// [MQTT-3.3.1-11] (3.1.1); it is delivered to the live subscribers.
	pub1.PublishWith(t, &codec.Publish{QoS: 1, Retain: true, Topic: "r/a"})
	rap.Ack(t, rap.ExpectPublish(t, `q1 dup=0 retain=1 r/a ""`))
	plain.Ack(t, plain.ExpectPublish(t, `q1 dup=0 retain=0 r/a ""`))
	synced(t, ms, StreamRetained)
	for _, m := range ms {
		p := dial(t, m, codec.V5, "after")
		p.Subscribe(t, 1, "r/#")
		p.ExpectPublish(t, `q0 dup=0 retain=1 r/b "kept on 1"`)
		p.ExpectIdle(t)
		p.Disconnect(t)
	}
	n2.retainedSubject(t, "r/a", false) // the empty mark purged too
	for _, p := range []*testkit.Peer{rap, plain} {
		p.ExpectIdle(t)
	}
	// The reads' ordered consumers are gone: one consumer per node is left.
	eventually(t, "3 consumers on "+StreamQoS+" and none on "+StreamRetained, func() bool {
		return n1.consumers(t, StreamQoS) == 3 && n1.consumers(t, StreamRetained) == 0
	})
}
