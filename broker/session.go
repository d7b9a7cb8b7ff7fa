package broker

import (
	"sync"
	"time"

	"github.com/ternmq/tern/broker/store"
	"github.com/ternmq/tern/codec"
)

// subOpts are the options of one subscription, as kept in the topic tree.
type subOpts struct {
	qos               codec.QoS
	noLocal           bool
	retainAsPublished bool
	retainHandling    byte
	id                int // Subscription Identifier, 0 for none
}

// delivery is how one message goes to one session: the message and what
// the matching subscriptions made of it. It is immutable once routed and
// shared: a message routed the same way to many sessions is one delivery
// held by each of their rings, so a queued message costs a session one
// pointer, not a copy.
type delivery struct {
	msg    *Message
	qos    codec.QoS
	retain bool
	subIDs []int
	group  *shareGroup // set when delivered through a shared subscription
	// released marks a QoS 2 delivery whose PUBREC has arrived and whose
	// PUBREL was sent; msg is nil, since only the PUBREL is ever re-sent.
	released bool
}

// session is the server's state for one client id; it outlives
// connections. Every change to it is a method here, which also decides
// what reaches the store: a session is durable (written to the store)
// while the server has a store and its expiry interval is not 0, and then
// its record, its QoS 1/2 deliveries and its inbound QoS 2 packet ids are
// written as they change, in the order they change (see committer).
//
// All fields below mu are guarded by it. Lock order: Server.mu, then a
// shareGroup's mu, then session.mu, then the committer's and a
// connection's write-queue locks (see doc.go).
type session struct {
	srv *Server
	id  string

	mu      sync.Mutex
	conn    *conn         // nil while offline
	claim   chan struct{} // non-nil while a CONNECT takes the session; closed when it attaches
	ended   bool
	durable bool
	version codec.Version
	who     Client // for the Authorizer: the last connection's identity
	subs    map[string]subOpts
	offline time.Time // when the expiry started counting; zero while online
	since   time.Time // when the last connection attached (admin.go)
	expTmr  *time.Timer

	// Two uint32 side by side: an idle connection's session fits a
	// smaller size class.
	expiry    uint32 // Session Expiry Interval in seconds
	willDelay uint32
	will      *Message
	willTimer *time.Timer

	window   int // most QoS 1/2 messages in flight to the client
	maxSize  int // client's Maximum Packet Size, 0 for none
	q        ring
	inflight int    // QoS 1/2 deliveries in flight, in [q.head, q.next)
	queued   int    // deliveries waiting, in [q.next, q.tail)
	dupBelow uint64 // deliveries below this seq may have been sent before a restart
	// synced: the deliveries below this seq are known to be in the store;
	// syncing: a wait for the store is pending (see mustSync).
	synced  uint64
	syncing bool
	inbound map[uint16]struct{}
	feed    []retainedFeed // retained messages still to send, see feedRetained
}

// retainedFeed is the retained messages a subscription has yet to
// receive: they are sent as the client's flow control lets them through,
// not queued all at once, so that every one arrives however many there
// are.
type retainedFeed struct {
	msgs []*Message
	qos  codec.QoS
	ids  []int
}

func newSession(srv *Server, id string) *session {
	// The maps are made at their first entry: most idle sessions of
	// devices that only publish never need one.
	return &session{srv: srv, id: id}
}

// deliver hands a routed message to the session and reports whether it
// was written to the store. It never blocks on the network: the message
// goes to the connection's write queue, into the session's queue, or (QoS
// 0 only) is dropped and counted. QoS 0 messages are never stored.
func (s *session) deliver(d *delivery) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || !s.mayRead(d.msg) {
		return false
	}
	if d.qos == 0 {
		switch {
		case s.conn != nil:
			s.sendQoS0(d)
		case s.srv.limit().QueueQoS0:
			s.enqueue(d)
		}
		return false
	}
	// A message routed to a session with nothing queued has not waited:
	// even a Message Expiry Interval of 0 lets it go to a client that can
	// take it now.
	fresh := s.queued == 0
	s.enqueue(d)
	if fresh {
		s.send(time.Time{})
	} else {
		s.fill()
	}
	return s.durable
}

// mayRead reports whether the Authorizer lets the session receive m. The
// caller holds mu.
func (s *session) mayRead(m *Message) bool {
	return s.srv.opts.Authorizer == nil || s.srv.allowed(s.who, Read, m.Topic)
}

// isDurable reports whether the session is written to the store.
func (s *session) isDurable() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.durable
}

// online reports whether a connection holds the session.
func (s *session) online() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn != nil
}

// enqueue adds d to the queue. When the queue is full, a QoS 0 message is
// dropped, or else the oldest queued message makes room; drops are
// counted and logged. In a cluster, a QoS 1/2 delivery is also handed to
// the cluster (spill, cluster_session.go). Every delivery a session gets
// (routed, retained, put back by a shared group) comes through here. The
// caller holds mu.
func (s *session) enqueue(d *delivery) {
	if s.queued >= s.srv.limit().MaxQueued {
		if d.qos == 0 {
			s.srv.countDrop(s, dropQueueFull, d.msg)
			return
		}
		s.dropOldest()
	}
	seq := s.q.push(d)
	s.queued++
	if d.qos > 0 {
		if s.durable {
			s.store(seq, d)
		}
		if s.srv.sessc != nil {
			s.spill(seq, d, false)
		}
	}
}

