package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/broker/store"
)

// The session registry (cluster.md, "session registry, take-over"): the
// KV bucket tern_sessions maps a client id's hash to the node that owns
// its session, with an epoch that grows with each change of owner; the
// bucket tern_nodes holds a lease per node, renewed while the node runs.
// A CONNECT makes its node the owner with a compare-and-swap at the
// revision it read (takeover.go asks the previous owner to hand the
// session over first). The queued and in-flight deliveries of a session
// handed over travel through the stream TERN_SESSQ, one subject per
// session, never one stream or consumer per session.
const (
	sessionsBucket = "tern_sessions"
	nodesBucket    = "tern_nodes"
	sessQStream    = "TERN_SESSQ"
	sessQPrefix    = "tern.sq."

	// leaseTTL is how long a node's lease outlives its last renewal,
	// renewed every leaseRenew.
	leaseTTL   = 6 * time.Second
	leaseRenew = 2 * time.Second
	// claimTimeout bounds a CONNECT's claim, takeoverTimeout the previous
	// owner's answer to a take-over.
	claimTimeout    = 10 * time.Second
	takeoverTimeout = 4 * time.Second
	// handOffTimeout bounds the owner's side of a take-over: longer than
	// the asking node waits, which asks again (handoffCall) rather than
	// have the owner give up a session it has taken off its broker.
	handOffTimeout = 30 * time.Second
	// flapHold is how long a client id stays on a node it just moved to
	// before another node takes it over: two clients with one client id
	// on two nodes then change places at most once a second, not in a
	// tight ping-pong.
	flapHold = time.Second
	// sessQCap is the most messages TERN_SESSQ keeps per session (the
	// oldest go first), the broker's default MaxQueued; sessQAge bounds
	// how long they stay.
	sessQCap = 10000
	sessQAge = 7 * 24 * time.Hour
)

// record is the value of a client id's key in tern_sessions.
type record struct {
	ClientID string `json:"cid"`
	// Owner is the id (Node.ID) of the node that holds the session.
	Owner string `json:"owner"`
	// Epoch grows by one with each change of owner.
	Epoch uint64 `json:"epoch"`
	// Since is when Owner took the session (Unix milliseconds).
	Since int64 `json:"since"`
	// Session is the session as last handed over (store.SessionRecord:
	// subscriptions, expiry); nil when there is none to resume.
	Session []byte `json:"session,omitempty"`
	// Inbound are the packet ids of inbound QoS 2 messages awaiting PUBREL.
	Inbound []uint16 `json:"inbound,omitempty"`
}

// RegistryStats are the counters of a node's session registry.
type RegistryStats struct {
	Claims    atomic.Uint64 // CONNECTs that made this node the owner
	Takeovers atomic.Uint64 // sessions this node took from another live node
	HandOffs  atomic.Uint64 // sessions this node handed to another node
	Conflicts atomic.Uint64 // compare-and-swap failures (another node raced)
	Held      atomic.Uint64 // claims held back because the client id just moved
	Recovered atomic.Uint64 // sessions of a dead node resumed by a CONNECT before their adoption
	Adopted   atomic.Uint64 // sessions of dead nodes this node adopted
	Reclaimed atomic.Uint64 // sessions of an earlier incarnation of this node taken back at its restart (restart.go)
	Stale     atomic.Uint64 // sessions recovered from the store and dropped: held elsewhere, or ended
	Deferred  atomic.Uint64 // recovered sessions whose verdict waited for a survivor's reaper of an earlier incarnation
	CaughtUp  atomic.Uint64 // messages read from TERN_QOS for sessions moved here from a live node (catchUp)
}

