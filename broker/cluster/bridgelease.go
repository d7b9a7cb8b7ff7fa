package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Leases (cluster.md, "bridges in a cluster"): something that must run on
// one node of the cluster at a time, such as a bridge (whose client id
// three nodes would otherwise fight over on the remote broker), runs
// under a named lease: a key of the KV bucket tern_leases whose value is
// the holder's node id.
//
// The bucket's MaxAge is ownTTL: a key not written again for ownTTL is
// gone. A node takes a free lease with Create, renews it every ownRenew
// with Update at the revision it last wrote (compare-and-swap: a node
// never renews a lease that someone else took) and deletes it, at that
// revision, when it stops in order, which hands it over at once: the
// other nodes watch the key and try to take it when it is deleted or
// expires (and, should the watch miss it, every ownRenew).
//
// Fencing: the holder counts the time from the moment it sent its last
// successful write, which is before the stream stored it, so another node
// can take the key ownTTL after that moment at the earliest. The holder
// stops running at ownHold after it unless a renewal succeeded: a refused
// renewal (the revision moved, the key is gone) or a closed NATS
// connection stops it at once; a renewal without an answer (no quorum,
// NATS disconnected) is tried again until ownHold. So a holder that lost
// its lease has stopped ownTTL-ownHold (2 s) before another can start,
// as long as its run function returns promptly when asked and the NATS
// servers' clocks agree to well within that (the stream's leader
// measures a key's age with its own clock).
const (
	leasesBucket = "tern_leases"
	ownTTL       = 6 * time.Second
	ownRenew     = 2 * time.Second
	ownHold      = ownTTL - ownRenew
	// ownRetry is the pause between two renewals that got no answer.
	ownRetry = 250 * time.Millisecond
	// ownRelease bounds the delete of an orderly release.
	ownRelease = 2 * time.Second
)

// ErrNoJetStream is returned by RunOwned when the node's NATS has no
// JetStream: there is nowhere to keep a lease.
var ErrNoJetStream = errors.New("cluster: NATS without JetStream: no leases")

// RunOwned runs run on this node while it holds the lease name, which at
// most one node of the cluster holds at a time, and returns nil once ctx
// ends or run returns on its own (the lease is then released, so another
// node takes it at once). Until it holds the lease it waits for it, and
// it takes it when the holder releases it or stops renewing it (ownTTL,
// 6 s, after a crash or a partition). When this node loses the lease (a
// renewal refused or without an answer, the NATS connection closed) it
// cancels run's context, waits for run to return, and waits for the lease
// again; run is called anew each time the lease is taken, so it must
// return promptly once its context ends: the fencing margin (2 s, see
// above) is counted from there.
//
// End ctx before closing the node: a lease still held when the node
// closes is lost as in a crash, and the others wait for its expiry.
// RunOwned returns ErrNoJetStream, or an error when the node closes while
// it waits for JetStream.
func (n *Node) RunOwned(ctx context.Context, name string, run func(context.Context)) error {
	if js, _ := n.nc.ConnectedServerJetStream(); !js {
		return fmt.Errorf("lease %q: %w", name, ErrNoJetStream)
	}
	kv, err := n.leaseBucket(ctx)
	if err != nil || kv == nil {
		return err
	}
	var token [4]byte
	rand.Read(token[:])
	l := &leaseRun{n: n, kv: kv, name: name, key: LeaseKey(name), run: run, value: n.id + "#" + hex.EncodeToString(token[:]),
		log: n.log.With("lease", name), wake: make(chan struct{}, 1)}
	var wg sync.WaitGroup
	defer wg.Wait()
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	wg.Go(func() { l.watch(wctx) })
	tick := time.NewTicker(ownRenew)
	defer tick.Stop()
	for {
		if rev, at, err := l.acquire(ctx); err == nil {
			if l.hold(ctx, rev, at) {
				return nil
			}
			continue // lost: try again at once, then wait
		} else if !errors.Is(err, jetstream.ErrKeyExists) && ctx.Err() == nil {
			l.log.Debug("cluster: lease not taken", "err", err)
		}
		if n.nc.IsClosed() {
			return fmt.Errorf("cluster: lease %q: the node's NATS connection is closed", name)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-l.wake:
		case <-tick.C:
		}
	}
}

