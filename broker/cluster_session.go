package broker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/ternmq/tern/broker/store"
	"github.com/ternmq/tern/codec"
)

// This file is the seam to a cluster that keeps each client id live on
// exactly one node (broker/cluster's session registry). A Cluster may
// implement SessionCluster; New checks it once. A Server without
// Options.Cluster, or whose Cluster does not implement it, pays one nil
// check per CONNECT and per session end.

// SessionCluster is implemented by a Cluster (Options.Cluster) that owns
// client ids across nodes. The Server calls it without holding any of its
// locks.
type SessionCluster interface {
	// ClaimSession makes this node the owner of clientID's session in the
	// cluster, for a CONNECT that already holds the client id's claim on
	// this node (so a take-over asked of this node waits for the CONNECT
	// to finish). When another node held the session, that node has sent
	// its client DISCONNECT 0x8E and handed the session over: the
	// hand-over is returned, and replaces this node's own copy. Nil means
	// this node's session (or none) stands. clean is the CONNECT's Clean
	// Start: the session is then discarded everywhere. persistent says
	// that the new session's expiry interval is not 0.
	//
	// An error wrapping ErrClusterUnavailable means the cluster could not
	// decide in time (no JetStream quorum, the owner did not answer): a
	// persistent session is then refused with CONNACK 0x88 Server
	// unavailable, a non-persistent one is served on this node alone.
	ClaimSession(ctx context.Context, clientID string, clean, persistent bool) (*SessionHandoff, error)
	// SessionChanged is called with the session record of clientID each
	// time it changes on this node (subscriptions, expiry, will, going
	// online or offline) while the session has an expiry interval or a
	// will, so that the cluster can keep it for a node that takes the
	// session over, or publishes its will, after this node died. It is
	// called with the session's lock held: it must only take note.
	SessionChanged(clientID string, rec store.SessionRecord)
	// SessionQueued is called with each QoS 1 or 2 delivery queued for
	// clientID's session while it has an expiry interval, online or
	// offline (and for each delivery a session adopted or took over
	// holds), so that the cluster keeps it for a node that resumes the
	// session after this node died. Once a CONNECT's ClaimSession has
	// returned, every delivery the session then holds is given again,
	// those sent before with Sent set (the claim may have purged or
	// replaced what the cluster kept), so a Seq may come more than once;
	// deliveries queued while the claim was pending come only then. It
	// is called with the session's lock held: it must not wait.
	SessionQueued(clientID string, d HandoffDelivery)
	// SessionAcked is called when a delivery that SessionQueued may have
	// been given is settled on this node: its PUBACK or PUBCOMP came (not
	// its PUBREC), or it was dropped (expired, queue full, too large for
	// the client, refused by the client with a PUBREC error, handed to
	// another member of its shared group). The cluster may then forget
	// it; a seq it does not know is to be ignored. It is not called when
	// the session ends (SessionEnded) or is handed over. It is called
	// with the session's lock held: it must not wait.
	SessionAcked(clientID string, seq uint64)
	// SessionEnded is called when clientID's session ends on this node
	// (expiry, Clean Start, a connection with expiry 0 closing, the admin
	// API), not when it was handed to another node (HandOff).
	SessionEnded(clientID string)
}

// ErrClusterUnavailable is wrapped by a SessionCluster's errors when the
// cluster cannot make a node the owner of a session now.
var ErrClusterUnavailable = errors.New("cluster unavailable")

// SessionHandoff is a session carried from one node to another: its
// record (subscriptions, expiry, will), its deliveries with their
// sequence numbers (so their packet identifiers stay), and the packet
// identifiers of the inbound QoS 2 messages awaiting their PUBREL.
type SessionHandoff struct {
	Session    store.SessionRecord
	Deliveries []HandoffDelivery
	Inbound    []uint16
	// Installed, if not nil, is called once the session's subscriptions
	// are in this node's topic tree (from then on, messages routed here
	// reach it), with no lock of the Server held.
	Installed func()
}

// HandoffDelivery is one delivery of a handed-over session, queued or in
// flight.
type HandoffDelivery struct {
	// Seq is the delivery's sequence number, from which its packet
	// identifier derives.
	Seq uint64
	// Sent: the PUBLISH was sent before (it is re-sent with DUP set).
	Sent bool
	// Delivery is how the message goes to the session (QoS, RETAIN,
	// Subscription Identifiers, released QoS 2); its MsgID is unused.
	Delivery store.QueueRecord
	// Message is the message; nil for a released QoS 2 delivery, of which
	// only the PUBREL is left.
	Message *store.MessageRecord
	// Origin is the cluster's id of the message (Message.Origin), empty
	// for a message the cluster did not carry.
	Origin string
}