// registry is a node's part of the session registry.
type registry struct {
	n        *Node
	log      *slog.Logger
	replicas int

	ctx    context.Context // ends at close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	ready  chan struct{} // closed once set up (or off)
	off    bool          // no JetStream: every node serves its own sessions
	stats  RegistryStats

	// Set before ready is closed.
	js    jetstream.JetStream
	kv    jetstream.KeyValue
	nodes jetstream.KeyValue
	sq    jetstream.Stream
	ctl   *nats.Subscription

	// sqUnreadable makes readQueued fail as it does when TERN_SESSQ does
	// not answer (a stream electing its leader): fault injection for
	// tests.
	sqUnreadable atomic.Bool

	mu      sync.Mutex
	closed  bool
	owned   map[string]owned // client id → the record this node wrote
	handing map[string]int   // client ids being handed to another node
	// handoffs holds, per client id, the hand-over in progress or just
	// done (takeover.go): a take-over asked again gets its answer.
	handoffs map[string]*handoffCall
	// dirty holds the session records changed since the writer last ran
	// (SessionChanged), and wake tells the writer.
	dirty map[string]store.SessionRecord
	wake  chan struct{}
	// adopting holds the client ids whose sessions a reaper is adopting
	// (reaper.go), closed when done: a take-over waits for it.
	adopting map[string]chan struct{}
	// orphans holds the sessions a reaper could not adopt because a
	// CONNECT on this node made a session for the client id meanwhile:
	// that CONNECT's claim takes it.
	orphans map[string]*broker.SessionHandoff
	// recon holds the client ids of the sessions the broker recovered
	// from its store, each with a channel closed once the cluster's
	// verdict is given (restart.go): a claim waits for it. reconOn: the
	// reconciliation started.
	recon   map[string]chan struct{}
	reconOn bool
	// wt is the write-through of the sessions' deliveries to TERN_SESSQ
	// (sessq.go), with a lock of its own.
	wt *writeThrough
}

// startRegistry sets the registry up in the background: JetStream may
// have no meta leader yet when the node starts.
func startRegistry(n *Node, cfg Config) *registry {
	r := &registry{n: n, log: n.log, ready: make(chan struct{}),
		owned: make(map[string]owned), handing: make(map[string]int), handoffs: make(map[string]*handoffCall),
		dirty: make(map[string]store.SessionRecord), wake: make(chan struct{}, 1),
		adopting: make(map[string]chan struct{}), orphans: make(map[string]*broker.SessionHandoff),
		recon: make(map[string]chan struct{}),
		wt:    newWriteThrough()}
	r.replicas = 3
	if cfg.URL == "" && len(cfg.Routes) < 2 {
		r.replicas = 1
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.wg.Add(1)
	go r.setup()
	return r
}

// setup creates the buckets and the stream (or finds them), takes the
// node's lease and answers take-overs, retrying until JetStream answers.
func (r *registry) setup() {
	defer r.wg.Done()
	if js, _ := r.n.nc.ConnectedServerJetStream(); !js {
		r.log.Info("cluster: NATS without JetStream; no session registry")
		r.off = true
		close(r.ready)
		return
	}
	pause := time.NewTimer(0)
	defer pause.Stop()
	for {
		// As the streams do (qos.go): short calls until the meta leader
		// answers, for a request sent before it is lost and waits out
		// init's whole timeout.
		if r.n.WaitJetStream(r.ctx) != nil {
			return
		}
		err := r.init()
		if err == nil {
			close(r.ready)
			r.startWriteThrough()
			r.wg.Add(2)
			go r.writer()
			go r.watchLeases()
			r.renew()
			return
		}
		r.log.Debug("cluster: session registry not ready", "err", err)
		pause.Reset(100 * time.Millisecond)
		select {
		case <-pause.C:
		case <-r.ctx.Done():
			return
		}
	}
}

func (r *registry) init() error {
	// A new R3 asset waits for its Raft group's leader, seconds on a busy
	// machine, and a request for an asset without a leader yet gets no
	// answer: the three are made at once, and each request is given a few
	// seconds before setup asks again.
	ctx, cancel := context.WithTimeout(r.ctx, 4*time.Second)
	defer cancel()
	js, err := jetstream.New(r.n.nc)
	if err != nil {
		return err
	}
	var kv, nodes jetstream.KeyValue
	var sq jetstream.Stream
	var wg sync.WaitGroup
	errs := make([]error, 3)
	wg.Go(func() {
		kv, errs[0] = ensureKV(ctx, js, jetstream.KeyValueConfig{Bucket: sessionsBucket, History: 1,
			Replicas: r.replicas, Description: "Tern: client id hash → owner node, epoch, session"})
	})
	wg.Go(func() {
		nodes, errs[1] = ensureKV(ctx, js, jetstream.KeyValueConfig{Bucket: nodesBucket, History: 1,
			TTL: leaseTTL, Replicas: r.replicas, Description: "Tern: node leases"})
	})
	wg.Go(func() {
		sq, errs[2] = ensureStream(ctx, js, jetstream.StreamConfig{Name: sessQStream, Subjects: []string{sessQPrefix + ">"},
			Description: "Tern: deliveries of sessions handed between nodes", MaxMsgsPerSubject: sessQCap,
			Discard: jetstream.DiscardOld, MaxAge: sessQAge, Replicas: r.replicas, Storage: jetstream.FileStorage})
	})
	wg.Wait()
	for i, name := range []string{sessionsBucket, nodesBucket, sessQStream} {
		if errs[i] != nil {
			return fmt.Errorf("%s: %w", name, errs[i])
		}
	}
	if _, err := nodes.Put(ctx, r.n.id, lease()); err != nil {
		return fmt.Errorf("lease: %w", err)
	}
	ctl, err := r.n.nc.Subscribe(ctlSubject(r.n.id), r.onTakeover)
	if err != nil {
		return err
	}
	r.js, r.kv, r.nodes, r.sq, r.ctl = js, kv, nodes, sq, ctl
	return nil
}

// ensureKV finds the bucket of cfg or creates it. The nodes start at
// once: one creates it, the others find it (no update: three nodes
// updating one stream at once wait on each other).
func ensureKV(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, cfg.Bucket)
	if !errors.Is(err, jetstream.ErrBucketNotFound) {
		return kv, err
	}
	kv, err = js.CreateKeyValue(ctx, cfg)
	if errors.Is(err, jetstream.ErrBucketExists) {
		return js.KeyValue(ctx, cfg.Bucket)
	}
	return kv, err
}