// LeaseHolder returns the id (ID) of the node that holds the lease name,
// "" when none does.
func (n *Node) LeaseHolder(ctx context.Context, name string) (string, error) {
	js, err := jetstream.New(n.nc)
	if err != nil {
		return "", fmt.Errorf("cluster: %w", err)
	}
	kv, err := js.KeyValue(ctx, leasesBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("cluster: lease %q: %w", name, err)
	}
	e, err := kv.Get(ctx, LeaseKey(name))
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("cluster: lease %q: %w", name, err)
	}
	return holderID(e.Value()), nil
}

// holderID is the node id in the value of a lease: "<node id>#<token>",
// the token drawn by each RunOwned, so that two RunOwned of one name on
// one node are told apart too.
func holderID(v []byte) string {
	s := string(v)
	if i := strings.LastIndexByte(s, '#'); i >= 0 {
		return s[:i]
	}
	return s
}

// LeaseKey returns the key of the lease name in tern_leases: name with
// each byte other than a letter, a digit, "_" or "-" written =XX (hex) in
// each of its dot-separated parts, and an empty part written "=", so that
// any name gives a valid key and two names never share one
// ("bridge.site a" is bridge.site=20a).
func LeaseKey(name string) string {
	var b strings.Builder
	for i, part := range strings.Split(name, ".") {
		if i > 0 {
			b.WriteByte('.')
		}
		if part == "" {
			b.WriteByte('=')
		}
		for j := 0; j < len(part); j++ {
			c := part[j]
			if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
				b.WriteByte(c)
			} else {
				fmt.Fprintf(&b, "=%02X", c)
			}
		}
	}
	return b.String()
}

// leaseBucket finds or creates tern_leases, asking until JetStream
// answers; nil, nil when ctx ends first.
func (n *Node) leaseBucket(ctx context.Context) (jetstream.KeyValue, error) {
	js, err := jetstream.New(n.nc)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	cfg := jetstream.KeyValueConfig{Bucket: leasesBucket, History: 1, TTL: ownTTL, Replicas: n.reg.replicas,
		// Markers when a key expires: the watchers see the expiry at once.
		LimitMarkerTTL: ownTTL, Description: "Tern: leases (one node at a time runs each bridge)"}
	pause := time.NewTimer(0)
	defer pause.Stop()
	for {
		// A request about an R3 stream whose Raft group has no leader yet
		// gets no answer: short calls, asked again, find the bucket soon
		// after another node made it.
		call, cancel := context.WithTimeout(ctx, time.Second)
		kv, err := ensureKV(call, js, cfg)
		cancel()
		if errors.Is(err, jetstream.ErrLimitMarkerTTLNotSupported) {
			cfg.LimitMarkerTTL = 0 // an older external NATS: the ticks notice expiries
			continue
		}
		if err == nil {
			return kv, nil
		}
		if n.nc.IsClosed() {
			return nil, fmt.Errorf("cluster: bucket %s: %w", leasesBucket, err)
		}
		pause.Reset(100 * time.Millisecond)
		select {
		case <-pause.C:
		case <-ctx.Done():
			return nil, nil
		}
	}
}

// leaseRun is one RunOwned.
type leaseRun struct {
	n         *Node
	kv        jetstream.KeyValue
	name, key string
	value     string // "<node id>#<token>" (holderID)
	run       func(context.Context)
	log       *slog.Logger
	wake      chan struct{} // the key was deleted or expired
}

// watch follows the key until ctx ends: it logs who holds the lease and
// wakes RunOwned when the key goes.
func (l *leaseRun) watch(ctx context.Context) {
	l.log.Debug("cluster: watch the lease")
	w, err := l.kv.Watch(ctx, l.key)
	if err != nil {
		if ctx.Err() == nil {
			l.log.Warn("cluster: not watching the lease; it is checked every few seconds", "err", err)
		}
		return
	}
	defer w.Stop()
	last := "?"
	for {
		var e jetstream.KeyValueEntry
		select {
		case <-ctx.Done():
			return
		case e = <-w.Updates():
		}
		if e == nil {
			l.log.Debug("cluster: watching the lease")
			continue // the initial values are in
		}
		holder := ""
		if e.Operation() == jetstream.KeyValuePut {
			holder = string(e.Value())
		}
		if holder != last && holder != "" && holder != l.value {
			l.log.Info("cluster: lease held by another node", "holder", holderID([]byte(holder)))
		}
		last = holder
		if holder == "" {
			select {
			case l.wake <- struct{}{}:
			default:
			}
		}
	}
}

