package broker

import (
	"strings"
	"time"

	"github.com/ternmq/tern/broker/store"
	"github.com/ternmq/tern/codec"
)

// This file routes messages: publish → match → deliver, shared groups,
// and retained messages.

// target collects the matching subscriptions of one session for one message.
type target struct {
	s   *session
	qos codec.QoS
	rap bool
	ids []int
}

// aggregator merges overlapping subscriptions so each session receives one
// copy at the highest granted QoS, with every Subscription Identifier
// [MQTT-3.3.5-1]. Pooled: routing a message allocates only its deliveries.
type aggregator struct {
	index   map[*session]int
	targets []target
	groups  []*shareGroup
	// plain holds the deliveries without Subscription Identifiers made
	// for the current message, by QoS and RETAIN flag: sessions that
	// receive it the same way share one.
	plain [3][2]*delivery
}

// delivery returns the delivery of m at qos with the retain flag and ids,
// shared with other sessions when it has no identifiers.
func (a *aggregator) delivery(m *Message, qos codec.QoS, retain bool, ids []int) *delivery {
	if len(ids) > 0 {
		return &delivery{msg: m, qos: qos, retain: retain, subIDs: ids}
	}
	r := 0
	if retain {
		r = 1
	}
	d := a.plain[qos][r]
	if d == nil {
		d = &delivery{msg: m, qos: qos, retain: retain}
		a.plain[qos][r] = d
	}
	return d
}

// publish routes a message to every matching subscription and, when it is
// retained, updates the retained messages. It never blocks on a
// subscriber or on the store; it reports whether it wrote to the store, in
// which case a QoS 1/2 publisher is acknowledged only once that is
// durable (see conn.ackWhenStored).
func (s *Server) publish(m *Message) (stored bool) {
	stored, _ = s.route(m)
	return stored
}

// route is publish that also reports whether the message was refused
// (routed nowhere) because retaining it would exceed a cap.
func (s *Server) route(m *Message) (stored, refused bool) {
	return s.routeFrom(m, false)
}

// routeFrom is route; remote says m comes from another node of the
// cluster (InjectRemote): it is neither retained here nor handed to
// Options.Cluster.
func (s *Server) routeFrom(m *Message, remote bool) (stored, refused bool) {
	return s.routeWith(m, remote, nil)
}

// routeWith is routeFrom; w, when not nil, waits for a ClusterDurable to
// keep m (cluster_qos.go). A QoS 1/2 message handed to a ClusterDurable
// is retained here as usual but not delivered: the cluster brings it back
// through InjectDurable.
func (s *Server) routeWith(m *Message, remote bool, w *clusterWait) (stored, refused bool) {
	if m.hasWillLife {
		m = m.atPublication(time.Now()) // a will's expiry starts now
	}
	if m.Retain && !remote {
		var ok bool
		if stored, ok = s.retain(m); !ok {
			return false, true
		}
	}
	if c := s.opts.Cluster; c != nil && !remote && !isSysTopic(m.Topic) {
		switch {
		case !s.toCluster(m, w):
			c.Published(m)
		case m.QoS > 0:
			// Routed here only once the cluster holds it and brings it back
			// (InjectDurable with own set), like on every other node: a
			// message the cluster refuses reaches no subscriber.
			return stored, false
		}
	}
	return s.deliverLocal(m, !remote) || stored, false
}