// ensureStream finds the stream of cfg or creates it.
func ensureStream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	s, err := js.Stream(ctx, cfg.Name)
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return s, err
	}
	s, err = js.CreateStream(ctx, cfg)
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return js.Stream(ctx, cfg.Name)
	}
	return s, err
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func lease() []byte { return strconv.AppendInt(nil, time.Now().UnixMilli(), 10) }

// renew renews the node's lease until close.
func (r *registry) renew() {
	t := time.NewTicker(leaseRenew)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			ctx, cancel := context.WithTimeout(r.ctx, leaseRenew)
			if _, err := r.nodes.Put(ctx, r.n.id, lease()); err != nil && r.ctx.Err() == nil {
				r.log.Warn("cluster: renewing the node's lease", "err", err)
			}
			cancel()
		case <-r.ctx.Done():
			return
		}
	}
}

// close stops the registry: no more take-overs are answered, the lease is
// given up (the node's sessions are then free to take without asking).
func (r *registry) close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	select {
	case <-r.ready:
		// The purger's last pass, before anything is cancelled: what
		// clients settled is purged before a survivor reads it.
		close(r.wt.leave)
		if !r.off {
			t := time.NewTimer(leavePurgeTimeout + time.Second)
			select {
			case <-r.wt.left:
			case <-t.C:
			}
			t.Stop()
		}
	default:
	}
	r.cancel()
	r.wg.Wait()
	select {
	case <-r.ready:
	default:
		return
	}
	if r.off {
		return
	}
	r.ctl.Unsubscribe()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	r.nodes.Delete(ctx, r.n.id)
}

// wait waits until the registry is set up.
func (r *registry) wait(ctx context.Context) error {
	select {
	case <-r.ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: session registry not ready: %w", broker.ErrClusterUnavailable, ctx.Err())
	case <-r.ctx.Done():
		return fmt.Errorf("%w: node closed", broker.ErrClusterUnavailable)
	}
}

// sessionKey is the key of clientID in tern_sessions; queueSubject its
// subject in TERN_SESSQ. Both hold a hash: a client id may hold any
// character.
func sessionKey(clientID string) string { return "s." + cidHash(clientID) }

