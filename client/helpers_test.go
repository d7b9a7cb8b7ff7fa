package client_test

import (
	"context"
	"testing"

	"go.uber.org/goleak"

	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"

	"github.com/ternmq/tern/internal/testkit"
	"github.com/ternmq/tern/internal/testkit/brokerkit"
)

// TestMain fails the package if any goroutine outlives the tests: the
// client's reader, writer, keep-alive, supervisor, handler and callback
// goroutines must all end with Disconnect.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// connect connects a client and disconnects it when the test ends.
func connect(t testing.TB, url string, opts client.Options) *client.Client {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = brokerkit.Logger()
	}
	c, err := client.Connect(testkit.Context(t), url, opts)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { disconnect(t, c) })
	return c
}

// disconnect disconnects c, accepting a client that was already closed.
func disconnect(t testing.TB, c *client.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Timeout)
	defer cancel()
	if err := c.Disconnect(ctx, codec.NormalDisconnection); err != nil && err != client.ErrClosed {
		t.Errorf("disconnect: %v", err)
	}
}

// inbox is a Handler that collects messages on a channel.
type inbox chan *client.Message

func newInbox() inbox { return make(inbox, 1024) }

func (in inbox) handle(m *client.Message) { in <- m }

// next returns the next message, failing after testkit.Timeout.
func (in inbox) next(t testing.TB) *client.Message {
	t.Helper()
	return testkit.WaitFor(t, (<-chan *client.Message)(in), "a message")
}

// expect fails unless the next message has the topic and payload.
func (in inbox) expect(t testing.TB, topic, payload string) *client.Message {
	t.Helper()
	m := in.next(t)
	if m.Topic != topic || string(m.Payload) != payload {
		t.Fatalf("got %s %q, want %s %q", m.Topic, m.Payload, topic, payload)
	}
	return m
}

// sub subscribes c to filter at qos with handler in.
func sub(t testing.TB, c *client.Client, in inbox, filter string, qos codec.QoS) {
	t.Helper()
	if _, err := c.Subscribe(testkit.Context(t), in.handle, codec.Subscription{Filter: filter, QoS: qos}); err != nil {
		t.Fatalf("subscribe %s: %v", filter, err)
	}
}

// pub publishes and fails the test on error.
func pub(t testing.TB, c *client.Client, m *client.Message) {
	t.Helper()
	if err := c.Publish(testkit.Context(t), m); err != nil {
		t.Fatalf("publish %s: %v", m.Topic, err)
	}
}
