package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ternmq/tern/broker/store"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// clusterNode is one tern process of a test cluster.
type clusterNode struct {
	*ternProc
	name       string
	clientPort int // the embedded nats-server's client port
}

// clusterJoin bounds the wait for JetStream's meta leader and for a
// route between two processes (cluster.md: 1–5 s on two cores; a new
// election after a crash 4–9 s).
const clusterJoin = time.Minute

// startTernCluster starts n tern processes with --cluster on loopback
// ports, each with its own data directory (JetStream in its cluster/
// folder), routed to the others, and waits until JetStream answers on
// each. The processes are killed when the test ends if they still run.
func startTernCluster(t *testing.T, n int) []*clusterNode {
	t.Helper()
	routePorts := make([]int, n)
	for i := range routePorts {
		routePorts[i] = testkit.FreePort(t)
	}
	nodes := make([]*clusterNode, n)
	for i := range nodes {
		var routes []string
		for j, p := range routePorts {
			if j != i {
				routes = append(routes, "127.0.0.1:"+strconv.Itoa(p))
			}
		}
		nodes[i] = &clusterNode{name: fmt.Sprintf("n%d", i+1), clientPort: testkit.FreePort(t)}
		nodes[i].ternProc = startTern(t, filepath.Join(t.TempDir(), "data"), "--cluster",
			"--cluster-node", nodes[i].name,
			"--cluster-listen", "127.0.0.1:"+strconv.Itoa(routePorts[i]),
			"--cluster-routes", strings.Join(routes, ","),
			"--cluster-client-port", strconv.Itoa(nodes[i].clientPort),
			"--cluster-max-memory", strconv.Itoa(16<<20),
			"--cluster-max-store", strconv.Itoa(64<<20))
	}
	start := time.Now()
	for _, c := range nodes {
		c.waitJetStream(t)
		if line := "msg=cluster node=" + c.name + " "; !strings.Contains(c.logs.String(), line) {
			t.Errorf("%s did not log its node and routes (%q):\n%s", c.name, line, c.logs)
		}
	}
	t.Logf("JetStream answered on all %d processes %v after they started", n, time.Since(start))
	// Each node makes its streams after that; a QoS 1 message before is
	// refused with 0x97.
	limit := time.NewTimer(clusterJoin)
	defer limit.Stop()
	for _, c := range nodes {
		select {
		case <-testkit.Became(t, func() bool { return strings.Contains(c.logs.String(), `msg="cluster: streams ready"`) }):
		case <-limit.C:
			t.Fatalf("%s did not make its streams within %v:\n%s", c.name, clusterJoin, c.logs)
		}
	}
	t.Logf("streams ready on all %d processes %v after they started", n, time.Since(start))
	return nodes
}

// waitJetStream polls the node's JetStream through its NATS client port,
// each call with its own timeout, until it answers.
func (c *clusterNode) waitJetStream(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(clusterJoin)
	nc, err := nats.Connect("nats://127.0.0.1:"+strconv.Itoa(c.clientPort), nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatalf("%s: NATS client port: %v\n%s", c.name, err, c.logs)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	pause := time.NewTicker(50 * time.Millisecond)
	defer pause.Stop()
	for {
		call, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := js.AccountInfo(call)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: JetStream did not answer within %v: %v\n%s", c.name, clusterJoin, err, c.logs)
		}
		<-pause.C // a fast failure (no responders yet) is retried after a pause
	}
}

// clusterClient connects a clean 5.0 client to node c.
func clusterClient(t *testing.T, c *clusterNode, id string) *testkit.Peer {
	t.Helper()
	p := testkit.Dial(t, c.addr, codec.V5)
	p.Connect(t, &codec.Connect{ClientID: id, CleanStart: true})
	return p
}

// route carries messages from a publisher on one node to a subscriber on
// another. The subscriber subscribes to prefix/# at qos; probe waits until
// the subscription has reached the publisher's node.
type route struct {
	from, to string // node names, for messages
	pub, sub *testkit.Peer
	prefix   string
	qos      codec.QoS
}

