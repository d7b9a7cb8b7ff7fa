package bridge_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/broker/bridge"
	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
	"github.com/ternmq/tern/internal/testkit/brokerkit"
)

// TestMain fails the package if a goroutine outlives the tests: a stopped
// bridge leaves none behind (clients, pipes, ServeConn).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// running is a bridge started by run.
type running struct {
	*bridge.Bridge
	stop func() // stops it and waits for Run to return; idempotent
}

// run starts a bridge between srv and the remote broker of cfg, with
// quick reconnects, and stops it when the test ends.
func run(t testing.TB, srv *broker.Server, cfg bridge.Config) *running {
	t.Helper()
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff, cfg.MaxBackoff = 20*time.Millisecond, 200*time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = brokerkit.Logger()
	}
	b, err := bridge.New(srv, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	var once sync.Once
	r := &running{Bridge: b, stop: func() {
		once.Do(func() {
			cancel()
			if err := testkit.WaitFor(t, (<-chan error)(done), "the bridge to stop"); err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}}
	t.Cleanup(r.stop)
	return r
}

// states follows the state topic of bridge name on the broker at url.
type states struct{ ch chan string }

func watchState(t testing.TB, url, name string) *states {
	t.Helper()
	s := &states{ch: make(chan string, 64)}
	c := connect(t, url, client.Options{ClientID: "state-" + name, CleanStart: true})
	subscribe(t, c, "$SYS/broker/connection/"+name+"/state", 1, func(m *client.Message) { s.ch <- string(m.Payload) })
	return s
}

// wait returns once the state is want.
func (s *states) wait(t testing.TB, want string) {
	t.Helper()
	for testkit.WaitFor(t, (<-chan string)(s.ch), "bridge state "+want) != want {
	}
}

// connect connects a test client and disconnects it when the test ends.
func connect(t testing.TB, url string, opts client.Options) *client.Client {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = brokerkit.Logger()
	}
	c, err := client.Connect(testkit.Context(t), url, opts)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { disconnect(c) })
	return c
}

func disconnect(c *client.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Timeout)
	defer cancel()
	c.Disconnect(ctx, codec.NormalDisconnection)
}

func subscribe(t testing.TB, c *client.Client, filter string, qos codec.QoS, h client.Handler) {
	t.Helper()
	if _, err := c.Subscribe(testkit.Context(t), h, codec.Subscription{Filter: filter, QoS: qos}); err != nil {
		t.Fatalf("subscribe %s: %v", filter, err)
	}
}

func publish(t testing.TB, c *client.Client, topic, payload string, retain bool) {
	t.Helper()
	if err := c.Publish(testkit.Context(t), &client.Message{Topic: topic, Payload: []byte(payload), QoS: 1, Retain: retain}); err != nil {
		t.Fatalf("publish %s: %v", topic, err)
	}
}

// inbox collects the messages of a subscription as "topic payload".
type inbox struct {
	ch  chan string
	mu  sync.Mutex
	all []string
}

func newInbox() *inbox { return &inbox{ch: make(chan string, 4096)} }

func (in *inbox) handle(m *client.Message) {
	s := m.Topic + " " + string(m.Payload)
	if m.Retain {
		s += " (retained)"
	}
	in.mu.Lock()
	in.all = append(in.all, s)
	in.mu.Unlock()
	in.ch <- s
}

// until waits for the message want and returns every message received
// before it, want included.
func (in *inbox) until(t testing.TB, want string) []string {
	t.Helper()
	var got []string
	for {
		s := testkit.WaitFor(t, (<-chan string)(in.ch), want)
		got = append(got, s)
		if s == want {
			return got
		}
	}
}

// sameSet fails unless got and want hold the same messages, ignoring
// their order (the test clients publish on both sides at once) but not
// duplicates.
func sameSet(t testing.TB, side string, got, want []string) {
	t.Helper()
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		t.Errorf("%s received:\n  %s\nwant:\n  %s", side, strings.Join(g, "\n  "), strings.Join(w, "\n  "))
	}
}

// mosquitto starts a mosquitto broker on a free port with extra
// configuration lines and returns it with its port.
func mosquitto(t testing.TB, extra ...string) (*testkit.Mosquitto, int) {
	t.Helper()
	port := testkit.FreePort(t)
	conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\n%s", port, strings.Join(extra, "\n"))
	return testkit.StartMosquitto(t, conf), port
}

func rules(t testing.TB, lines ...string) []bridge.Rule {
	t.Helper()
	var rs []bridge.Rule
	for _, l := range lines {
		r, err := bridge.ParseRule(l)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	return rs
}

func brokerOpts() broker.WebSocketOptions { return broker.WebSocketOptions{} }

// checkStats checks a stopped bridge's counters: nothing dropped, and no
// more forwarded than the messages its rules take (an echo would count
// twice). A flow may still be waiting for the other side's
// acknowledgement when the test saw the message arrive and stopped the
// bridge, so fewer is allowed: that message stays unacknowledged in its
// session, to be sent again.
func checkStats(t testing.TB, b *bridge.Bridge, out, in uint64) {
	t.Helper()
	s := b.Stats()
	if d := s.Dropped.Load(); d != 0 {
		t.Errorf("bridge dropped %d messages", d)
	}
	if o, i := s.Out.Load(), s.In.Load(); o > out || i > in {
		t.Errorf("bridge forwarded %d out and %d in, want at most %d and %d", o, i, out, in)
	}
}
