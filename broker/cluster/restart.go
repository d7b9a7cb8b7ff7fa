package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ternmq/tern/broker"
)

// A node that restarts with its store (issue #18). Its broker reads its
// sessions back from the store (broker.Open) and, with a SessionCluster,
// holds their wills until the cluster's verdict (broker.Server.Recovered).
// Its Node.ID has a new nonce, so the registry still names the earlier
// incarnation (same Config.Name, another nonce) as the owner of the
// sessions nobody took meanwhile. Once the registry is ready, reconcile
// reads the record of each recovered session:
//
//   - owned by an earlier incarnation of this node: the node takes it
//     back, by compare-and-swap with epoch+1 as a claim, keeps its local
//     state (the freshest) and writes its deliveries through again
//     (KeepRecovered, then the older copies in TERN_SESSQ are purged); a
//     session that ended while the node was down has its will published
//     and its record deleted;
//   - owned by another node (a survivor adopted it, or a client resumed it
//     there): the local copy goes, without its will (DropStale);
//   - no record: it ended elsewhere; the local copy goes.
//
// A survivor's reaper that is already adopting the earlier incarnation's
// sessions (its key reaper.<old id> exists) is waited for: the session is
// then the adopter's. Then the sessions of earlier incarnations that the
// store did not have (those with expiry 0 and a will, never stored) are
// adopted here as a reaper would, without the dead consumer's messages
// (the consumer is this node's own again). A CONNECT for a recovered
// client id waits for its verdict (claim).
//
// Survivors do not reap a node that runs again under a new id (reaper.go):
// the new incarnation reconciles its sessions, and the consumer they
// share a name with is left alone. Two nodes started with one name at
// once are not supported: the later one takes the earlier one's sessions.

// reconcileTimeout bounds the verdict on one recovered session (a reaper
// of an earlier incarnation may be waited for); reaperPause is the pause
// between two looks at such a reaper.
const (
	reconcileTimeout = 30 * time.Second
	reaperPause      = 100 * time.Millisecond
)

// nodeName is the Config.Name part of a Node.ID.
func nodeName(id string) string {
	if i := strings.LastIndexByte(id, '-'); i > 0 {
		return id[:i]
	}
	return id
}

// earlier reports whether owner is an earlier incarnation of this node:
// the same name, another id.
func (r *registry) earlier(owner string) bool {
	return owner != r.n.id && owner != "" && nodeName(owner) == nodeName(r.n.id)
}

// restarted starts the reconciliation of the sessions srv recovered
// from its store (once: Attach calls it).
func (r *registry) restarted(srv *broker.Server) {
	rs := srv.Recovered()
	r.mu.Lock()
	if r.closed || r.reconOn {
		r.mu.Unlock()
		return
	}
	r.reconOn = true
	for _, s := range rs {
		r.recon[s.ClientID] = make(chan struct{})
	}
	r.wg.Add(1)
	r.mu.Unlock()
	go r.reconcile(srv, rs)
}

// waitVerdict waits until clientID, if the broker recovered its session,
// has its verdict.
func (r *registry) waitVerdict(ctx context.Context, clientID string) error {
	r.mu.Lock()
	ch := r.recon[clientID]
	r.mu.Unlock()
	if ch == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, claimTimeout)
	defer cancel()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: the session of %q recovered from the store is not reconciled yet: %w", broker.ErrClusterUnavailable, clientID, ctx.Err())
	}
}

// release ends the wait of clientID's claims.
func (r *registry) release(clientID string) {
	r.mu.Lock()
	if ch := r.recon[clientID]; ch != nil {
		close(ch)
		delete(r.recon, clientID)
	}
	r.mu.Unlock()
}

// reconcile gives each session srv recovered its verdict, then adopts the
// sessions of earlier incarnations of this node that srv did not recover.
func (r *registry) reconcile(srv *broker.Server, rs []broker.RecoveredSession) {
	defer r.wg.Done()
	defer func() {
		for _, s := range rs {
			r.release(s.ClientID)
		}
	}()
	select {
	case <-r.ready:
	case <-r.ctx.Done():
		return
	}
	if r.off { // every node serves its own sessions
		for _, s := range rs {
			srv.KeepRecovered(s.ClientID)
		}
		return
	}
	start := time.Now()
	recovered := make(map[string]bool, len(rs))
	for _, s := range rs {
		recovered[s.ClientID] = true
		if err := r.verdict(srv, s); err != nil && r.ctx.Err() == nil {
			r.log.Error("cluster: a session recovered from the store not reconciled; a CONNECT decides", "client", s.ClientID, "err", err)
		}
		r.release(s.ClientID)
	}
	adopted := r.adoptEarlier(srv, recovered)
	if len(rs) > 0 || adopted > 0 {
		r.log.Info("cluster: sessions recovered from the store reconciled", "recovered", len(rs),
			"reclaimed", r.stats.Reclaimed.Load(), "dropped", r.stats.Stale.Load(), "adopted", adopted,
			"took", time.Since(start).Round(time.Millisecond))
	}
}

