package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ternmq/tern/broker"
)

// QoS 1/2 and retained messages between nodes, in replicated JetStream
// streams (cluster.md, rows "cross-node QoS 1/2" and "retained").
//
// TERN_QOS holds every QoS 1/2 message published on any node, under
// QoSPrefix and the topic's subject without "tern.", with the headers of
// the core NATS path and Nats-Msg-Id = origin:sequence (the stream drops
// a second copy within its duplicate window). The ingress node publishes
// asynchronously and the broker acknowledges the publisher once the
// stream's PubAck came (broker.ClusterDurable). Each node has exactly one
// durable consumer on the stream, named after the node, whatever its
// number of sessions and subscriptions: it hands each message to the
// broker (broker.Server.InjectDurable), which queues it for the matching
// sessions (durably with a store, and in TERN_SESSQ for persistent
// sessions), and acks it only then. The node's own messages (Tern-Origin)
// come back the same way, with own set: the broker does not route a
// client's QoS 1/2 message at publication, so every QoS 1/2 delivery has
// passed through the stream and survives the node (Tern-From carries the
// publisher's client id for No Local).
//
// A message the stream sends again while the node still processes it
// (its AckWait ran out) gets InProgress and is not routed twice; one the
// node acked shortly before (an ack lost with a consumer leader) is
// acked again without routing.
//
// The consumer takes every message of the stream, not only those this
// node's subscriptions match, and the broker drops what matches nothing:
// with three nodes and R3 each node stores every message anyway, and an
// unfiltered consumer never misses a message for a subscription made
// just before it. A QoS 1/2 message does not also travel on core NATS, so
// a node's QoS 0 subscriptions get it from the consumer too.

// Stream names and subject prefixes.
const (
	// StreamQoS is the stream of QoS 1/2 messages.
	StreamQoS = "TERN_QOS"
	// StreamRetained is the stream of retained messages, one per topic.
	StreamRetained = "TERN_RETAINED"
	// QoSPrefix and RetainedPrefix prefix the subjects of the two
	// streams: the prefix, then Subject(topic) without "tern.".
	QoSPrefix      = "tern.qos."
	RetainedPrefix = "tern.ret."
)

// Limits of the streams and of the wait for them.
const (
	// qosMaxAge bounds how long TERN_QOS keeps a message: a node away for
	// longer misses what was published meanwhile.
	qosMaxAge = time.Hour
	// qosMaxBytes bounds TERN_QOS; the oldest messages go first (they
	// were taken by the consumers long before, unless a node is away).
	qosMaxBytes = 16 << 20
	// retainedMaxBytes bounds TERN_RETAINED; a retained message beyond
	// it is refused (the publisher gets 0x97), never an old one dropped.
	retainedMaxBytes = 8 << 20
	// qosDuplicates is the stream's duplicate window (Nats-Msg-Id).
	qosDuplicates = 2 * time.Minute
	// ackTimeout bounds the wait for a stream's PubAck; a publish not
	// answered by then is refused (no quorum, leader election).
	ackTimeout = 5 * time.Second
	// maxPending bounds the PubAcks awaited at once; a publisher that
	// finds them all taken waits up to stallWait, then is refused.
	maxPending = 4096
	stallWait  = 200 * time.Millisecond
	// pullExpiry is how long one pull request of the node's consumer
	// lasts.
	pullExpiry = 2 * time.Second
	// consumerAckWait is how long the stream waits for the node to ack a
	// message before it sends it again.
	// It is short: a message pulled by a consumer leader that died is
	// sent again after it, and a message still in process when it runs
	// out is only marked in progress (receive).
	consumerAckWait = 5 * time.Second
	// ackedWindow is how many of the last acked stream sequence numbers
	// the node remembers, to ack a redelivery of one without routing it.
	ackedWindow = 4096
	// callTimeout bounds one JetStream API call; lookupTimeout a stream
	// lookup and createTimeout its creation at start-up (an R3 stream
	// waits for its leader's election).
	callTimeout   = 5 * time.Second
	lookupTimeout = 2 * time.Second
	createTimeout = 5 * time.Second
	// setupPause is the pause between two attempts to set the streams up.
	setupPause = 250 * time.Millisecond
)