// dropOldest drops the oldest queued delivery.
func (s *session) dropOldest() {
	for seq := s.q.next; seq < s.q.tail; seq++ {
		if d := s.q.at(seq); d != nil {
			s.srv.countDrop(s, dropQueueFull, d.msg)
			s.queued--
			s.finish(seq, d)
			return
		}
	}
}

// store writes the delivery seq of a durable session.
func (s *session) store(seq uint64, d *delivery) {
	cm := s.srv.commit
	if d.msg != nil {
		cm.ref(d.msg)
	}
	cm.set(store.QueueKey(s.id, seq), queueRecord(d))
}

// finish ends the delivery seq (acknowledged, dropped, expired or handed
// to another member of its shared group) and removes it from the store;
// in a cluster it tells the cluster (SessionAcked). It is the one place
// where a delivery leaves the ring before its session ends. The caller
// holds mu.
func (s *session) finish(seq uint64, d *delivery) {
	s.q.done(seq)
	if d.qos == 0 {
		return
	}
	if s.durable {
		cm := s.srv.commit
		cm.del(store.QueueKey(s.id, seq))
		if d.msg != nil {
			cm.unref(d.msg)
		}
	}
	if s.srv.sessc != nil {
		s.settled(seq) // cluster_session.go
	}
}

// fill sends queued deliveries while the window allows, in order
// [MQTT-4.6.0-6], and then retained messages still to be sent. A message
// whose Message Expiry Interval passed while it waited is deleted instead
// [MQTT-5:3.3.2-5]. The caller holds mu.
func (s *session) fill() { s.send(time.Now()) }

// send is fill with the time against which queued messages expire.
func (s *session) send(now time.Time) {
	c := s.conn
	if c == nil {
		return
	}
	for {
		for s.inflight < s.window && s.q.canSend() {
			seq := s.q.next
			d := s.q.at(seq)
			if d != nil && s.mustSync(seq, d) {
				break
			}
			s.q.next++
			if d != nil {
				s.queued--
				s.sendQueued(c, seq, d, now)
			}
		}
		if s.queued > 0 || len(s.feed) == 0 || !s.feedRetained(c, time.Now()) {
			break
		}
	}
	s.q.trim()
}

// mustSync reports whether the QoS 2 delivery seq of a durable session
// must wait for the store before it is sent, and if so starts the wait.
// A client that has received a QoS 2 PUBLISH holds its packet identifier
// until the PUBREL and discards a new message that reuses it; were the
// broker to crash before the delivery was stored, it would reuse the
// identifier for another message, which the client would then lose. So a
// QoS 2 PUBLISH goes out only once its delivery is in the store. QoS 1
// needs no wait: at worst the client receives a message twice. The caller
// holds mu.
func (s *session) mustSync(seq uint64, d *delivery) bool {
	if !s.durable || d.qos != 2 || d.released || seq < s.synced {
		return false
	}
	if !s.syncing {
		s.syncing = true
		upTo := s.q.tail
		s.srv.commit.wait(true, func(err error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.syncing = false
			if err == nil {
				s.synced = max(s.synced, upTo)
				s.fill()
			} // else the next delivery or acknowledgement tries again
		})
	}
	return true
}

// sendQueued sends the delivery seq, just taken off the queue.
func (s *session) sendQueued(c *conn, seq uint64, d *delivery, now time.Time) {
	switch {
	case d.released: // recovered after a restart: only the PUBREL is left
		s.inflight++
		c.enqueueAck(codec.PUBREL, pidOf(seq), codec.Success)
	case d.msg.expired(now):
		s.srv.metrics.drop(dropExpiredIdx)
		s.finish(seq, d)
	case !c.fits(d):
		// Too large for the client: discarded as if delivered [MQTT-5:3.1.2-25].
		s.srv.countDrop(s, dropTooLarge, d.msg)
		s.finish(seq, d)
	case d.qos == 0:
		if !c.enqueuePublish(d, 0, false, true) {
			s.srv.countDrop(s, dropOutbound, d.msg)
		}
		s.finish(seq, d)
	default:
		s.inflight++
		c.enqueuePublish(d, pidOf(seq), seq < s.dupBelow, false)
	}
}

// sendQoS0 writes a QoS 0 message to the connection at once, or drops it
// when the connection's outbound buffer is full.
func (s *session) sendQoS0(d *delivery) {
	switch {
	case !s.conn.fits(d):
		s.srv.countDrop(s, dropTooLarge, d.msg)
	case !s.conn.enqueuePublish(d, 0, false, true):
		s.srv.countDrop(s, dropOutbound, d.msg)
	}
}