// deliverLocal hands m to this node's matching subscriptions, and to one
// member of each matching shared group when groups is set, and reports
// whether a delivery was written to the store.
func (s *Server) deliverLocal(m *Message, groups bool) (stored bool) {
	if !m.Expires.IsZero() {
		s.sweepSoon()
	}
	a := s.aggs.Get().(*aggregator)
	s.subs.Match(m.Topic, func(ss *session, o subOpts) {
		if o.noLocal && ss.id == m.From {
			return // [MQTT-5:3.8.3-3]
		}
		i, ok := a.index[ss]
		if !ok {
			i = len(a.targets)
			a.index[ss] = i
			a.targets = append(a.targets, target{s: ss})
		}
		t := &a.targets[i]
		t.qos = max(t.qos, o.qos)
		t.rap = t.rap || o.retainAsPublished
		if o.id > 0 {
			t.ids = append(t.ids, o.id)
		}
	})
	matched := len(a.targets)
	for i := range a.targets {
		t := &a.targets[i]
		var ids []int
		if len(t.ids) > 0 {
			ids = append([]int(nil), t.ids...)
		}
		// Forwarded with the lower of the two QoS [MQTT-3.8.4-6 of 3.1.1],
		// and RETAIN cleared unless Retain As Published [MQTT-3.3.1-9 of 3.1.1].
		stored = t.s.deliver(a.delivery(m, min(m.QoS, t.qos), m.Retain && t.rap, ids)) || stored
		s.stats.Delivered.Add(1)
		t.ids = t.ids[:0]
		t.s = nil
	}
	clear(a.index)
	a.targets = a.targets[:0]
	a.plain = [3][2]*delivery{}
	shared, n := s.publishShared(m, a, !groups)
	stored = shared || stored
	s.aggs.Put(a)
	if matched+n == 0 && !isSysTopic(m.Topic) {
		s.metrics.drop(dropNoSubscribers)
	}
	return stored
}

// retain stores, replaces or (for an empty payload) deletes the retained
// message of m's topic [MQTT-3.3.1-6 of 5.0], in memory and in the store,
// and reports whether it wrote to the store, and false for ok when a cap
// refused it (limits.go). retainMu keeps the store's order of changes to a
// topic the same as memory's.
func (s *Server) retain(m *Message) (stored, ok bool) {
	s.retainMu.Lock()
	defer s.retainMu.Unlock()
	old, had := s.retained.Get(m.Topic)
	if !had {
		old = nil
	}
	if len(m.Payload) == 0 {
		if !had {
			return false, true
		}
		s.retained.Delete(m.Topic)
	} else {
		if !s.retainAllowed(m, old) {
			return false, false
		}
		s.retained.Set(m.Topic, m)
		s.account(m, 1)
	}
	if had {
		s.account(old, -1)
	}
	cm := s.commit
	if cm == nil || isSysTopic(m.Topic) { // $SYS is the broker's state now, not to keep
		return false, true
	}
	if len(m.Payload) == 0 {
		cm.del(store.RetainedKey(m.Topic))
	} else {
		cm.ref(m)
		cm.set(store.RetainedKey(m.Topic), retainedRecord(m))
	}
	if had {
		cm.unref(old)
	}
	return true, true
}

// dropRetained removes the retained message m of its topic if it is still
// the one there (the sweep, after its expiry; the admin API) and reports
// whether it did.
func (s *Server) dropRetained(m *Message) bool {
	s.retainMu.Lock()
	defer s.retainMu.Unlock()
	if cur, ok := s.retained.Get(m.Topic); !ok || cur != m {
		return false
	}
	s.retained.Delete(m.Topic)
	s.account(m, -1)
	if cm := s.commit; cm != nil && !isSysTopic(m.Topic) {
		cm.del(store.RetainedKey(m.Topic))
		cm.unref(m)
	}
	return true
}

// matchRetained returns the unexpired retained messages matching filter,
// for a new subscription; session.addRetained schedules them, to be sent
// with the RETAIN flag set [MQTT-3.3.1-8 of 3.1.1] as the session's flow
// control allows (session.feedRetained).
func (s *Server) matchRetained(filter string) []*Message {
	now := time.Now()
	var msgs []*Message
	s.retained.Match(filter, func(_ string, m *Message) bool {
		if !m.expired(now) {
			msgs = append(msgs, m)
		}
		return true
	})
	return msgs
}

// isSysTopic reports whether topic belongs to the broker.
func isSysTopic(topic string) bool { return strings.HasPrefix(topic, "$SYS/") || topic == "$SYS" }