// DurableStats are the counters of a node's streams.
type DurableStats struct {
	Stored      atomic.Uint64 // messages the streams acknowledged
	Refused     atomic.Uint64 // messages the streams refused or did not answer for
	Received    atomic.Uint64 // QoS 1/2 messages from other nodes handed to the broker
	Own         atomic.Uint64 // the node's own QoS 1/2 messages from its consumer, handed to the broker
	Redelivered atomic.Uint64 // redeliveries of a message in process or acked, not routed again
	Bad         atomic.Uint64 // messages with a bad subject or header, dropped
	StoreFails  atomic.Uint64 // messages the broker could not store, sent again later
	Rejoined    atomic.Uint64 // times the node's consumer was found deleted (the node taken for dead) and made again
}

// durable is a node's part of the streams.
type durable struct {
	n        *Node
	js       jetstream.JetStream
	replicas int

	ctx    context.Context // ended by close
	cancel context.CancelFunc

	ready   atomic.Bool
	readyCh chan struct{} // closed when ready
	qos     jetstream.Stream
	ret     jetstream.Stream
	cc      jetstream.ConsumeContext // the node's consumer; set before ready, replaced by watchConsumer
	// lost is signalled by the consumer's error handler when the consumer
	// may be gone (deleted, or no heartbeats): watchConsumer looks.
	lost chan struct{}

	pending chan pubWait // PubAcks awaited, in publish order
	purges  chan purge   // subjects to purge after an empty retained message

	mu     sync.Mutex // guards closed, wg.Add and sends on pending
	closed bool
	wg     sync.WaitGroup

	// gate is held for reading while receive routes a message, and for
	// writing by an adoption (reaper.go) while it reads the stream's last
	// sequence and adopts a dead node's sessions: a message is either in
	// the range the adoption reads or routed after the adopted sessions
	// are in the topic tree. Taken with no other lock of this package.
	gate sync.RWMutex
	// routed is the highest stream sequence this node has routed (set
	// under gate's read lock, after the broker took the message): a
	// session handed over after it was read had every message up to it
	// (registry.catchUp).
	routed atomic.Uint64
	// seen follows the stream messages being processed and the last
	// acked, by stream sequence (tracker, sharedqos.go).
	seen tracker[uint64]

	stats DurableStats
}

// pubWait is one PubAck awaited and what to do with it.
type pubWait struct {
	f    jetstream.PubAckFuture
	done func(seq uint64, err error)
}

// purge is a subject of TERN_RETAINED to purge below a sequence number.
type purge struct {
	subject string
	below   uint64
}

// startDurable gives n its streams' part (Start calls it once n is
// connected): it sets the streams and the node's consumer up in the
// background, retrying until JetStream answers, and waits for PubAcks.
func (n *Node) startDurable(cfg Config) {
	// jetstream.New fails only on invalid options.
	js, _ := jetstream.New(n.nc,
		jetstream.WithPublishAsyncTimeout(ackTimeout),
		jetstream.WithPublishAsyncMaxPending(maxPending))
	ctx, cancel := context.WithCancel(context.Background())
	d := &durable{
		n: n, js: js, replicas: replicasFor(cfg), ctx: ctx, cancel: cancel,
		readyCh: make(chan struct{}),
		pending: make(chan pubWait, maxPending),
		purges:  make(chan purge, 256),
		lost:    make(chan struct{}, 1),
	}
	n.q = d
	d.wg.Add(3)
	go d.setupLoop()
	go d.waitAcks()
	go d.purgeLoop()
}

// replicasFor is the replication factor for a node with the given
// routes: 3 (cluster.md: HA needs 3 nodes), fewer in a smaller cluster.
func replicasFor(cfg Config) int {
	if cfg.URL != "" {
		return 3
	}
	peers := 1
	for _, r := range cfg.Routes {
		if !strings.HasSuffix(r, ":"+strconv.Itoa(cfg.ClusterPort)) {
			peers++
		}
	}
	return min(peers, 3)
}

