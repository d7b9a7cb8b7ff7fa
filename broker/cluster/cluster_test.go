package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
	"github.com/ternmq/tern/internal/testkit/brokerkit"
)

// member is one node of a test cluster: a broker on loopback and its node.
type member struct {
	node *Node
	b    *brokerkit.Broker
}

// joinTimeout bounds the wait for JetStream's meta leader (cluster.md: 1–5 s
// on two cores, more under -race).
const joinTimeout = 60 * time.Second

// startCluster starts n nodes in this process, each an embedded
// nats-server routed to the others and a broker, and waits until
// JetStream answers on each. Everything stops when the test ends, brokers
// first. edit, if any, changes each node's configuration (i from 0) before
// it starts.
func startCluster(t testing.TB, n int, edit ...func(i int, c *Config)) []member {
	t.Helper()
	cfgs := nodeConfigs(t, n)
	for i := range cfgs {
		for _, e := range edit {
			e(i, &cfgs[i])
		}
	}
	ms := make([]member, n)
	for i := range ms {
		node, err := Start(testkit.Context(t), cfgs[i])
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(node.Close) // after the broker's shutdown (cleanups run last first)
		ms[i].node = node
		ms[i].b = brokerkit.Start(t, &broker.Options{Cluster: node}, broker.WebSocketOptions{})
		node.Attach(ms[i].b.Server)
	}
	ctx, cancel := context.WithTimeout(context.Background(), joinTimeout)
	defer cancel()
	start := time.Now()
	for _, m := range ms {
		if err := m.node.WaitJetStream(ctx); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("JetStream answered on all %d nodes %v after they started", n, time.Since(start))
	// The nodes make their streams now (qos.go); a test that ended while
	// they do would stop nats-server in the middle, which leaks its
	// goroutines.
	waitStreams(t, ms)
	return ms
}

// nodeConfigs returns the configurations of n nodes n1…nn in this
// process, each routed to the others on a free loopback port, with
// JetStream in a temporary directory and small limits.
func nodeConfigs(t testing.TB, n int) []Config {
	t.Helper()
	ports := make([]int, n)
	routes := make([]string, n)
	for i := range ports {
		ports[i] = testkit.FreePort(t)
		routes[i] = fmt.Sprintf("nats-route://127.0.0.1:%d", ports[i])
	}
	cfgs := make([]Config, n)
	for i := range cfgs {
		cfgs[i] = Config{
			Name:               fmt.Sprintf("n%d", i+1),
			ClusterPort:        ports[i],
			Routes:             slices.Delete(slices.Clone(routes), i, i+1),
			StoreDir:           t.TempDir(),
			JetStreamMaxMemory: 16 << 20,
			JetStreamMaxStore:  64 << 20,
			Logger:             logger(),
		}
	}
	return cfgs
}

// logger is the brokers' test logger, and a silent one without -v.
func logger() *slog.Logger {
	if l := brokerkit.Logger(); l != nil {
		return l
	}
	return slog.New(slog.DiscardHandler)
}

// eventually waits until cond holds (checked every millisecond).
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testkit.WaitFor(t, testkit.Became(t, cond), what)
}

// topicSubs waits until m's NATS connection holds want subscriptions on
// the subjects of MQTT topics, as m's nats-server lists them (the node's
// other subscriptions, of JetStream and the registry, come and go on
// their own).
func (m member) topicSubs(t testing.TB, want int) {
	t.Helper()
	cid, err := m.node.Conn().GetClientID()
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, fmt.Sprintf("%d topic subscriptions on %s's NATS connection", want, m.node.ID()), func() bool {
		cz, err := m.node.NATSServer().Connz(&server.ConnzOptions{CID: cid, Subscriptions: true})
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for _, c := range cz.Conns {
			for _, s := range c.Subs {
				if strings.HasPrefix(s, TopicPrefix) || strings.HasPrefix(s, TopicPrefixDollar) {
					got++
				}
			}
		}
		return got == want
	})
}

// interest waits until m's nats-server has (want true) or has not interest
// in the subject of topic, from any node.
func (m member) interest(t testing.TB, topic string, want bool) {
	t.Helper()
	acc := m.node.NATSServer().GlobalAccount()
	eventually(t, fmt.Sprintf("interest %v in %q at %s", want, topic, m.node.ID()), func() bool {
		return acc.SubscriptionInterest(Subject(topic)) == want
	})
}

func dial(t testing.TB, m member, v codec.Version, id string) *testkit.Peer {
	t.Helper()
	p := testkit.Dial(t, m.b.Addr, v)
	p.Connect(t, &codec.Connect{ClientID: id, CleanStart: true})
	return p
}

