package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/broker/store"
	"github.com/ternmq/tern/codec"
)

// The sessions of a dead node (cluster.md, "wills of a dead node", and
// issue #18). Each node watches the leases in tern_nodes. A lease not
// renewed for leaseTTL means its node died (a node that leaves in order
// deletes its lease and its broker publishes its own wills). The survivor
// that creates the key reaper.<node> first adopts each of the node's
// sessions: it writes itself in as the owner with epoch+1 by
// compare-and-swap (fenced as a CONNECT's claim), and hands the broker
// (Server.Adopt) the session with its will, the deliveries the dead node
// wrote through to TERN_SESSQ, and the messages of TERN_QOS the dead
// node's consumer had not acknowledged, or that came after its death,
// that match the session's subscriptions. The broker keeps the session
// offline, publishes its will after its delay unless a connection resumes
// it first [MQTT-5:3.1.3-9], and the session resumes on any node like any
// other. Then the dead node's consumer is deleted (a restarted node makes
// a new one).

// reaperPrefix is the key prefix of the reapers' claims in tern_nodes.
const reaperPrefix = "reaper."

// watchLeases follows tern_nodes until close and reaps the nodes whose
// lease lapsed; a reap that could not finish (JetStream did not answer)
// is tried again.
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
	leases := make(leaseBook)
	retry := make(chan string, 16)
	tick := time.NewTicker(leaseRenew)
	defer tick.Stop()
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e == nil || strings.HasPrefix(e.Key(), reaperPrefix) || nodeName(e.Key()) == nodeName(r.n.id) {
				continue // this node's own lease, or an earlier incarnation's (restart.go)
			}
			leases.update(e.Key(), e.Operation() == jetstream.KeyValuePut, time.Now())
		case node := <-retry:
			leases.again(node, time.Now())
		case now := <-tick.C:
			for _, node := range leases.lapsed(now) {
				r.wg.Add(1)
				go func() {
					defer r.wg.Done()
					if r.reap(node) {
						select {
						case retry <- node:
						case <-r.ctx.Done():
						}
					}
				}()
			}
		case <-r.ctx.Done():
			return
		}
	}
}

// leaseBook is what watchLeases knows of the other nodes' leases: when
// each was last renewed. A node whose lease has lapsed leaves it when it
// is handed to reap, and comes back (again) when the reap must be tried
// again.
type leaseBook map[string]time.Time

// update records a renewal (put) or an orderly end (delete) of node's
// lease at now.
func (b leaseBook) update(node string, put bool, now time.Time) {
	if put {
		b[node] = now
		return
	}
	delete(b, node) // left in order
}

// lapsed returns the nodes whose lease lapsed by now, and forgets them.
func (b leaseBook) lapsed(now time.Time) []string {
	var out []string
	for node, at := range b {
		if now.Sub(at) > leaseTTL+leaseRenew {
			delete(b, node)
			out = append(out, node)
		}
	}
	return out
}

// again puts back a node whose reap did not finish: it lapses again a
// little over a renewal period from now, unless its lease is renewed
// meanwhile.
func (b leaseBook) again(node string, now time.Time) {
	if _, ok := b[node]; !ok {
		b[node] = now.Add(-leaseTTL)
	}
}

// reapTimeout bounds the adoption of a dead node's sessions;
// consumerWait the wait for its consumer's information (the consumer may
// need a new leader).
const (
	reapTimeout  = 2 * time.Minute
	consumerWait = 20 * time.Second
)