// claimSession is takeSession for a CONNECT, followed in a cluster by
// claimCluster; persistent says that the session's new expiry interval is
// not 0.
func (s *Server) claimSession(ctx context.Context, clientID string, clean, persistent bool) (*session, bool, error) {
	ss, present, err := s.takeSession(ctx, clientID, clean)
	if sc := s.sessc; sc != nil && err == nil {
		return s.claimCluster(ctx, sc, ss, present, clean, persistent)
	}
	return ss, present, err
}

// claimCluster makes this node the owner of ss in the cluster (see
// SessionCluster.ClaimSession) once takeSession has claimed it here, and
// fills it with a session handed over by another node. It returns the
// session to attach (a new one when a stale local copy was replaced) and
// whether a session was present.
func (s *Server) claimCluster(ctx context.Context, sc SessionCluster, ss *session, present, clean, persistent bool) (*session, bool, error) {
	h, err := sc.ClaimSession(ctx, ss.id, clean, persistent)
	if err != nil {
		if !persistent {
			s.log.Warn("cluster: serving a non-persistent session on this node alone", "client", ss.id, "err", err)
			return ss, present, nil
		}
		s.unclaim(ss, present)
		return nil, false, err
	}
	if h == nil {
		return ss, present, nil
	}
	if present {
		// This node's copy is older than the one handed over: a new
		// session, claimed, replaces it before it ends, so that a CONNECT
		// waiting for the old one's claim waits for the new one's.
		stale := ss
		s.mu.Lock()
		ss = newSession(s, ss.id)
		ss.claim = make(chan struct{})
		s.sessions[ss.id] = ss
		s.mu.Unlock()
		s.dropSession(stale)
	}
	s.adopt(ss, h)
	if h.Installed != nil {
		h.Installed()
	}
	return ss, true, nil
}

// unclaim gives up the claim of a CONNECT that failed: a session made for
// it ends, an existing one waits again for a connection.
func (s *Server) unclaim(ss *session, present bool) {
	if !present {
		s.dropSession(ss)
		return
	}
	ss.mu.Lock()
	if ss.claim != nil {
		close(ss.claim)
		ss.claim = nil
	}
	ss.spillAll() // what was queued during the claim
	ss.mu.Unlock()
}

// adopt fills ss, new and claimed, with a session handed over by another
// node: its subscriptions join the topic tree and its deliveries keep
// their sequence numbers, all queued, those sent before marked for DUP.
func (s *Server) adopt(ss *session, h *SessionHandoff) {
	rec := &h.Session
	groups := make(map[string]*shareGroup)
	s.mu.Lock() // before ss.mu (lock order, doc.go)
	for _, hd := range h.Deliveries {
		if g := hd.Delivery.Group; g != "" {
			groups[g] = s.groups[g]
		}
	}
	s.mu.Unlock()
	ss.mu.Lock()
	ss.version, ss.expiry = rec.Version, rec.Expiry
	ss.who = Client{ID: ss.id, Username: rec.Username}
	for _, hd := range h.Deliveries {
		q := &hd.Delivery
		d := &delivery{qos: q.QoS, retain: q.Retain, released: q.Released, subIDs: q.SubIDs}
		if hd.Message != nil {
			d.msg = fromRecord(hd.Message)
			d.msg.Origin = hd.Origin
		}
		if d.msg == nil && !d.released {
			continue
		}
		if q.Group != "" {
			d.group = groups[q.Group]
		}
		if hd.Seq < ss.q.tail {
			continue // out of order: a copy
		}
		ss.q.placeAt(hd.Seq, d)
		ss.queued++
		if hd.Sent {
			ss.dupBelow = hd.Seq + 1
		}
		if d.msg != nil && !d.msg.Expires.IsZero() {
			s.sweepSoon()
		}
	}
	for _, pid := range h.Inbound {
		if ss.inbound == nil {
			ss.inbound = make(map[uint16]struct{})
		}
		ss.inbound[pid] = struct{}{}
	}
	subs := make(map[string]subOpts, len(rec.Subs))
	for _, sub := range rec.Subs {
		subs[sub.Filter] = subOpts{qos: sub.QoS, noLocal: sub.NoLocal, retainAsPublished: sub.RetainAsPublished,
			retainHandling: sub.RetainHandling, id: sub.ID}
	}
	if len(subs) > 0 {
		ss.subs = subs
	}
	ss.mu.Unlock()
	for f, o := range subs {
		s.metrics.subscribed(f, 1)
		if codec.IsShared(f) {
			s.subscribeShared(ss, f, o)
		} else {
			s.addSub(f, ss, o)
		}
	}
}

