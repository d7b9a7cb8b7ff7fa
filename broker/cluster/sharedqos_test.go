package cluster

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
	"github.com/ternmq/tern/internal/testkit/brokerkit"
)

// take receives what m's client got so far without waiting, acknowledges
// it, checks that each is a PUBLISH at QoS want, and returns m's count.
func (m *shareMember) take(t testing.TB, want codec.QoS) int {
	t.Helper()
	for {
		p, ok := m.p.Poll()
		if !ok {
			return len(m.got)
		}
		pub, ok := p.(*codec.Publish)
		if !ok || pub.QoS != want {
			t.Fatalf("member on node %d got %s, want a QoS %d PUBLISH", m.node+1, testkit.Describe(p), want)
		}
		m.p.Ack(t, pub)
		m.got = append(m.got, string(pub.Payload))
	}
}

// sharedDurable returns the QoS 1/2 shared-subscription messages the
// nodes gave to their members, and those they handed back.
func sharedDurable(ms []member) (delivered, returned uint64) {
	for _, m := range ms {
		delivered += m.node.SharedStats().Durable.Load()
		returned += m.node.SharedStats().Returned.Load()
	}
	return delivered, returned
}

// TestSharedQoS1AcrossNodes: a shared subscription with members on all
// three nodes gets each of n QoS 1 messages, published on the three nodes
// in turn, exactly once in total (5.0 section 4.8.2: a message goes to one
// member; none is lost or doubled on a healthy cluster), spread over
// members on more than one node, at the QoS granted to the member who got
// it [MQTT-4.8.2-3]. The group has one consumer on TERN_QOS whatever its
// number of members and nodes (cluster.md: consumers = nodes + groups),
// and a filter ending in '#' also gets its parent level ("q/#" and "q").
func TestSharedQoS1AcrossNodes(t *testing.T) {
	const n = 30
	ms := startDurableCluster(t, 3)
	members := []*shareMember{
		{p: dial(t, ms[0], codec.V5, "a1"), node: 0},
		{p: dial(t, ms[1], codec.V311, "b1"), node: 1},
		{p: dial(t, ms[1], codec.V5, "b2"), node: 1},
		{p: dial(t, ms[2], codec.V5, "c1"), node: 2},
	}
	granted := []codec.QoS{1, 1, 0, 1} // b2's QoS 0 caps what it gets
	for i, m := range members {
		m.p.Subscribe(t, granted[i], "$share/g/q/#")
	}
	// Each SUBACK came after the node pulls from the group's consumer.
	for i, m := range ms {
		if c := m.consumers(t, StreamQoS); c != len(ms)+1 {
			t.Fatalf("%s has %d consumers with %d members of one group, want %d (one per node and one for the group)", StreamQoS, c, len(members), len(ms)+1)
		}
		if c := m.node.SharedConsumers(); c != 1 {
			t.Fatalf("node %d pulls from %d group consumers, want 1", i+1, c)
		}
	}

	pubs := []*testkit.Peer{dial(t, ms[0], codec.V5, "pub0"), dial(t, ms[1], codec.V311, "pub1"), dial(t, ms[2], codec.V5, "pub2")}
	for i := range n {
		topic := "q/x"
		if i%5 == 0 {
			topic = "q" // the parent level of q/#
		}
		pubs[i%3].Publish(t, 1, topic, fmt.Sprintf("m%02d", i))
	}
	total := func() int {
		c := 0
		for i, m := range members {
			c += m.take(t, granted[i])
		}
		return c
	}
	eventually(t, fmt.Sprintf("%d messages to the members", n), func() bool { return total() >= n })
	// Once the nodes have handed out n, nothing more can come.
	eventually(t, "the nodes to deliver n shared messages", func() bool { d, _ := sharedDurable(ms); return d >= n })
	for _, m := range members {
		m.p.ExpectIdle(t)
	}
	total()

	onceEach(t, members, n)
	if d, returned := sharedDurable(ms); d != n || returned != 0 {
		t.Errorf("the nodes delivered %d shared messages and handed %d back, want %d and 0", d, returned, n)
	}
	for i, m := range ms {
		if st := m.node.SharedStats(); st.LocalOnly.Load() != 0 || st.Missed.Load() != 0 {
			t.Errorf("node %d: %d QoS 1 messages on a queue subscription, %d missed; want none", i+1, st.LocalOnly.Load(), st.Missed.Load())
		}
	}
}