func newRoute(t *testing.T, from, to *clusterNode, prefix string, qos codec.QoS) *route {
	t.Helper()
	r := &route{from: from.name, to: to.name, prefix: prefix, qos: qos,
		pub: clusterClient(t, from, prefix+"-pub"), sub: clusterClient(t, to, prefix+"-sub")}
	r.sub.Subscribe(t, qos, prefix+"/#")
	return r
}

// probe publishes on prefix/probe every 20 ms until the subscriber gets
// one: the subscriber's interest has crossed to the publisher's node.
func (r *route) probe(t *testing.T) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(clusterJoin)
	for time.Now().Before(deadline) {
		r.pub.Publish(t, 0, r.prefix+"/probe", "probe")
		<-tick.C
		for {
			p, ok := r.sub.Poll()
			if !ok {
				break
			}
			if m, ok := p.(*codec.Publish); ok && m.Topic == r.prefix+"/probe" {
				return
			}
		}
	}
	t.Fatalf("no probe from %s reached %s within %v", r.from, r.to, clusterJoin)
}

// carry publishes n messages on the publisher's node and checks that the
// subscriber gets each, in order, skipping late probes. At QoS 0 nothing
// is lost on an unloaded loopback, so every message is expected. (QoS 1
// across a node's crash is qosLoad's, with a window and retries.)
func (r *route) carry(t *testing.T, tag string, n int) {
	t.Helper()
	topic := r.prefix + "/" + tag
	for i := range n {
		r.pub.Publish(t, r.qos, topic, strconv.Itoa(i))
	}
	for i := 0; i < n; {
		p := testkit.Expect[*codec.Publish](t, r.sub)
		if p.Topic == r.prefix+"/probe" {
			continue
		}
		if p.Topic != topic || string(p.Payload) != strconv.Itoa(i) {
			t.Fatalf("%s → %s: got %s, want %s %q", r.from, r.to, testkit.Describe(p), topic, strconv.Itoa(i))
		}
		r.sub.Ack(t, p)
		i++
	}
}

