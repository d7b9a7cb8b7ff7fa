package broker

import (
	"sync"
	"time"

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

// delivery is one message on its way to one session: waiting in the queue,
// or in flight with a packet identifier.
type delivery struct {
	msg      *Message
	qos      codec.QoS
	retain   bool
	subIDs   []int
	pid      uint16
	released bool        // QoS 2: PUBREC received and PUBREL sent
	group    *shareGroup // set when delivered through a shared subscription
}

// session is the server's state for one client id. It outlives
// connections. All fields below mu are guarded by it.
type session struct {
	srv *Server
	id  string

	mu       sync.Mutex
	conn     *conn // nil while offline
	claimed  bool  // a CONNECT is taking the session (see takeSession)
	ended    bool
	subs     map[string]subOpts
	expiry   uint32 // Session Expiry Interval in seconds
	expTimer *time.Timer

	will      *Message
	willDelay uint32
	willTimer *time.Timer

	window   int             // most QoS 1/2 messages in flight to the client
	maxSize  int             // client's Maximum Packet Size, 0 for none
	nextID   uint16          // last packet identifier used
	inflight []*delivery     // sent, not yet acknowledged, in send order
	queue    []delivery      // waiting for the window or the connection
	inbound  map[uint16]bool // QoS 2 packet ids received, waiting for PUBREL
}

func newSession(srv *Server, id string) *session {
	return &session{srv: srv, id: id, subs: make(map[string]subOpts), inbound: make(map[uint16]bool)}
}

// deliver hands a routed message to the session. It never blocks on the
// network: the message goes to the connection's write queue, into the
// session's queue, or (QoS 0 only) is dropped and counted.
func (s *session) deliver(m *Message, qos codec.QoS, retain bool, subIDs []int) {
	s.deliverOne(delivery{msg: m, qos: qos, retain: retain, subIDs: subIDs})
}

// deliverShared is deliver for a message chosen for this session by a
// shared subscription group.
func (s *session) deliverShared(m *Message, qos codec.QoS, retain bool, subIDs []int, g *shareGroup) {
	s.deliverOne(delivery{msg: m, qos: qos, retain: retain, subIDs: subIDs, group: g})
}

func (s *session) deliverOne(d delivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	if d.qos == 0 {
		if s.conn != nil {
			s.send(d)
		} else if s.srv.opts.QueueQoS0 {
			s.enqueue(d)
		}
		return
	}
	if s.conn != nil && len(s.queue) == 0 && len(s.inflight) < s.window {
		s.send(d)
		return
	}
	s.enqueue(d)
}

// online reports whether a connection holds the session.
func (s *session) online() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn != nil
}

// enqueue adds d to the session queue, dropping by the documented policy
// when the queue is full.
func (s *session) enqueue(d delivery) {
	if len(s.queue) >= s.srv.opts.MaxQueued {
		if d.qos == 0 {
			s.srv.countDrop(s, "session queue full", d.msg)
			return
		}
		// Drop the oldest QoS 0 message if there is one, else the oldest.
		i := 0
		for j := range s.queue {
			if s.queue[j].qos == 0 {
				i = j
				break
			}
		}
		s.srv.countDrop(s, "session queue full", s.queue[i].msg)
		s.queue = append(s.queue[:i], s.queue[i+1:]...)
	}
	s.queue = append(s.queue, d)
}

// send assigns a packet identifier to a QoS 1/2 delivery and writes it.
// The caller holds mu and has checked the window.
func (s *session) send(d delivery) {
	if s.maxSize > 0 && s.conn != nil && !s.conn.fits(d) {
		// Too large for the client: discard as if delivered [MQTT-5:3.1.2-25].
		s.srv.countDrop(s, "larger than the client's Maximum Packet Size", d.msg)
		return
	}
	if d.qos == 0 {
		if !s.conn.enqueuePublish(d, true) {
			s.srv.countDrop(s, "outbound buffer full", d.msg)
		}
		return
	}
	d.pid = s.newPacketID()
	p := &delivery{}
	*p = d
	s.inflight = append(s.inflight, p)
	s.conn.enqueuePublish(*p, false)
}