// feedRetained moves the next retained message into the queue, or sends
// it at QoS 0, if the connection can take it now, and reports whether it
// did. A QoS 0 message waits for room in the connection's outbound buffer
// (the writer calls fill again once it has written), a QoS 1/2 message for
// room in the window, so none is dropped.
func (s *session) feedRetained(c *conn, now time.Time) bool {
	for len(s.feed) > 0 {
		f := &s.feed[0]
		if len(f.msgs) == 0 {
			s.feed[0] = retainedFeed{}
			s.feed = s.feed[1:]
			continue
		}
		m := f.msgs[0]
		if m.expired(now) || !s.mayRead(m) {
			f.msgs[0], f.msgs = nil, f.msgs[1:]
			continue
		}
		d := &delivery{msg: m, qos: min(m.QoS, f.qos), retain: true, subIDs: f.ids}
		if d.qos == 0 && !c.hasRoom() {
			return false
		}
		f.msgs[0], f.msgs = nil, f.msgs[1:]
		if d.qos == 0 {
			s.sendQoS0(d)
		} else {
			s.enqueue(d)
		}
		return true
	}
	s.feed = nil
	return false
}

// addRetained schedules the retained messages matching a new subscription
// [MQTT-3.3.1-8 of 3.1.1], sent after the SUBACK.
func (s *session) addRetained(msgs []*Message, o subOpts) {
	if len(msgs) == 0 {
		return
	}
	var ids []int
	if o.id > 0 {
		ids = []int{o.id}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	s.feed = append(s.feed, retainedFeed{msgs: msgs, qos: o.qos, ids: ids})
	s.fill()
}

// refill is called by the connection's writer after it wrote what was
// queued, when a retained message waited for room.
func (s *session) refill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fill()
}

// inFlight returns the in-flight delivery with packet identifier pid.
func (s *session) inFlight(pid uint16) (uint64, *delivery) {
	seq, ok := s.q.seqOf(pid)
	if !ok {
		return 0, nil
	}
	return seq, s.q.at(seq)
}

// puback completes a QoS 1 delivery.
func (s *session) puback(pid uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq, d := s.inFlight(pid); d != nil && d.qos == 1 {
		s.inflight--
		s.finish(seq, d)
		s.fill()
	}
}

// pubrec handles the first acknowledgement of a QoS 2 delivery. It reports
// whether the packet id was known, and whether the PUBREL may be sent only
// once the store has the new state (durable sessions): a PUBREL the
// client has answered must never be followed, after a restart, by the
// PUBLISH again. A failure reason code ends the delivery.
func (s *session) pubrec(pid uint16, rc codec.ReasonCode) (known, wait bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seq, d := s.inFlight(pid)
	if d == nil || d.qos != 2 {
		return false, false
	}
	if d.released {
		return true, false // a repeated PUBREC: PUBREL again
	}
	if rc.IsError() {
		s.inflight--
		s.finish(seq, d)
		s.fill()
		return true, false
	}
	r := &delivery{qos: 2, released: true}
	s.q.set(seq, r)
	if s.durable {
		cm := s.srv.commit
		cm.set(store.QueueKey(s.id, seq), queueRecord(r))
		cm.unref(d.msg)
	}
	return true, s.durable
}

// pubcomp completes a QoS 2 delivery.
func (s *session) pubcomp(pid uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq, d := s.inFlight(pid); d != nil && d.released {
		s.inflight--
		s.finish(seq, d)
		s.fill()
	}
}

// receive records an inbound QoS 2 packet id until its PUBREL. It reports
// whether the id was already held (a re-sent PUBLISH, not routed again
// [MQTT-4.3.3-2 of 3.1.1]) and whether holding another would exceed
// limit (0: none).
func (s *session) receive(pid uint16, limit int) (seen, full bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, seen = s.inbound[pid]; seen {
		return true, false
	}
	if limit > 0 && len(s.inbound) >= limit {
		return false, true
	}
	if s.inbound == nil {
		s.inbound = make(map[uint16]struct{})
	}
	s.inbound[pid] = struct{}{}
	if s.durable {
		s.srv.commit.set(store.InboundKey(s.id, pid), nil)
	}
	return false, false
}

// release ends an inbound QoS 2 exchange on PUBREL. It reports whether
// the id was held, and whether the PUBCOMP must wait for the store: after
// it the client may reuse the id for a new message, which a restart must
// not mistake for a duplicate.
func (s *session) release(pid uint16) (known, wait bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.inbound[pid]; !ok {
		return false, false
	}
	delete(s.inbound, pid)
	if s.durable {
		s.srv.commit.del(store.InboundKey(s.id, pid))
	}
	return true, s.durable
}

// sweep drops queued deliveries whose message has expired
// [MQTT-5:3.3.2-5] and reports whether any left may still expire.
func (s *session) sweep(now time.Time) (pending bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for seq := s.q.next; seq < s.q.tail; seq++ {
		d := s.q.at(seq)
		switch {
		case d == nil || d.msg == nil || d.msg.Expires.IsZero():
		case d.msg.expired(now):
			s.srv.metrics.drop(dropExpiredIdx)
			s.queued--
			s.finish(seq, d)
		default:
			pending = true
		}
	}
	s.q.trim()
	return pending
}
