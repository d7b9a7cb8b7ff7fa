package client_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"
)

// TestMain fails the package if any goroutine outlives the tests: the
// client's reader, writer, keep-alive, supervisor, handler and callback
// goroutines must all end with Disconnect.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitFor bounds every wait for an event. Events arrive in milliseconds;
// the bound only turns a bug into a failure instead of a hang.
const waitFor = 10 * time.Second

// within returns the next value from ch, failing the test if none comes
// within waitFor.
func within[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	timer := time.NewTimer(waitFor)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("timed out after %v waiting for %s", waitFor, what)
	}
	panic("unreachable")
}

// testCtx is a context bounded by waitFor, cancelled when the test ends.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return ctx
}

// testLogger logs to stderr under -v, and nowhere otherwise.
func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

// tern is an in-process Tern broker on loopback, over TCP and WebSocket.
type tern struct {
	*broker.Server
	TCP string // mqtt://127.0.0.1:port
	WS  string // ws://127.0.0.1:port/mqtt
}

// startTern starts a broker on 127.0.0.1:0 (and a WebSocket endpoint at
// /mqtt of an httptest server) and stops both when the test ends.
func startTern(t testing.TB, opts *broker.Options) *tern {
	t.Helper()
	var o broker.Options
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = testLogger()
	}
	srv := broker.New(o)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(context.Background(), ln)
	}()
	mux := http.NewServeMux()
	mux.Handle("/mqtt", srv.WebSocketHandler(broker.WebSocketOptions{}))
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("broker shutdown: %v", err)
		}
		hs.Close()
		<-done
	})
	return &tern{
		Server: srv,
		TCP:    "mqtt://" + ln.Addr().String(),
		WS:     "ws://" + strings.TrimPrefix(hs.URL, "http://") + "/mqtt",
	}
}

// connect connects a client and disconnects it when the test ends.
func connect(t testing.TB, url string, opts client.Options) *client.Client {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger()
	}
	c, err := client.Connect(testCtx(t), url, opts)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { disconnect(t, c) })
	return c
}

// disconnect disconnects c, accepting a client that was already closed.
func disconnect(t testing.TB, c *client.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := c.Disconnect(ctx, codec.NormalDisconnection); err != nil && err != client.ErrClosed {
		t.Errorf("disconnect: %v", err)
	}
}

// inbox is a Handler that collects messages on a channel.
type inbox chan *client.Message

func newInbox() inbox { return make(inbox, 1024) }

func (in inbox) handle(m *client.Message) { in <- m }

// next returns the next message, failing after waitFor.
func (in inbox) next(t testing.TB) *client.Message {
	t.Helper()
	return within(t, (<-chan *client.Message)(in), "a message")
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
	if _, err := c.Subscribe(testCtx(t), in.handle, codec.Subscription{Filter: filter, QoS: qos}); err != nil {
		t.Fatalf("subscribe %s: %v", filter, err)
	}
}

// pub publishes and fails the test on error.
func pub(t testing.TB, c *client.Client, m *client.Message) {
	t.Helper()
	if err := c.Publish(testCtx(t), m); err != nil {
		t.Fatalf("publish %s: %v", m.Topic, err)
	}
}
