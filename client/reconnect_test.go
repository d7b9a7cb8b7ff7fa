package client_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/internal/testkit"
	"github.com/ternmq/tern/internal/testkit/brokerkit"
)

// TestReconnectWithMessagesInFlight cuts the connections of a publisher
// and a subscriber while QoS 1 and QoS 2 messages are in flight both ways:
// the publisher has not read a single acknowledgement, and the broker has
// delivered messages the subscriber's handlers are still busy with. After
// the automatic reconnects (Clean Start 0, Session Present 1) nothing is
// lost, and each QoS 2 message reaches the handler exactly once: the
// publisher resends with DUP ([MQTT-4.4.0-1], [MQTT-3.3.1-1]), the broker
// resends to the subscriber, and the subscriber recognises the resent
// packet identifiers ([MQTT-5:4.3.3-10]).
func TestReconnectWithMessagesInFlight(t *testing.T) {
	for _, v := range versions {
		t.Run(v.String(), func(t *testing.T) { testReconnectInFlight(t, v) })
	}
}

func testReconnectInFlight(t *testing.T, v codec.Version) {
	const n = 20 // messages per QoS
	srv := brokerkit.Start(t, nil, broker.WebSocketOptions{})
	persistent := func(id string, d *gateDialer, reconnected chan struct{}) client.Options {
		o := client.Options{ClientID: id, Version: v, AutoReconnect: true, Dialer: d.dial,
			MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond,
			OnReconnect: func(a *codec.Connack) {
				if !a.SessionPresent {
					t.Errorf("%s: reconnected without its session", id)
				}
				reconnected <- struct{}{}
			}}
		if v == codec.V5 {
			o.ConnectProperties.SessionExpiryInterval = 300
		}
		return o
	}

	// An observer that is never cut sees everything the broker routes.
	obs := connect(t, srv.TCP, client.Options{Version: v, ClientID: "rc-observer"})
	observed := newInbox()
	sub(t, obs, observed, "rc/#", 2)

	// The subscriber: one handler per QoS, each blocking on its 10th
	// message until the connection has been cut and restored.
	subDial, subBack := newGateDialer(), make(chan struct{}, 4)
	s := connect(t, srv.TCP, persistent("rc-sub-"+v.String(), subDial, subBack))
	sConn := subDial.next(t)
	var (
		mu       sync.Mutex
		received = map[string]int{}
		complete = make(chan struct{})
		held     = make(chan string, 8)
		release  = make(chan struct{})
	)
	handler := func(m *client.Message) {
		p := string(m.Payload)
		if p == "q1-10" || p == "q2-10" {
			held <- p
			<-release
		}
		mu.Lock()
		received[p]++
		if received[p] == 1 && len(received) == 2*n+1 { // every message and the final marker
			close(complete)
		}
		mu.Unlock()
	}
	for _, q := range []codec.QoS{1, 2} {
		if _, err := s.Subscribe(testkit.Context(t), handler, codec.Subscription{Filter: fmt.Sprintf("rc/q%d", q), QoS: q}); err != nil {
			t.Fatal(err)
		}
	}

	// The publisher stops reading: no PUBACK, PUBREC or PUBCOMP reaches it.
	pubDial, pubBack := newGateDialer(), make(chan struct{}, 4)
	p := connect(t, srv.TCP, persistent("rc-pub-"+v.String(), pubDial, pubBack))
	pConn := pubDial.next(t)
	pConn.freeze()
	results := make(chan error, 2*n)
	for i := range n {
		for _, q := range []codec.QoS{1, 2} {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), testkit.Timeout)
				defer cancel()
				results <- p.Publish(ctx, &client.Message{Topic: fmt.Sprintf("rc/q%d", q), QoS: q,
					Payload: fmt.Appendf(nil, "q%d-%02d", q, i)})
			}()
		}
	}
	for range 2 * n {
		observed.next(t) // the broker has every message
	}
	testkit.WaitFor(t, (<-chan string)(held), "the first handler to block")
	testkit.WaitFor(t, (<-chan string)(held), "the second handler to block")

	// Cut both connections.
	pConn.Close()
	sConn.Close()
	testkit.WaitFor(t, (<-chan struct{})(pubBack), "the publisher to reconnect")
	testkit.WaitFor(t, (<-chan struct{})(subBack), "the subscriber to reconnect")
	close(release)
	for range 2 * n {
		if err := testkit.WaitFor(t, (<-chan error)(results), "Publish"); err != nil {
			t.Errorf("publish: %v", err)
		}
	}
	pub(t, p, &client.Message{Topic: "rc/q2", QoS: 2, Payload: []byte("end")})
	testkit.WaitFor(t, (<-chan struct{})(complete), "every message at the subscriber")

	mu.Lock()
	defer mu.Unlock()
	for i := range n {
		if c := received[fmt.Sprintf("q1-%02d", i)]; c < 1 {
			t.Errorf("QoS 1 message %d lost", i)
		}
		if c := received[fmt.Sprintf("q2-%02d", i)]; c != 1 {
			t.Errorf("QoS 2 message %d handled %d times, want exactly once", i, c)
		}
	}
	if received["end"] != 1 {
		t.Errorf("marker handled %d times", received["end"])
	}
	t.Logf("QoS 1 duplicates: %d", func() int {
		d := 0
		for i := range n {
			d += received[fmt.Sprintf("q1-%02d", i)] - 1
		}
		return d
	}())
}

// gateDialer dials TCP and hands each connection to the test, which can
// stop its reads or cut it.
type gateDialer struct{ conns chan *gatedConn }

func newGateDialer() *gateDialer { return &gateDialer{conns: make(chan *gatedConn, 16)} }

func (d *gateDialer) dial(ctx context.Context, u *url.URL) (net.Conn, error) {
	nc, err := (&net.Dialer{}).DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	g := &gatedConn{Conn: nc, closed: make(chan struct{})}
	d.conns <- g
	return g, nil
}

func (d *gateDialer) next(t testing.TB) *gatedConn {
	t.Helper()
	return testkit.WaitFor(t, (<-chan *gatedConn)(d.conns), "a dial")
}

// gatedConn is a net.Conn whose reads can be stopped.
type gatedConn struct {
	net.Conn
	frozen atomic.Bool
	once   sync.Once
	closed chan struct{}
}

// freeze stops delivering what arrives: reads wait until the connection
// is closed, and the bytes a read in progress receives are lost with the
// connection.
func (g *gatedConn) freeze() { g.frozen.Store(true) }

func (g *gatedConn) Read(p []byte) (int, error) {
	if !g.frozen.Load() {
		n, err := g.Conn.Read(p)
		if !g.frozen.Load() {
			return n, err
		}
	}
	<-g.closed
	return 0, net.ErrClosed
}

func (g *gatedConn) Close() error {
	g.once.Do(func() { close(g.closed) })
	return g.Conn.Close()
}