// TestClusterProcesses runs three tern processes with --cluster: a QoS 0
// message published on node 1 reaches a subscriber on node 3, and node 3's
// on node 1. A QoS 1 publisher on node 1 then sends a numbered stream to
// persistent subscribers on nodes 3 and 2, and node 2 is killed with
// SIGKILL in the middle of it. The subscriber of node 2 had left some
// messages unacknowledged there; it reconnects to node 3 with its session.
// Every message the publisher got a PUBACK for reaches both subscribers,
// those left unacknowledged again with DUP (qosLoad), and the will of a
// client connected to node 2 is published by a survivor (willWatch). After the kill nodes 1 and 3
// keep carrying QoS 0 messages both ways and JetStream still answers (two
// of three nodes are a quorum). Then nodes 1 and 3 stop cleanly.
func TestClusterProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three tern processes")
	}
	const n = 200
	nodes := startTernCluster(t, 3)
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]

	routes := []*route{newRoute(t, n1, n3, "east", 0), newRoute(t, n3, n1, "west", 0)}
	for _, r := range routes {
		r.probe(t)
		r.carry(t, "before", n)
	}
	will := newWillWatch(t, n2, n1)
	load := newQoSLoad(t, n1, n2, n3)
	// The kill must hit the replicated state QoS 1 depends on, not a
	// follower only: the leader of TERN_QOS moves to node 2 first, so
	// that publishes wait for a new election (and are refused with 0x97
	// meanwhile), and so do the leaders of the consumers of nodes 1 and 3.
	// A consumer led by the killed node resends what it had handed out,
	// and its node had not received, after its AckWait (5 s,
	// broker/cluster/qos.go).
	leadersTo(t, n1, "TERN_QOS", n2.name, map[string]string{
		"tern-node-" + n1.name: n2.name,
		"tern-node-" + n3.name: n2.name,
	})

	t.Cleanup(func() {
		if t.Failed() {
			for _, c := range nodes {
				logs := c.logs.String()
				t.Logf("%s's log (the end):\n%s", c.name, logs[max(0, len(logs)-6000):])
			}
		}
	})
	var killed time.Time
	var moved time.Duration
	load.run(t, func() {
		n2.kill() // kill -9 by PID, in the middle of the stream
		killed = time.Now()
		moved = load.move(t, n3)
	})
	t.Logf("QoS 1: %d messages acknowledged, %d refused with 0x97 and retried; the stream took %v, %v after the kill",
		load.n, load.refused, load.took, time.Since(killed))
	for _, s := range load.subs {
		dups, dupNums := s.duplicates()
		t.Logf("%s received all %d, %d duplicates %v", s.name, load.n, dups, dupNums)
		if s.mover {
			t.Logf("%s resumed on %s %v after the kill; %d unacknowledged messages came again with DUP", s.name, n3.name, moved, s.again)
			if len(s.held) > 0 {
				t.Errorf("%s: %d messages left unacknowledged on the killed node never came again", s.name, len(s.held))
			}
		}
	}
	will.expect(t, killed)
	for _, r := range routes {
		r.carry(t, "after", n)
	}
	t.Logf("%d QoS 0 messages each way %v after the kill", n, time.Since(killed))
	n1.waitJetStream(t)
	n3.waitJetStream(t)
	t.Logf("JetStream answered on nodes 1 and 3 %v after the kill", time.Since(killed))
	for _, r := range routes {
		r.pub.Disconnect(t)
		r.sub.Disconnect(t)
	}
	for _, p := range load.peers() {
		p.Disconnect(t)
	}
	will.watcher.Disconnect(t)
	n1.stop(t)
	n3.stop(t)
	for _, c := range []*clusterNode{n1, n3} {
		if code := c.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("%s exited with %d after SIGTERM:\n%s", c.name, code, c.logs)
		}
	}
}

// leadersTo moves the leader of stream to the server named leader, and
// the leader of each consumer named in consumers to the server given
// there, asking the current leader to step down in its favour
// ($JS.API.*.LEADER.STEPDOWN with a preferred placement) through via's
// NATS client port until the info names it.
func leadersTo(t *testing.T, via *clusterNode, stream, leader string, consumers map[string]string) {
	t.Helper()
	nc, err := nats.Connect("nats://127.0.0.1:"+strconv.Itoa(via.clientPort), nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	move := func(what, subject, to string, leader func(context.Context) (string, error)) {
		req := []byte(`{"placement":{"preferred":"` + to + `"}}`)
		deadline := time.Now().Add(clusterJoin)
		for {
			call, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			l, err := leader(call)
			if err == nil && l == to {
				cancel()
				return
			}
			if err == nil {
				_, err = nc.RequestWithContext(call, subject, req)
			}
			for err == nil && call.Err() == nil { // the new leader is elected after the answer
				if l, err := leader(call); err == nil && l != "" {
					break
				}
				select {
				case <-time.After(20 * time.Millisecond): // a poll: JetStream has no leader event here
				case <-call.Done():
				}
			}
			cancel()
			if time.Now().After(deadline) {
				t.Fatalf("the leader of %s is not %s within %v (last: %v)", what, to, clusterJoin, err)
			}
		}
	}
	str, err := js.Stream(t.Context(), stream)
	if err != nil {
		t.Fatal(err)
	}
	move(stream, "$JS.API.STREAM.LEADER.STEPDOWN."+stream, leader, func(ctx context.Context) (string, error) {
		info, err := str.Info(ctx)
		if err != nil || info.Cluster == nil {
			return "", err
		}
		return info.Cluster.Leader, nil
	})
	for c, to := range consumers {
		move(stream+"/"+c, "$JS.API.CONSUMER.LEADER.STEPDOWN."+stream+"."+c, to, func(ctx context.Context) (string, error) {
			cons, err := str.Consumer(ctx, c)
			if err != nil {
				return "", err
			}
			info, err := cons.Info(ctx)
			if err != nil || info.Cluster == nil {
				return "", err
			}
			return info.Cluster.Leader, nil
		})
	}
	t.Logf("the leader of %s is %s, of its consumers %v", stream, leader, consumers)
}

// qosBound bounds the QoS 1 stream across the kill: a new election of the
// stream's leader takes 4–9 s (cluster.md), a refused publish is answered
// within the ingress node's PubAck timeout (5 s), and the consumer of the
// subscriber's node may need its own election.
const qosBound = 30 * time.Second

// nextPacket waits up to d for a packet from any of peers and returns the
// index of the peer and the packet; it fails the test if none comes.
func nextPacket(t *testing.T, d time.Duration, peers ...*testkit.Peer) (int, codec.Packet) {
	t.Helper()
	from, p, ok := pollPeers(d, peers...)
	if !ok {
		t.Fatalf("no packet within %v", d)
	}
	return from, p
}

// pollPeers waits up to d for a packet from any of peers. There is no
// event to select on across peers, so it polls them every millisecond;
// nothing polls them once it has returned, so no packet is lost on a
// time-out.
func pollPeers(d time.Duration, peers ...*testkit.Peer) (int, codec.Packet, bool) {
	deadline := time.Now().Add(d)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		for i, p := range peers {
			if pkt, ok := p.Poll(); ok {
				return i, pkt, true
			}
		}
		if !time.Now().Before(deadline) {
			return 0, nil, false
		}
		<-tick.C
	}
}

