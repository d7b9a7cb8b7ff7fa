package broker

import (
	"maps"
	"slices"
	"time"

	"github.com/ternmq/tern/broker/store"
	"github.com/ternmq/tern/codec"
)

// This file holds the session's lifecycle and subscriptions; session.go
// its deliveries and acknowledgements.

// subscribe adds or replaces the subscription to filter and reports
// whether it is new. The topic tree (or shared group) is updated after
// the session, outside its lock.
func (s *session) subscribe(filter string, o subOpts) bool {
	s.mu.Lock()
	_, existed := s.subs[filter]
	if s.subs == nil {
		s.subs = make(map[string]subOpts)
	}
	s.subs[filter] = o
	if !existed {
		s.srv.metrics.subscribed(filter, 1)
	}
	s.save()
	s.mu.Unlock()
	if codec.IsShared(filter) {
		return s.srv.subscribeShared(s, filter, o)
	}
	// An identical filter replaces the subscription [MQTT-3.8.4-3].
	s.srv.addSub(filter, s, o)
	return !existed
}

// hasRoomFor reports whether the session may subscribe to filter within
// the cap on subscriptions per client (replacing one always may).
func (s *session) hasRoomFor(filter string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, replace := s.subs[filter]
	return replace || len(s.subs) < s.srv.opts.MaxSubscriptionsPerClient
}

// unsubscribe removes the subscription to filter and reports whether
// there was one.
func (s *session) unsubscribe(filter string) bool {
	s.mu.Lock()
	_, ok := s.subs[filter]
	delete(s.subs, filter)
	if ok {
		s.srv.metrics.subscribed(filter, -1)
		s.save()
	}
	s.mu.Unlock()
	switch {
	case ok && codec.IsShared(filter):
		s.srv.unsubscribeShared(s, filter)
	case ok:
		s.srv.removeSub(filter, s)
	}
	return ok
}

// setWill stores the will of the connection that holds the session.
func (s *session) setWill(m *Message, delay uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.will, s.willDelay = m, delay
	s.save()
}

// setExpiry changes the Session Expiry Interval (DISCONNECT, 5.0).
func (s *session) setExpiry(expiry uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expiry = expiry
	s.save()
}

// save writes the session record of a durable session. The caller holds mu.
func (s *session) save() {
	if s.durable && !s.ended {
		s.srv.commit.set(store.SessionKey(s.id), sessionRecord(s))
	}
	if s.srv.sessc != nil {
		s.changed() // cluster_session.go
	}
}

// attach binds a connection to the session once its CONNECT is accepted,
// cancels the expiry and a pending delayed will, and makes the session
// durable or not by its new expiry interval. resume then re-sends what is
// in flight.
func (s *session) attach(c *conn, window, maxSize int, expiry uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conn, s.since = c, time.Now()
	s.srv.metrics.sessionOnline(1)
	claimed := s.claim != nil
	if claimed {
		close(s.claim)
		s.claim = nil
	}
	s.version, s.who = c.version, c.who
	s.expiry, s.offline = expiry, time.Time{}
	s.window, s.maxSize = window, maxSize
	if s.expTmr != nil {
		s.expTmr.Stop()
		s.expTmr = nil
	}
	if s.willTimer != nil {
		// A new connection before the Will Delay Interval passed: the will
		// is not sent [MQTT-5:3.1.3-9].
		s.willTimer.Stop()
		s.willTimer = nil
	}
	s.will = nil
	s.setDurable(s.srv.commit != nil && expiry != 0)
	s.save()
	if claimed && s.srv.sessc != nil {
		// The cluster's claim settled which copy of the session stands:
		// everything it holds is this node's to keep (cluster_session.go).
		s.spillAll()
	}
}

// setDurable writes the whole session to the store when it becomes
// durable, and removes it when it stops being so. The caller holds mu.
func (s *session) setDurable(durable bool) {
	if durable == s.durable {
		return
	}
	if !durable {
		s.unstore()
		s.durable = false
		return
	}
	s.durable = true
	for seq := s.q.head; seq < s.q.tail; seq++ {
		if d := s.q.at(seq); d != nil && d.qos > 0 {
			s.store(seq, d)
		}
	}
	for pid := range s.inbound {
		s.srv.commit.set(store.InboundKey(s.id, pid), nil)
	}
}

// unstore removes a durable session's keys and its references to stored
// messages. The caller holds mu.
func (s *session) unstore() {
	if !s.durable {
		return
	}
	cm := s.srv.commit
	for seq := s.q.head; seq < s.q.tail; seq++ {
		if d := s.q.at(seq); d != nil && d.qos > 0 && d.msg != nil {
			cm.unref(d.msg)
		}
	}
	cm.delRange(store.SessionRange(s.id))
}

