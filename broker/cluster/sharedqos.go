package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/codec"
)

// QoS 1/2 shared subscriptions across nodes (broker.ClusterSharedDurable,
// cluster.md row "shared subscriptions").
//
// Each (group, filter) of $share/{group}/{filter} with a member on any
// node has ONE durable pull consumer on TERN_QOS, named tern-share- and a
// hash of (group, filter) (sharedConsumerName), filtered to the filter's
// subjects in the stream (both subjects of a filter ending in '#': "a/#"
// also matches "a"), DeliverNew, AckExplicit, with the node consumer's
// AckWait. Every node that has a member pulls from that same consumer,
// so JetStream hands each message to one of them (it serves the nodes'
// pull requests in turn); that node gives it to one of its members
// (broker.Server.InjectSharedDurable, the member's QoS capping the
// message's) and acks it once the member's copy is stored and, for a
// persistent session, written through to TERN_SESSQ (registry.after), as
// the node consumer does. A node whose group has no member left (a race
// with the last one leaving) naks it, so that another node gets it. The
// broker then leaves QoS 1/2 messages to the cluster's groups, on the
// path of the node's own messages too (the node consumer's InjectDurable
// with own set), so nothing reaches a group twice.
//
// The consumer count is the number of groups, never the number of members
// or nodes. A node creates (or finds) the group's consumer when its first
// member joins, before the SUBACK (SharedSubscribed), and stops pulling
// when its last member leaves; nobody deletes the consumer: JetStream
// does once no node has pulled from it for sharedInactive. While no node
// pulls (no member anywhere, or only offline members on a node that left
// the group), the group's messages wait in the consumer for up to
// sharedInactive (and the stream's MaxAge), and a member that joins in
// time gets them; a group that stays empty longer loses them with its
// consumer, as a group without members has no messages without a cluster.
// Offline persistent members stay members (broker: shareGroup.pick): a
// node whose members are all offline keeps pulling and queues the
// messages in their sessions.
//
// A member that joins while messages wait may get them before its
// SUBACK (the node pulls before the broker sends it), which MQTT allows.
//
// A message the stream sends again to a node that still processes it
// (AckWait ran out) is marked in progress and not routed twice; one the
// node acked shortly before is acked again. A message whose AckWait runs
// out while it is processed may go to another node, which delivers it
// too (QoS 1: at least once).

// sharedInactive is how long the consumer of a group lives with no node
// pulling from it (its InactiveThreshold).
const sharedInactive = 10 * time.Minute

// sharedNakDelay is how long a message that found no member on the node
// waits before the stream offers it again (to any node of the group).
const sharedNakDelay = 100 * time.Millisecond

// sharedConsumerName is the durable consumer on TERN_QOS of the shared
// subscription $share/{group}/{filter}: a hash, since a share name may
// hold characters a consumer name may not.
func sharedConsumerName(group, filter string) string {
	h := sha256.Sum256([]byte(group + "\x00" + filter))
	return "tern-share-" + hex.EncodeToString(h[:12])
}

// sharedDescription is the description of the consumer of
// $share/{group}/{filter}, cut to maxDescription bytes (JetStream refuses
// a description above 4 KiB; a filter may be far longer).
func sharedDescription(group, filter string) string {
	d := "Tern: $share/" + group + "/" + filter
	if len(d) > maxDescription {
		d = strings.ToValidUTF8(d[:maxDescription-3], "") + "..."
	}
	return d
}

// maxDescription bounds the description of a group's consumer.
const maxDescription = 256

// sharedStreamSubjects returns the subjects of TERN_QOS that filter (a
// valid non-shared filter) matches.
func sharedStreamSubjects(filter string) []string {
	subs := FilterSubjects(filter)
	for i, s := range subs {
		subs[i] = QoSPrefix + s[len("tern."):]
	}
	return subs
}

// groupPull is a node's pulling from the consumer of one (group, filter):
// a goroutine that sets the consumer up and consumes until cancel.
type groupPull struct {
	group, filter string
	name          string // the consumer's
	cancel        context.CancelFunc
	started       chan struct{} // closed once consuming, or when it gave up
	once          sync.Once
}

func (p *groupPull) markStarted() { p.once.Do(func() { close(p.started) }) }