func queueSubject(clientID string) string { return sessQPrefix + cidHash(clientID) }

func cidHash(clientID string) string {
	h := sha256.Sum256([]byte(clientID))
	return hex.EncodeToString(h[:16])
}

// get reads clientID's record; rev 0 when there is none.
func (r *registry) get(ctx context.Context, key string) (rec record, rev uint64, err error) {
	e, err := r.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return record{}, 0, nil
	}
	if err != nil {
		return record{}, 0, err
	}
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return record{}, 0, fmt.Errorf("record %s: %w", key, err)
	}
	return rec, e.Revision(), nil
}

// owned is a record this node wrote, without its session, and its
// revision: the record writer's next compare-and-swap needs no read.
type owned struct {
	rev uint64
	rec record
}

// own notes that this node wrote clientID's record rec at rev.
func (r *registry) own(clientID string, rev uint64, rec record) {
	rec.Session, rec.Inbound = nil, nil
	r.mu.Lock()
	r.owned[clientID] = owned{rev, rec}
	r.mu.Unlock()
}

// claim implements broker.SessionCluster.ClaimSession.
func (r *registry) claim(ctx context.Context, clientID string, clean, persistent bool) (*broker.SessionHandoff, error) {
	if err := r.waitVerdict(ctx, clientID); err != nil {
		return nil, err
	}
	if !persistent {
		select {
		case <-r.ready:
		default:
			// Not set up yet (the node is starting): a session that ends
			// with its connection is served here without waiting.
			return nil, nil
		}
	}
	ctx, cancel := context.WithTimeout(ctx, claimTimeout)
	defer cancel()
	if err := r.wait(ctx); err != nil || r.off {
		return nil, err
	}
	key := sessionKey(clientID)
	pause := time.NewTimer(0)
	<-pause.C
	defer pause.Stop()
	var last error
	for try := 0; ; try++ {
		if try > 0 {
			// After a failure or a lost race: a short pause, longer each time.
			pause.Reset(time.Duration(min(try, 10)) * 10 * time.Millisecond)
			select {
			case <-pause.C:
			case <-ctx.Done():
				return nil, fmt.Errorf("%w: claim of %q: %w (last: %v)", broker.ErrClusterUnavailable, clientID, ctx.Err(), last)
			}
		}
		h, done, err := r.claimOnce(ctx, clientID, key, clean)
		if done {
			r.stats.Claims.Add(1)
			return h, nil
		}
		last = err
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: claim of %q: %w (last: %v)", broker.ErrClusterUnavailable, clientID, ctx.Err(), last)
		}
	}
}

