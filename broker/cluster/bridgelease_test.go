package cluster

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

func TestLeaseKey(t *testing.T) {
	for _, tt := range []struct{ name, key string }{
		{"bridge.up", "bridge.up"},
		{"bridge.site a", "bridge.site=20a"},
		{"bridge.a.b", "bridge.a.b"},
		{"bridge..x", "bridge.=.x"},
		{"bridge.=20", "bridge.=3D20"},
		{"bridge.*>/é", "bridge.=2A=3E=2F=C3=A9"},
		{"", "="},
	} {
		if got := LeaseKey(tt.name); got != tt.key {
			t.Errorf("LeaseKey(%q) = %q, want %q", tt.name, got, tt.key)
		}
	}
}

func TestLeaseHolderID(t *testing.T) {
	for v, id := range map[string]string{"n1-0a0b#1234abcd": "n1-0a0b", "a#b-01#ff": "a#b-01", "old": "old"} {
		if got := holderID([]byte(v)); got != id {
			t.Errorf("holderID(%q) = %q, want %q", v, got, id)
		}
	}
}

// holders records which nodes run a lease-held function, and when.
type holders struct {
	mu     sync.Mutex
	active map[int]bool
	most   int // the most nodes that ever ran it at once
	starts []leaseEvent
	stops  []leaseEvent
}

type leaseEvent struct {
	node int
	at   time.Time
}

func (h *holders) run(node int) func(context.Context) {
	return func(ctx context.Context) {
		h.mu.Lock()
		h.active[node] = true
		h.most = max(h.most, len(h.active))
		h.starts = append(h.starts, leaseEvent{node, time.Now()})
		h.mu.Unlock()
		<-ctx.Done()
		h.mu.Lock()
		delete(h.active, node)
		h.stops = append(h.stops, leaseEvent{node, time.Now()})
		h.mu.Unlock()
	}
}

// started returns the starts so far.
func (h *holders) started() []leaseEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]leaseEvent(nil), h.starts...)
}

// TestLeaseOneHolder runs one lease-held function on three nodes: exactly
// one runs it at a time, the one tern_leases names. When its RunOwned
// ends (an orderly stop) another node runs it at once, without waiting
// for the lease to expire. When the next holder is cut off (its NATS
// server shut down, as in TestDeadNode) it stops running before the third
// node starts, which happens once the lease has expired.
func TestLeaseOneHolder(t *testing.T) {
	ms := startCluster(t, 3)
	h := &holders{active: map[int]bool{}}
	cancels := make([]context.CancelFunc, len(ms))
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait) // after the cancels (cleanups run last first), before the nodes close
	const name = "bridge.one"
	for i, m := range ms {
		ctx, cancel := context.WithCancel(context.Background())
		cancels[i] = cancel
		t.Cleanup(cancel)
		wg.Go(func() {
			if err := m.node.RunOwned(ctx, name, h.run(i)); err != nil {
				t.Errorf("node %d: RunOwned: %v", i+1, err)
			}
		})
	}
	eventually(t, "one node to run it", func() bool { return len(h.started()) == 1 })
	first := h.started()[0].node
	if id, err := ms[0].node.LeaseHolder(testkit.Context(t), name); err != nil || id != ms[first].node.ID() {
		t.Fatalf("tern_leases names %q (%v), want node %d, %s", id, err, first+1, ms[first].node.ID())
	}
	// Renewals go on: the key is written again past a lease's lifetime,
	// and the first node still runs it alone.
	kv, err := ms[0].node.JetStream().KeyValue(testkit.Context(t), leasesBucket)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(testkit.Context(t), LeaseKey(name))
	if err != nil {
		t.Fatal(err)
	}
	taken := e.Created()
	eventually(t, "the lease to be renewed past its lifetime", func() bool {
		e, err := kv.Get(testkit.Context(t), LeaseKey(name))
		return err == nil && e.Created().Sub(taken) > ownTTL
	})
	if s := h.started(); len(s) != 1 {
		t.Fatalf("%d starts after the lease was renewed, want 1", len(s))
	}

	stopped := time.Now()
	cancels[first]()
	eventually(t, "another node to run it", func() bool { return len(h.started()) == 2 })
	second := h.started()[1]
	handover := second.at.Sub(stopped)
	t.Logf("orderly hand-over from node %d to node %d in %v", first+1, second.node+1, handover)
	if second.node == first || handover >= ownTTL/2 {
		t.Errorf("node %d took over after %v, want another node well within the lease's %v", second.node+1, handover, ownTTL)
	}

	cut := time.Now()
	ms[second.node].node.NATSServer().Shutdown()
	timeout := time.NewTimer(ownTTL + joinTimeout)
	defer timeout.Stop()
	<-testkit.Became(t, func() bool {
		select {
		case <-timeout.C:
			t.Fatalf("no node ran it within %v after node %d was cut off", ownTTL+joinTimeout, second.node+1)
		default:
		}
		return len(h.started()) == 3
	})
	third := h.started()[2]
	h.mu.Lock()
	defer h.mu.Unlock()
	var fenced time.Time
	for _, e := range h.stops {
		if e.node == second.node {
			fenced = e.at
		}
	}
	t.Logf("node %d cut off: it stopped after %v, node %d started after %v", second.node+1, fenced.Sub(cut), third.node+1, third.at.Sub(cut))
	switch {
	case third.node == second.node:
		t.Errorf("node %d ran it again while cut off", third.node+1)
	case fenced.IsZero() || !fenced.Before(third.at):
		t.Errorf("the cut-off node stopped at %v, after node %d started (%v)", fenced, third.node+1, third.at)
	case third.at.Sub(cut) < ownTTL-ownRenew:
		t.Errorf("node %d started %v after the cut, before the lease could expire", third.node+1, third.at.Sub(cut))
	}
	if h.most != 1 {
		t.Errorf("%d nodes ran it at once, want 1", h.most)
	}
}

// TestSysRetainedStaysOnNode: a retained $SYS message (a bridge's state)
// is this node's: a subscriber on the node gets it, one on another node
// does not (JetStream keeps no $SYS message), and nothing else changes.
func TestSysRetainedStaysOnNode(t *testing.T) {
	ms := startCluster(t, 2)
	const topic = "$SYS/broker/connection/x/state"
	if err := ms[0].b.Server.Publish(&broker.Message{Topic: topic, Payload: []byte("1"), QoS: 1, Retain: true}); err != nil {
		t.Fatal(err)
	}
	here := dial(t, ms[0], codec.V5, "here")
	here.Subscribe(t, 1, "$SYS/broker/connection/+/state")
	here.Ack(t, here.ExpectPublish(t, `q1 dup=0 retain=1 `+topic+` "1"`))
	there := dial(t, ms[1], codec.V5, "there")
	there.Subscribe(t, 1, topic)
	there.ExpectIdle(t)
}
