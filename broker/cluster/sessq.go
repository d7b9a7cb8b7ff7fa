package cluster

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The write-through of a node's persistent sessions to TERN_SESSQ: every
// QoS 1/2 delivery queued for a session with an expiry interval, online
// or offline, is appended to the session's subject (SessionQueued), so
// that a node that adopts or resumes the session after this one died has
// it; a delivery settled here (SessionAcked) is forgotten, and the
// subject is purged below the oldest delivery still unsettled.
//
// SessionQueued is called with the session's lock held, so it only queues
// the append: one appender goroutine publishes the appends in order, and
// one resolver goroutine waits for their PubAcks in the same order. The
// resolver keeps a barrier, settled: every append issued up to it has its
// answer. The node's consumer acks a TERN_QOS message only once the
// appends issued while routing it are settled (registry.after). A purger
// goroutine purges the subjects of the sessions whose oldest unsettled
// delivery moved, at most once per purgePause, never one call per ack.
//
// Lock order: wt.mu is taken with no other lock of this package held (it
// may be taken under a session's lock, from SessionQueued and
// SessionAcked), and released before any call to NATS or to a waiter.

// purgePause is the least time between two passes of the purger, and
// deleteConcurrency the most deletes of single deliveries it has asked for
// at once (each is a round trip through the stream's Raft group).
const (
	purgePause        = 20 * time.Millisecond
	deleteConcurrency = 32
	// leavePurgeTimeout bounds the purger's last pass when the node
	// leaves.
	leavePurgeTimeout = 2 * time.Second
)

// writeThrough is a registry's part of TERN_SESSQ.
type writeThrough struct {
	mu      sync.Mutex
	issuedN uint64   // appends queued so far; the last one's index
	queue   []wtItem // appends waiting for the appender
	wake    chan struct{}
	settled uint64 // every append with an index up to it has its answer
	// lastFailed is the index of the last append that failed.
	lastFailed uint64
	waiters    []*wtWaiter // sorted by to
	sess       map[string]*sessTrack
	dirty      map[*sessTrack]struct{} // to purge
	purgeWake  chan struct{}
	resolve    chan wtPending
	leave      chan struct{} // closed when the node leaves: a last purge
	left       chan struct{} // closed when the purger has ended
	// pause is the purger's least time between two passes, in
	// nanoseconds: purgePause, or longer in a test that needs settled
	// deliveries left for the node's close.
	pause atomic.Int64
}

// sessTrack is what this node appended for one session and has not seen
// settled.
type sessTrack struct {
	subj string
	// pend maps the delivery sequence of each unsettled delivery to its
	// TERN_SESSQ sequence (0 until its PubAck).
	pend map[uint64]uint64
	// order holds pend's delivery sequences in order; settled ones are
	// dropped from its head.
	order []uint64
	// last is the highest TERN_SESSQ sequence of an append of this
	// session answered; purged is the sequence below which the subject
	// was purged.
	last, purged uint64
	// dels holds the TERN_SESSQ sequences of deliveries settled while an
	// older one was not: the purger deletes those above the subject's
	// purge point one by one, so that a resume does not send them again.
	dels []uint64
	// again: a delivery was written a second time (spillAll after a
	// CONNECT); the resolver then purges older copies as the oldest's
	// new copy is answered.
	again bool
}

// wtItem is one append waiting for the appender.
type wtItem struct {
	idx  uint64
	t    *sessTrack
	dseq uint64
	msg  *nats.Msg
}

// wtPending is one append waiting for its PubAck.
type wtPending struct {
	wtItem
	f   jetstream.PubAckFuture // nil when the publish failed at once
	err error
}

// wtWaiter is a call of registry.after waiting for the barrier.
type wtWaiter struct {
	from, to uint64
	failed   bool
	f        func(error)
}

// errAppend is what registry.after reports when an append failed.
var errAppend = errors.New("cluster: a delivery was not kept in TERN_SESSQ")