// resume re-sends in-flight messages with DUP set and their packet
// identifiers [MQTT-4.4.0-1], and PUBREL for QoS 2 deliveries past their
// PUBREC, then the queue. It runs after the CONNACK is queued. A PUBLISH
// too large for the new connection's Maximum Packet Size is discarded as
// if delivered [MQTT-5:3.1.2-25].
func (s *session) resume() {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.conn
	if c == nil {
		return
	}
	for seq := s.q.head; seq < s.q.next; seq++ {
		d := s.q.at(seq)
		switch {
		case d == nil:
		case d.released:
			c.enqueueAck(codec.PUBREL, pidOf(seq), codec.Success)
		case !c.fits(d):
			s.srv.countDrop(s, dropTooLarge, d.msg)
			s.inflight--
			s.finish(seq, d)
		default:
			c.enqueuePublish(d, pidOf(seq), true, false)
		}
	}
	s.fill()
}

// detach unbinds c, if it is still the session's connection, and starts
// the expiry; it returns the will to publish now, whether a delayed will
// was scheduled, and the expiry interval.
func (s *session) detach(c *conn, publishWill bool) (will *Message, expiry uint32, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != c {
		return nil, 0, false
	}
	s.conn = nil
	s.srv.metrics.sessionOnline(-1)
	s.offline = time.Now()
	switch {
	case !publishWill || s.will == nil:
		s.will = nil // [MQTT-3.1.2-10]
	case s.willDelay == 0 || s.expiry == 0:
		will, s.will = s.will, nil
	default:
		// [MQTT-5:3.1.2-8]: after the Will Delay Interval or when the
		// session ends, whichever comes first.
		delay := time.Duration(min(s.willDelay, s.expiry)) * time.Second
		s.willTimer = time.AfterFunc(delay, func() { s.srv.safely("will delay", s.fireWill) })
	}
	if s.expiry != 0 && s.expiry != 0xFFFFFFFF {
		s.startExpiry(time.Duration(s.expiry) * time.Second)
	}
	s.save()
	return will, s.expiry, true
}

// startExpiry ends the session after d unless a connection takes it.
// The caller holds mu.
func (s *session) startExpiry(d time.Duration) {
	s.expTmr = time.AfterFunc(d, func() { s.srv.safely("session expiry", func() { s.srv.expireSession(s) }) })
}

// fireWill publishes a will whose delay has passed.
func (s *session) fireWill() {
	s.mu.Lock()
	will := s.will
	s.will, s.willTimer = nil, nil
	s.save()
	s.mu.Unlock()
	if will != nil {
		s.srv.publish(will)
	}
}

// takeShared removes and returns the shared-subscription deliveries that
// a lost connection had not finished: QoS 1 messages whether or not they
// were sent, QoS 2 messages only if their delivery has not started, since
// a started QoS 2 delivery must be completed with the same client
// [MQTT-5:4.8.2-4].
func (s *session) takeShared() []*delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*delivery
	for seq := s.q.head; seq < s.q.tail; seq++ {
		d := s.q.at(seq)
		if d == nil || d.group == nil || (seq < s.q.next && d.qos != 1) {
			continue
		}
		if seq < s.q.next {
			s.inflight--
		} else {
			s.queued--
		}
		out = append(out, d)
		s.finish(seq, d)
	}
	s.q.trim()
	return out
}

// requeue puts a shared-subscription delivery back in the queue when no
// other member can take it.
func (s *session) requeue(d *delivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.enqueue(d)
	}
}

// end discards the session: it returns the filters to unsubscribe and a
// will still waiting for its delay, which is published now [MQTT-5:3.1.2-8].
// It reports false if the session had already ended.
func (s *session) end() (filters []string, will *Message, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return nil, nil, false
	}
	if s.willTimer != nil {
		// Published now, even when its timer has just fired: fireWill then
		// finds nothing to publish.
		s.willTimer.Stop()
		s.willTimer = nil
		will = s.will
	}
	s.will = nil
	if s.expTmr != nil {
		s.expTmr.Stop()
	}
	s.unstore()
	s.ended, s.durable = true, false
	filters = slices.Collect(maps.Keys(s.subs))
	s.subs = nil
	s.q.reset()
	s.queued, s.inflight, s.feed = 0, 0, nil
	if s.claim != nil {
		close(s.claim)
		s.claim = nil
	}
	return filters, will, true
}

// stop stops the session's timers at shutdown and returns a will that was
// waiting for its delay, to be published now.
func (s *session) stop() *Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.expTmr != nil {
		s.expTmr.Stop()
	}
	var will *Message
	if s.willTimer != nil && s.willTimer.Stop() {
		will, s.will = s.will, nil
		s.save()
	}
	return will
}

// reauthorize removes the subscriptions the Authorizer no longer allows
// and returns how many.
func (s *session) reauthorize() int {
	s.mu.Lock()
	who := s.who
	filters := slices.Collect(maps.Keys(s.subs))
	s.mu.Unlock()
	n := 0
	for _, f := range filters {
		plain := f
		if codec.IsShared(f) {
			_, plain, _ = codec.ParseShared(f)
		}
		if !s.srv.allowed(who, Subscribe, plain) && s.unsubscribe(f) {
			n++
		}
	}
	return n
}