// reap adopts the sessions of node, whose lease lapsed, if this node is
// the first survivor to claim the task. It reports whether it must be
// tried again: JetStream did not answer before it claimed the task, or
// the claimed task could not read what an adoption needs (the dead
// node's consumer, the messages above its ack floor, the list of
// sessions, a session's deliveries in TERN_SESSQ). The claim is kept, and
// so is the dead node's consumer while a session is left: the next try
// goes on with them. Nothing is adopted without what it needs: that would
// lose messages acknowledged to their publishers.
func (r *registry) reap(node string) (again bool) {
	ctx, cancel := context.WithTimeout(r.ctx, reapTimeout)
	defer cancel()
	switch _, err := r.nodes.Get(ctx, node); {
	case err == nil:
		return false // renewed after all
	case !errors.Is(err, jetstream.ErrKeyNotFound):
		r.log.Warn("cluster: a lapsed lease not confirmed; trying again", "node", node, "err", err)
		return r.ctx.Err() == nil // JetStream cannot tell now
	}
	if alive := r.incarnation(ctx, node); alive != "" {
		// The node restarted: the new incarnation takes its sessions back
		// (restart.go).
		r.log.Info("cluster: a dead node runs again; its sessions are its own", "dead", node, "now", alive)
		return false
	}
	if _, err := r.nodes.Create(ctx, reaperPrefix+node, []byte(r.n.id)); err != nil {
		e, gerr := r.nodes.Get(ctx, reaperPrefix+node)
		switch {
		case gerr != nil && !errors.Is(gerr, jetstream.ErrKeyNotFound):
			return r.ctx.Err() == nil // JetStream cannot tell who reaps it
		case gerr != nil:
			return r.ctx.Err() == nil // the claim expired between the calls
		case string(e.Value()) != r.n.id:
			return false // another survivor reaps it
		}
		// This node's own claim, from a reap that did not finish.
	}
	srv := r.n.srv.Load()
	if srv == nil {
		r.log.Error("cluster: a dead node's sessions not adopted: no broker attached", "dead", node)
		return false
	}
	// Nothing reaches the dead node's consumer any more: what it had not
	// acknowledged is above its ack floor.
	q := r.n.q
	floor, hasFloor, err := r.ackFloor(ctx, node)
	if err != nil {
		r.log.Error("cluster: reading a dead node's consumer; trying again", "dead", node, "err", err)
		return r.ctx.Err() == nil // with this node's claim
	}
	// The messages above the floor, in two reads: most now, before any
	// session is taken (a failure leaves them all to the next try), the
	// rest with the node's routing held (gate), so that each message is
	// either read here or routed after the adopted subscriptions are in
	// the topic tree.
	var msgs []*broker.Message
	var last uint64
	if hasFloor {
		if msgs, last, err = r.readAbove(ctx, floor); err != nil {
			r.log.Error("cluster: reading the messages a dead node had not acknowledged; trying again", "dead", node, "err", err)
			return r.ctx.Err() == nil // with this node's claim
		}
	}
	keys, err := r.kv.ListKeys(ctx)
	if err != nil {
		r.log.Error("cluster: listing the sessions of a dead node; trying again", "dead", node, "err", err)
		return r.ctx.Err() == nil // with this node's claim
	}
	var todo []*adoptee
	defer func() {
		r.mu.Lock()
		for _, a := range todo {
			close(r.adopting[a.clientID])
			delete(r.adopting, a.clientID)
		}
		r.mu.Unlock()
	}()
	ended, left := 0, 0
	for key := range keys.Keys() {
		rec, rev, err := r.get(ctx, key)
		if err != nil || rev == 0 || rec.Owner != node {
			continue
		}
		a, ok, err := r.prepareAdoption(ctx, key, rec, rev)
		switch {
		case err != nil:
			// Still the dead node's: the next try adopts it, with the
			// dead node's consumer kept until then.
			r.log.Error("cluster: a dead node's session not adopted; trying again", "dead", node, "client", rec.ClientID, "err", err)
			left++
		case a != nil:
			todo = append(todo, a)
		case ok:
			ended++
		}
	}
	adopted := 0
	q.gate.Lock()
	if hasFloor {
		more, _, err := r.readAbove(ctx, last)
		if err != nil {
			r.log.Error("cluster: reading the messages a dead node had not acknowledged", "dead", node, "err", err)
		}
		msgs = append(msgs, more...)
	}
	for _, a := range todo {
		a.add(msgs)
		if err := srv.Adopt(a.clientID, a.h); err != nil {
			if errors.Is(err, broker.ErrSessionExists) {
				// A CONNECT on this node made it meanwhile; its claim,
				// waiting for this adoption, takes the session.
				r.mu.Lock()
				r.orphans[a.clientID] = a.h
				r.mu.Unlock()
				adopted++
				continue
			}
			r.log.Error("cluster: adopting a dead node's session", "dead", node, "client", a.clientID, "err", err)
			a.sqLast = 0 // keep what it had in TERN_SESSQ
			continue
		}
		adopted++
	}
	q.gate.Unlock()
	for _, a := range todo {
		if a.sqLast > 0 {
			if err := r.sq.Purge(ctx, jetstream.WithPurgeSubject(queueSubject(a.clientID)), jetstream.WithPurgeSequence(a.sqLast+1)); err != nil {
				r.log.Warn("cluster: purging an adopted session's deliveries", "client", a.clientID, "err", err)
			}
		}
	}
	r.stats.Adopted.Add(uint64(adopted))
	if alive := r.incarnation(ctx, node); alive != "" || hasFloor && r.consumerInUse(ctx, node) {
		// The node restarted meanwhile and consumes from the consumer of
		// its name again: it stays.
		hasFloor = false
		r.log.Info("cluster: a dead node runs again; its consumer is kept", "dead", node, "now", alive)
	}
	if left > 0 {
		r.log.Info("cluster: adopted some of the sessions of a dead node", "dead", node, "adopted", adopted, "ended", ended,
			"left", left, "messages", len(msgs), "floor", floor)
		return r.ctx.Err() == nil // with this node's claim and the dead node's consumer
	}
	if hasFloor && q.ready.Load() {
		if err := q.qos.DeleteConsumer(ctx, consumerNameOf(node)); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			r.log.Warn("cluster: deleting a dead node's consumer", "dead", node, "err", err)
		}
	}
	r.log.Info("cluster: adopted the sessions of a dead node", "dead", node, "adopted", adopted, "ended", ended,
		"messages", len(msgs), "floor", floor)
	return false
}