func newWriteThrough() *writeThrough {
	w := &writeThrough{
		wake:      make(chan struct{}, 1),
		sess:      make(map[string]*sessTrack),
		dirty:     make(map[*sessTrack]struct{}),
		purgeWake: make(chan struct{}, 1),
		resolve:   make(chan wtPending, 8192),
		leave:     make(chan struct{}),
		left:      make(chan struct{}),
	}
	w.pause.Store(int64(purgePause))
	return w
}

// startWriteThrough starts the appender, the resolver and the purger.
func (r *registry) startWriteThrough() {
	r.wg.Add(3)
	go r.appender()
	go r.resolver()
	go r.purger()
}

// issued returns the index of the last append queued so far.
func (r *registry) issued() uint64 {
	w := r.wt
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.issuedN
}

// after calls f once every append with an index up to to has its answer,
// with errAppend if one with an index above from failed (or, to be safe,
// any that failed since from), else nil. f is called on another
// goroutine, or at once.
func (r *registry) after(from, to uint64, f func(error)) {
	w := r.wt
	w.mu.Lock()
	wt := &wtWaiter{from: from, to: to, failed: w.lastFailed > from, f: f}
	if w.settled >= to {
		w.mu.Unlock()
		wt.call()
		return
	}
	i := len(w.waiters)
	for i > 0 && w.waiters[i-1].to > to {
		i--
	}
	w.waiters = slices.Insert(w.waiters, i, wt)
	w.mu.Unlock()
}

func (wt *wtWaiter) call() {
	if wt.failed {
		wt.f(errAppend)
		return
	}
	wt.f(nil)
}