// qosLoad is a QoS 1 publisher on one node and persistent QoS 1
// subscribers on others, carrying a numbered stream.
type qosLoad struct {
	pub    *testkit.Peer
	subs   []*loadSub
	n      int // messages in the stream
	window int // PUBLISHes in flight at most

	acked   []bool // by number: the publisher got a PUBACK 0x00
	refused int    // PUBACKs with 0x97, each retried
	took    time.Duration
}

// loadSub is one persistent subscriber of a qosLoad. A mover is connected
// to the node that will be killed: it leaves every holdEvery-th message
// unacknowledged there, and after the kill it resumes its session on
// another node (move), where those messages must come again with DUP set.
type loadSub struct {
	name      string // its client id
	peer      *testkit.Peer
	mover     bool
	moved     bool
	received  []int        // by number: copies received
	delivered int          // numbers received at least once
	held      map[int]bool // unacknowledged on the killed node, not yet received again
	again     int          // held messages received again with DUP after the move
}

const (
	qosLoadN      = 2000
	qosLoadWindow = 32
	qosLoadTopic  = "load/n"
	// holdEvery: the mover leaves every holdEvery-th message unacknowledged
	// before the kill.
	holdEvery = 50
)

// loadSubExpiry is the session expiry of the load's subscribers (seconds).
const loadSubExpiry = 300

