package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

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
// is lost on an unloaded loopback, so every message is expected.
//
// For QoS 1 across a node's crash (once QoS 1 crosses nodes through the
// replicated stream): publish at r.qos, kill a node while publishing, and
// check that every acknowledged message arrives.
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
// on node 1; after node 2 is killed with SIGKILL, nodes 1 and 3 keep
// carrying messages both ways and JetStream still answers (two of three
// nodes are a quorum). Then nodes 1 and 3 stop cleanly.
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

	n2.kill() // kill -9 by PID
	killed := time.Now()
	for _, r := range routes {
		r.carry(t, "after", n)
	}
	t.Logf("%d messages each way %v after the kill", n, time.Since(killed))
	n1.waitJetStream(t)
	n3.waitJetStream(t)
	t.Logf("JetStream answered on nodes 1 and 3 %v after the kill", time.Since(killed))
	for _, r := range routes {
		r.pub.Disconnect(t)
		r.sub.Disconnect(t)
	}
	n1.stop(t)
	n3.stop(t)
	for _, c := range []*clusterNode{n1, n3} {
		if code := c.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("%s exited with %d after SIGTERM:\n%s", c.name, code, c.logs)
		}
	}
}