// newPacketID returns an identifier not in use by an in-flight message
// [MQTT-2.3.1-4].
func (s *session) newPacketID() uint16 {
	for {
		s.nextID++
		if s.nextID == 0 {
			s.nextID = 1
		}
		if s.findInflight(s.nextID) < 0 {
			return s.nextID
		}
	}
}

func (s *session) findInflight(pid uint16) int {
	for i, d := range s.inflight {
		if d.pid == pid {
			return i
		}
	}
	return -1
}

// fill moves queued messages into the window, in order [MQTT-4.6.0-6].
// A message whose Message Expiry Interval passed while it waited is
// deleted instead [MQTT-5:3.3.2-5]; one sent at once when it is routed
// (deliverOne) has not waited, so even an interval of 0 lets it go to the
// subscribers that can take it then.
func (s *session) fill() {
	n := 0
	now := time.Now()
	for n < len(s.queue) && s.conn != nil && len(s.inflight) < s.window {
		d := s.queue[n]
		s.queue[n] = delivery{}
		n++
		if d.msg.expired(now) {
			continue
		}
		s.send(d)
	}
	if n > 0 {
		s.queue = append(s.queue[:0], s.queue[n:]...)
	}
}

func (s *session) removeInflight(i int) {
	copy(s.inflight[i:], s.inflight[i+1:])
	s.inflight[len(s.inflight)-1] = nil
	s.inflight = s.inflight[:len(s.inflight)-1]
}

// puback completes a QoS 1 delivery.
func (s *session) puback(pid uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := s.findInflight(pid); i >= 0 && s.inflight[i].qos == 1 {
		s.removeInflight(i)
		s.fill()
	}
}

// pubrec handles the first acknowledgement of a QoS 2 delivery and reports
// whether the packet id was known. A failure reason code ends the delivery.
func (s *session) pubrec(pid uint16, rc codec.ReasonCode) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.findInflight(pid)
	if i < 0 || s.inflight[i].qos != 2 {
		return false
	}
	if rc.IsError() {
		s.removeInflight(i)
		s.fill()
		return true
	}
	s.inflight[i].released = true
	return true
}

// pubcomp completes a QoS 2 delivery.
func (s *session) pubcomp(pid uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := s.findInflight(pid); i >= 0 && s.inflight[i].released {
		s.removeInflight(i)
		s.fill()
	}
}

// attach binds a connection to the session once its CONNACK is queued,
// and cancels the expiry and a pending delayed will. resume then re-sends
// what is in flight.
func (s *session) attach(c *conn, window, maxSize int, expiry uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conn, s.claimed = c, false
	s.expiry = expiry
	s.window = window
	s.maxSize = maxSize
	if s.expTimer != nil {
		s.expTimer.Stop()
		s.expTimer = nil
	}
	if s.willTimer != nil {
		// A new connection before the Will Delay Interval passed: the will
		// is not sent [MQTT-5:3.1.3-9].
		s.willTimer.Stop()
		s.willTimer = nil
	}
	s.will = nil
}

// resume re-sends in-flight messages and then the queue. It runs after the
// CONNACK is queued. A PUBLISH too large for the new connection's Maximum
// Packet Size is discarded as if delivered [MQTT-5:3.1.2-25].
func (s *session) resume() {
	s.mu.Lock()
	defer s.mu.Unlock()
	keep := s.inflight[:0]
	for _, d := range s.inflight {
		switch {
		case d.released:
			s.conn.enqueueAck(codec.PUBREL, d.pid, codec.Success)
		case s.maxSize > 0 && !s.conn.fits(*d):
			s.srv.countDrop(s, "larger than the client's Maximum Packet Size", d.msg)
			continue
		default:
			s.conn.enqueueRedelivery(*d)
		}
		keep = append(keep, d)
	}
	clear(s.inflight[len(keep):])
	s.inflight = keep
	s.fill()
}

// detach unbinds c (if it is still the session's connection).
func (s *session) detach(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != c {
		return false
	}
	s.conn = nil
	return true
}