// verdict decides the fate of one recovered session (see the top of the
// file).
func (r *registry) verdict(srv *broker.Server, s broker.RecoveredSession) error {
	ctx, cancel := context.WithTimeout(r.ctx, reconcileTimeout)
	defer cancel()
	key := sessionKey(s.ClientID)
	pause := time.NewTimer(0)
	<-pause.C
	defer pause.Stop()
	var last error
	deferred := false
	for try := 0; ; try++ {
		if try > 0 {
			pause.Reset(reaperPause)
			select {
			case <-pause.C:
			case <-ctx.Done():
				return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
			}
		}
		rec, rev, err := r.get(ctx, key)
		switch {
		case err != nil:
			last = err
			continue
		case rev == 0 || rec.Owner != r.n.id && !r.earlier(rec.Owner):
			// Ended elsewhere, or another node's.
			srv.DropStale(s.ClientID)
			r.stats.Stale.Add(1)
			return nil
		case rec.Owner == r.n.id:
			srv.KeepRecovered(s.ClientID)
			return nil
		}
		if reaping, err := r.reaping(ctx, rec.Owner); err != nil || reaping {
			// Its adoption decides; then the record names the adopter.
			last = fmt.Errorf("a survivor may be adopting the sessions of %s (%v)", rec.Owner, err)
			if reaping && !deferred {
				deferred = true
				r.stats.Deferred.Add(1)
			}
			continue
		}
		if last = r.takeBack(ctx, srv, s, key, rec, rev); last == nil {
			return nil
		}
	}
}