// newQoSLoad connects a subscriber (5.0, Clean Start 0, Session Expiry
// 300 s, QoS 1 on load/#) to each node of to, the one on mover (if not nil)
// as the mover, and the publisher to from, and waits until a QoS 1 probe
// reaches every subscriber.
func newQoSLoad(t *testing.T, from, mover *clusterNode, to ...*clusterNode) *qosLoad {
	t.Helper()
	l := &qosLoad{n: qosLoadN, window: qosLoadWindow, acked: make([]bool, qosLoadN)}
	if mover != nil {
		to = append(to, mover)
	}
	for i, c := range to {
		s := &loadSub{name: fmt.Sprintf("load-sub-%s", c.name), received: make([]int, qosLoadN),
			mover: mover != nil && i == len(to)-1, held: make(map[int]bool)}
		s.peer = testkit.Dial(t, c.addr, codec.V5)
		s.peer.Connect(t, &codec.Connect{ClientID: s.name, Properties: codec.Properties{SessionExpiryInterval: loadSubExpiry}})
		s.peer.Subscribe(t, 1, "load/#")
		l.subs = append(l.subs, s)
	}
	l.pub = testkit.Dial(t, from.addr, codec.V5)
	ack := l.pub.Connect(t, &codec.Connect{ClientID: "load-pub", CleanStart: true})
	if rm := int(ack.Properties.ReceiveMaximum); rm != 0 && rm < l.window {
		l.window = rm // [MQTT-3.3.4-7]: no more than Receive Maximum in flight
	}
	// The QoS 1 interest of a subscriber's node reaches its consumer's
	// filter after the SUBACK: probe until one arrives at each.
	deadline := time.Now().Add(clusterJoin)
	for _, s := range l.subs {
		for {
			l.pub.Publish(t, 1, "load/probe", "probe")
			if _, p, ok := pollPeers(200*time.Millisecond, s.peer); ok {
				m, ok := p.(*codec.Publish)
				if !ok {
					t.Fatalf("%s got %s, want a PUBLISH", s.name, testkit.Describe(p))
				}
				s.peer.Ack(t, m)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no QoS 1 probe from %s reached %s within %v", from.name, s.name, clusterJoin)
			}
		}
	}
	// Late probes are drained by run.
	return l
}

// peers returns the publisher and then the subscribers' connections.
func (l *qosLoad) peers() []*testkit.Peer {
	ps := []*testkit.Peer{l.pub}
	for _, s := range l.subs {
		ps = append(ps, s.peer)
	}
	return ps
}

// run publishes the stream with at most window PUBLISHes in flight,
// calls crash once half of it has been sent, and returns once every
// message is acknowledged and received by every subscriber. A PUBACK with
// 0x97 (Quota exceeded: the stream could not store it, e.g. while it
// re-elects its leader) is not an acknowledgement; the message is
// published again with a new packet identifier [MQTT-4.3.2-1]. Every
// message whose PUBACK 0x00 the publisher got must reach every
// subscriber: the receiver of a QoS 1 PUBLISH has accepted ownership once
// it sends the PUBACK [MQTT-4.3.2-4], and QoS 1 is at least once
// (duplicates are counted).
func (l *qosLoad) run(t *testing.T, crash func()) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(qosBound)
	inflight := make(map[uint16]int) // packet id → number
	var retry []int
	next, acked := 0, 0
	crashed := false
	for acked < l.n || !l.allDelivered() {
		for len(inflight) < l.window && (len(retry) > 0 || next < l.n) {
			var num int
			if len(retry) > 0 {
				num, retry = retry[0], retry[1:]
			} else {
				num, next = next, next+1
			}
			id := l.pub.PID()
			for _, busy := inflight[id]; busy; _, busy = inflight[id] {
				id = l.pub.PID()
			}
			inflight[id] = num
			l.pub.Send(t, &codec.Publish{QoS: 1, PacketID: id, Topic: qosLoadTopic, Payload: []byte(strconv.Itoa(num))})
		}
		if !crashed && next >= l.n/2 {
			crashed = true
			crash()
		}
		left := time.Until(deadline)
		if left <= 0 {
			l.fail(t, acked, len(inflight))
		}
		from, p, ok := pollPeers(left, l.peers()...)
		if !ok {
			l.fail(t, acked, len(inflight))
		}
		if from > 0 {
			l.subs[from-1].got(t, p, l.n, true)
			continue
		}
		ack, ok := p.(*codec.Puback)
		if !ok {
			t.Fatalf("publisher got %s", testkit.Describe(p))
		}
		num, ok := inflight[ack.PacketID]
		if !ok {
			t.Fatalf("publisher got %s for no PUBLISH in flight", testkit.Describe(p))
		}
		delete(inflight, ack.PacketID)
		switch ack.ReasonCode {
		case codec.Success:
			if !l.acked[num] {
				l.acked[num] = true
				acked++
			}
		case codec.QuotaExceeded:
			l.refused++
			retry = append(retry, num)
		default:
			t.Fatalf("publisher got %s, want 0x00 or 0x97", testkit.Describe(p))
		}
	}
	l.took = time.Since(start)
}

