package cluster

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ternmq/tern/broker"
)

// Shared subscriptions across nodes (broker.ClusterShared), QoS 0.
//
// A node with at least one member of $share/{group}/{filter} subscribes
// to the subjects of filter in one NATS queue group, named after (group,
// filter). Every message published on any node is already published to
// its topic's subject (Published), so NATS hands it to exactly one of the
// queue group's subscribers over all the nodes (the ingress node's own
// included: the queue subscriptions are on a second connection, which
// sees the node's own messages) and that node gives it to one of its
// members (broker.Server.InjectShared). The broker leaves a QoS 0 message
// to the cluster's groups and never delivers it to its groups itself, so
// nothing arrives twice. NATS picks at random among the nodes, weighted
// by their queue subscriptions, one per node and subject: a node with one
// member and a node with ten are picked as often.
//
// The subjects of one filter never overlap (FilterSubjects: "a/#" is
// tern.m.a.> and tern.m.a), so a message matches one subscription of a
// queue group, and NATS delivers it once per group.
//
// QoS 1 and 2 go through TERN_QOS and one durable consumer per (group,
// filter) (sharedqos.go); the node joins it with the queue group. A QoS
// 1/2 message that reaches a queue subscription on core NATS (a client
// of an older path, or a node without streams) is dropped, counted in
// SharedStats.LocalOnly.

// shared is a node's state for its shared subscriptions.
type shared struct {
	nc      *nats.Conn // the queue subscriptions' connection
	in      chan *nats.Msg
	stopped chan struct{} // closed when dispatchShared returns

	mu     sync.Mutex
	groups map[string]*queueGroup // by queue name
	done   bool

	stats SharedStats

	pulling atomic.Int32      // group consumers being consumed (sharedqos.go)
	track   tracker[shareSeq] // their redeliveries
}

// queueGroup is a (group, filter) that this node's sessions share, and
// the count of SharedSubscribed less SharedUnsubscribed calls for it.
type queueGroup struct {
	group, filter string
	n             int
	subs          []*nats.Subscription
	pull          *groupPull // the QoS 1/2 consumer's (sharedqos.go)
}

// SharedStats are a node's counters of shared-subscription messages.
type SharedStats struct {
	Delivered atomic.Uint64 // QoS 0, given to a member of this node's group
	Missed    atomic.Uint64 // QoS 0, picked for a group that had no member here any more
	LocalOnly atomic.Uint64 // QoS 1/2 on a queue subscription, dropped (they come through the groups' consumers)
	Bad       atomic.Uint64 // undecodable, dropped

	// The groups' consumers on TERN_QOS (sharedqos.go).
	Durable     atomic.Uint64 // QoS 1/2, given to a member of this node's group
	Returned    atomic.Uint64 // QoS 1/2, pulled with no member here: nak'd for another node
	Redelivered atomic.Uint64 // QoS 1/2 sent again while in process or acked, not routed again
}

// queueName is the NATS queue group of the shared subscription
// $share/{group}/{filter}: a hash, since a share name may hold white
// space, which a queue name may not.
func queueName(group, filter string) string {
	h := sha256.Sum256([]byte(group + "\x00" + filter))
	return "tern_share_" + hex.EncodeToString(h[:12])
}

// startShared connects the queue subscriptions' connection, with the
// options of the node's own, and starts its dispatcher.
func (n *Node) startShared(addr string, opts []nats.Option) error {
	opts = append(opts[:len(opts):len(opts)], nats.Name("tern "+n.id+" shared"))
	nc, err := nats.Connect(addr, opts...)
	if err != nil {
		return fmt.Errorf("cluster: connect to NATS for shared subscriptions: %w", err)
	}
	n.sh.nc = nc
	n.sh.in = make(chan *nats.Msg, inbox)
	n.sh.stopped = make(chan struct{})
	n.sh.groups = make(map[string]*queueGroup)
	go n.dispatchShared()
	return nil
}

// closeShared closes the queue subscriptions' connection and waits for
// the dispatcher, which stops with Node.stop.
func (n *Node) closeShared() {
	n.sh.mu.Lock()
	n.sh.done = true
	n.sh.mu.Unlock()
	n.sh.nc.Close()
	<-n.sh.stopped
}