// reaping reports whether a survivor is adopting the sessions of node
// (its key reaper.<node> exists); an error when JetStream cannot tell.
func (r *registry) reaping(ctx context.Context, node string) (bool, error) {
	_, err := r.nodes.Get(ctx, reaperPrefix+node)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

// takeBack makes this node the owner of a session its earlier incarnation
// owned (record rec at rev), and keeps the local copy; a session that
// ended while the node was down has its record deleted and its will
// published instead.
func (r *registry) takeBack(ctx context.Context, srv *broker.Server, s broker.RecoveredSession, key string, rec record, rev uint64) error {
	if s.Ended {
		if err := r.kv.Delete(ctx, key, jetstream.LastRevision(rev)); err != nil {
			r.conflict(err)
			return err
		}
		if err := r.sq.Purge(ctx, jetstream.WithPurgeSubject(queueSubject(s.ClientID))); err != nil {
			r.log.Warn("cluster: purging an ended session's deliveries", "client", s.ClientID, "err", err)
		}
		srv.KeepRecovered(s.ClientID) // its will
		r.stats.Stale.Add(1)
		return nil
	}
	next := rec
	next.Owner, next.Epoch, next.Since = r.n.id, rec.Epoch+1, time.Now().UnixMilli()
	b, _ := json.Marshal(next)
	nrev, err := r.kv.Update(ctx, key, b, rev)
	if err != nil {
		r.conflict(err)
		return err
	}
	r.own(s.ClientID, nrev, next)
	srv.KeepRecovered(s.ClientID) // writes every delivery through again
	r.purgeOlder(ctx, s.ClientID)
	r.stats.Reclaimed.Add(1)
	return nil
}

// purgeOlder purges what TERN_SESSQ holds of clientID's session below the
// copies just written again (those of the earlier incarnation's epoch),
// or all of it when the session holds no delivery.
func (r *registry) purgeOlder(ctx context.Context, clientID string) {
	if err := r.barrier(ctx); err != nil {
		return
	}
	w := r.wt
	w.mu.Lock()
	t := w.sess[clientID]
	var below uint64
	if t != nil {
		below = t.purgeBelow()
	}
	w.mu.Unlock()
	if t != nil && below <= 1 {
		return
	}
	purge := []jetstream.StreamPurgeOpt{jetstream.WithPurgeSubject(queueSubject(clientID))}
	if t != nil {
		purge = append(purge, jetstream.WithPurgeSequence(below))
	}
	if err := r.sq.Purge(ctx, purge...); err != nil {
		r.log.Warn("cluster: purging the deliveries of an earlier incarnation", "client", clientID, "err", err)
		return
	}
	if t != nil {
		w.mu.Lock()
		t.purged = max(t.purged, below)
		w.mu.Unlock()
	}
}

// adoptEarlier adopts, as a reaper would, the sessions that earlier
// incarnations of this node own in the registry and srv did not recover
// (recovered), unless a survivor's reaper is adopting them; it returns
// how many. The messages above the dead consumer's ack floor are not
// read: the consumer is this node's again and routes them.
func (r *registry) adoptEarlier(srv *broker.Server, recovered map[string]bool) int {
	ctx, cancel := context.WithTimeout(r.ctx, reapTimeout)
	defer cancel()
	keys, err := r.kv.ListKeys(ctx)
	if err != nil {
		if !errors.Is(err, jetstream.ErrNoKeysFound) && r.ctx.Err() == nil {
			r.log.Error("cluster: listing the sessions of earlier incarnations of this node", "err", err)
		}
		return 0
	}
	adopted := 0
	reaped := make(map[string]bool) // earlier incarnation → a survivor reaps it
	for key := range keys.Keys() {
		rec, rev, err := r.get(ctx, key)
		if err != nil || rev == 0 || !r.earlier(rec.Owner) || recovered[rec.ClientID] {
			continue
		}
		busy, ok := reaped[rec.Owner]
		if !ok {
			var err error
			if busy, err = r.reaping(ctx, rec.Owner); err != nil {
				busy = true // left alone: the reaper's key cannot be read
				r.log.Warn("cluster: the sessions of an earlier incarnation of this node not adopted", "old", rec.Owner, "err", err)
			}
			reaped[rec.Owner] = busy
		}
		if busy {
			continue
		}
		a, _, err := r.prepareAdoption(ctx, key, rec, rev)
		if err != nil {
			// Left with the earlier incarnation: a CONNECT takes it over
			// (it reads TERN_SESSQ again), as does the next restart.
			r.log.Warn("cluster: a session of an earlier incarnation of this node not adopted", "client", rec.ClientID, "err", err)
		}
		if a == nil {
			continue
		}
		if r.adoptOne(srv, a) {
			adopted++
		}
	}
	r.stats.Adopted.Add(uint64(adopted))
	return adopted
}

// adoptOne hands a prepared adoption to the broker, then ends it (the
// claims waiting for it go on) and purges what it read of TERN_SESSQ.
func (r *registry) adoptOne(srv *broker.Server, a *adoptee) bool {
	err := srv.Adopt(a.clientID, a.h)
	if errors.Is(err, broker.ErrSessionExists) {
		r.mu.Lock()
		r.orphans[a.clientID] = a.h
		r.mu.Unlock()
		err = nil
	}
	r.mu.Lock()
	if ch := r.adopting[a.clientID]; ch != nil {
		close(ch)
		delete(r.adopting, a.clientID)
	}
	r.mu.Unlock()
	if err != nil {
		r.log.Error("cluster: adopting a session of an earlier incarnation", "client", a.clientID, "err", err)
		return false
	}
	if a.sqLast > 0 {
		ctx, cancel := context.WithTimeout(r.ctx, callTimeout)
		defer cancel()
		if err := r.sq.Purge(ctx, jetstream.WithPurgeSubject(queueSubject(a.clientID)), jetstream.WithPurgeSequence(a.sqLast+1)); err != nil {
			r.log.Warn("cluster: purging an adopted session's deliveries", "client", a.clientID, "err", err)
		}
	}
	return true
}

// incarnation returns the id of a live node with the name of node but
// another id (node restarted), "" if none or JetStream cannot tell.
func (r *registry) incarnation(ctx context.Context, node string) string {
	keys, err := r.nodes.ListKeys(ctx)
	if err != nil {
		return ""
	}
	found := ""
	for k := range keys.Keys() {
		if found == "" && k != node && !strings.HasPrefix(k, reaperPrefix) && nodeName(k) == nodeName(node) {
			found = k
		}
	}
	return found
}

// consumerInUse reports whether the consumer of node has pull requests
// waiting: a restarted node with its name consumes from it again.
func (r *registry) consumerInUse(ctx context.Context, node string) bool {
	c, err := r.n.q.qos.Consumer(ctx, consumerNameOf(node))
	if err != nil {
		return false
	}
	info, err := c.Info(ctx)
	return err == nil && info.NumWaiting > 0
}