// TestThreeNodesQoS0 publishes on node 1 and receives on node 3, for 3.1.1
// and 5.0 subscribers with overlapping subscriptions: each message arrives
// once, with its 5.0 properties; nothing comes back to node 1; the last
// unsubscription on node 3 removes its NATS subscriptions.
func TestThreeNodesQoS0(t *testing.T) {
	ms := startCluster(t, 3)
	n1, n2, n3 := ms[0], ms[1], ms[2]

	sub4 := dial(t, n3, codec.V311, "sub4")
	sub5 := dial(t, n3, codec.V5, "sub5")
	for _, p := range []*testkit.Peer{sub4, sub5} {
		p.Subscribe(t, 0, "a/#", "a/+") // overlapping [MQTT-3.3.5-1]
	}
	// a/# needs tern.m.a.> and tern.m.a, a/+ tern.m.a.*: three NATS
	// subscriptions on node 3 for four MQTT subscriptions.
	if got := n3.node.Subjects(); got != 3 {
		t.Fatalf("node 3 holds %d NATS subscriptions for its filters, want 3", got)
	}
	n3.topicSubs(t, 3)                      // on the NATS connection too, not one per client
	n1.interest(t, "a/b", true)             // node 3's interest reached node 1
	local := dial(t, n1, codec.V5, "local") // a subscriber on the ingress node
	local.Subscribe(t, 0, "a/#", "a/+")

	pub := dial(t, n1, codec.V5, "pub")
	p := &codec.Publish{Topic: "a/b", Payload: []byte("one")}
	p.Properties.PayloadFormatIndicator = 1
	p.Properties.ContentType = "text/plain; charset=utf-8"
	p.Properties.ResponseTopic = "reply/to me"
	p.Properties.CorrelationData = []byte{0, 1, 0xFF}
	p.Properties.MessageExpiryInterval = 3600
	p.Properties.UserProperties = []codec.UserProperty{{Key: "k", Value: "v1"}, {Key: "k", Value: "v=2\r\n"}, {Key: "", Value: ""}}
	pub.PublishWith(t, p)
	pub.Publish(t, 0, "a/c", "two") // a marker: a second copy of "one" would come before it

	sub4.ExpectPublish(t, `q0 dup=0 retain=0 a/b "one"`)
	sub4.ExpectPublish(t, `q0 dup=0 retain=0 a/c "two"`)
	got := sub5.ExpectPublish(t, `q0 dup=0 retain=0 a/b "one"`)
	gp := &got.Properties
	if gp.PayloadFormatIndicator != 1 || gp.ContentType != p.Properties.ContentType ||
		gp.ResponseTopic != p.Properties.ResponseTopic || string(gp.CorrelationData) != string(p.Properties.CorrelationData) ||
		!slices.Equal(gp.UserProperties, p.Properties.UserProperties) {
		t.Errorf("node 3 got properties %+v, want those published: %+v", *gp, p.Properties)
	}
	if e := gp.MessageExpiryInterval; e == 0 || e > 3600 {
		t.Errorf("node 3 got Message Expiry Interval %d, want 1..3600", e)
	}
	sub5.ExpectPublish(t, `q0 dup=0 retain=0 a/c "two"`)
	local.ExpectPublish(t, `q0 dup=0 retain=0 a/b "one"`)
	local.ExpectPublish(t, `q0 dup=0 retain=0 a/c "two"`)
	s1, s2, s3 := n1.node.Stats(), n2.node.Stats(), n3.node.Stats()
	// The second copy of each (a/# and a/+ overlap) is dropped: once both
	// are, nothing more can come.
	eventually(t, "node 3 to drop 2 second copies", func() bool { return s3.Duplicates.Load() == 2 })
	for _, p := range []*testkit.Peer{sub4, sub5, local} {
		p.ExpectIdle(t)
	}
	if s1.Published.Load() != 2 || s3.Received.Load() != 2 {
		t.Errorf("node 1 published %d, node 3 received %d; want 2 and 2", s1.Published.Load(), s3.Received.Load())
	}
	if s1.Received.Load() != 0 || s1.Echoes.Load() != 0 || s2.Received.Load() != 0 {
		t.Errorf("node 1 received %d (echoes %d), node 2 %d; want none", s1.Received.Load(), s1.Echoes.Load(), s2.Received.Load())
	}

	// The last local subscription to a subject ends its NATS subscription.
	sub5.Send(t, &codec.Unsubscribe{PacketID: 7, Filters: []string{"a/#", "a/+"}})
	testkit.Expect[*codec.Unsuback](t, sub5)
	if got := n3.node.Subjects(); got != 3 {
		t.Fatalf("node 3 holds %d NATS subscriptions with sub4 still there, want 3", got)
	}
	sub4.Disconnect(t) // its session ends (clean start) just after the connection closes
	eventually(t, "node 3 to hold no NATS subscription", func() bool { return n3.node.Subjects() == 0 })
	n3.topicSubs(t, 0)
	local.Disconnect(t)
	eventually(t, "node 1 to hold no NATS subscription", func() bool { return n1.node.Subjects() == 0 })
	n2.interest(t, "a/b", false) // neither node 1 nor node 3 is interested any more
}

// TestExternalNATS joins two brokers through a NATS server they connect to
// by URL, as with an existing NATS cluster.
func TestExternalNATS(t *testing.T) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	if !ns.ReadyForConnections(testkit.Timeout) {
		t.Fatal("nats-server not ready")
	}
	var ms [2]member
	for i := range ms {
		node, err := Start(testkit.Context(t), Config{Name: fmt.Sprintf("x%d", i+1), URL: ns.ClientURL(), Logger: logger()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(node.Close)
		if node.NATSServer() != nil {
			t.Fatal("a node with a URL embeds a nats-server")
		}
		ms[i] = member{node: node, b: brokerkit.Start(t, &broker.Options{Cluster: node}, broker.WebSocketOptions{})}
		node.Attach(ms[i].b.Server)
	}
	sub := dial(t, ms[1], codec.V5, "sub")
	sub.Subscribe(t, 0, "x/+")
	acc := ns.GlobalAccount()
	eventually(t, "interest in x/y", func() bool { return acc.SubscriptionInterest(Subject("x/y")) })
	pub := dial(t, ms[0], codec.V311, "pub")
	pub.Publish(t, 0, "x/y", "over NATS")
	sub.ExpectPublish(t, `q0 dup=0 retain=0 x/y "over NATS"`)
}