// TestSharedQoS1MembersLeave: when the members of a group leave one node,
// the node stops pulling from the group's consumer and the messages go to
// the other nodes' members. A persistent member that is offline stays a
// member (as without a cluster: its session queue takes the message) and
// gets the messages on resuming. With no member anywhere, the messages
// wait in the group's consumer, which outlives its last puller (JetStream
// deletes it after sharedInactive), and a member that joins then gets them.
func TestSharedQoS1MembersLeave(t *testing.T) {
	const share = "$share/w/w/+"
	ms := startSessions(t, 3)
	a := dial(t, ms[0], codec.V5, "wa")
	a.Subscribe(t, 1, share)
	b, _ := connectV5(t, ms[1], "wb", true, 300)
	b.Subscribe(t, 1, share)
	pub := dial(t, ms[2], codec.V5, "wpub")
	publish := func(prefix string, k int) []string {
		var want []string
		for i := range k {
			p := fmt.Sprintf("%s%d", prefix, i)
			pub.Publish(t, 1, "w/1", p)
			want = append(want, fmt.Sprintf("q1 dup=0 retain=0 w/1 %q", p))
		}
		return want
	}
	check := func(p *testkit.Peer, want []string) {
		t.Helper()
		if got := recvAll(t, p, len(want)); !slices.Equal(got, want) {
			t.Fatalf("got %q, want %q", got, want)
		}
	}

	// a's session ends with its connection: node 1 leaves the group.
	a.Disconnect(t)
	eventually(t, "node 1 to stop pulling", func() bool { return ms[0].node.SharedConsumers() == 0 })
	check(b, publish("x", 5))
	b.ExpectIdle(t)

	// b is offline, its session kept: node 2 still pulls and queues.
	b.Disconnect(t)
	testkit.WaitFor(t, brokerkit.Offline(t, ms[1].b.Server, "wb"), "wb offline")
	want := publish("y", 5)
	eventually(t, "node 2 to take the messages for its offline member", func() bool {
		return ms[1].node.SharedStats().Durable.Load() == 10
	})
	b, ack := connectV5(t, ms[1], "wb", false, 300)
	if !ack.SessionPresent {
		t.Fatal("Session Present 0 on resuming a persistent session")
	}
	check(b, want)

	// No member anywhere: the messages wait in the consumer.
	b.Send(t, &codec.Unsubscribe{PacketID: 9, Filters: []string{share}})
	testkit.Expect[*codec.Unsuback](t, b)
	eventually(t, "node 2 to stop pulling", func() bool { return ms[1].node.SharedConsumers() == 0 })
	want = publish("z", 4)
	cons, err := ms[2].node.JetStream().Consumer(testkit.Context(t), StreamQoS, sharedConsumerName("w", "w/+"))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the group's consumer to hold the 4 messages", func() bool {
		info, err := cons.Info(testkit.Context(t))
		return err == nil && info.NumPending == 4
	})
	if c := ms[2].consumers(t, StreamQoS); c != len(ms)+1 {
		t.Errorf("%s has %d consumers, want %d", StreamQoS, c, len(ms)+1)
	}
	// The waiting messages may come before the SUBACK: the node pulls
	// before the broker sends it.
	c := dial(t, ms[2], codec.V5, "wc")
	c.Send(t, &codec.Subscribe{PacketID: 7, Subscriptions: []codec.Subscription{{Filter: share, QoS: 1}}})
	var got []string
	for suback := false; !suback || len(got) < len(want); {
		switch p := c.Recv(t).(type) {
		case *codec.Suback:
			if suback || p.PacketID != 7 || !slices.Equal(p.ReasonCodes, []codec.ReasonCode{1}) {
				t.Fatalf("got %s, want one SUBACK id=7 granting QoS 1", testkit.Describe(p))
			}
			suback = true
		case *codec.Publish:
			got = append(got, fmt.Sprintf("q%d dup=%d retain=%d %s %q", p.QoS, b2i(p.Dup), b2i(p.Retain), p.Topic, p.Payload))
			c.Ack(t, p)
		default:
			t.Fatalf("got %s, want SUBACK or PUBLISH", testkit.Describe(p))
		}
	}
	if slices.Sort(got); !slices.Equal(got, want) {
		t.Fatalf("the new member got %q, want %q", got, want)
	}
	c.ExpectIdle(t)
	b.ExpectIdle(t)
	if _, returned := sharedDurable(ms); returned != 0 {
		t.Errorf("%d shared messages handed back, want 0", returned)
	}
}

// TestSharedConsumerConfig: a group's consumer is named by a hash of
// (group, filter), filters the stream on both subjects of a filter ending
// in '#' (it also matches its parent level), and has a description
// JetStream accepts whatever the filter's length.
func TestSharedConsumerConfig(t *testing.T) {
	long := strings.Repeat("x", 70000)
	for _, tt := range []struct {
		group, filter string
		subjects      []string
	}{
		{"g", "a/+", []string{"tern.qos.m.a.*"}},
		{"g", "a/#", []string{"tern.qos.m.a.>", "tern.qos.m.a"}},
		{"g", "#", []string{"tern.qos.m.>"}},
		{"g h", long, nil},
	} {
		if tt.subjects != nil {
			if got := sharedStreamSubjects(tt.filter); !slices.Equal(got, tt.subjects) {
				t.Errorf("sharedStreamSubjects(%q) = %q, want %q", tt.filter, got, tt.subjects)
			}
		}
		name := sharedConsumerName(tt.group, tt.filter)
		if !strings.HasPrefix(name, "tern-share-") || len(name) != len("tern-share-")+24 || name == sharedConsumerName(tt.group+"x", tt.filter) {
			t.Errorf("sharedConsumerName(%q, %.10q) = %q", tt.group, tt.filter, name)
		}
		if d := sharedDescription(tt.group, tt.filter); len(d) > maxDescription {
			t.Errorf("description of %.10q is %d bytes long", tt.filter, len(d))
		}
	}
}