// barrier waits until every append queued so far has its answer.
func (r *registry) barrier(ctx context.Context) error {
	done := make(chan struct{})
	r.after(0, r.issued(), func(error) { close(done) })
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// appendDelivery queues the append of msg, the delivery dseq of
// clientID's session. The caller may hold the session's lock.
func (r *registry) appendDelivery(clientID string, dseq uint64, msg *nats.Msg) {
	w := r.wt
	w.mu.Lock()
	t := w.sess[clientID]
	if t == nil {
		t = &sessTrack{subj: msg.Subject, pend: make(map[uint64]uint64)}
		w.sess[clientID] = t
	}
	if _, ok := t.pend[dseq]; ok {
		t.again = true
	} else {
		if n := len(t.order); n == 0 || t.order[n-1] < dseq {
			t.order = append(t.order, dseq)
		} else {
			i, _ := slices.BinarySearch(t.order, dseq)
			t.order = slices.Insert(t.order, i, dseq)
		}
	}
	t.pend[dseq] = 0
	w.issuedN++
	w.queue = append(w.queue, wtItem{idx: w.issuedN, t: t, dseq: dseq, msg: msg})
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// settle implements SessionAcked: the delivery dseq of clientID's session
// is settled; the subject is purged (later) when the oldest unsettled
// delivery moved, and the delivery deleted on its own when an older one
// is still unsettled. The caller may hold the session's lock.
func (r *registry) settle(clientID string, dseq uint64) {
	w := r.wt
	w.mu.Lock()
	t := w.sess[clientID]
	if t == nil {
		w.mu.Unlock()
		return
	}
	sseq, ok := t.pend[dseq]
	if !ok {
		w.mu.Unlock()
		return
	}
	delete(t.pend, dseq)
	wake := sseq > 0
	if wake {
		t.dels = append(t.dels, sseq) // dropped by the purger if purged anyway
	}
	for len(t.order) > 0 {
		if _, ok := t.pend[t.order[0]]; ok {
			break
		}
		t.order = t.order[1:]
		wake = true
	}
	if wake {
		w.dirty[t] = struct{}{}
	}
	w.mu.Unlock()
	if wake {
		select {
		case w.purgeWake <- struct{}{}:
		default:
		}
	}
}

// detach forgets what this node appended for clientID (the session ended
// here or went to another node) and returns it, nil if nothing.
func (r *registry) detach(clientID string) *sessTrack {
	w := r.wt
	w.mu.Lock()
	defer w.mu.Unlock()
	t := w.sess[clientID]
	delete(w.sess, clientID)
	if t != nil {
		delete(w.dirty, t)
	}
	return t
}

// lastOf returns the highest TERN_SESSQ sequence of t's appends answered.
func (r *registry) lastOf(t *sessTrack) uint64 {
	r.wt.mu.Lock()
	defer r.wt.mu.Unlock()
	return t.last
}

// appender publishes the queued appends in order.
func (r *registry) appender() {
	defer r.wg.Done()
	w := r.wt
	for {
		select {
		case <-w.wake:
		case <-r.ctx.Done():
			return
		}
		w.mu.Lock()
		todo := w.queue
		w.queue = nil
		w.mu.Unlock()
		for _, it := range todo {
			p := wtPending{wtItem: it}
			p.f, p.err = r.js.PublishMsgAsync(it.msg)
			if p.err != nil {
				p.f = nil
			}
			select {
			case w.resolve <- p:
			case <-r.ctx.Done():
				return
			}
		}
	}
}

// resolver waits for each append's PubAck in order and moves the barrier.
func (r *registry) resolver() {
	defer r.wg.Done()
	w := r.wt
	for {
		var p wtPending
		select {
		case p = <-w.resolve:
		case <-r.ctx.Done():
			return
		}
		var sseq uint64
		err := p.err
		if p.f != nil {
			select {
			case ack := <-p.f.Ok():
				sseq = ack.Sequence
			case err = <-p.f.Err():
			case <-r.ctx.Done():
				return
			}
		}
		if err != nil {
			r.log.Warn("cluster: a session's delivery not kept in TERN_SESSQ; its message is sent again", "subject", p.t.subj, "err", err)
		}
		wakePurge := false
		w.mu.Lock()
		w.settled = p.idx
		t := p.t
		if err != nil {
			w.lastFailed = p.idx
			for _, wt := range w.waiters {
				if wt.from < p.idx && p.idx <= wt.to {
					wt.failed = true
				}
			}
			delete(t.pend, p.dseq) // not in the stream: nothing to purge
		} else {
			t.last = max(t.last, sseq)
			if s, ok := t.pend[p.dseq]; ok && s == 0 {
				t.pend[p.dseq] = sseq
				if t.again && t.order[0] == p.dseq && t.purged < sseq {
					w.dirty[t] = struct{}{} // the oldest: its older copies may go
					wakePurge = true
				}
			} else if !ok {
				// Settled before its PubAck: purged below the oldest, or
				// deleted on its own.
				t.dels = append(t.dels, sseq)
				w.dirty[t] = struct{}{}
				wakePurge = true
			}
		}
		n := 0
		for n < len(w.waiters) && w.waiters[n].to <= w.settled {
			n++
		}
		ready := slices.Clone(w.waiters[:n])
		w.waiters = slices.Delete(w.waiters, 0, n)
		w.mu.Unlock()
		if wakePurge {
			select {
			case w.purgeWake <- struct{}{}:
			default:
			}
		}
		for _, wt := range ready {
			wt.call()
		}
	}
}

// purgeBelow returns the sequence below which t's subject can be purged:
// the TERN_SESSQ sequence of its oldest unsettled delivery, or past the
// last answered append when none is left. The caller holds wt.mu.
func (t *sessTrack) purgeBelow() uint64 {
	if len(t.order) > 0 {
		// 0 until its PubAck (the resolver marks t again then): a
		// delivery written again (spillAll) may have an older copy that
		// is all the stream has of it for now.
		return t.pend[t.order[0]]
	}
	return t.last + 1
}

// purger purges the subjects of the sessions whose oldest unsettled
// delivery moved, coalesced, at most once per purgePause. When the node
// leaves (registry.close closes wt.leave), it makes a last pass and ends.
func (r *registry) purger() {
	defer r.wg.Done()
	defer close(r.wt.left)
	w := r.wt
	pause := time.NewTimer(0)
	defer pause.Stop()
	for {
		select {
		case <-w.purgeWake:
		case <-w.leave:
			r.lastPurge()
			return
		case <-r.ctx.Done():
			return
		}
		r.purgePass(r.ctx)
		pause.Reset(time.Duration(w.pause.Load()))
		select {
		case <-pause.C:
		case <-w.leave:
			r.lastPurge()
			return
		case <-r.ctx.Done():
			return
		}
	}
}

// lastPurge purges what was settled since the last pass, before the node
// leaves the table and a survivor takes its sessions over with what
// TERN_SESSQ still holds: without it, deliveries a client settled just
// before a graceful stop would be sent again.
func (r *registry) lastPurge() {
	ctx, cancel := context.WithTimeout(context.Background(), leavePurgeTimeout)
	defer cancel()
	r.purgePass(ctx)
}

// purgePass purges, once, the subjects of the sessions marked dirty, and
// deletes their deliveries settled out of order. A purge that fails
// marks its session dirty again.
func (r *registry) purgePass(ctx context.Context) {
	w := r.wt
	type job struct {
		t     *sessTrack
		below uint64
		dels  []uint64 // settled above below: deleted one by one
	}
	var jobs []job
	w.mu.Lock()
	for t := range w.dirty {
		b := t.purgeBelow()
		var dels []uint64
		for _, d := range t.dels {
			if d >= max(b, t.purged) {
				dels = append(dels, d)
			}
		}
		t.dels = t.dels[:0]
		if b > t.purged && b > 1 || len(dels) > 0 {
			jobs = append(jobs, job{t, b, dels})
		}
	}
	clear(w.dirty)
	w.mu.Unlock()
	var deletes sync.WaitGroup
	sem := make(chan struct{}, deleteConcurrency)
	for _, j := range jobs {
		for _, d := range j.dels {
			sem <- struct{}{}
			deletes.Go(func() {
				defer func() { <-sem }()
				ctx, cancel := context.WithTimeout(ctx, callTimeout)
				err := r.sq.DeleteMsg(ctx, d)
				cancel()
				if err != nil && ctx.Err() == nil {
					r.log.Debug("cluster: deleting a session's settled delivery", "subject", j.t.subj, "seq", d, "err", err)
				}
			})
		}
	}
	deletes.Wait()
	for _, j := range jobs {
		if j.below <= j.t.purged || j.below <= 1 {
			continue
		}
		ctx, cancel := context.WithTimeout(ctx, callTimeout)
		err := r.sq.Purge(ctx, jetstream.WithPurgeSubject(j.t.subj), jetstream.WithPurgeSequence(j.below))
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				r.log.Debug("cluster: purging a session's settled deliveries", "subject", j.t.subj, "err", err)
			}
			w.mu.Lock()
			w.dirty[j.t] = struct{}{} // the next pass tries again
			w.mu.Unlock()
			continue
		}
		w.mu.Lock()
		j.t.purged = max(j.t.purged, j.below)
		w.mu.Unlock()
	}
}

// forgetQueued forgets clientID's deliveries in TERN_SESSQ that this node
// appended, once the session ended here: after their answers, the
// subject is purged up to the last of them (a new session of the client
// id appends above).
func (r *registry) forgetQueued(ctx context.Context, clientID string) {
	t := r.detach(clientID)
	if t == nil {
		return
	}
	if err := r.barrier(ctx); err != nil {
		return
	}
	last := r.lastOf(t)
	if last == 0 {
		return
	}
	if err := r.sq.Purge(ctx, jetstream.WithPurgeSubject(t.subj), jetstream.WithPurgeSequence(last+1)); err != nil {
		r.log.Warn("cluster: purging an ended session's deliveries", "subject", t.subj, "err", err)
	}
}