// close stops the consumer and the goroutines, failing what still waits
// for a PubAck. It is called before the NATS connection closes.
func (d *durable) close() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.cancel()
	d.wg.Wait()
	if d.ready.Load() {
		d.cc.Stop()
	}
	for {
		select {
		case p := <-d.pending:
			p.done(0, fmt.Errorf("%w: node closed", broker.ErrClusterRefused))
		default:
			return
		}
	}
}

// goTracked runs f on a goroutine that close waits for; false if closed.
func (d *durable) goTracked(f func()) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return false
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		f()
	}()
	return true
}

func (d *durable) setupLoop() {
	defer d.wg.Done()
	pause := time.NewTimer(0)
	defer pause.Stop()
	for attempt := 1; ; attempt++ {
		// Ask with short calls until the meta leader answers: a request
		// sent before it is lost and would wait out a long call.
		if d.n.WaitJetStream(d.ctx) != nil {
			return
		}
		err := d.setup()
		if err == nil {
			d.n.log.Info("cluster: streams ready", "replicas", d.replicas, "attempts", attempt)
			d.watchConsumer()
			return
		}
		if d.ctx.Err() != nil {
			return
		}
		d.n.log.Debug("cluster: streams not set up", "attempt", attempt, "err", err)
		if attempt%40 == 0 { // every 10 s
			d.n.log.Warn("cluster: streams not ready yet; QoS 1/2 and retained publishes are refused", "err", err)
		}
		pause.Reset(setupPause)
		select {
		case <-pause.C:
		case <-d.ctx.Done():
			return
		}
	}
}

// consumerName is the name of the node's durable consumer: its Config.Name,
// so that a restarted node takes up where it left.
func (d *durable) consumerName() string { return consumerNameOf(d.n.id) }

// consumerNameOf is the name of the durable consumer of the node with id
// (Node.ID): "tern-node-" and its Config.Name.
func consumerNameOf(id string) string {
	if i := strings.LastIndexByte(id, '-'); i > 0 {
		id = id[:i]
	}
	return "tern-node-" + id
}

// setup makes (or finds) the streams and the node's consumer and starts
// consuming.
func (d *durable) setup() error {
	qs, err := d.stream(jetstream.StreamConfig{
		Name:        StreamQoS,
		Description: "Tern: QoS 1/2 messages between nodes",
		Subjects:    []string{QoSPrefix + ">"},
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      qosMaxAge,
		MaxBytes:    qosMaxBytes,
		Duplicates:  qosDuplicates,
		Storage:     jetstream.FileStorage,
		Replicas:    d.replicas,
	})
	if err != nil {
		return err
	}
	rs, err := d.stream(jetstream.StreamConfig{
		Name:              StreamRetained,
		Description:       "Tern: the retained message of each topic",
		Subjects:          []string{RetainedPrefix + ">"},
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardNew,
		MaxMsgsPerSubject: 1,
		MaxBytes:          retainedMaxBytes,
		Duplicates:        qosDuplicates,
		Storage:           jetstream.FileStorage,
		Replicas:          d.replicas,
	})
	if err != nil {
		return err
	}
	cc, err := d.consume(qs, 0)
	if err != nil {
		return err
	}
	d.qos, d.ret, d.cc = qs, rs, cc
	d.ready.Store(true)
	close(d.readyCh)
	return nil
}

