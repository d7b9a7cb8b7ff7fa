package broker

import (
	"log/slog"
	"sync"
	"time"

	"github.com/ternmq/tern/broker/store"
)

// committer groups the store writes of all connections: writes are
// appended to the current group as they happen, under the lock of the
// session (or retained topic) they belong to, so the order in the store is
// the order of the changes; a caller that must not answer before its
// writes are durable (a PUBACK, a PUBREC, a PUBCOMP, a PUBREL after a
// PUBREC) adds a callback with wait. One goroutine applies each group with
// one Apply, synced when any callback asked for it, and then runs the
// callbacks in the order they were added, which keeps each connection's
// acknowledgements in the order of its packets [MQTT-4.6.0-2]. While one
// group is being applied the next one fills, so a busy broker syncs many
// messages at once and an idle one syncs each at once.
//
// Lock order: committer.mu is taken after any session or shared-group lock
// and before a connection's write-queue lock; it is never held while
// calling out.
type committer struct {
	st  Store
	log *slog.Logger

	mu      sync.Mutex
	cur     *group // filling
	spare   *group
	running bool // the apply goroutine is running
	closed  bool
	idle    chan struct{} // closed when the goroutine ends, if closed

	nextID uint64 // next message id; under mu
	stats  *Stats
	hist   *histogram // synced commits' latency; nil in tests

	// rewrite, called on the committer's goroutine with no lock held,
	// writes the broker's whole state again (Server.rewrite). A failed
	// Apply may have lost earlier unsynced writes too (the engine reopens
	// on what was durable), so after a failure (failed, under mu) the
	// next group starts with a full rewrite.
	rewrite func()
	failed  bool
	// unsynced: a group was written without a sync since the last synced
	// one (under mu). A caller's writes may land in such a group and its
	// wait in the next one (the goroutine took the group between them):
	// that next group must sync even if it has no writes of its own.
	unsynced bool
}

// maxSpareOps bounds the capacity of a group's batch kept for reuse.
const maxSpareOps = 4096

// group is the writes and callbacks applied together.
type group struct {
	batch store.Batch
	sync  bool
	done  []func(error)
}

func newCommitter(st Store, log *slog.Logger, stats *Stats, nextID uint64) *committer {
	return &committer{st: st, log: log, stats: stats, nextID: nextID, cur: &group{}, spare: &group{}}
}

// set adds a write of key to the current group. The caller holds the lock
// that orders changes of key.
func (c *committer) set(key, value []byte) {
	c.mu.Lock()
	c.cur.batch.Set(key, value)
	c.kick()
	c.mu.Unlock()
}

// del adds a deletion of key to the current group.
func (c *committer) del(key []byte) {
	c.mu.Lock()
	c.cur.batch.Delete(key)
	c.kick()
	c.mu.Unlock()
}

// delRange adds a deletion of [start, end).
func (c *committer) delRange(start, end []byte) {
	c.mu.Lock()
	c.cur.batch.DeleteRange(start, end)
	c.kick()
	c.mu.Unlock()
}

// wait calls done once everything added so far is written (and synced,
// when sync is set), or has failed.
func (c *committer) wait(sync bool, done func(error)) {
	c.mu.Lock()
	c.cur.sync = c.cur.sync || sync
	c.cur.done = append(c.cur.done, done)
	c.kick()
	c.mu.Unlock()
}

// ref records one more durable reference to m (a queued delivery of a
// persistent session, or the retained entry of its topic): the first one
// writes its body, which is stored once however many sessions hold it.
func (c *committer) ref(m *Message) {
	c.mu.Lock()
	if m.refs == 0 {
		if m.id == 0 {
			c.nextID++
			m.id = c.nextID
		}
		c.cur.batch.Set(store.MessageKey(m.id), messageRecord(m))
		c.kick()
	}
	m.refs++
	c.mu.Unlock()
}

// unref drops a durable reference to m; the last one deletes its body.
func (c *committer) unref(m *Message) {
	c.mu.Lock()
	m.refs--
	if m.refs == 0 {
		c.cur.batch.Delete(store.MessageKey(m.id))
		c.kick()
	}
	c.mu.Unlock()
}

// kick starts the apply goroutine if it is not running. The caller holds
// mu. A goroutine is started on demand, not kept, so an idle broker has
// none.
func (c *committer) kick() {
	if c.running || c.closed {
		return
	}
	c.running = true
	go c.loop()
}

// loop applies groups until there is nothing to apply.
func (c *committer) loop() {
	for {
		g := c.take()
		if g == nil {
			return
		}
		c.apply(g)
		c.recycle(g)
	}
}

// take returns the group to apply next, starting with a full rewrite
// after a failure, or nil (and marks the goroutine stopped) when there is
// nothing to apply.
func (c *committer) take() *group {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failed && c.rewrite != nil && (!c.cur.batch.Empty() || len(c.cur.done) > 0) {
		c.failed = false
		c.mu.Unlock()
		c.rewrite()
		c.mu.Lock()
		c.cur.sync = true
	}
	g := c.cur
	if g.batch.Empty() && len(g.done) == 0 {
		c.running = false
		if c.closed && c.idle != nil {
			close(c.idle)
			c.idle = nil
		}
		return nil
	}
	c.cur, c.spare = c.spare, nil
	return g
}

// recycle makes an applied group the spare.
func (c *committer) recycle(g *group) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g.batch.Reset()
	clear(g.done)
	g.done, g.sync = g.done[:0], false
	if cap(g.batch.Ops) > maxSpareOps {
		g.batch.Ops = nil // do not keep a burst's capacity for ever
	}
	c.spare = g
}

// apply writes one group and runs its callbacks.
func (c *committer) apply(g *group) {
	var err error
	c.mu.Lock()
	if g.sync && g.batch.Empty() && c.unsynced {
		// Nothing to write, but earlier writes to make durable: rewrite
		// the format version, a few bytes, with a sync.
		g.batch.Set(store.VersionKey(), store.AppendVersion(nil))
	}
	c.mu.Unlock()
	if !g.batch.Empty() {
		start := time.Now()
		err = c.st.Apply(&g.batch, g.sync)
		if g.sync {
			c.stats.Syncs.Add(1)
			c.stats.SyncNanos.Add(uint64(time.Since(start)))
			if c.hist != nil {
				c.hist.observe(time.Since(start))
			}
		}
		c.mu.Lock()
		c.unsynced = err != nil || !g.sync
		c.mu.Unlock()
		if err != nil {
			c.stats.StoreErrors.Add(1)
			c.log.Error("store write failed; the next write rewrites the whole state", "ops", g.batch.Len(), "sync", g.sync, "err", err)
			c.mu.Lock()
			c.failed = true
			c.mu.Unlock()
		}
	}
	for _, f := range g.done {
		f(err)
	}
}

// close stops accepting work and waits for the goroutine to apply what is
// pending.
func (c *committer) close() {
	c.mu.Lock()
	c.closed = true
	if !c.running {
		pending := !c.cur.batch.Empty() || len(c.cur.done) > 0
		c.mu.Unlock()
		if pending {
			c.apply(c.cur)
		}
		return
	}
	idle := make(chan struct{})
	c.idle = idle
	c.mu.Unlock()
	<-idle
}

// body writes m's body if it is stored and not yet in written (a rewrite's
// set of bodies written).
func (c *committer) body(m *Message, written map[uint64]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m.refs == 0 || written[m.id] {
		return
	}
	written[m.id] = true
	c.cur.batch.Set(store.MessageKey(m.id), messageRecord(m))
}