// claimOnce is one attempt of claim; done reports whether this node is
// now the owner.
func (r *registry) claimOnce(ctx context.Context, clientID, key string, clean bool) (h *broker.SessionHandoff, done bool, err error) {
	rec, rev, err := r.get(ctx, key)
	if err != nil {
		return nil, false, err
	}
	now := time.Now()
	me := r.n.id
	if rev == 0 {
		rec = record{ClientID: clientID, Owner: me, Epoch: 1, Since: now.UnixMilli()}
		b, _ := json.Marshal(rec)
		if rev, err = r.kv.Create(ctx, key, b); err != nil {
			r.conflict(err)
			return nil, false, err
		}
		r.own(clientID, rev, rec)
		return nil, true, nil
	}
	if rec.Owner == me {
		r.mu.Lock()
		adopting := r.adopting[clientID]
		orphan := r.orphans[clientID]
		if adopting == nil {
			delete(r.orphans, clientID)
		}
		r.mu.Unlock()
		if adopting != nil {
			// A reaper of this node is adopting the session: its claim
			// waits, then finds the session adopted, or an orphan.
			select {
			case <-adopting:
			case <-ctx.Done():
			}
			return nil, false, errors.New("waited for the adoption of the session")
		}
		if clean && rec.Session != nil {
			rec.Session, rec.Inbound = nil, nil
			b, _ := json.Marshal(rec)
			if rev, err = r.kv.Update(ctx, key, b, rev); err != nil {
				r.conflict(err)
				return nil, false, err
			}
		}
		r.own(clientID, rev, rec)
		if orphan != nil && !clean {
			return orphan, true, nil
		}
		return nil, true, nil
	}
	live := rec.Owner != "" && r.alive(ctx, rec.Owner)
	if hold := time.UnixMilli(rec.Since).Add(flapHold).Sub(now); live && hold > 0 {
		r.stats.Held.Add(1)
		t := time.NewTimer(hold)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		return nil, false, errors.New("held back: the client id just moved")
	}
	dead := rec.Owner != "" && !live
	var routed uint64 // the live owner's routing point (catchUp)
	if live {
		resp, err := r.askTakeover(ctx, rec.Owner, clientID, clean)
		switch {
		case errors.Is(err, nats.ErrNoResponders):
			// The owner left without giving up its lease: take it.
			dead = true
		case err != nil:
			return nil, false, err
		case resp.Rev != 0:
			rec, rev, routed = resp.Record, resp.Rev, resp.Routed
		}
		if err == nil {
			r.stats.Takeovers.Add(1)
		}
	}
	// A dead owner's consumer holds what it had not acknowledged: its ack
	// floor is read before this node takes the session, and a claim that
	// cannot read it fails (0x88, the client tries again) rather than
	// resume the session without those messages.
	var pre *recovery
	if dead && !clean && rec.Session != nil {
		if pre, err = r.prepareRecovery(ctx, rec.Owner); err != nil {
			return nil, false, err
		}
	}
	// So are the deliveries the owner wrote through or handed over.
	var q queued
	if !clean && rec.Session != nil {
		if q, err = r.readQueued(ctx, clientID, rec.Epoch); err != nil {
			return nil, false, err
		}
	}
	next := rec
	next.Owner, next.Epoch, next.Since = me, rec.Epoch+1, now.UnixMilli()
	if clean {
		next.Session, next.Inbound = nil, nil
	}
	b, _ := json.Marshal(next)
	nrev, err := r.kv.Update(ctx, key, b, rev)
	if err != nil {
		r.conflict(err)
		return nil, false, err
	}
	r.own(clientID, nrev, next)
	if clean || rec.Session == nil {
		return nil, true, nil
	}
	if dead {
		return r.recover(ctx, clientID, &rec, q, rec.Owner, pre), true, nil
	}
	h = r.resume(ctx, clientID, &rec, q)
	if h != nil && routed > 0 {
		r.catchUp(clientID, h, routed)
	}
	return h, true, nil
}

// conflict counts a failed compare-and-swap.
func (r *registry) conflict(err error) {
	if refused(err) {
		r.stats.Conflicts.Add(1)
	}
}

// alive reports whether node's lease is held.
func (r *registry) alive(ctx context.Context, node string) bool {
	_, err := r.nodes.Get(ctx, node)
	return !errors.Is(err, jetstream.ErrKeyNotFound)
}

// resume builds the session handed over in rec, with the deliveries its
// previous owner put in TERN_SESSQ (q, read before this node took the
// session). What was read is purged: the session is this node's now.
func (r *registry) resume(ctx context.Context, clientID string, rec *record, q queued) *broker.SessionHandoff {
	h := &broker.SessionHandoff{Inbound: rec.Inbound}
	var err error
	if h.Session, err = store.DecodeSession(rec.Session); err != nil {
		r.log.Error("cluster: a session record that does not decode; starting anew", "client", clientID, "err", err)
		return nil
	}
	if s := &h.Session; s.Expiry == 0 || s.Disconnected != 0 && s.Expiry != 0xFFFFFFFF &&
		time.Since(time.Unix(0, s.Disconnected)) > time.Duration(s.Expiry)*time.Second {
		return nil // expired while its node was gone
	}
	h.Session.Will, h.Session.WillDelay, h.Session.Disconnected = nil, 0, 0
	h.Deliveries = q.ds
	if q.last > 0 {
		if err := r.sq.Purge(ctx, jetstream.WithPurgeSubject(queueSubject(clientID)), jetstream.WithPurgeSequence(q.last+1)); err != nil {
			r.log.Warn("cluster: purging a session's handed-over deliveries", "client", clientID, "err", err)
		}
	}
	return h
}