// SharedSubscribed implements broker.ClusterShared: the node joins the
// queue group of (group, filter) with the first call, and starts pulling
// from the group's consumer on TERN_QOS (making it if it is new), and
// returns once its NATS server has the subscription and the node pulls
// (bounded by callTimeout; not while the streams are not set up), so
// that a message published afterwards can reach the group.
func (n *Node) SharedSubscribed(group, filter string) {
	q := queueName(group, filter)
	n.sh.mu.Lock()
	g := n.sh.groups[q]
	if g == nil {
		g = &queueGroup{group: group, filter: filter}
		n.sh.groups[q] = g
	}
	g.n++
	subscribed := false
	var pull *groupPull
	if g.n == 1 && !n.sh.done {
		for _, s := range FilterSubjects(filter) {
			sub, err := n.sh.nc.ChanQueueSubscribe(s, q, n.sh.in)
			if err != nil {
				n.log.Error("cluster: queue subscribe", "subject", s, "group", group, "filter", filter, "err", err)
				continue
			}
			g.subs = append(g.subs, sub)
			subscribed = true
		}
		g.pull = n.q.startGroupPull(group, filter)
		pull = g.pull
	}
	if g.n == 0 {
		delete(n.sh.groups, q)
	}
	n.sh.mu.Unlock()
	if subscribed && n.sh.nc.IsConnected() {
		// One round trip: the server has read the subscriptions, and the
		// node's own publications, on the other connection, come after.
		// (While NATS reconnects, nothing is confirmed: don't wait.)
		if err := n.sh.nc.FlushTimeout(2 * time.Second); err != nil {
			n.log.Warn("cluster: queue subscribe not confirmed", "group", group, "filter", filter, "err", err)
		}
	}
	n.q.waitStarted(pull)
}

// SharedUnsubscribed implements broker.ClusterShared: the node leaves the
// queue group of (group, filter) and stops pulling from its consumer when
// its count reaches zero (the consumer stays for the other nodes; unused,
// JetStream deletes it after sharedInactive).
func (n *Node) SharedUnsubscribed(group, filter string) {
	q := queueName(group, filter)
	n.sh.mu.Lock()
	defer n.sh.mu.Unlock()
	g := n.sh.groups[q]
	if g == nil {
		g = &queueGroup{group: group, filter: filter} // before its SharedSubscribed
		n.sh.groups[q] = g
	}
	g.n--
	if g.n > 0 {
		return
	}
	for _, sub := range g.subs {
		if err := sub.Unsubscribe(); err != nil && !n.sh.done {
			n.log.Error("cluster: queue unsubscribe", "subject", sub.Subject, "group", group, "err", err)
		}
	}
	g.subs = nil
	if g.pull != nil {
		g.pull.cancel()
		g.pull = nil
	}
	if g.n == 0 {
		delete(n.sh.groups, q)
	}
}

// SharedGroups returns the number of queue groups the node is in.
func (n *Node) SharedGroups() int {
	n.sh.mu.Lock()
	defer n.sh.mu.Unlock()
	c := 0
	for _, g := range n.sh.groups {
		if len(g.subs) > 0 {
			c++
		}
	}
	return c
}

// SharedStats returns the node's shared-subscription counters.
func (n *Node) SharedStats() *SharedStats { return &n.sh.stats }

// dispatchShared hands the messages NATS picked this node for to the
// broker, one at a time, until Close.
func (n *Node) dispatchShared() {
	defer close(n.sh.stopped)
	for {
		select {
		case msg := <-n.sh.in:
			n.receiveShared(msg)
		case <-n.stop:
			return
		}
	}
}

func (n *Node) receiveShared(msg *nats.Msg) {
	m, _, _, err := decode(msg, time.Now())
	if err != nil {
		n.sh.stats.Bad.Add(1)
		n.log.Warn("cluster: dropped a shared message", "subject", msg.Subject, "err", err)
		return
	}
	if m.QoS > 0 {
		n.sh.stats.LocalOnly.Add(1)
		return
	}
	var g *queueGroup
	if msg.Sub != nil {
		n.sh.mu.Lock()
		g = n.sh.groups[msg.Sub.Queue]
		n.sh.mu.Unlock()
	}
	srv := n.srv.Load()
	if g == nil || srv == nil || !srv.InjectShared(g.group, g.filter, m) {
		n.sh.stats.Missed.Add(1)
		return
	}
	n.sh.stats.Delivered.Add(1)
}

var _ broker.ClusterShared = (*Node)(nil)
