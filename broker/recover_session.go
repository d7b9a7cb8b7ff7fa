package broker

import (
	"bytes"
	"fmt"
	"time"

	"github.com/ternmq/tern/broker/store"
	"github.com/ternmq/tern/codec"
)

// sessionKey reads one key of a session. A session's keys are contiguous
// and its record sorts last (SubInbound < SubQueue < SubSession), so the
// session is built when its record arrives, or dropped when the next
// client's keys begin without one.
func (r *recovery) sessionKey(k, v []byte) error {
	// The client id is compared without a copy: a million queue keys of a
	// thousand clients need a thousand strings, not a million.
	client, ok := sessionClient(k)
	if !ok {
		return fmt.Errorf("%w: session key %q", store.ErrCorrupt, k)
	}
	if string(client) != r.client || r.client == "" {
		r.endClient()
		r.client = string(client)
	}
	key, err := store.ParseSessionTail(k, len(client))
	if err != nil {
		return err
	}
	switch key.Sub {
	case store.SubInbound:
		r.inbound = append(r.inbound, key.PID)
	case store.SubQueue:
		rec, err := store.DecodeQueue(v)
		if err != nil {
			return err
		}
		r.queue = append(r.queue, queued{key.ID, rec})
	case store.SubSession:
		rec, err := store.DecodeSession(v)
		if err != nil {
			return err
		}
		r.session(&rec)
		r.client = "" // done: endClient has nothing to drop
		r.inbound, r.queue = r.inbound[:0], r.queue[:0]
	}
	return nil
}

// sessionClient returns the client id of a session key.
func sessionClient(k []byte) ([]byte, bool) {
	if len(k) < 3 || k[0] != store.KindSession {
		return nil, false
	}
	i := bytes.IndexByte(k[1:], 0)
	if i < 0 {
		return nil, false
	}
	return k[1 : 1+i], true
}

// endClient drops the keys of a client that had no session record.
func (r *recovery) endClient() {
	if r.client != "" && (len(r.inbound) > 0 || len(r.queue) > 0) {
		r.fix.DeleteRange(store.SessionRange(r.client))
	}
	r.client = ""
	r.inbound, r.queue = r.inbound[:0], r.queue[:0]
}

// session rebuilds one session from its record and the keys before it,
// or drops it if it expired while the broker was down.
func (r *recovery) session(rec *store.SessionRecord) {
	offline := r.now
	if rec.Disconnected != 0 {
		offline = time.Unix(0, rec.Disconnected)
	}
	left := time.Duration(1<<63 - 1)
	if rec.Expiry != 0xFFFFFFFF {
		left = time.Duration(rec.Expiry)*time.Second - r.now.Sub(offline)
	}
	var will *Message
	if rec.Will != nil {
		will = fromRecord(rec.Will)
		will.willLife, will.hasWillLife = time.Duration(rec.WillLife), rec.HasWillLife
	}
	held := r.srv.sessc != nil // the cluster decides (cluster_restart.go)
	if left <= 0 || rec.Expiry == 0 {
		r.fix.DeleteRange(store.SessionRange(r.client))
		switch {
		case will != nil && held:
			r.srv.hold(r.client, nil, will, r.now)
		case will != nil:
			r.wills = append(r.wills, will) // the session ended: its will is due
		}
		return
	}
	s := r.srv
	ss := newSession(s, r.client)
	ss.version, ss.expiry, ss.offline, ss.durable = rec.Version, rec.Expiry, offline, true
	ss.who = Client{ID: r.client, Username: rec.Username}
	s.sessions[ss.id] = ss
	for _, sub := range rec.Subs {
		r.subscribe(ss, sub)
	}
	for _, pid := range r.inbound {
		if ss.inbound == nil {
			ss.inbound = make(map[uint16]struct{})
		}
		ss.inbound[pid] = struct{}{}
	}
	for _, q := range r.queue {
		r.enqueue(ss, q)
	}
	ss.dupBelow = ss.q.tail // any of them may have been sent before
	ss.synced = ss.q.tail
	if held {
		ss.will, ss.willDelay = will, rec.WillDelay
		s.hold(r.client, ss, nil, offline.Add(time.Duration(rec.WillDelay)*time.Second))
	} else if will != nil {
		if delay := time.Duration(rec.WillDelay)*time.Second - r.now.Sub(offline); delay > 0 {
			ss.will, ss.willDelay = will, rec.WillDelay
			ss.willTimer = time.AfterFunc(delay, func() { s.safely("will delay", ss.fireWill) })
		} else {
			r.wills = append(r.wills, will)
		}
	}
	if rec.Expiry != 0xFFFFFFFF {
		ss.startExpiry(left)
	}
}

// subscribe restores one subscription.
func (r *recovery) subscribe(ss *session, sub store.SubRecord) {
	o := subOpts{qos: sub.QoS, noLocal: sub.NoLocal, retainAsPublished: sub.RetainAsPublished,
		retainHandling: sub.RetainHandling, id: sub.ID}
	if ss.subs == nil {
		ss.subs = make(map[string]subOpts)
	}
	ss.subs[sub.Filter] = o
	r.srv.metrics.subscribed(sub.Filter, 1)
	if codec.IsShared(sub.Filter) {
		r.srv.subscribeShared(ss, sub.Filter, o)
	} else {
		r.srv.addSub(sub.Filter, ss, o)
	}
}

// enqueue restores one delivery at its sequence number, so that it keeps
// its packet identifier.
func (r *recovery) enqueue(ss *session, q queued) {
	rec := &q.rec
	if rec.Released {
		ss.q.placeAt(q.seq, &delivery{qos: 2, released: true})
		ss.queued++
		return
	}
	i := r.find(rec.MsgID)
	if i < 0 || r.msgs[i].expired(r.now) {
		r.fix.Delete(store.QueueKey(ss.id, q.seq))
		return
	}
	m := r.msgs[i]
	if !m.Expires.IsZero() {
		r.srv.sweepSoon()
	}
	m.refs++
	var d *delivery
	if len(rec.SubIDs) == 0 && rec.Group == "" {
		if r.shared == nil {
			r.shared = make([]*delivery, len(r.msgs))
		}
		if d = r.shared[i]; d == nil || d.qos != rec.QoS || d.retain != rec.Retain {
			d = &delivery{msg: m, qos: rec.QoS, retain: rec.Retain}
			r.shared[i] = d
		}
	} else {
		d = &delivery{msg: m, qos: rec.QoS, retain: rec.Retain, subIDs: rec.SubIDs}
		if rec.Group != "" {
			d.group = r.srv.groups[rec.Group]
		}
	}
	ss.q.placeAt(q.seq, d)
	ss.queued++
}