// HandOff takes the session of clientID off this node for another node
// of the cluster. A connection that holds it is sent DISCONNECT 0x8E
// Session taken over and closed [MQTT-5:3.1.4-3] (its will is published
// as on any take-over: when its delay is 0), and a CONNECT for it on this
// node is waited for first. Unless discard is set, the session's state is
// returned and the session ends here without its will: the new
// connection comes before the Will Delay Interval has passed
// [MQTT-5:3.1.3-9]. With discard (Clean Start on the other node) the
// session ends as any other, publishing a will that waits for its delay
// [MQTT-5:3.1.2-8], and nil is returned. It returns nil when this node has
// no session for clientID.
func (s *Server) HandOff(ctx context.Context, clientID string, discard bool) (*SessionHandoff, error) {
	for {
		s.mu.Lock()
		ss := s.sessions[clientID]
		if ss == nil {
			s.mu.Unlock()
			return nil, nil
		}
		ss.mu.Lock()
		old, claim := ss.conn, ss.claim
		if old == nil && claim == nil {
			// Claimed by the hand-over: a CONNECT on this node waits until
			// the session has ended here, then asks the cluster again.
			ss.claim = make(chan struct{})
			ss.mu.Unlock()
			s.mu.Unlock()
			if discard {
				s.endSession(ss)
				return nil, nil
			}
			h := ss.handoff()
			s.dropSession(ss)
			return h, nil
		}
		ss.mu.Unlock()
		s.mu.Unlock()
		var wait <-chan struct{} = claim
		if old != nil {
			s.metrics.takeovers.Add(1)
			old.kick(codec.SessionTakenOver, "session taken over by another node")
			wait = old.finished()
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// ErrSessionExists is wrapped by Adopt's error when this node already has
// a session for the client id.
var ErrSessionExists = errors.New("broker: a session for the client id exists on this node")

// Adopt makes clientID's session, handed over in h by a cluster whose
// node holding it died, an offline session of this node, as if its
// connection had just closed here (or, when h.Session.Disconnected is
// set, at that time, when it went offline on the dead node): its
// subscriptions (shared ones too) join the topic tree, its deliveries are
// queued with their sequence numbers, so their packet identifiers stay,
// those marked Sent to be re-sent with DUP set, and are given to
// SessionQueued; its inbound QoS 2 packet identifiers are kept; its
// session expiry runs; and its will (h.Session.Will) is published after
// its Will Delay Interval or at the session's expiry, whichever comes
// first, unless a connection resumes the session before [MQTT-5:3.1.3-9]
// [MQTT-5:3.1.2-8]. With a Store the session is durable, as any offline
// session with an expiry interval. SessionChanged tells the cluster the
// session's record. A session with expiry 0 ends at once: its will is
// published and SessionEnded is called.
//
// It fails, wrapping ErrSessionExists, if this node already has a session
// for clientID, and with ErrServerClosed once Shutdown has begun. A
// CONNECT for clientID that comes meanwhile waits for Adopt to finish.
// h must not be changed afterwards: the session keeps parts of it.
func (s *Server) Adopt(clientID string, h *SessionHandoff) error {
	if s.isClosing() {
		return ErrServerClosed
	}
	rec := &h.Session
	s.mu.Lock()
	if s.sessions[clientID] != nil {
		s.mu.Unlock()
		return fmt.Errorf("broker: adopt %q: %w", clientID, ErrSessionExists)
	}
	if rec.Expiry == 0 {
		s.mu.Unlock()
		if will := willOf(rec); will != nil {
			s.publish(will) // the session ended with its connection
		}
		if sc := s.sessc; sc != nil {
			sc.SessionEnded(clientID)
		}
		return nil
	}
	ss := newSession(s, clientID)
	ss.claim = make(chan struct{}) // a CONNECT waits until adopted
	s.sessions[clientID] = ss
	s.mu.Unlock()
	s.adopt(ss, h)
	if h.Installed != nil {
		h.Installed()
	}
	if will := ss.adopted(rec, time.Now()); will != nil {
		s.publish(will)
	}
	return nil
}

// willOf returns the will of a session record, nil for none.
func willOf(rec *store.SessionRecord) *Message {
	if rec.Will == nil {
		return nil
	}
	w := fromRecord(rec.Will)
	w.willLife, w.hasWillLife = time.Duration(rec.WillLife), rec.HasWillLife
	return w
}

// adopted ends Adopt once adopt has filled the session: it goes offline
// (since rec.Disconnected, or now), durable with a store, with its expiry
// and will timers running, and the cluster is given its record and its
// deliveries. It returns a will that is due now. The session's expiry is
// not 0.
func (s *session) adopted(rec *store.SessionRecord, now time.Time) (will *Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.claim)
	s.claim = nil
	s.offline = now
	if rec.Disconnected != 0 {
		s.offline = time.Unix(0, rec.Disconnected)
	}
	gone := max(now.Sub(s.offline), 0)
	s.setDurable(s.srv.commit != nil)
	if w := willOf(rec); w != nil {
		delay := time.Duration(min(rec.WillDelay, s.expiry))*time.Second - gone
		if delay <= 0 {
			will = w
		} else {
			s.will, s.willDelay = w, rec.WillDelay
			s.willTimer = time.AfterFunc(delay, func() { s.srv.safely("will delay", s.fireWill) })
		}
	}
	if s.expiry != 0xFFFFFFFF {
		s.startExpiry(max(time.Duration(s.expiry)*time.Second-gone, 0))
	}
	s.save()
	if s.srv.sessc != nil {
		s.spillAll()
	}
	return will
}

// handoff returns the state of an offline session for another node.
func (s *session) handoff() *SessionHandoff {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := &SessionHandoff{}
	r, err := store.DecodeSession(sessionRecord(s))
	if err == nil {
		h.Session = r
	}
	h.Session.Will, h.Session.WillDelay = nil, 0 // not sent: see HandOff
	h.Session.Disconnected = 0
	for seq := s.q.head; seq < s.q.tail; seq++ {
		d := s.q.at(seq)
		if d == nil {
			continue
		}
		hd := handoffDelivery(seq, d)
		hd.Sent = s.sent(seq)
		h.Deliveries = append(h.Deliveries, hd)
	}
	h.Inbound = slices.Sorted(maps.Keys(s.inbound))
	return h
}

// dropSession ends a session that continues on another node (or is
// replaced by one that does): like endSession, but its will is not
// published and the cluster is not told.
func (s *Server) dropSession(ss *session) {
	ss.mu.Lock()
	if ss.willTimer != nil {
		ss.willTimer.Stop()
		ss.willTimer = nil
	}
	ss.will = nil
	ss.mu.Unlock()
	s.endLocal(ss)
}

// changed tells the cluster that the session's record changed, when the
// session outlives its connection or has a will. The caller holds mu.
func (s *session) changed() {
	if s.ended || s.conn == nil && s.claim != nil || s.expiry == 0 && s.will == nil {
		return
	}
	r, err := store.DecodeSession(sessionRecord(s))
	if err == nil {
		s.srv.sessc.SessionChanged(s.id, r)
	}
}

// spill hands the QoS 1/2 delivery seq, just queued (sent false) or held
// by a session that a CONNECT or Adopt has just made this node's, to the
// cluster (SessionCluster.SessionQueued), when the session has an expiry
// interval: online or offline, the cluster keeps it for a node that
// resumes the session after this one died. A session that a CONNECT is
// claiming is left alone: attach (or unclaim) hands over all it holds
// once the claim is settled, since the cluster's claim may replace or
// purge what it kept. The caller holds mu.
func (s *session) spill(seq uint64, d *delivery, sent bool) {
	if s.ended || s.expiry == 0 || s.claim != nil || d.qos == 0 || d.msg == nil && !d.released {
		return
	}
	hd := handoffDelivery(seq, d)
	hd.Sent = sent
	s.srv.sessc.SessionQueued(s.id, hd)
}

// spillAll is spill for every delivery the session holds, those sent
// before marked so. The caller holds mu.
func (s *session) spillAll() {
	for seq := s.q.head; seq < s.q.tail; seq++ {
		if d := s.q.at(seq); d != nil {
			s.spill(seq, d, s.sent(seq))
		}
	}
}

// sent reports whether the delivery seq may have been sent before (its
// PUBLISH then goes with DUP set). The caller holds mu.
func (s *session) sent(seq uint64) bool { return seq < s.q.next || seq < s.dupBelow }

// settled tells the cluster that the delivery seq, which spill may have
// handed to it, is settled here: acknowledged (PUBACK, PUBCOMP) or
// dropped. Not called when the session ends or is handed over: the
// cluster learns that from SessionEnded or the hand-over. The caller
// holds mu.
func (s *session) settled(seq uint64) {
	if !s.ended && s.expiry != 0 {
		s.srv.sessc.SessionAcked(s.id, seq)
	}
}

// handoffDelivery is the delivery seq as a cluster carries it.
func handoffDelivery(seq uint64, d *delivery) HandoffDelivery {
	hd := HandoffDelivery{Seq: seq,
		Delivery: store.QueueRecord{QoS: d.qos, Retain: d.retain, Released: d.released, SubIDs: d.subIDs}}
	if d.group != nil {
		hd.Delivery.Group = d.group.full
	}
	if d.msg != nil {
		r := toRecord(d.msg)
		hd.Message = &r
		hd.Origin = d.msg.Origin
	}
	return hd
}
