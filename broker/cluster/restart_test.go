package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/broker/store"
	"github.com/ternmq/tern/broker/store/pebble"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
	"github.com/ternmq/tern/internal/testkit/brokerkit"
)

// frozenStore is a broker.Store that stops writing once frozen, as a
// process killed with SIGKILL does: what was applied before stays on
// disk, nothing after reaches it (an orderly Shutdown would write the
// sessions going offline and their wills published).
type frozenStore struct {
	broker.Store
	frozen atomic.Bool
	once   sync.Once
}

func (f *frozenStore) Apply(b *store.Batch, sync bool) error {
	if f.frozen.Load() {
		return nil
	}
	return f.Store.Apply(b, sync)
}

func (f *frozenStore) Close() (err error) {
	f.once.Do(func() { err = f.Store.Close() })
	return err
}

// durableNode is a node of a test cluster whose broker keeps its sessions
// in a Pebble store, so that it can be killed and restarted with it.
type durableNode struct {
	cfg Config
	dir string // the Pebble store's
	st  *frozenStore
	member
}

// startRestartable starts three nodes as startCluster does, node 2 with a
// Pebble store, and waits for their session registries and streams.
func startRestartable(t *testing.T) (ms []member, n2 *durableNode) {
	t.Helper()
	cfgs := nodeConfigs(t, 3)
	ms = make([]member, 3)
	for i, cfg := range cfgs {
		if i == 1 {
			n2 = &durableNode{cfg: cfg, dir: t.TempDir()}
			n2.start(t)
			ms[i] = n2.member
			continue
		}
		node, err := Start(testkit.Context(t), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(node.Close)
		ms[i] = member{node: node, b: brokerkit.Start(t, &broker.Options{Cluster: node}, broker.WebSocketOptions{})}
		node.Attach(ms[i].b.Server)
	}
	ctx, cancel := context.WithTimeout(context.Background(), joinTimeout)
	defer cancel()
	for _, m := range ms {
		if err := m.node.WaitJetStream(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitStreams(t, ms)
	for _, m := range ms {
		n2.waitRegistry(t, m)
	}
	return ms, n2
}

// start starts the node and its broker on the Pebble store (again after
// kill: the same name, ports and directories).
func (d *durableNode) start(t *testing.T) {
	t.Helper()
	node, err := Start(testkit.Context(t), d.cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Close)
	ps, err := pebble.Open(d.dir, pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d.st = &frozenStore{Store: ps}
	st := d.st
	t.Cleanup(func() { st.Close() })
	srv, err := broker.Open(testkit.Context(t), broker.Options{Cluster: node, Store: d.st, Logger: brokerkit.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	addr := testkit.ServeLoopback(t, srv)
	node.Attach(srv)
	d.member = member{node: node, b: &brokerkit.Broker{Server: srv, Addr: addr}}
}

// kill stops the node as SIGKILL would: its store takes no more writes,
// its NATS server goes (its lease lapses, its clients' connections close
// without a DISCONNECT), then what is left of it stops.
func (d *durableNode) kill(t *testing.T) {
	t.Helper()
	d.st.frozen.Store(true)
	d.node.NATSServer().Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Timeout)
	defer cancel()
	d.b.Server.Shutdown(ctx)
	// Closing the node takes seconds of time-outs without its NATS
	// server: it runs meanwhile, as a killed process's leftovers would not.
	closed := make(chan struct{})
	go func(n *Node) {
		defer close(closed)
		n.Close()
	}(d.node)
	t.Cleanup(func() { <-closed })
	d.st.Close()
}

// waitRegistry waits until m's session registry is set up.
func (d *durableNode) waitRegistry(t *testing.T, m member) {
	t.Helper()
	within(t, joinTimeout, "the session registry of "+m.node.ID(), func() bool {
		select {
		case <-m.node.reg.ready:
			return true
		default:
			return false
		}
	})
}

// persistentClient connects id to m with expiry 600 and a QoS 1 will on
// will/<id> after delay seconds, subscribed to rs/# at QoS 1.
func persistentClient(t *testing.T, m member, id string, delay uint32) *testkit.Peer {
	t.Helper()
	p := testkit.Dial(t, m.b.Addr, codec.V5)
	c := &codec.Connect{ClientID: id, CleanStart: true, KeepAlive: 60,
		Will: &codec.Will{Topic: "will/" + id, Payload: []byte("gone"), QoS: 1}}
	c.Will.Properties.WillDelayInterval = delay
	c.Properties.SessionExpiryInterval = 600
	p.Connect(t, c)
	p.Subscribe(t, 1, "rs/#")
	return p
}

// expectAll reads QoS 1 PUBLISHes from p, acknowledging each, until it has
// every payload of want, and returns how many times each came.
func expectAll(t *testing.T, p *testkit.Peer, want ...string) map[string]int {
	t.Helper()
	seen := make(map[string]int)
	for len(seen) < len(want) {
		got := testkit.Expect[*codec.Publish](t, p)
		p.Ack(t, got)
		if got.Topic != "rs/x" || got.QoS != 1 || !slices.Contains(want, string(got.Payload)) {
			t.Fatalf("got %s, want one of %q on rs/x", testkit.Describe(got), want)
		}
		seen[string(got.Payload)]++
	}
	return seen
}

// sessionHolders returns the nodes of ms holding a session for id.
func sessionHolders(ms []member, id string) []string {
	var out []string
	for _, m := range ms {
		if _, ok := m.session(id); ok {
			out = append(out, m.node.ID())
		}
	}
	return out
}

// TestRestartQuick kills node 2, which holds an offline persistent session
// with queued QoS 1 messages and a will waiting for its delay, and starts
// it again at once with its Pebble store and name: before a survivor
// reaps it, the new incarnation takes the session back from the old one
// (epoch+1). The client resumes there with its session [MQTT-3.2.2-3] and
// its messages, which is the only copy in the cluster; the will is not
// published, as the client came back within its Will Delay Interval
// [MQTT-3.1.3-9], and a message published afterwards arrives once. The
// will of a client whose session had expiry 0 (in the registry, not in the
// store) is published once, by the new incarnation [MQTT-3.1.2-8 of 3.1.1].
func TestRestartQuick(t *testing.T) {
	ms, n2 := startRestartable(t)
	n3 := ms[2]
	watcher := dial(t, n3, codec.V5, "watcher")
	watcher.Subscribe(t, 1, "will/#")

	p := persistentClient(t, n2.member, "s", 60)
	p.Close() // no DISCONNECT: the will waits for its delay
	testkit.WaitFor(t, brokerkit.Offline(t, n2.b.Server, "s"), "the session to go offline")
	pub := dial(t, n3, codec.V5, "pub")
	for i := range 3 {
		pub.Publish(t, 1, "rs/x", fmt.Sprint("m", i))
	}
	eventually(t, "node 2 to queue the messages and write them through", func() bool {
		s, ok := n2.session("s")
		return ok && s.Queued == 3 && n3.sessq(t, "s") == 3
	})
	// A client whose session ends with its connection is in the registry
	// only (never in the store): the new incarnation publishes its will.
	zero := zeroWithWill(t, n2.b.Addr, n3.node, "zero", "will/zero", "gone too")
	old := n2.node.ID()

	start := time.Now()
	n2.kill(t)
	n2.start(t)
	ms[1] = n2.member
	n2.waitRegistry(t, n2.member)
	within(t, reconcileTimeout, "node 2 to take its session back", func() bool { return n2.node.RegistryStats().Reclaimed.Load() == 1 })
	t.Logf("node 2 (%s, was %s) took its session back %v after it was killed", n2.node.ID(), old, time.Since(start))
	if o := n3.owner(t, "s"); o != n2.node.ID() {
		t.Fatalf("tern_sessions names %s as the owner, want %s", o, n2.node.ID())
	}
	// The deliveries are written through again with the new epoch, and
	// the earlier incarnation's copies purged.
	if n := n3.sessq(t, "s"); n != 3 {
		t.Errorf("TERN_SESSQ holds %d messages for the session, want its 3 deliveries once", n)
	}

	zero.Close()
	got := testkit.Expect[*codec.Publish](t, watcher)
	if got.Topic != "will/zero" || string(got.Payload) != "gone too" {
		t.Fatalf("watcher got %s, want the will of zero", testkit.Describe(got))
	}
	watcher.Ack(t, got)
	if a := n2.node.RegistryStats().Adopted.Load(); a != 1 {
		t.Errorf("node 2 adopted %d sessions of its earlier incarnation that its store lacked, want 1", a)
	}

	back, ack := connectV5(t, n2.member, "s", false, 600)
	if !ack.SessionPresent {
		t.Fatal("Session Present 0 for the session node 2 recovered [MQTT-3.2.2-3]")
	}
	if seen := expectAll(t, back, "m0", "m1", "m2"); len(seen) != 3 {
		t.Fatalf("got %v", seen)
	}
	if h := sessionHolders(ms, "s"); !slices.Equal(h, []string{n2.node.ID()}) {
		t.Fatalf("the session is held by %v, want node 2 alone", h)
	}
	pub.Publish(t, 1, "rs/x", "after")
	back.Ack(t, back.ExpectPublish(t, `q1 dup=0 retain=0 rs/x "after"`))
	back.ExpectIdle(t)
	watcher.ExpectIdle(t) // no will of s [MQTT-3.1.3-9], and that of zero once
	if a := ms[0].node.RegistryStats().Adopted.Load() + n3.node.RegistryStats().Adopted.Load(); a != 0 {
		t.Errorf("survivors adopted %d sessions of the restarted node, want 0", a)
	}
}

// TestRestartAfterAdoption kills node 2 under a connected persistent
// client with a will and unacknowledged QoS 1 messages; a survivor adopts
// the session and publishes the will [MQTT-3.1.2-8 of 3.1.1]. Node 2 then
// starts again with its Pebble store: it drops its stale copy without
// publishing the will a second time, and a message published afterwards
// reaches the session once, on the adopter.
func TestRestartAfterAdoption(t *testing.T) {
	ms, n2 := startRestartable(t)
	n1, n3 := ms[0], ms[2]
	watcher := dial(t, n3, codec.V5, "watcher")
	watcher.Subscribe(t, 1, "will/#")

	p := persistentClient(t, n2.member, "s", 0)
	pub := dial(t, n3, codec.V5, "pub")
	for i := range 3 {
		pub.Publish(t, 1, "rs/x", fmt.Sprint("m", i))
	}
	for i := range 3 { // received, never acknowledged
		p.ExpectPublish(t, fmt.Sprintf(`q1 dup=0 retain=0 rs/x "m%d"`, i))
	}
	eventually(t, "TERN_SESSQ to hold the in-flight messages", func() bool { return n3.sessq(t, "s") == 3 })

	start := time.Now()
	n2.kill(t)
	p.Close()
	adopter := member{}
	within(t, leaseTTL+45*time.Second, "a survivor to adopt the session", func() bool {
		for _, m := range []member{n1, n3} {
			if m.node.RegistryStats().Adopted.Load() == 1 {
				adopter = m
				return true
			}
		}
		return false
	})
	t.Logf("%s adopted the session %v after node 2 was killed", adopter.node.ID(), time.Since(start))
	got := testkit.Expect[*codec.Publish](t, watcher)
	if got.Topic != "will/s" {
		t.Fatalf("watcher got %s, want the will", testkit.Describe(got))
	}
	watcher.Ack(t, got)
	within(t, consumerWait, "the dead node's consumer to go", func() bool {
		_, err := n3.node.q.qos.Consumer(testkit.Context(t), consumerNameOf("n2-x"))
		return errors.Is(err, jetstream.ErrConsumerNotFound)
	})

	n2.start(t)
	ms[1] = n2.member
	n2.waitRegistry(t, n2.member)
	within(t, reconcileTimeout, "node 2 to drop its stale copy", func() bool { return n2.node.RegistryStats().Stale.Load() == 1 })
	if h := sessionHolders(ms, "s"); !slices.Equal(h, []string{adopter.node.ID()}) {
		t.Fatalf("the session is held by %v, want the adopter %s alone", h, adopter.node.ID())
	}
	if o := n3.owner(t, "s"); o != adopter.node.ID() {
		t.Fatalf("tern_sessions names %s as the owner, want the adopter %s", o, adopter.node.ID())
	}
	pub.Publish(t, 1, "rs/x", "after")
	back, ack := connectV5(t, adopter, "s", false, 600)
	if !ack.SessionPresent {
		t.Fatal("Session Present 0 for the adopted session [MQTT-3.2.2-3]")
	}
	seen := expectAll(t, back, "m0", "m1", "m2", "after")
	back.ExpectIdle(t)
	if seen["after"] != 1 {
		t.Errorf("the message published after the restart came %d times, want once", seen["after"])
	}
	watcher.ExpectIdle(t) // no second will
	if r := n2.node.RegistryStats().Reclaimed.Load(); r != 0 {
		t.Errorf("node 2 took back %d sessions the adopter holds", r)
	}
}

// TestRestartDefersToReaper: when node 2 starts again while a survivor
// holds reaper.<its old id> (adopting the earlier incarnation's sessions),
// it does not take the session back until that reaper is done: here the
// reaper goes away without adopting it (its key is deleted), and only
// then does node 2 take it back, with its queued messages.
func TestRestartDefersToReaper(t *testing.T) {
	ms, n2 := startRestartable(t)
	n1, n3 := ms[0], ms[2]
	p := persistentClient(t, n2.member, "s", 60)
	p.Close()
	testkit.WaitFor(t, brokerkit.Offline(t, n2.b.Server, "s"), "the session to go offline")
	pub := dial(t, n3, codec.V5, "pub")
	pub.Publish(t, 1, "rs/x", "m0")
	eventually(t, "node 2 to queue the message and write it through", func() bool {
		s, ok := n2.session("s")
		return ok && s.Queued == 1 && n3.sessq(t, "s") == 1
	})
	old := n2.node.ID()
	n2.kill(t)
	reaper := reaperPrefix + old
	if _, err := n1.node.reg.nodes.Create(testkit.Context(t), reaper, []byte(n1.node.ID())); err != nil {
		t.Fatal(err)
	}
	n2.start(t)
	ms[1] = n2.member
	n2.waitRegistry(t, n2.member)
	within(t, reconcileTimeout, "node 2 to defer to the reaper", func() bool { return n2.node.RegistryStats().Deferred.Load() == 1 })
	if r := n2.node.RegistryStats().Reclaimed.Load(); r != 0 {
		t.Fatalf("node 2 took %d sessions back while %s holds %s", r, n1.node.ID(), reaper)
	}
	// The reaper ends without adopting the session (it died, say): its
	// key goes, and node 2 takes the session back.
	if err := n1.node.reg.nodes.Delete(testkit.Context(t), reaper); err != nil {
		t.Fatal(err)
	}
	within(t, reconcileTimeout, "node 2 to take its session back", func() bool { return n2.node.RegistryStats().Reclaimed.Load() == 1 })
	back, ack := connectV5(t, n2.member, "s", false, 600)
	if !ack.SessionPresent {
		t.Fatal("Session Present 0 for the session node 2 took back [MQTT-3.2.2-3]")
	}
	expectAll(t, back, "m0")
	back.ExpectIdle(t)
}