// SharedDurable implements broker.ClusterSharedDurable: a Node delivers
// the QoS 1/2 messages of shared subscriptions through a consumer per
// group.
func (n *Node) SharedDurable() bool { return true }

// startGroupPull starts pulling from the consumer of (group, filter) and
// returns the pull, or nil once the node is closed. Called under sh.mu
// (which is taken before durable.mu).
func (d *durable) startGroupPull(group, filter string) *groupPull {
	ctx, cancel := context.WithCancel(d.ctx)
	p := &groupPull{group: group, filter: filter, name: sharedConsumerName(group, filter),
		cancel: cancel, started: make(chan struct{})}
	if !d.goTracked(func() { d.pullGroup(ctx, p) }) {
		cancel()
		return nil
	}
	return p
}

// waitStarted waits, bounded by callTimeout, until p consumes; not while
// the streams are not set up (a QoS 1/2 publish is refused until then).
func (d *durable) waitStarted(p *groupPull) {
	if p == nil || !d.ready.Load() {
		return
	}
	t := time.NewTimer(callTimeout)
	defer t.Stop()
	select {
	case <-p.started:
	case <-t.C:
		d.n.log.Warn("cluster: shared subscription's consumer not set up yet", "group", p.group, "filter", p.filter)
	}
}

// pullGroup sets the consumer of p up once the streams are, retrying,
// and consumes from it until ctx ends.
func (d *durable) pullGroup(ctx context.Context, p *groupPull) {
	defer p.markStarted()
	select {
	case <-d.readyCh:
	case <-ctx.Done():
		return
	}
	pause := time.NewTimer(0)
	<-pause.C
	defer pause.Stop()
	var cc jetstream.ConsumeContext
	for attempt := 1; ; attempt++ {
		var err error
		if cc, err = d.consumeGroup(ctx, p); err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		d.n.log.Debug("cluster: shared subscription's consumer not set up", "group", p.group, "filter", p.filter, "attempt", attempt, "err", err)
		if attempt%40 == 0 {
			d.n.log.Warn("cluster: shared subscription's consumer not set up yet", "group", p.group, "filter", p.filter, "err", err)
		}
		pause.Reset(setupPause)
		select {
		case <-pause.C:
		case <-ctx.Done():
			return
		}
	}
	d.n.sh.pulling.Add(1)
	p.markStarted()
	<-ctx.Done()
	cc.Stop()
	t := time.NewTimer(callTimeout) // the handler of a message in hand
	select {
	case <-cc.Closed():
	case <-t.C:
	}
	t.Stop()
	d.n.sh.pulling.Add(-1)
}

// consumeGroup creates (or finds: the nodes make the same one) the
// consumer of p and starts consuming from it.
func (d *durable) consumeGroup(ctx context.Context, p *groupPull) (jetstream.ConsumeContext, error) {
	cfg := jetstream.ConsumerConfig{
		Durable:           p.name,
		Description:       sharedDescription(p.group, p.filter),
		DeliverPolicy:     jetstream.DeliverNewPolicy,
		AckPolicy:         jetstream.AckExplicitPolicy,
		AckWait:           consumerAckWait,
		MaxAckPending:     1 << 14,
		InactiveThreshold: sharedInactive,
	}
	if subs := sharedStreamSubjects(p.filter); len(subs) == 1 {
		cfg.FilterSubject = subs[0]
	} else {
		cfg.FilterSubjects = subs
	}
	call, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	cons, err := d.qos.CreateOrUpdateConsumer(call, cfg)
	if err != nil {
		return nil, fmt.Errorf("consumer %s: %w", p.name, err)
	}
	cc, err := cons.Consume(func(msg jetstream.Msg) { d.receiveShared(p, msg) },
		jetstream.PullMaxMessages(512),
		jetstream.PullExpiry(pullExpiry),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			d.n.log.Debug("cluster: shared subscription's consumer", "consumer", p.name, "err", err)
		}))
	if err != nil {
		return nil, fmt.Errorf("consume %s: %w", p.name, err)
	}
	return cc, nil
}