// queued is what a session's previous owner put in TERN_SESSQ for it
// (readQueued): its deliveries, and the last sequence read (0: none),
// which is purged once the session is this node's.
type queued struct {
	ds   []broker.HandoffDelivery
	last uint64
}

// errSessqUnreadable is readQueued's error under sqUnreadable.
var errSessqUnreadable = errors.New("TERN_SESSQ made unreadable")

// readQueued reads the deliveries of clientID's session that its owner at
// epoch put in TERN_SESSQ (those of other epochs are stale), the last copy
// of each, in order, with the last sequence read. It reads all or fails:
// a session resumed without some of them would lose messages its owner
// had acknowledged to their publishers, so the caller reads before it
// takes the session, and a failure leaves the session where it was.
func (r *registry) readQueued(ctx context.Context, clientID string, epoch uint64) (queued, error) {
	if r.sqUnreadable.Load() {
		return queued{}, fmt.Errorf("reading the handed-over deliveries of %q: %w", clientID, errSessqUnreadable)
	}
	subj := queueSubject(clientID)
	var ds []broker.HandoffDelivery
	var last uint64
	for seq := uint64(1); ; {
		m, err := r.sq.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subj))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return queued{}, fmt.Errorf("reading the handed-over deliveries of %q: %w", clientID, err)
		}
		last, seq = m.Sequence, m.Sequence+1
		if m.Header.Get(hEpoch) != strconv.FormatUint(epoch, 10) {
			continue
		}
		d, err := decodeDelivery(m.Header, m.Data)
		if err != nil {
			r.log.Error("cluster: dropped a handed-over delivery", "client", clientID, "err", err)
			continue
		}
		ds = append(ds, d)
	}
	return queued{lastPerSeq(ds), last}, nil
}

// lastPerSeq sorts ds by sequence number and keeps the last one of each:
// a delivery written through when queued is written again, sent or
// released, by a hand-over.
func lastPerSeq(ds []broker.HandoffDelivery) []broker.HandoffDelivery {
	slices.SortStableFunc(ds, func(a, b broker.HandoffDelivery) int { return cmpUint(a.Seq, b.Seq) })
	out := ds[:0]
	for _, d := range ds {
		if n := len(out); n > 0 && out[n-1].Seq == d.Seq {
			out[n-1] = d
			continue
		}
		out = append(out, d)
	}
	return out
}

// ended implements broker.SessionCluster.SessionEnded: the record goes,
// unless another node has written it since (then it is theirs).
func (r *registry) ended(clientID string) {
	r.mu.Lock()
	o, ok := r.owned[clientID]
	rev := o.rev
	if !ok || r.closed || r.handing[clientID] > 0 {
		r.mu.Unlock()
		return
	}
	delete(r.owned, clientID)
	r.wg.Add(1)
	r.mu.Unlock()
	go func() {
		defer r.wg.Done()
		ctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
		defer cancel()
		r.forgetQueued(ctx, clientID)
		err := r.kv.Delete(ctx, sessionKey(clientID), jetstream.LastRevision(rev))
		if err != nil && r.ctx.Err() == nil {
			r.log.Debug("cluster: session record not deleted", "client", clientID, "err", err)
		}
	}()
}

