package cluster

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// shareMember is a client of a shared subscription on node `node` (index
// into the cluster) and the payloads it received.
type shareMember struct {
	p    *testkit.Peer
	node int
	got  []string
}

// queueRoutes waits until each node's nats-server knows, over its routes,
// the queue subscriptions of the shared subscription $share/{group}/{filter}
// of exactly the other nodes among holders (indexes into ms).
func queueRoutes(t *testing.T, ms []member, group, filter string, holders ...int) {
	t.Helper()
	subj, q := FilterSubjects(filter)[0], queueName(group, filter)
	for i, m := range ms {
		var want []string
		for _, h := range holders {
			if h != i {
				want = append(want, ms[h].node.NATSServer().Name())
			}
		}
		var got []string
		eventually(t, fmt.Sprintf("routed queue subscriptions of %v at %s", want, m.node.ID()), func() bool {
			rz, err := m.node.NATSServer().Routez(&server.RoutezOptions{SubscriptionsDetail: true})
			if err != nil {
				return false
			}
			got = got[:0]
			for _, r := range rz.Routes {
				for _, s := range r.SubsDetail {
					if s.Subject == subj && s.Queue == q && !slices.Contains(got, r.RemoteName) {
						got = append(got, r.RemoteName)
					}
				}
			}
			slices.Sort(got)
			return slices.Equal(got, want)
		})
	}
}

// TestSharedAcrossNodes: a shared subscription with members on all three
// nodes gets each of N QoS 0 messages, published on the three nodes in
// turn, exactly once in total (5.0 section 4.8.2: a message goes to one
// member), spread over members on more than one node, at the QoS granted
// to the member who gets it [MQTT-4.8.2-3]. A plain subscriber on the same
// topic still receives every message once, and the copies that reach a
// node for it (InjectRemote) are not handed to the node's members again.
// The last member leaving a node takes the node out of the queue group.
func TestSharedAcrossNodes(t *testing.T) {
	const n = 30
	ms := startCluster(t, 3)

	// A group's first member on a node is in the queue group when its
	// SUBACK comes: a message published right after on that node reaches it.
	solo := dial(t, ms[0], codec.V5, "solo")
	solo.Subscribe(t, 0, "$share/solo/one/t")
	pub0 := dial(t, ms[0], codec.V5, "pub0")
	pub0.Publish(t, 0, "one/t", "first")
	solo.ExpectPublish(t, `q0 dup=0 retain=0 one/t "first"`)

	members := []*shareMember{
		{p: dial(t, ms[0], codec.V5, "a1"), node: 0},
		{p: dial(t, ms[1], codec.V5, "b1"), node: 1},
		{p: dial(t, ms[1], codec.V311, "b2"), node: 1},
		{p: dial(t, ms[2], codec.V5, "c1"), node: 2},
	}
	for i, m := range members {
		m.p.Subscribe(t, codec.QoS(i%2), "$share/g/s/+") // granted QoS 0 or 1
	}
	for i, m := range ms {
		want := 1
		if i == 0 {
			want = 2 // and solo's
		}
		if got := m.node.SharedGroups(); got != want {
			t.Fatalf("node %d is in %d queue groups, want %d", i+1, got, want)
		}
	}
	plain := dial(t, ms[2], codec.V5, "plain")
	plain.Subscribe(t, 0, "s/#")
	queueRoutes(t, ms, "g", "s/+", 0, 1, 2)
	ms[0].interest(t, "s/x", true) // and node 3's plain one
	ms[1].interest(t, "s/x", true)

	pubs := []*testkit.Peer{pub0, dial(t, ms[1], codec.V311, "pub1"), dial(t, ms[2], codec.V5, "pub2")}
	for i := range n {
		pubs[i%3].Publish(t, 0, "s/x", fmt.Sprintf("m%02d", i))
	}
	total := func() int {
		c := 0
		for _, m := range members {
			for {
				p, ok := m.p.Poll()
				if !ok {
					break
				}
				pub, ok := p.(*codec.Publish)
				if !ok || pub.QoS != 0 || pub.Topic != "s/x" {
					t.Fatalf("member on node %d got %s, want a QoS 0 PUBLISH to s/x", m.node+1, testkit.Describe(p))
				}
				m.got = append(m.got, string(pub.Payload))
			}
			c += len(m.got)
		}
		return c
	}
	eventually(t, fmt.Sprintf("%d messages to the members", n), func() bool { return total() >= n })
	delivered := func() (d, missed uint64) {
		for _, m := range ms {
			d += m.node.SharedStats().Delivered.Load()
			missed += m.node.SharedStats().Missed.Load()
		}
		return d, missed
	}
	// "first" and the n: once the nodes have handed out all of them,
	// nothing more can come.
	eventually(t, "the nodes to deliver n+1 shared messages", func() bool { d, _ := delivered(); return d == n+1 })
	for _, m := range members {
		m.p.ExpectIdle(t)
	}
	total()

	onceEach(t, members, n)
	if _, missed := delivered(); missed != 0 {
		t.Errorf("%d shared messages reached a node without the group", missed)
	}
	// Three publishers on three nodes: no order between them.
	var plainGot []string
	for range n {
		plainGot = append(plainGot, string(testkit.Expect[*codec.Publish](t, plain).Payload))
	}
	plain.ExpectIdle(t)
	if slices.Sort(plainGot); len(slices.Compact(slices.Clone(plainGot))) != n {
		t.Errorf("the plain subscriber got %v, want each of the %d messages once", plainGot, n)
	}

	// Members leave node 2 one by one: the node stays in the queue group
	// until the last has gone.
	members[1].p.Disconnect(t)
	members[2].p.Send(t, &codec.Unsubscribe{PacketID: 9, Filters: []string{"$share/g/s/+"}})
	testkit.Expect[*codec.Unsuback](t, members[2].p)
	eventually(t, "node 2 to leave the queue group", func() bool { return ms[1].node.SharedGroups() == 0 })
	queueRoutes(t, ms, "g", "s/+", 0, 2)
}

// onceEach checks that each of the n messages m00, m01, … reached the
// members of a group exactly once in all, and members on more than one
// node.
func onceEach(t *testing.T, members []*shareMember, n int) {
	t.Helper()
	seen := map[string]int{}
	perNode := map[int]int{}
	for _, m := range members {
		for _, p := range m.got {
			seen[p]++
		}
		perNode[m.node] += len(m.got)
	}
	for i := range n {
		if p := fmt.Sprintf("m%02d", i); seen[p] != 1 {
			t.Errorf("%s reached the group %d times, want once", p, seen[p])
		}
	}
	if len(seen) != n {
		t.Errorf("the group got %d distinct messages, want %d: %v", len(seen), n, slices.Sorted(maps.Keys(seen)))
	}
	t.Logf("messages per node: %v", perNode)
	if len(perNode) < 2 {
		t.Errorf("all %d messages went to members on one node: %v", n, perNode)
	}
}