// allDelivered reports whether every subscriber received every message.
func (l *qosLoad) allDelivered() bool {
	for _, s := range l.subs {
		if s.delivered < len(s.received) {
			return false
		}
	}
	return true
}

// got takes one packet of the subscriber: a PUBLISH of the stream is
// counted and, if ack is set, acknowledged, except that a mover leaves
// every holdEvery-th one unacknowledged before it moves.
func (s *loadSub) got(t *testing.T, p codec.Packet, n int, ack bool) {
	t.Helper()
	m, ok := p.(*codec.Publish)
	if !ok {
		t.Fatalf("%s got %s", s.name, testkit.Describe(p))
	}
	if m.Topic != qosLoadTopic {
		if ack {
			s.peer.Ack(t, m)
		}
		return // a late probe
	}
	num, err := strconv.Atoi(string(m.Payload))
	if err != nil || num < 0 || num >= n {
		t.Fatalf("%s got %s", s.name, testkit.Describe(p))
	}
	if s.received[num] == 0 {
		s.delivered++
	}
	s.received[num]++
	switch {
	case s.mover && !s.moved && num%holdEvery == 0:
		s.held[num] = true // no PUBACK: the node dies with it in flight
		return
	case s.moved && s.held[num]:
		// Sent again on the new node, as a message the client had not
		// acknowledged [MQTT-4.4.0-1] [MQTT-3.3.1-1].
		if !m.Dup {
			t.Errorf("%s: message %d, unacknowledged on the killed node, came again without DUP", s.name, num)
		}
		delete(s.held, num)
		s.again++
	}
	if ack {
		s.peer.Ack(t, m)
	}
}

// move resumes the mover's session on node to after its node was killed:
// what its old connection had received counts, and the CONNECT (Clean
// Start 0) is retried while the cluster answers 0x88 Server unavailable.
// Its session must be present [MQTT-3.2.2-2].
func (l *qosLoad) move(t *testing.T, to *clusterNode) time.Duration {
	t.Helper()
	start := time.Now()
	for _, s := range l.subs {
		if !s.mover {
			continue
		}
		for {
			p, ok := s.peer.Poll()
			if !ok {
				break
			}
			s.got(t, p, l.n, false) // its connection is gone: no PUBACK
		}
		s.peer.Close()
		s.moved = true
		deadline := time.Now().Add(clusterJoin)
		for {
			s.peer = testkit.Dial(t, to.addr, codec.V5)
			s.peer.Send(t, &codec.Connect{Version: codec.V5, ClientID: s.name, Properties: codec.Properties{SessionExpiryInterval: loadSubExpiry}})
			_, p := nextPacket(t, clusterJoin, s.peer) // the claim may wait for elections
			ack, ok := p.(*codec.Connack)
			if !ok {
				t.Fatalf("%s on %s: got %s, want CONNACK", s.name, to.name, testkit.Describe(p))
			}
			if ack.ReasonCode == codec.Success {
				if !ack.SessionPresent {
					t.Fatalf("%s resumed on %s without its session", s.name, to.name)
				}
				break
			}
			if ack.ReasonCode != codec.ServerUnavailable || time.Now().After(deadline) {
				t.Fatalf("%s on %s: CONNACK %s", s.name, to.name, ack.ReasonCode)
			}
			s.peer.Close()
		}
	}
	return time.Since(start)
}

// fail reports what the stream is missing when qosBound has passed.
func (l *qosLoad) fail(t *testing.T, acked, inflight int) {
	t.Helper()
	msg := fmt.Sprintf("after %v: %d of %d sent and acknowledged (%d in flight, %d refused with 0x97)",
		qosBound, acked, l.n, inflight, l.refused)
	for _, s := range l.subs {
		var lost []int
		for i := range l.n {
			if l.acked[i] && s.received[i] == 0 {
				lost = append(lost, i)
			}
		}
		msg += fmt.Sprintf("; %s received %d, acknowledged and lost: %d %v", s.name, s.delivered, len(lost), lost[:min(len(lost), 20)])
	}
	t.Fatal(msg)
}