// ackFloor returns the stream sequence up to which the consumer of the
// dead node acknowledged every message; found is false when there is no
// such consumer (or no stream). It retries until ctx ends or consumerWait
// has passed (the consumer may be electing a leader), then returns the
// error.
func (r *registry) ackFloor(ctx context.Context, node string) (floor uint64, found bool, err error) {
	q := r.n.q
	if !q.ready.Load() {
		return 0, false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, consumerWait)
	defer cancel()
	pause := time.NewTimer(0)
	defer pause.Stop()
	for {
		call, cancelCall := context.WithTimeout(ctx, lookupTimeout)
		c, err := q.qos.Consumer(call, consumerNameOf(node))
		var info *jetstream.ConsumerInfo
		if err == nil {
			info, err = c.Info(call)
		}
		cancelCall()
		switch {
		case err == nil:
			return info.AckFloor.Stream, true, nil
		case errors.Is(err, jetstream.ErrConsumerNotFound):
			return 0, false, nil
		}
		pause.Reset(setupPause)
		select {
		case <-pause.C:
		case <-ctx.Done():
			return 0, false, fmt.Errorf("the consumer of node %s: %w", node, err)
		}
	}
}

// askUntil calls f with a context bounded by lookupTimeout until it
// succeeds, pausing setupPause after each failure (a stream or consumer
// electing a leader does not answer for seconds), and returns the last
// error once ctx ends. f's errors wrapping stop end it at once.
func askUntil(ctx context.Context, f func(call context.Context) error, stop ...error) error {
	pause := time.NewTimer(0)
	<-pause.C
	defer pause.Stop()
	for {
		call, cancel := context.WithTimeout(ctx, lookupTimeout)
		err := f(call)
		cancel()
		if err == nil {
			return nil
		}
		for _, s := range stop {
			if errors.Is(err, s) {
				return err
			}
		}
		pause.Reset(setupPause)
		select {
		case <-pause.C:
		case <-ctx.Done():
			return err
		}
	}
}