// consume makes (or finds) the node's consumer of qs and consumes from
// it: from the stream's end for a new consumer, or from sequence from
// when it is not 0.
func (d *durable) consume(qs jetstream.Stream, from uint64) (jetstream.ConsumeContext, error) {
	cfg := jetstream.ConsumerConfig{
		Durable:       d.consumerName(),
		Description:   "Tern: the messages for node " + d.n.id,
		DeliverPolicy: jetstream.DeliverNewPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       consumerAckWait,
		MaxAckPending: 1 << 14,
		FilterSubject: QoSPrefix + ">",
	}
	call, cancel := context.WithTimeout(d.ctx, callTimeout)
	defer cancel()
	var cons jetstream.Consumer
	var err error
	if from > 0 {
		// Made again: only if it is still gone (a consumer found gone
		// during a leader election is there after all).
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, from
		if cons, err = qs.CreateConsumer(call, cfg); errors.Is(err, jetstream.ErrConsumerExists) {
			cons, err = qs.Consumer(call, cfg.Durable)
		}
	} else {
		cons, err = qs.CreateOrUpdateConsumer(call, cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("consumer: %w", err)
	}
	cc, err := cons.Consume(d.receive,
		jetstream.PullMaxMessages(512),
		// A pull request lost to a change of the consumer's leader is
		// noticed by missing heartbeats (half the expiry): keep it short,
		// or the node's QoS 1/2 stall for half a minute.
		jetstream.PullExpiry(pullExpiry),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			d.n.log.Debug("cluster: consumer", "err", err)
			if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrNoHeartbeat) {
				select {
				case d.lost <- struct{}{}:
				default:
				}
			}
		}))
	if err != nil {
		return nil, fmt.Errorf("consume: %w", err)
	}
	return cc, nil
}

// watchConsumer makes the node's consumer again when it is gone: a
// survivor's reaper deletes the consumer of a node it took for dead (cut
// off longer than its lease), and such a node, back in the cluster,
// would otherwise get no QoS 1/2 message again until it restarts. The
// sessions the reaper gave to other nodes are dropped here first
// (registry.fence); the new consumer starts after the last message this
// node routed, so that the sessions it still holds miss nothing.
func (d *durable) watchConsumer() {
	for {
		select {
		case <-d.lost:
		case <-d.ctx.Done():
			return
		}
		call, cancel := context.WithTimeout(d.ctx, callTimeout)
		_, err := d.qos.Consumer(call, d.consumerName())
		cancel()
		if !errors.Is(err, jetstream.ErrConsumerNotFound) {
			continue // there, or JetStream cannot tell: the next error asks again
		}
		d.n.log.Warn("cluster: this node's consumer was deleted: the cluster took the node for dead; dropping the sessions it gave to others and consuming again")
		fenced := d.n.reg.fence(d.ctx)
		d.cc.Stop()
		for {
			cc, err := d.consume(d.qos, d.routed.Load()+1)
			if err == nil {
				d.cc = cc // close reads it after this goroutine ended
				break
			}
			d.n.log.Warn("cluster: making the node's consumer again", "err", err)
			t := time.NewTimer(setupPause)
			select {
			case <-t.C:
			case <-d.ctx.Done():
				t.Stop()
				return
			}
		}
		d.stats.Rejoined.Add(1)
		d.n.log.Info("cluster: consuming again", "from", d.routed.Load()+1, "sessions_dropped", fenced)
	}
}

// stream finds the stream of cfg or creates it. Nodes starting together
// race to create it, and a create request that loses may get no answer:
// so it is looked up first, and a create is bounded by createTimeout
// before the next attempt looks again.
func (d *durable) stream(cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	call, cancel := context.WithTimeout(d.ctx, lookupTimeout)
	s, err := d.js.Stream(call, cfg.Name)
	cancel()
	if err == nil {
		return s, nil
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("stream %s: %w", cfg.Name, err)
	}
	call, cancel = context.WithTimeout(d.ctx, createTimeout)
	defer cancel()
	s, err = d.js.CreateStream(call, cfg)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", cfg.Name, err)
	}
	return s, nil
}