// changed implements broker.SessionCluster.SessionChanged: the record is
// written by the writer goroutine, the latest of each client id once.
func (r *registry) changed(clientID string, rec store.SessionRecord) {
	r.mu.Lock()
	r.dirty[clientID] = rec
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// writerConcurrency is how many records the writer writes at once.
const writerConcurrency = 8

// writer writes the changed session records into the records this node
// owns, until close.
func (r *registry) writer() {
	defer r.wg.Done()
	sem := make(chan struct{}, writerConcurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	busy := make(map[string]bool) // client ids being written, under r.mu
	for {
		select {
		case <-r.wake:
		case <-r.ctx.Done():
			return
		}
		r.mu.Lock()
		var todo []string
		for cid := range r.dirty {
			if !busy[cid] { // one write per client id at a time, in order
				todo = append(todo, cid)
			}
		}
		r.mu.Unlock()
		for _, cid := range todo {
			select {
			case sem <- struct{}{}:
			case <-r.ctx.Done():
				return
			}
			r.mu.Lock()
			rec := r.dirty[cid]
			delete(r.dirty, cid)
			busy[cid] = true
			r.mu.Unlock()
			wg.Go(func() {
				defer func() { <-sem }()
				r.write(cid, &rec)
				r.mu.Lock()
				delete(busy, cid)
				_, again := r.dirty[cid]
				r.mu.Unlock()
				if again {
					select {
					case r.wake <- struct{}{}:
					default:
					}
				}
			})
		}
	}
}

// write puts s into clientID's record if this node owns it.
func (r *registry) write(clientID string, s *store.SessionRecord) {
	ctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
	defer cancel()
	key := sessionKey(clientID)
	session := s.Append(nil)
	for range 3 { // a compare-and-swap lost to a take-over: read again
		r.mu.Lock()
		o, ok := r.owned[clientID]
		handing := r.handing[clientID] > 0
		r.mu.Unlock()
		if !ok || handing {
			return // not this node's, or the hand-over writes the session
		}
		rec := o.rec
		rec.Session = session
		b, _ := json.Marshal(rec)
		nrev, err := r.kv.Update(ctx, key, b, o.rev)
		if err == nil {
			r.mu.Lock()
			if cur, ok := r.owned[clientID]; ok && cur.rev == o.rev {
				r.owned[clientID] = owned{nrev, o.rec}
			}
			r.mu.Unlock()
			return
		}
		r.conflict(err)
		cur, rev, err := r.get(ctx, key)
		if err != nil || rev == 0 || cur.Owner != r.n.id {
			return
		}
		r.mu.Lock()
		if o2, ok := r.owned[clientID]; ok && o2.rev == o.rev {
			cur.Session, cur.Inbound = nil, nil
			r.owned[clientID] = owned{rev, cur}
		}
		r.mu.Unlock()
	}
}

// queued implements broker.SessionCluster.SessionQueued: the delivery
// goes to TERN_SESSQ with the epoch of this node's record (write-through,
// sessq.go), so that a node that resumes or adopts the session after this
// one died has it.
func (r *registry) queued(clientID string, d broker.HandoffDelivery) {
	select {
	case <-r.ready:
	default:
		return
	}
	if r.off {
		return
	}
	r.mu.Lock()
	o, ok := r.owned[clientID]
	handing := r.handing[clientID] > 0
	r.mu.Unlock()
	if !ok || handing {
		return
	}
	r.appendDelivery(clientID, d.Seq, encodeDelivery(queueSubject(clientID), strconv.FormatUint(o.rec.Epoch, 10), &d))
}

// ClaimSession implements broker.SessionCluster.
func (n *Node) ClaimSession(ctx context.Context, clientID string, clean, persistent bool) (*broker.SessionHandoff, error) {
	return n.reg.claim(ctx, clientID, clean, persistent)
}

// SessionChanged implements broker.SessionCluster.
func (n *Node) SessionChanged(clientID string, rec store.SessionRecord) { n.reg.changed(clientID, rec) }

// SessionQueued implements broker.SessionCluster.
func (n *Node) SessionQueued(clientID string, d broker.HandoffDelivery) { n.reg.queued(clientID, d) }

// SessionAcked implements broker.SessionCluster: the delivery is
// forgotten, and TERN_SESSQ purged below the session's oldest unsettled
// delivery soon after (sessq.go).
func (n *Node) SessionAcked(clientID string, seq uint64) { n.reg.settle(clientID, seq) }

// SessionEnded implements broker.SessionCluster.
func (n *Node) SessionEnded(clientID string) { n.reg.ended(clientID) }

// RegistryStats returns the counters of the node's session registry.
func (n *Node) RegistryStats() *RegistryStats { return &n.reg.stats }

var _ broker.SessionCluster = (*Node)(nil)