// receiveShared hands one message of a group's consumer to one member of
// the group on this node, and acks it once the member has it (stored,
// and written through to TERN_SESSQ); it naks it when no member is left
// here, or when the store or the write-through failed.
func (d *durable) receiveShared(p *groupPull, msg jetstream.Msg) {
	st := &d.n.sh.stats
	srv := d.n.srv.Load()
	if srv == nil {
		msg.NakWithDelay(sharedNakDelay) // not attached yet
		return
	}
	var k shareSeq // zero (not tracked) without metadata
	if meta, err := msg.Metadata(); err == nil {
		k = shareSeq{name: p.name, seq: meta.Sequence.Stream}
	}
	if !d.n.sh.track.begin(k, msg) {
		st.Redelivered.Add(1)
		return
	}
	m, _, err := d.decode(msg, QoSPrefix)
	if err == nil && !codec.MatchTopic(p.filter, m.Topic) {
		err = fmt.Errorf("%w: %q does not match the filter %q", ErrSubject, m.Topic, p.filter)
	}
	if err != nil {
		st.Bad.Add(1)
		d.n.log.Warn("cluster: dropped a shared stream message", "subject", msg.Subject(), "err", err)
		d.n.sh.track.end(k, msg, false).Term()
		return
	}
	r := d.n.reg
	j := &joined{done: func(err error) {
		if err != nil {
			d.stats.StoreFails.Add(1)
			d.n.sh.track.end(k, msg, false).Nak()
			return
		}
		d.n.sh.track.end(k, msg, true).Ack()
	}}
	j.n.Store(2)
	d.gate.RLock()
	from := r.issued()
	took := srv.InjectSharedDurable(p.group, p.filter, m, j.finish)
	to := r.issued()
	d.gate.RUnlock()
	if !took {
		st.Returned.Add(1)
		d.n.sh.track.end(k, msg, false).NakWithDelay(sharedNakDelay)
		return
	}
	r.after(from, to, j.finish)
	st.Durable.Add(1)
}

// shareSeq is a message of a group's consumer: the consumer and the
// stream sequence.
type shareSeq struct {
	name string
	seq  uint64
}

// tracker is the redelivery bookkeeping of consumers (the node's, keyed
// by stream sequence; the shared ones, keyed by shareSeq; the zero key is
// not tracked): the messages being processed, with their newest handle,
// and the last acked ones (a ring over window, ackedWindow if 0). Its mu
// is taken with no other lock and released before any call out.
type tracker[K comparable] struct {
	window   int
	mu       sync.Mutex
	inflight map[K]jetstream.Msg
	acked    map[K]struct{}
	ring     []K
	next     int
}

// begin notes that k is being processed, and reports whether it is to be
// routed: not when it is in process already (the newest handle is kept
// and marked in progress, so the stream waits) nor when it was acked
// shortly before (acked again).
func (t *tracker[K]) begin(k K, msg jetstream.Msg) bool {
	var zero K
	if k == zero {
		return true
	}
	t.mu.Lock()
	if t.inflight == nil {
		t.inflight = make(map[K]jetstream.Msg)
		t.acked = make(map[K]struct{})
		t.ring = make([]K, cmp(t.window, ackedWindow))
	}
	if _, ok := t.inflight[k]; ok {
		t.inflight[k] = msg
		t.mu.Unlock()
		msg.InProgress()
		return false
	}
	if _, ok := t.acked[k]; ok {
		t.mu.Unlock()
		msg.Ack()
		return false
	}
	t.inflight[k] = msg
	t.mu.Unlock()
	return true
}

// end notes that k is processed (acked says it is acked, not nak'd) and
// returns its newest handle (msg if it was not being processed).
func (t *tracker[K]) end(k K, msg jetstream.Msg, acked bool) jetstream.Msg {
	var zero K
	if k == zero {
		return msg
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if h, ok := t.inflight[k]; ok {
		msg = h
		delete(t.inflight, k)
	}
	if acked && t.ring != nil {
		if old := t.ring[t.next]; old != zero {
			delete(t.acked, old)
		}
		t.ring[t.next] = k
		t.next = (t.next + 1) % len(t.ring)
		t.acked[k] = struct{}{}
	}
	return msg
}

// SharedConsumers returns the number of shared subscriptions' consumers
// this node pulls from.
func (n *Node) SharedConsumers() int { return int(n.sh.pulling.Load()) }

var _ broker.ClusterSharedDurable = (*Node)(nil)