// receive hands one message of the node's consumer to the broker and acks
// it once the broker has it: stored (done) and every TERN_SESSQ append
// made while routing it acknowledged (registry.after); a failure of either
// naks it, to be sent again (a QoS 1 duplicate, never a loss).
func (d *durable) receive(msg jetstream.Msg) {
	srv := d.n.srv.Load()
	if srv == nil {
		msg.NakWithDelay(100 * time.Millisecond) // not attached yet
		return
	}
	var sseq uint64
	if meta, err := msg.Metadata(); err == nil {
		sseq = meta.Sequence.Stream
	}
	if !d.seen.begin(sseq, msg) {
		d.stats.Redelivered.Add(1)
		return
	}
	m, origin, err := d.decode(msg, QoSPrefix)
	if err != nil {
		d.stats.Bad.Add(1)
		d.n.log.Warn("cluster: dropped a stream message", "subject", msg.Subject(), "err", err)
		d.seen.end(sseq, msg, false).Term()
		return
	}
	own := origin == d.n.id
	r := d.n.reg
	j := &joined{done: func(err error) {
		if err != nil {
			d.stats.StoreFails.Add(1)
			d.seen.end(sseq, msg, false).Nak()
			return
		}
		d.seen.end(sseq, msg, true).Ack()
	}}
	j.n.Store(2)
	d.gate.RLock()
	from := r.issued()
	srv.InjectDurable(m, own, j.finish)
	to := r.issued()
	if sseq > d.routed.Load() {
		d.routed.Store(sseq) // receive is not called concurrently
	}
	d.gate.RUnlock()
	r.after(from, to, j.finish)
	if own { // routed: counted after, so a test that saw it sees the deliveries
		d.stats.Own.Add(1)
	} else {
		d.stats.Received.Add(1)
	}
}

// decode returns the message of a stream message under prefix and its
// origin; its expiry counts from the time the stream stored it.
func (d *durable) decode(msg jetstream.Msg, prefix string) (*broker.Message, string, error) {
	at := time.Now()
	if meta, err := msg.Metadata(); err == nil {
		at = meta.Timestamp
	}
	return decodeStored(msg.Subject(), msg.Headers(), msg.Data(), at, prefix)
}

// decodeStored decodes a message stored at time at under prefix: with
// the publisher's client id (From) and the cluster's id of the message
// (Origin, the Nats-Msg-Id "<origin node>:<seq>").
func decodeStored(subject string, h nats.Header, data []byte, at time.Time, prefix string) (*broker.Message, string, error) {
	subj, ok := strings.CutPrefix(subject, prefix)
	if !ok {
		return nil, "", fmt.Errorf("%w: %q is not under %s", ErrSubject, subject, prefix)
	}
	m, origin, seq, err := decode(&nats.Msg{Subject: "tern." + subj, Header: h, Data: data}, at)
	if err != nil {
		return nil, "", err
	}
	if v := h.Get(hFrom); v != "" {
		if m.From, err = url.QueryUnescape(v); err != nil {
			return nil, "", fmt.Errorf("%w: %s %q", ErrHeader, hFrom, v)
		}
	}
	m.Origin = msgID(origin, seq)
	return m, origin, nil
}

// msgID is the Nats-Msg-Id of the message seq of node origin, and the
// Origin of its broker.Message.
func msgID(origin string, seq uint64) string { return origin + ":" + strconv.FormatUint(seq, 10) }

// streamSubject is the subject of topic in the stream with prefix.
func streamSubject(prefix, topic string) string {
	return prefix + Subject(topic)[len("tern."):]
}

// errNotReady refuses messages before the streams are set up.
var errNotReady = fmt.Errorf("%w: JetStream streams not ready", broker.ErrClusterRefused)

// refusal wraps a JetStream error as a refusal by the cluster, except for a
// message NATS cannot carry at all.
func refusal(err error) error {
	if errors.Is(err, nats.ErrMaxPayload) || errors.Is(err, nats.ErrBadSubject) {
		return err
	}
	return fmt.Errorf("%w: %w", broker.ErrClusterRefused, err)
}

