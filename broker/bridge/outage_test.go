package bridge_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/broker/bridge"
	"github.com/ternmq/tern/broker/store/pebble"
	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
	"github.com/ternmq/tern/internal/testkit/brokerkit"
)

// TestMosquittoOutage: the remote mosquitto is stopped (SIGTERM to its
// PID) while Tern takes 1,000 QoS 1 messages for it, in two halves. The
// first half waits in the bridge's session while the bridge keeps
// reconnecting, and goes out when mosquitto is back on the same port. The
// second half waits in the session through a restart of Tern itself from
// its Pebble store (the bridge stopped, the broker shut down and opened
// again, a new bridge with the same configuration) and goes out when
// mosquitto is back again. mosquitto's subscriber, offline in a
// persistent session meanwhile, receives all 1,000 once each, in order.
func TestMosquittoOutage(t *testing.T) {
	const n = 1000
	mosq, port := mosquitto(t, "persistence true", "persistence_location "+t.TempDir()+"/", "max_queued_messages 5000")
	remoteURL := fmt.Sprintf("mqtt://127.0.0.1:%d", port)
	cfg := bridge.Config{Name: "outage", Addresses: []string{remoteURL}, SessionExpiry: 3600, Topics: rules(t, "seq/# out 1 tern/ mosq/")}
	// mosquitto's subscriber is a scripted peer, so that each PUBACK is
	// on the wire before it reads on, and before it disconnects: a
	// message it has not acknowledged would rightly come again.
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	subscriber := func() *testkit.Peer {
		r := testkit.Dial(t, addr, codec.V5)
		connect := &codec.Connect{ClientID: "r", KeepAlive: 60}
		connect.Properties.SessionExpiryInterval = 3600
		r.Connect(t, connect)
		return r
	}
	r := subscriber()
	r.Subscribe(t, 1, "mosq/seq/#")
	r.Disconnect(t)

	dir := t.TempDir()
	tern := openTern(t, dir)
	st := watchState(t, tern.url, "outage")
	b := run(t, tern.srv, cfg)
	st.wait(t, "1")

	next := 0
	expect := func(upTo int) {
		t.Helper()
		r := subscriber()
		for ; next < upTo; next++ {
			p := r.ExpectMessage(t, "mosq/seq/m", fmt.Sprint(next)) // and its PUBACK
			if p.Dup {
				t.Errorf("message %d came with DUP", next)
			}
		}
		r.Disconnect(t)
	}
	publishAll := func(url string, from, to int) {
		p := connect(t, url, client.Options{ClientID: "p", CleanStart: true})
		for i := from; i < to; i++ {
			publish(t, p, "tern/seq/m", fmt.Sprint(i), false)
		}
		disconnect(p)
	}

	mosq.Stop(t)
	st.wait(t, "0")
	publishAll(tern.url, 0, n/2)
	mosq.Start(t)
	st.wait(t, "1")
	expect(n / 2)

	mosq.Stop(t)
	st.wait(t, "0")
	publishAll(tern.url, n/2, n)
	b.stop()
	tern.stop()
	tern = openTern(t, dir)
	st = watchState(t, tern.url, "outage")
	b2 := run(t, tern.srv, cfg)
	mosq.Start(t)
	st.wait(t, "1")
	expect(n)
	b2.stop()
	checkStats(t, b.Bridge, n/2, 0)
	checkStats(t, b2.Bridge, n/2, 0)
}

// ternNode is a Tern broker on a Pebble store, served on loopback.
type ternNode struct {
	srv  *broker.Server
	url  string
	stop func() // shuts it down and closes the store; idempotent
}

func openTern(t testing.TB, dir string) *ternNode {
	t.Helper()
	st, err := pebble.Open(dir, pebble.Options{MemTableSize: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := broker.Open(testkit.Context(t), broker.Options{Store: st, Logger: brokerkit.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(context.Background(), ln)
	}()
	var once sync.Once
	n := &ternNode{srv: srv, url: "mqtt://" + ln.Addr().String(), stop: func() {
		once.Do(func() {
			if err := srv.Shutdown(testkit.Context(t)); err != nil {
				t.Errorf("shutdown: %v", err)
			}
			<-done
			if err := st.Close(); err != nil {
				t.Errorf("closing the store: %v", err)
			}
		})
	}}
	t.Cleanup(n.stop)
	return n
}
