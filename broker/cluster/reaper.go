package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/broker/store"
)

// The wills of a dead node's clients (cluster.md, "wills of a dead node").
// Each node watches the leases in tern_nodes. A lease not renewed for
// leaseTTL means its node died (a node that leaves in order deletes its
// lease and its broker publishes its own wills). The survivor that
// creates the key reaper.<node> first reaps it: it marks each of the
// node's sessions unowned in tern_sessions, so the next CONNECT takes it
// without asking, and publishes the wills their records hold, after their
// Will Delay Interval (or the session's expiry, if shorter) unless a
// connection has taken the session meanwhile [MQTT-5:3.1.3-9].

// reaperPrefix is the key prefix of the reapers' claims in tern_nodes.
const reaperPrefix = "reaper."

// watchLeases follows tern_nodes until close and reaps the nodes whose
// lease lapsed.
func (r *registry) watchLeases() {
	defer r.wg.Done()
	w, err := r.nodes.WatchAll(r.ctx)
	if err != nil {
		if r.ctx.Err() == nil {
			r.log.Error("cluster: watching node leases; the wills of dead nodes will not be published", "err", err)
		}
		return
	}
	defer w.Stop()
	seen := make(map[string]time.Time) // node → when its lease was last renewed
	tick := time.NewTicker(leaseRenew)
	defer tick.Stop()
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e == nil || strings.HasPrefix(e.Key(), reaperPrefix) || e.Key() == r.n.id {
				continue
			}
			if e.Operation() == jetstream.KeyValuePut {
				seen[e.Key()] = time.Now()
			} else {
				delete(seen, e.Key()) // left in order
			}
		case now := <-tick.C:
			for node, at := range seen {
				if now.Sub(at) > leaseTTL+leaseRenew {
					delete(seen, node)
					r.wg.Add(1)
					go r.reap(node)
				}
			}
		case <-r.ctx.Done():
			return
		}
	}
}

// reap takes over the sessions of node, whose lease lapsed, if this node
// is the first survivor to claim the task.
func (r *registry) reap(node string) {
	defer r.wg.Done()
	ctx, cancel := context.WithTimeout(r.ctx, time.Minute)
	defer cancel()
	if _, err := r.nodes.Get(ctx, node); !errors.Is(err, jetstream.ErrKeyNotFound) {
		return // renewed after all, or JetStream cannot tell now
	}
	if _, err := r.nodes.Create(ctx, reaperPrefix+node, []byte(r.n.id)); err != nil {
		return // another survivor reaps it
	}
	keys, err := r.kv.ListKeys(ctx)
	if err != nil {
		r.log.Error("cluster: listing the sessions of a dead node", "dead", node, "err", err)
		return
	}
	sessions, wills := 0, 0
	for key := range keys.Keys() {
		rec, rev, err := r.get(ctx, key)
		if err != nil || rev == 0 || rec.Owner != node {
			continue
		}
		will, ok := r.unown(ctx, key, rec, rev)
		if !ok {
			continue
		}
		sessions++
		if will != nil {
			wills++
			r.scheduleWill(key, will)
		}
	}
	r.log.Info("cluster: reaped a dead node", "dead", node, "sessions", sessions, "wills", wills)
}

// pendingWill is a will of a dead node's session and the epoch at which
// its session was left unowned.
type pendingWill struct {
	from  string // the client id
	rec   store.SessionRecord
	epoch uint64
	at    time.Time // when the session was left unowned
}

// unown marks a dead node's session unowned (a session with expiry 0
// ended with its connection: its record goes) and returns its will.
func (r *registry) unown(ctx context.Context, key string, rec record, rev uint64) (*pendingWill, bool) {
	var s store.SessionRecord
	if rec.Session != nil {
		var err error
		if s, err = store.DecodeSession(rec.Session); err != nil {
			rec.Session = nil
		}
	}
	now := time.Now()
	var err error
	if rec.Session == nil || s.Expiry == 0 {
		err = r.kv.Delete(ctx, key, jetstream.LastRevision(rev))
	} else {
		// The epoch stays: the deliveries the dead node put in TERN_SESSQ
		// carry it, and the next owner reads those of this epoch.
		rec.Owner, rec.Since = "", now.UnixMilli()
		will := s.Will
		s.Will, s.WillDelay = nil, 0
		if s.Disconnected == 0 {
			s.Disconnected = now.UnixNano() // its connection ended with its node
		}
		rec.Session = s.Append(nil)
		s.Will = will
		b, _ := json.Marshal(rec)
		_, err = r.kv.Update(ctx, key, b, rev)
	}
	if err != nil {
		return nil, false // a CONNECT took it meanwhile
	}
	if s.Will == nil {
		return nil, true
	}
	return &pendingWill{from: rec.ClientID, rec: s, epoch: rec.Epoch, at: now}, true
}

// scheduleWill publishes w after its delay: the Will Delay Interval or
// the session's expiry, whichever ends first [MQTT-5:3.1.2-8]. A
// connection that took the session before is its new owner: the will is
// not sent [MQTT-5:3.1.3-9].
func (r *registry) scheduleWill(key string, w *pendingWill) {
	delay := time.Duration(min(w.rec.WillDelay, w.rec.Expiry)) * time.Second
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.ctx.Done():
			return
		}
		ctx, cancel := context.WithTimeout(r.ctx, 5*time.Second)
		defer cancel()
		if delay > 0 {
			rec, rev, err := r.get(ctx, key)
			if err != nil || rev != 0 && rec.Epoch != w.epoch {
				return // taken by a new connection, or unknown: not sent
			}
		}
		srv := r.n.srv.Load()
		if srv == nil {
			return
		}
		m := w.rec.Will
		msg := &broker.Message{Topic: m.Topic, Payload: m.Payload, QoS: m.QoS, Retain: m.Retain, Props: m.Props, From: w.from}
		if w.rec.HasWillLife {
			msg.Expires = time.Now().Add(time.Duration(w.rec.WillLife))
		} else if m.Expires != 0 {
			msg.Expires = time.Unix(0, m.Expires)
		}
		if err := srv.Publish(msg); err != nil {
			r.log.Error("cluster: publishing the will of a dead node's client", "topic", m.Topic, "err", err)
		}
	}()
}