// PublishedDurable implements broker.ClusterDurable: a QoS 1/2 message
// goes to TERN_QOS (a QoS 0 one to core NATS, as Published), a retained
// one also to TERN_RETAINED (an empty payload there marks and then
// purges its topic); done follows the last PubAck.
func (n *Node) PublishedDurable(m *broker.Message, done func(error)) {
	d := n.q
	if m.QoS == 0 {
		n.Published(m) // the live copy; the retained one below
	}
	if !d.ready.Load() {
		d.stats.Refused.Add(1)
		done(errNotReady)
		return
	}
	now := time.Now()
	parts := 0
	if m.QoS > 0 {
		parts++
	}
	if m.Retain {
		parts++
	}
	j := &joined{done: done}
	j.n.Store(int32(parts))
	if m.QoS > 0 {
		seq := n.seq.Add(1)
		msg := encode(m, n.id, seq, now)
		msg.Subject = QoSPrefix + msg.Subject[len("tern."):]
		if m.From != "" { // No Local, on whichever node the message is routed
			msg.Header[hFrom] = []string{url.QueryEscape(m.From)}
		}
		d.publish(msg, msgID(n.id, seq), func(_ uint64, err error) { j.finish(err) })
	}
	if m.Retain {
		seq := n.seq.Add(1)
		msg := encode(m, n.id, seq, now)
		subj := RetainedPrefix + msg.Subject[len("tern."):]
		msg.Subject = subj
		empty := len(m.Payload) == 0
		d.publish(msg, msgID(n.id, seq), func(sseq uint64, err error) {
			if err == nil && empty {
				select { // the mark is enough if the purge waits its turn
				case d.purges <- purge{subject: subj, below: sseq + 1}:
				default:
				}
			}
			j.finish(err)
		})
	}
}

// publish sends msg to its stream with a message id and calls done with
// the stream sequence number or an error, in publish order.
// d.mu is held from the check of closed to the hand-over to waitAcks, so
// that close fails every publish it does not wait for.
// done is called with no lock held.
func (d *durable) publish(msg *nats.Msg, id string, done func(uint64, error)) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		done(0, fmt.Errorf("%w: node closed", broker.ErrClusterRefused))
		return
	}
	f, err := d.js.PublishMsgAsync(msg, jetstream.WithMsgID(id), jetstream.WithStallWait(stallWait))
	if err == nil {
		d.pending <- pubWait{f: f, done: done} // waitAcks runs until close took d.mu
	}
	d.mu.Unlock()
	if err != nil {
		d.stats.Refused.Add(1)
		done(0, refusal(err))
	}
}

// waitAcks calls the done of each PubAck awaited, in publish order.
func (d *durable) waitAcks() {
	defer d.wg.Done()
	for {
		var p pubWait
		select {
		case p = <-d.pending:
		case <-d.ctx.Done():
			return
		}
		select {
		case ack := <-p.f.Ok():
			d.stats.Stored.Add(1)
			p.done(ack.Sequence, nil)
		case err := <-p.f.Err():
			d.stats.Refused.Add(1)
			p.done(0, refusal(err))
		case <-d.ctx.Done():
			p.done(0, fmt.Errorf("%w: node closed", broker.ErrClusterRefused))
			return
		}
	}
}

// purgeLoop purges the subjects of cleared retained messages below their
// empty mark, which keeps a later retained message of the topic.
func (d *durable) purgeLoop() {
	defer d.wg.Done()
	for {
		select {
		case p := <-d.purges:
			call, cancel := context.WithTimeout(d.ctx, callTimeout)
			err := d.ret.Purge(call, jetstream.WithPurgeSubject(p.subject), jetstream.WithPurgeSequence(p.below))
			cancel()
			if err != nil && d.ctx.Err() == nil {
				d.n.log.Debug("cluster: purge of a cleared retained message", "subject", p.subject, "err", err)
			}
		case <-d.ctx.Done():
			return
		}
	}
}

// joined calls done once after n parts finished, with the first error.
type joined struct {
	n    atomic.Int32
	err  atomic.Pointer[error]
	done func(error)
}

func (j *joined) finish(err error) {
	if err != nil {
		j.err.CompareAndSwap(nil, &err)
	}
	if j.n.Add(-1) == 0 {
		var e error
		if p := j.err.Load(); p != nil {
			e = *p
		}
		j.done(e)
	}
}

// Ready is closed once the node's streams and consumer are set up; until
// then QoS 1/2 and retained publishes are refused.
func (n *Node) Ready() <-chan struct{} { return n.q.readyCh }

// DurableStats returns the counters of the node's streams.
func (n *Node) DurableStats() *DurableStats { return &n.q.stats }

// JetStream is the node's JetStream context.
func (n *Node) JetStream() jetstream.JetStream { return n.q.js }

var _ broker.ClusterDurable = (*Node)(nil)
