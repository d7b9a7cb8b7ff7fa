package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/broker/bridge"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// TestClusterBridgeOneOwner runs one configured bridge on three tern
// nodes (in this process, each with its own embedded nats-server) to a
// real mosquitto, through a proxy that counts the connections: only the
// node that holds the bridge's lease connects, so mosquitto sees ONE
// connection, and only that node has a state topic ($SYS stays on its
// node; the others publish no "0"). Then mosquitto is cut off and QoS 1
// messages wait, unacknowledged, in the bridge's local session on the
// owner; the owner's bridges stop (the first step of its shutdown): the
// lease moves to another node at once, whose bridge takes the local
// session over with the waiting messages and delivers them once mosquitto
// is back. Last the second owner node shuts down altogether, and the third
// node's bridge carries messages again. Never two connections at once.
func TestClusterBridgeOneOwner(t *testing.T) {
	if testing.Short() {
		t.Skip("three cluster nodes and mosquitto")
	}
	remote := testkit.FreePort(t)
	testkit.StartMosquitto(t, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true", remote))
	px := startCountingProxy(t, fmt.Sprintf("127.0.0.1:%d", remote))
	sub := testkit.Dial(t, fmt.Sprintf("127.0.0.1:%d", remote), codec.V5)
	sub.Connect(t, &codec.Connect{ClientID: "far", CleanStart: true})
	sub.Subscribe(t, 1, "site/#")

	conf := fmt.Sprintf(`{"bridges": [{"name": "up", "addresses": ["mqtt://%s"], "topics": ["fw/# out 1 \"\" site/"]}]}`, px.addr())
	ds := startClusterDaemons(t, 3, conf)
	owner := func(want func(int) bool) int {
		t.Helper()
		o := -1
		testkit.WaitFor(t, testkit.Became(t, func() bool {
			for _, d := range ds {
				if d.stopped {
					continue
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				id, _ := d.d.node.LeaseHolder(ctx, "bridge.up")
				cancel()
				o = slices.IndexFunc(ds, func(d *clusterDaemon) bool { return d.d.node.ID() == id })
				return o >= 0 && want(o)
			}
			return false
		}), "the bridge's lease to be held")
		return o
	}
	first := owner(func(int) bool { return true })
	ds[first].waitState(t, "1")
	other := (first + 1) % 3
	ds[other].expectNoState(t)

	// A message published on another node crosses to mosquitto through
	// the owner's bridge.
	pub := ds[other].client(t, "pub")
	probe(t, pub, sub)
	pub.Publish(t, 1, "fw/a", "one")
	sub.ExpectMessage(t, "site/fw/a", "one")
	if total, most := px.counts(); total != 1 || most != 1 {
		t.Fatalf("mosquitto saw %d bridge connections (%d at once), want 1", total, most)
	}

	// mosquitto out of reach (once the bridge has settled "one": it would
	// rightly come again otherwise): three QoS 1 messages wait in the
	// bridge's local session on the owner, sent to the bridge,
	// unacknowledged.
	const local = "local.tern.up" // the bridge's local client id: the same on every node
	ds[first].settled(t, local)
	px.cut()
	for i := range 3 {
		pub.Publish(t, 1, "fw/q", strconv.Itoa(i))
	}
	testkit.WaitFor(t, testkit.Became(t, func() bool {
		s, ok := ds[first].session(local)
		return ok && s.Inflight+s.Queued == 3
	}), "the owner's bridge session to hold the 3 messages")
	ds[first].d.bridges() // the first step of its shutdown
	second := owner(func(o int) bool { return o != first })
	testkit.WaitFor(t, testkit.Became(t, func() bool {
		s, ok := ds[second].session(local)
		_, still := ds[first].session(local)
		return ok && s.Online && !still
	}), "the new owner to take the bridge's local session over")
	ds[first].expectNoState(t)
	px.reopen()
	ds[second].waitState(t, "1")
	for i := range 3 {
		p := testkit.Expect[*codec.Publish](t, sub)
		if p.Topic != "site/fw/q" || string(p.Payload) != strconv.Itoa(i) {
			t.Fatalf("mosquitto's subscriber got %s, want site/fw/q %q", testkit.Describe(p), strconv.Itoa(i))
		}
		sub.Ack(t, p)
	}

	// Once the bridge has its PUBACKs (else the third node forwards the
	// messages again: at least once), the second owner stops altogether
	// and the third node takes over.
	ds[second].settled(t, local)
	ds[second].stop(t)
	third := owner(func(o int) bool { return o != first && o != second })
	ds[third].waitState(t, "1")
	pub3 := ds[third].client(t, "pub3")
	pub3.Publish(t, 1, "fw/b", "again")
	sub.ExpectMessage(t, "site/fw/b", "again")
	sub.ExpectIdle(t)
	if total, most := px.counts(); total != 3 || most != 1 {
		t.Errorf("mosquitto saw %d bridge connections (%d at once), want 3 (one per owner), one at a time", total, most)
	}
}

// probe publishes QoS 0 messages on fw/probe until one reaches
// mosquitto's subscriber: the bridge's subscription has reached pub's
// node.
func probe(t *testing.T, pub, sub *testkit.Peer) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	timeout := time.NewTimer(testTimeout)
	defer timeout.Stop()
	for {
		pub.Publish(t, 0, "fw/probe", "probe")
		select {
		case <-tick.C:
		case <-timeout.C:
			t.Fatal("no probe crossed the bridge")
		}
		got := false
		for {
			p, ok := sub.Poll()
			if !ok {
				break
			}
			m, ok := p.(*codec.Publish)
			if !ok || m.Topic != "site/fw/probe" {
				t.Fatalf("mosquitto's subscriber got %s, want probes", testkit.Describe(p))
			}
			got = true
		}
		if got {
			return
		}
	}
}

// clusterDaemon is one in-process tern with --cluster.
type clusterDaemon struct {
	d       *daemon
	stopped bool
	once    sync.Once
}

// startClusterDaemons starts n tern daemons in this process with
// --cluster (in memory, JetStream in a temporary directory), routed to
// one another, each with the JSON config conf and quick bridge
// reconnects; each stops when the test ends.
func startClusterDaemons(t *testing.T, n int, conf string) []*clusterDaemon {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tern.json")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	ports := make([]string, n)
	for i := range ports {
		ports[i] = "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
	}
	ds := make([]*clusterDaemon, n)
	for i := range ds {
		cfg, err := parse([]string{"--config", path, "--in-memory", "--mqtt", "127.0.0.1:0", "--http", "",
			"--cluster", "--cluster-node", fmt.Sprintf("n%d", i+1), "--cluster-listen", ports[i],
			"--cluster-routes", strings.Join(slices.Delete(slices.Clone(ports), i, i+1), ","),
			"--cluster-store", t.TempDir(), "--cluster-max-memory", strconv.Itoa(16 << 20), "--cluster-max-store", strconv.Itoa(64 << 20)},
			io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		for j := range cfg.Bridges {
			cfg.Bridges[j].MinBackoff, cfg.Bridges[j].MaxBackoff = 20*time.Millisecond, 200*time.Millisecond
		}
		def := defaults()
		cfg.ConnectTimeout, cfg.ReceiveMaximum, cfg.MaxPacketSize, cfg.MaxInflight, cfg.MaxQueued =
			def.ConnectTimeout, def.ReceiveMaximum, def.MaxPacketSize, def.MaxInflight, def.MaxQueued
		d, err := start(context.Background(), cfg, testLogger().With("test_node", i+1))
		if err != nil {
			t.Fatal(err)
		}
		ds[i] = &clusterDaemon{d: d}
		t.Cleanup(func() { ds[i].stop(t) })
	}
	// The streams (QoS 1/2 and retained) and the consumers are set up in
	// the background: a QoS 1 publish before would be refused (0x97).
	join := time.NewTimer(time.Minute) // JetStream's election, slow under load
	defer join.Stop()
	for i, d := range ds {
		select {
		case <-d.d.node.Ready():
		case <-join.C:
			t.Fatalf("the streams of node %d not ready within a minute", i+1)
		}
	}
	return ds
}

// stop shuts the daemon down, once.
func (c *clusterDaemon) stop(t *testing.T) {
	c.once.Do(func() {
		c.stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 2*testTimeout)
		defer cancel()
		if err := c.d.shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
}

// client connects a clean 5.0 client to the daemon.
func (c *clusterDaemon) client(t *testing.T, id string) *testkit.Peer {
	t.Helper()
	p := testkit.Dial(t, c.d.addrs["mqtt"], codec.V5)
	p.Connect(t, &codec.Connect{ClientID: id, CleanStart: true})
	return p
}

// waitState waits until the bridge's state topic on this node says want.
func (c *clusterDaemon) waitState(t *testing.T, want string) {
	t.Helper()
	p := c.client(t, "state-watch")
	defer p.Close()
	p.Subscribe(t, 1, bridge.StateTopic("up"))
	for {
		m := testkit.Expect[*codec.Publish](t, p)
		p.Ack(t, m)
		if string(m.Payload) == want {
			return
		}
	}
}

// expectNoState checks that this node keeps no state of the bridge.
func (c *clusterDaemon) expectNoState(t *testing.T) {
	t.Helper()
	p := c.client(t, "state-none")
	defer p.Close()
	p.Subscribe(t, 1, bridge.StateTopic("up"))
	p.ExpectIdle(t)
}

// settled waits until session id on this node has nothing in flight or
// queued.
func (c *clusterDaemon) settled(t *testing.T, id string) {
	t.Helper()
	testkit.WaitFor(t, testkit.Became(t, func() bool {
		s, ok := c.session(id)
		return ok && s.Inflight+s.Queued == 0
	}), "session "+id+" to settle")
}

// session returns the session id on this node.
func (c *clusterDaemon) session(id string) (broker.SessionInfo, bool) {
	for _, s := range c.d.srv.Sessions() {
		if s.ID == id {
			return s, true
		}
	}
	return broker.SessionInfo{}, false
}

// countingProxy forwards TCP connections to a target and counts them;
// cut closes them and refuses new ones until reopen.
type countingProxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu          sync.Mutex
	closed      bool
	live        map[net.Conn]bool
	total, most int
}

func startCountingProxy(t *testing.T, target string) *countingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{ln: ln, target: target, live: map[net.Conn]bool{}}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *countingProxy) addr() string { return p.ln.Addr().String() }

func (p *countingProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.total++
		p.live[c] = true
		p.most = max(p.most, len(p.live))
		p.mu.Unlock()
		p.wg.Go(func() { p.pipe(c) })
	}
}

// pipe copies between c and a new connection to the target until either
// side ends.
func (p *countingProxy) pipe(c net.Conn) {
	defer func() {
		p.mu.Lock()
		delete(p.live, c)
		p.mu.Unlock()
		c.Close()
	}()
	u, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer u.Close()
	done := make(chan struct{}, 2)
	go func() { io.Copy(u, c); done <- struct{}{} }()
	go func() { io.Copy(c, u); done <- struct{}{} }()
	<-done
	c.Close()
	u.Close()
	<-done
}

// cut closes every forwarded connection and refuses new ones.
func (p *countingProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for c := range p.live {
		c.Close()
	}
}

// reopen forwards new connections again.
func (p *countingProxy) reopen() {
	p.mu.Lock()
	p.closed = false
	p.mu.Unlock()
}

// counts returns the connections forwarded so far, and the most at once.
func (p *countingProxy) counts() (total, most int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.total, p.most
}