// duplicates counts the copies a subscriber received beyond the first,
// and lists the numbers received more than once (at most 50).
func (s *loadSub) duplicates() (int, []int) {
	d := 0
	var nums []int
	for i, c := range s.received {
		if c > 1 {
			d += c - 1
			if len(nums) < 50 {
				nums = append(nums, i)
			}
		}
	}
	return d, nums
}

// willWatch is a client with a will connected to the node that will be
// killed, and a watcher on another node subscribed to its will's topic.
type willWatch struct {
	watcher *testkit.Peer
	victim  *testkit.Peer
}

const willTopic = "wills/victim"

// newWillWatch connects the watcher to at (QoS 1 on wills/#) and the
// victim to doomed (5.0, Session Expiry 60 s, Will Delay 0, a QoS 1 will),
// and waits until the victim's record in tern_sessions holds the will, so
// that a survivor can publish it.
func newWillWatch(t *testing.T, doomed, at *clusterNode) *willWatch {
	t.Helper()
	w := &willWatch{watcher: testkit.Dial(t, at.addr, codec.V5)}
	w.watcher.Connect(t, &codec.Connect{ClientID: "will-watcher", CleanStart: true})
	w.watcher.Subscribe(t, 1, "wills/#")
	w.victim = testkit.Dial(t, doomed.addr, codec.V5)
	w.victim.Connect(t, &codec.Connect{ClientID: "will-victim", CleanStart: true,
		Properties: codec.Properties{SessionExpiryInterval: 60},
		Will:       &codec.Will{Topic: willTopic, Payload: []byte("gone"), QoS: 1}})

	nc, err := nats.Connect("nats://127.0.0.1:"+strconv.Itoa(at.clientPort), nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), clusterJoin)
	defer cancel()
	kv, err := js.KeyValue(ctx, "tern_sessions")
	if err != nil {
		t.Fatal(err)
	}
	stored := func() bool {
		call, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		keys, err := kv.ListKeys(call)
		if err != nil {
			return false
		}
		for k := range keys.Keys() {
			e, err := kv.Get(call, k)
			if err != nil {
				continue
			}
			var rec struct { // broker/cluster's record; Owner is the node's name, "-", a nonce
				ClientID string `json:"cid"`
				Owner    string `json:"owner"`
				Session  []byte `json:"session"`
			}
			if json.Unmarshal(e.Value(), &rec) != nil || rec.ClientID != "will-victim" || !strings.HasPrefix(rec.Owner, doomed.name+"-") {
				continue
			}
			s, err := store.DecodeSession(rec.Session)
			return err == nil && s.Will != nil
		}
		return false
	}
	testkit.WaitFor(t, testkit.Became(t, stored), "the victim's will in tern_sessions")
	return w
}

// expect waits for the will on the watcher: the victim's connection ended
// with its node, without a DISCONNECT, so its will is published
// [MQTT-3.1.2-8], by a survivor once the dead node's lease lapsed (6 s
// after its last renewal, checked every 2 s).
func (w *willWatch) expect(t *testing.T, killed time.Time) {
	t.Helper()
	const bound = 6*time.Second + 2*time.Second + 10*time.Second // lease TTL + renewal + margin
	_, p := nextPacket(t, time.Until(killed.Add(bound)), w.watcher)
	m, ok := p.(*codec.Publish)
	if !ok || m.Topic != willTopic || string(m.Payload) != "gone" {
		t.Fatalf("watcher got %s, want the will on %s", testkit.Describe(p), willTopic)
	}
	w.watcher.Ack(t, m)
	t.Logf("the will of a client of the killed node arrived %v after the kill", time.Since(killed))
}