// qosLast returns the last sequence of TERN_QOS, asking until ctx ends.
func (r *registry) qosLast(ctx context.Context) (uint64, error) {
	var last uint64
	err := askUntil(ctx, func(call context.Context) error {
		info, err := r.n.q.qos.Info(call)
		if err == nil {
			last = info.State.LastSeq
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("the last sequence of %s: %w", StreamQoS, err)
	}
	return last, nil
}

// readQoS returns the messages of TERN_QOS from sequence from to to,
// asking for each until ctx ends; on an error it returns what it read
// before it.
func (r *registry) readQoS(ctx context.Context, from, to uint64) ([]*broker.Message, error) {
	var out []*broker.Message
	for seq := from; seq <= to && seq > 0; seq++ {
		var m *jetstream.RawStreamMsg
		err := askUntil(ctx, func(call context.Context) (err error) {
			m, err = r.n.q.qos.GetMsg(call, seq)
			return err
		}, jetstream.ErrMsgNotFound)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // aged out, or the duplicate of another
		}
		if err != nil {
			return out, fmt.Errorf("reading %s at %d: %w", StreamQoS, seq, err)
		}
		msg, _, err := decodeStored(m.Subject, m.Header, m.Data, m.Time, QoSPrefix)
		if err != nil {
			continue
		}
		out = append(out, msg)
	}
	return out, nil
}

// readAbove reads the messages of TERN_QOS above floor, up to the
// stream's last sequence, which it returns.
func (r *registry) readAbove(ctx context.Context, floor uint64) ([]*broker.Message, uint64, error) {
	last, err := r.qosLast(ctx)
	if err != nil {
		return nil, 0, err
	}
	msgs, err := r.readQoS(ctx, floor+1, last)
	return msgs, max(last, floor), err
}

// adoptee is a dead node's session being adopted.
type adoptee struct {
	clientID string
	h        *broker.SessionHandoff
	origins  map[string]bool // of the deliveries from TERN_SESSQ
	online   bool            // the session had a connection on the dead node
	next     uint64          // the next delivery sequence number
	sqLast   uint64          // the last TERN_SESSQ sequence read
}

// prepareAdoption makes this node the owner of a dead node's session and
// reads its deliveries from TERN_SESSQ. It returns nil with ok for a
// session that ends instead (no session, expired, or expiry 0 without a
// will: the record goes), and nil without ok when a CONNECT took the
// session meanwhile; an error when TERN_SESSQ could not be read, before
// the record names this node (the next reap tries again).
func (r *registry) prepareAdoption(ctx context.Context, key string, rec record, rev uint64) (a *adoptee, ok bool, err error) {
	var s store.SessionRecord
	if rec.Session != nil {
		if s, err = store.DecodeSession(rec.Session); err != nil {
			r.log.Error("cluster: a dead node's session record does not decode", "client", rec.ClientID, "err", err)
			rec.Session = nil
		}
	}
	now := time.Now()
	expired := s.Disconnected != 0 && s.Expiry != 0xFFFFFFFF &&
		now.Sub(time.Unix(0, s.Disconnected)) > time.Duration(s.Expiry)*time.Second
	if rec.Session == nil || expired || s.Expiry == 0 && s.Will == nil {
		return nil, r.kv.Delete(ctx, key, jetstream.LastRevision(rev)) == nil, nil
	}
	q, err := r.readQueued(ctx, rec.ClientID, rec.Epoch)
	if err != nil {
		return nil, false, err
	}
	next := rec
	next.Owner, next.Epoch, next.Since = r.n.id, rec.Epoch+1, now.UnixMilli()
	b, _ := json.Marshal(next)
	// Marked before the record names this node: a claim or a take-over
	// that sees this node as the owner waits for the adoption.
	adopting := make(chan struct{}) // closed by reap
	r.mu.Lock()
	r.adopting[rec.ClientID] = adopting
	r.mu.Unlock()
	nrev, err := r.kv.Update(ctx, key, b, rev)
	if err != nil {
		r.conflict(err)
		r.mu.Lock()
		delete(r.adopting, rec.ClientID)
		r.mu.Unlock()
		close(adopting)
		return nil, false, nil // a CONNECT took it meanwhile
	}
	r.own(rec.ClientID, nrev, next)
	a = newAdoptee(rec.ClientID, &broker.SessionHandoff{Session: s, Deliveries: q.ds, Inbound: rec.Inbound}, s.Disconnected == 0)
	a.sqLast = q.last
	return a, false, nil
}

// newAdoptee returns the adoption of a dead node's session h. online says
// that the session had a connection on the dead node: the deliveries the
// dead node wrote through (SessionQueued, with Sent false) may then have
// been sent, so all are sent again with DUP [MQTT-4.4.0-1].
func newAdoptee(clientID string, h *broker.SessionHandoff, online bool) *adoptee {
	a := &adoptee{clientID: clientID, h: h, origins: make(map[string]bool), online: online, next: 1}
	for i := range h.Deliveries {
		d := &h.Deliveries[i]
		if online {
			d.Sent = d.Message != nil || d.Delivery.Released
		}
		if d.Origin != "" {
			a.origins[d.Origin] = true
		}
		a.next = max(a.next, d.Seq+1)
	}
	return a
}

// recovery is what a CONNECT reads of a dead owner's consumer before it
// takes the session (recover): the consumer's ack floor and the messages
// of TERN_QOS above it.
type recovery struct {
	floor uint64
	last  uint64 // the last sequence read
	msgs  []*broker.Message
}

// prepareRecovery reads what recover needs of the dead node's consumer
// before this node takes the session, so that a failure leaves the
// session where it was (the CONNECT gets 0x88 and the client tries
// again): nil, nil when the dead node has no consumer.
func (r *registry) prepareRecovery(ctx context.Context, dead string) (*recovery, error) {
	floor, found, err := r.ackFloor(ctx, dead)
	if err != nil || !found {
		return nil, err
	}
	msgs, last, err := r.readAbove(ctx, floor)
	if err != nil {
		return nil, err
	}
	return &recovery{floor: floor, last: last, msgs: msgs}, nil
}

// installWait bounds how long a recovery holds the node's routing (gate)
// for the broker to put the recovered session's subscriptions in its tree
// (SessionHandoff.Installed), in case the broker never says so.
const installWait = 5 * time.Second

// recover is resume for a session whose owner died and was not adopted
// yet: a CONNECT on this node came first (the reaper adopts the others).
// As in an adoption, what the dead node wrote through may have been sent
// (DUP), and the messages of TERN_QOS above the dead node's consumer's ack
// floor that the session's subscriptions match are added (pre, read
// before this node took the session). The rest of the stream is read with
// this node's routing held until the broker has put the subscriptions in
// its tree (Installed), so that every later message reaches the session
// through this node's consumer.
func (r *registry) recover(ctx context.Context, clientID string, rec *record, sq queued, dead string, pre *recovery) *broker.SessionHandoff {
	var online bool
	if s, err := store.DecodeSession(rec.Session); err == nil {
		online = s.Disconnected == 0
	}
	h := r.resume(ctx, clientID, rec, sq)
	if h == nil {
		return nil
	}
	a := newAdoptee(clientID, h, online)
	if pre == nil {
		return h
	}
	q := r.n.q
	q.gate.Lock()
	// The session is this node's now: the tail is read whatever the
	// CONNECT's deadline, as long as the stream takes to answer.
	tail, cancel := context.WithTimeout(r.ctx, consumerWait)
	more, _, err := r.readAbove(tail, pre.last)
	cancel()
	if err != nil {
		r.log.Error("cluster: reading the end of "+StreamQoS+" for a dead node's session; later messages may be missing", "client", clientID, "err", err)
	}
	a.add(pre.msgs)
	a.add(more)
	holdUntilInstalled(q, h)
	r.stats.Recovered.Add(1)
	r.log.Info("cluster: a dead node's session resumed here before its adoption", "dead", dead, "client", clientID,
		"deliveries", len(h.Deliveries), "floor", pre.floor, "read", len(pre.msgs)+len(more))
	return h
}

// holdUntilInstalled keeps q's routing held (the caller holds q.gate for
// writing) until the broker has put h's subscriptions in its tree
// (SessionHandoff.Installed), installWait at most: every message routed
// after that reaches the session through this node's consumer.
func holdUntilInstalled(q *durable, h *broker.SessionHandoff) {
	var once sync.Once
	release := func() { once.Do(q.gate.Unlock) }
	t := time.AfterFunc(installWait, release)
	h.Installed = func() {
		t.Stop()
		release()
	}
}

// catchUp completes a session handed over by a live owner that had
// routed TERN_QOS up to routed: the owner's consumer may route messages
// after it (the session is gone there), this node's may have routed
// them before the session's subscriptions are in its tree. With this
// node's routing held, the messages after routed up to the last one this
// node routed are read and added to h's deliveries (those it already has
// are skipped by origin); later ones reach the session through this
// node's consumer once the broker has installed it.
func (r *registry) catchUp(clientID string, h *broker.SessionHandoff, routed uint64) {
	q := r.n.q
	if q == nil || !q.ready.Load() {
		return
	}
	q.gate.Lock()
	here := q.routed.Load()
	if here <= routed {
		q.gate.Unlock()
		return
	}
	a := newAdoptee(clientID, h, false)
	ctx, cancel := context.WithTimeout(r.ctx, consumerWait)
	msgs, err := r.readQoS(ctx, routed+1, here)
	cancel()
	if err != nil {
		r.log.Error("cluster: reading "+StreamQoS+" for a session moved here; messages may be missing", "client", clientID, "err", err)
	}
	before := len(h.Deliveries)
	a.add(msgs)
	holdUntilInstalled(q, h)
	r.stats.CaughtUp.Add(uint64(len(h.Deliveries) - before))
	r.log.Debug("cluster: a session moved here caught up with "+StreamQoS, "client", clientID,
		"from", routed+1, "to", here, "added", len(h.Deliveries)-before)
}

// add queues for a the messages of msgs that its session's subscriptions
// match, as the broker routes them: once per session, at the lower of the
// message's QoS and the highest matching subscription's, RETAIN kept only
// for Retain As Published, with every Subscription Identifier, not for a
// No Local subscription of its publisher; $share subscriptions are left
// out (their groups are not the session's alone). Messages already among
// its deliveries are skipped.
func (a *adoptee) add(msgs []*broker.Message) {
	now := time.Now()
	for _, m := range msgs {
		if m.Origin != "" && a.origins[m.Origin] || !m.Expires.IsZero() && !m.Expires.After(now) {
			continue
		}
		qos, retain, ids, ok := matchSubs(a.h.Session.Subs, m, a.clientID)
		if !ok || qos == 0 {
			continue
		}
		mr := store.MessageRecord{Topic: m.Topic, Payload: m.Payload, QoS: m.QoS, Retain: m.Retain, Props: m.Props, From: m.From}
		if !m.Expires.IsZero() {
			mr.Expires = m.Expires.UnixNano()
		}
		// The dead node may have sent it to an online session before its
		// write-through to TERN_SESSQ was stored: sent again with DUP, as
		// a delivery that might be a re-delivery [MQTT-3.3.1-1].
		a.h.Deliveries = append(a.h.Deliveries, broker.HandoffDelivery{Seq: a.next, Message: &mr, Origin: m.Origin,
			Delivery: store.QueueRecord{QoS: qos, Retain: retain, SubIDs: ids}, Sent: a.online})
		a.next++
		if m.Origin != "" {
			a.origins[m.Origin] = true
		}
	}
}

// matchSubs matches m against a session's subscriptions as the broker's
// routing does (route.go): ok when one matches, at QoS min(message,
// highest subscription) [MQTT-3.8.4-6 of 3.1.1], RETAIN kept only for
// Retain As Published [MQTT-3.3.1-9 of 3.1.1], the Subscription
// Identifiers of all that match, none of a No Local subscription for its
// own message [MQTT-5:3.8.3-3]; $share subscriptions are skipped.
func matchSubs(subs []store.SubRecord, m *broker.Message, clientID string) (qos codec.QoS, retain bool, ids []int, ok bool) {
	var top codec.QoS
	rap := false
	for _, sub := range subs {
		if codec.IsShared(sub.Filter) || !codec.MatchTopic(sub.Filter, m.Topic) || sub.NoLocal && m.From == clientID {
			continue
		}
		ok = true
		top = max(top, sub.QoS)
		rap = rap || sub.RetainAsPublished
		if sub.ID > 0 {
			ids = append(ids, sub.ID)
		}
	}
	return min(m.QoS, top), m.Retain && rap, ids, ok
}
