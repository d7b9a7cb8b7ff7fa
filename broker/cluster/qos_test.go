package cluster

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
	"github.com/ternmq/tern/internal/testkit/brokerkit"
)

// startDurableCluster is startCluster, which waits for the streams too.
func startDurableCluster(t testing.TB, n int) []member {
	t.Helper()
	return startCluster(t, n)
}

// waitStreams waits until every node's streams and consumer are set up.
func waitStreams(t testing.TB, ms []member) {
	t.Helper()
	timer := time.NewTimer(joinTimeout)
	defer timer.Stop()
	start := time.Now()
	for _, m := range ms {
		select {
		case <-m.node.Ready():
		case <-timer.C:
			t.Fatalf("the streams of %s not ready within %v", m.node.ID(), joinTimeout)
		}
	}
	t.Logf("streams ready on all %d nodes %v later", len(ms), time.Since(start))
}

// consumers returns the number of consumers of the stream.
func (m member) consumers(t testing.TB, stream string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(testkit.Context(t), callTimeout)
	defer cancel()
	s, err := m.node.JetStream().Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Consumers
}

// recvAll receives n PUBLISH packets, acknowledges each as its QoS asks,
// and returns them described as ExpectPublish writes them, sorted (QoS 0
// travels on core NATS and QoS 1/2 through the stream, so their order
// between each other is not kept).
func recvAll(t testing.TB, p *testkit.Peer, n int) []string {
	t.Helper()
	var got []string
	rels := 0 // PUBRELs awaited
	for len(got) < n || rels > 0 {
		switch m := p.Recv(t).(type) {
		case *codec.Publish:
			got = append(got, fmt.Sprintf("q%d dup=%d retain=%d %s %q", m.QoS, b2i(m.Dup), b2i(m.Retain), m.Topic, m.Payload))
			switch m.QoS {
			case 1:
				p.Send(t, &codec.Puback{Ack: codec.Ack{PacketID: m.PacketID}})
			case 2:
				p.Send(t, &codec.Pubrec{Ack: codec.Ack{PacketID: m.PacketID}})
				rels++
			}
		case *codec.Pubrel:
			p.Send(t, &codec.Pubcomp{Ack: codec.Ack{PacketID: m.PacketID}})
			rels--
		default:
			t.Fatalf("got %s, want PUBLISH or PUBREL", testkit.Describe(m))
		}
	}
	slices.Sort(got)
	return got
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestThreeNodesQoS12 publishes on node 1 at QoS 0, 1 and 2 from 3.1.1 and
// 5.0 clients and receives on node 3 at the published QoS, once each, for
// 3.1.1 and 5.0 subscribers. The publisher's PUBACK and PUBREC come after
// the stream has the message [MQTT-4.3.2-2] [MQTT-4.3.3-2] (of 3.1.1: the
// receiver acknowledges having accepted ownership); node 1 delivers to its
// own subscriber once, when its consumer brings the message back (the
// uniform path: every QoS 1/2 delivery passes through the stream).
func TestThreeNodesQoS12(t *testing.T) {
	ms := startDurableCluster(t, 3)
	n1, n3 := ms[0], ms[2]
	subs := map[codec.Version]*testkit.Peer{
		codec.V311: dial(t, n3, codec.V311, "sub4"),
		codec.V5:   dial(t, n3, codec.V5, "sub5"),
	}
	for _, p := range subs {
		p.Subscribe(t, 2, "q/#")
	}
	local := dial(t, n1, codec.V5, "local")
	local.Subscribe(t, 2, "q/#")
	n1.interest(t, "q/x", true) // for QoS 0 on core NATS

	var want []string
	for _, v := range []codec.Version{codec.V311, codec.V5} {
		pub := dial(t, n1, v, fmt.Sprintf("pub%d", v))
		for q := range codec.QoS(3) {
			topic, payload := fmt.Sprintf("q/v%d/%d", v, q), fmt.Sprintf("qos %d from %d", q, v)
			pub.Publish(t, q, topic, payload) // waits for PUBACK / PUBREC+PUBCOMP with 0x00
			want = append(want, fmt.Sprintf("q%d dup=0 retain=0 %s %q", q, topic, payload))
		}
	}
	slices.Sort(want)
	for v, p := range subs {
		if got := recvAll(t, p, len(want)); !slices.Equal(got, want) {
			t.Errorf("the %v subscriber on node 3 got\n%q\nwant\n%q", v, got, want)
		}
	}
	if got := recvAll(t, local, len(want)); !slices.Equal(got, want) {
		t.Errorf("the subscriber on node 1 got\n%q\nwant\n%q", got, want)
	}
	s1, s3 := n1.node.DurableStats(), n3.node.DurableStats()
	eventually(t, "node 1 to route its 4 own messages from its consumer", func() bool { return s1.Own.Load() == 4 })
	for _, p := range append([]*testkit.Peer{local}, subs[codec.V311], subs[codec.V5]) {
		p.ExpectIdle(t)
	}
	if s1.Stored.Load() != 4 || s3.Received.Load() != 4 || s1.Received.Load() != 0 {
		t.Errorf("node 1 stored %d and received %d, node 3 received %d; want 4, 0, 4", s1.Stored.Load(), s1.Received.Load(), s3.Received.Load())
	}
	if c := n1.consumers(t, StreamQoS); c != 3 {
		t.Errorf("%s has %d consumers, want 3 (one per node)", StreamQoS, c)
	}
}

// TestOneConsumerPerNode opens many persistent sessions with QoS 1 and 2
// subscriptions on all three nodes: TERN_QOS keeps exactly 3 consumers,
// one per node, and a QoS 1 message reaches every session once.
func TestOneConsumerPerNode(t *testing.T) {
	const perNode = 20
	ms := startDurableCluster(t, 3)
	var peers []*testkit.Peer
	for i, m := range ms {
		for j := range perNode {
			v := codec.V311
			if j%2 == 1 {
				v = codec.V5
			}
			p := testkit.Dial(t, m.b.Addr, v)
			p.Connect(t, &codec.Connect{ClientID: fmt.Sprintf("s%d-%d", i, j), KeepAlive: 60,
				Properties: codec.Properties{SessionExpiryInterval: 300}})
			p.Subscribe(t, codec.QoS(1+j%2), "load/#", fmt.Sprintf("load/%d/+", j))
			peers = append(peers, p)
		}
	}
	for _, m := range ms {
		if c := m.consumers(t, StreamQoS); c != 3 {
			t.Fatalf("%s has %d consumers with %d sessions, want 3", StreamQoS, c, len(peers))
		}
	}
	pub := dial(t, ms[0], codec.V5, "pub")
	pub.Publish(t, 1, "load/3/x", "to all")
	for _, p := range peers {
		p.ExpectMessage(t, "load/3/x", "to all") // one copy per session [MQTT-3.3.5-1]
	}
	for _, p := range peers {
		p.ExpectIdle(t)
	}
	if c := ms[2].consumers(t, StreamQoS); c != 3 {
		t.Errorf("%s has %d consumers after delivery, want 3", StreamQoS, c)
	}

	// A persistent session of node 3 that is offline gets node 1's QoS 1
	// message in its queue, and on resuming [MQTT-3.1.2-4] (3.1.1).
	last := peers[len(peers)-1] // s2-19, 5.0, QoS 2 on load/#
	last.Disconnect(t)
	testkit.WaitFor(t, brokerkit.Offline(t, ms[2].b.Server, fmt.Sprintf("s2-%d", perNode-1)), "the session offline")
	received := ms[2].node.DurableStats().Received.Load()
	pub.Publish(t, 1, "load/9/y", "queued")
	// Taken by node 3 while the session is offline: into its queue.
	eventually(t, "node 3 to take the message", func() bool { return ms[2].node.DurableStats().Received.Load() > received })
	back := testkit.Dial(t, ms[2].b.Addr, codec.V5)
	if ack := back.Connect(t, &codec.Connect{ClientID: fmt.Sprintf("s2-%d", perNode-1), KeepAlive: 60,
		Properties: codec.Properties{SessionExpiryInterval: 300}}); !ack.SessionPresent {
		t.Fatal("Session Present 0 on resuming a persistent session")
	}
	back.ExpectMessage(t, "load/9/y", "queued")
}

// TestQoSNoQuorum stops two of the three nodes: the survivor refuses QoS
// 1 and 2 publishes it cannot have replicated, with 0x97 (Quota exceeded)
// for a 5.0 publisher and by closing the connection of a 3.1.1 publisher
// (its PUBACK carries no reason code), never with a success, and delivers
// them to nobody; QoS 0 still works on the node. The clients connect
// before: without a majority, a CONNECT cannot register its client id.
func TestQoSNoQuorum(t *testing.T) {
	ms := startSessions(t, 3)
	n1 := ms[0]
	local := dial(t, n1, codec.V5, "local")
	local.Subscribe(t, 1, "nq/#")
	pub5 := dial(t, n1, codec.V5, "pub5")
	pub4 := dial(t, n1, codec.V311, "pub4")
	ms[1].node.Close()
	ms[2].node.Close()

	pub5.Send(t, &codec.Publish{QoS: 1, PacketID: 1, Topic: "nq/a", Payload: []byte("one")})
	pub5.ExpectDescribed(t, "PUBACK id=1 rc=0x97")
	pub5.Send(t, &codec.Publish{QoS: 2, PacketID: 2, Topic: "nq/b", Payload: []byte("two")})
	pub5.ExpectDescribed(t, "PUBREC id=2 rc=0x97")
	pub5.Publish(t, 0, "nq/c", "three")

	pub4.Send(t, &codec.Publish{QoS: 1, PacketID: 1, Topic: "nq/d", Payload: []byte("four")})
	pub4.ExpectClosed(t)

	if r := n1.node.DurableStats().Refused.Load(); r < 3 {
		t.Errorf("node 1 counted %d refusals, want 3", r)
	}
	// The local subscriber got the QoS 0 message and none of the refused
	// ones: a QoS 1/2 message is routed only once the stream holds it.
	local.ExpectPublish(t, `q0 dup=0 retain=0 nq/c "three"`)
	local.ExpectIdle(t)
}