// acquire takes the lease if it is free, or if it still names this
// RunOwned (a renewal that was written but whose answer was lost); at is
// when the write that took it was sent.
func (l *leaseRun) acquire(ctx context.Context) (rev uint64, at time.Time, err error) {
	call, cancel := context.WithTimeout(ctx, ownHold)
	defer cancel()
	id := []byte(l.value)
	at = time.Now()
	if rev, err = l.kv.Create(call, l.key, id); err == nil || !errors.Is(err, jetstream.ErrKeyExists) {
		return rev, at, err
	}
	e, gerr := l.kv.Get(call, l.key)
	if gerr != nil || string(e.Value()) != l.value {
		return 0, at, err
	}
	at = time.Now()
	rev, err = l.kv.Update(call, l.key, id, e.Revision())
	return rev, at, err
}

// hold runs l.run while the lease, written at rev by a write sent at at,
// is renewed. It returns true when RunOwned is over (ctx ended or run
// returned; the lease is released), false when the lease was lost (run
// has returned).
func (l *leaseRun) hold(ctx context.Context, rev uint64, at time.Time) bool {
	l.log.Info("cluster: lease taken; running here", "node", l.n.id)
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.run(rctx)
	}()
	t := time.NewTimer(time.Until(at.Add(ownRenew)))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			<-done
			l.release(rev)
			return true
		case <-done:
			l.release(rev)
			return true
		case <-t.C:
		}
		nrev, nat, err := l.renew(ctx, rev, at)
		if err != nil {
			if ctx.Err() != nil {
				continue // ended meanwhile: an orderly stop
			}
			stop()
			<-done
			l.log.Warn("cluster: lease lost; stopped here", "err", err, "since_renewed", time.Since(at).Round(time.Millisecond))
			return false
		}
		rev, at = nrev, nat
		t.Reset(time.Until(at.Add(ownRenew)))
	}
}

// renew writes the lease again at rev, last written by a write sent at
// at. A write without an answer is tried again until ownHold after at; a
// refused one (the revision moved or the key is gone) or a closed
// connection fails at once. It returns the new revision and when its
// write was sent.
func (l *leaseRun) renew(ctx context.Context, rev uint64, at time.Time) (uint64, time.Time, error) {
	call, cancel := context.WithDeadline(ctx, at.Add(ownHold))
	defer cancel()
	pause := time.NewTimer(0)
	<-pause.C
	defer pause.Stop()
	for {
		sent := time.Now()
		nrev, err := l.kv.Update(call, l.key, []byte(l.value), rev)
		if err == nil {
			return nrev, sent, nil
		}
		if refused(err) || l.n.nc.IsClosed() || call.Err() != nil {
			return 0, at, err
		}
		pause.Reset(ownRetry)
		select {
		case <-pause.C:
		case <-call.Done():
			return 0, at, fmt.Errorf("%w (last: %w)", call.Err(), err)
		}
	}
}

// refused reports whether err is a compare-and-swap that failed.
func refused(err error) bool {
	var api *jetstream.APIError
	return errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) ||
		errors.As(err, &api) && (api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// release deletes the lease if it is still at rev, so that another node
// takes it at once.
func (l *leaseRun) release(rev uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), ownRelease)
	defer cancel()
	err := l.kv.Delete(ctx, l.key, jetstream.LastRevision(rev))
	if refused(err) { // a renewal cut short by the stop may have been written
		if e, gerr := l.kv.Get(ctx, l.key); gerr == nil && string(e.Value()) == l.value {
			err = l.kv.Delete(ctx, l.key, jetstream.LastRevision(e.Revision()))
		}
	}
	if err != nil {
		l.log.Warn("cluster: lease not released; the others take it when it expires", "err", err)
		return
	}
	l.log.Info("cluster: lease released")
}
