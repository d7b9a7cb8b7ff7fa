package client_test

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// A handler that defers a QoS 1 message returns at once and takes the
// next one; the PUBACKs wait for the release, and still go out in the
// order the messages arrived [MQTT-4.6.0-2]. Releasing twice is harmless;
// Defer on a QoS 0 message does nothing.
func TestDefer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, s, _ := fakeConnect(t, client.Options{}, nil)
		releases := make(chan func(), 10)
		done := async(func() error {
			_, err := c.Subscribe(context.Background(), func(m *client.Message) { releases <- m.Defer() },
				codec.Subscription{Filter: "#", QoS: 1})
			return err
		})
		sp := s.next().(*codec.Subscribe)
		s.send(&codec.Suback{PacketID: sp.PacketID, ReasonCodes: []codec.ReasonCode{1}})
		if err := testkit.WaitFor(t, done, "Subscribe"); err != nil {
			t.Fatal(err)
		}
		s.send(&codec.Publish{Topic: "a", QoS: 1, PacketID: 1}, &codec.Publish{Topic: "b", QoS: 1, PacketID: 2},
			&codec.Publish{Topic: "c", QoS: 0})
		r1 := testkit.WaitFor(t, (<-chan func())(releases), "message 1")
		r2 := testkit.WaitFor(t, (<-chan func())(releases), "message 2")
		r0 := testkit.WaitFor(t, (<-chan func())(releases), "message 3")
		r0()
		r2()
		s.quiet() // 2 is released, but 1 is still held
		r1()
		r1()
		for _, id := range []uint16{1, 2} {
			if a := s.nextAck(codec.PUBACK); a.PacketID != id {
				t.Fatalf("PUBACK %d, want %d", a.PacketID, id)
			}
		}
		s.quiet()
	})
}

// PublishAsync queues in call order and returns before the PUBACK; each
// wait returns when its own PUBACK arrives.
func TestPublishAsync(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, s, _ := fakeConnect(t, client.Options{}, nil)
		var waits []func(context.Context) error
		for _, topic := range []string{"a", "b", "c"} {
			w, err := c.PublishAsync(context.Background(), &client.Message{Topic: topic, QoS: 1})
			if err != nil {
				t.Fatal(err)
			}
			waits = append(waits, w)
		}
		var ids []uint16
		for _, want := range []string{"a", "b", "c"} {
			p := s.nextPublish()
			if p.Topic != want {
				t.Fatalf("PUBLISH %s, want %s", p.Topic, want)
			}
			ids = append(ids, p.PacketID)
		}
		s.send(&codec.Puback{Ack: codec.Ack{PacketID: ids[1]}})
		if err := testkit.WaitFor(t, async(func() error { return waits[1](context.Background()) }), "wait b"); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := waits[0](ctx); err != context.Canceled {
			t.Errorf("wait with an ended context: %v", err)
		}
		s.send(&codec.Puback{Ack: codec.Ack{PacketID: ids[2]}})
		if err := testkit.WaitFor(t, async(func() error { return waits[2](context.Background()) }), "wait c"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.PublishAsync(context.Background(), &client.Message{Topic: "a/+", QoS: 1}); err == nil {
			t.Error("PublishAsync accepted a wildcard topic")
		}
	})
}

// With SerialHandlers, the handlers of all subscriptions (and the
// DefaultHandler) run one at a time in the order the messages arrived: a
// handler that blocks holds up the others.
func TestSerialHandlers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		got := make(chan string, 10)
		release := make(chan struct{})
		opts := client.Options{SerialHandlers: true, DefaultHandler: func(m *client.Message) { got <- "default " + m.Topic }}
		c, s, _ := fakeConnect(t, opts, nil)
		for _, f := range []string{"a/#", "b/#"} {
			h := func(m *client.Message) { got <- m.Topic }
			if f == "a/#" {
				h = func(m *client.Message) { got <- m.Topic; <-release }
			}
			done := async(func() error {
				_, err := c.Subscribe(context.Background(), h, codec.Subscription{Filter: f, QoS: 1})
				return err
			})
			sp := s.next().(*codec.Subscribe)
			s.send(&codec.Suback{PacketID: sp.PacketID, ReasonCodes: []codec.ReasonCode{1}})
			if err := testkit.WaitFor(t, done, "Subscribe"); err != nil {
				t.Fatal(err)
			}
		}
		s.send(&codec.Publish{Topic: "a/1", QoS: 1, PacketID: 1}, &codec.Publish{Topic: "b/2", QoS: 1, PacketID: 2},
			&codec.Publish{Topic: "c/3", QoS: 0})
		synctest.Wait()
		if len(got) != 1 || <-got != "a/1" {
			t.Fatal("b/2 was handled while a/1's handler was blocked")
		}
		close(release)
		for _, want := range []string{"b/2", "default c/3"} {
			if g := testkit.WaitFor(t, (<-chan string)(got), want); g != want {
				t.Fatalf("handled %q, want %q", g, want)
			}
		}
	})
}
