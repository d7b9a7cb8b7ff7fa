package broker

import (
	"slices"
	"sync"
	"time"
)

// A node of a cluster that restarts with its store (issue #18): Open reads
// back the node's sessions, but the cluster may have moved on while the
// node was down (another node adopted a session, or a client resumed it
// elsewhere). With a SessionCluster, Open therefore holds each recovered
// session's will (and the will of a session that ended while the node was
// down) until the cluster's verdict: KeepRecovered (this node owns the
// session: the will's delay runs from when the session went offline) or
// DropStale (another node holds it, or it ended there: the local copy
// goes without its will and without SessionEnded). Until then the session
// is offline here and receives what is routed to it, as any other.

// heldRecovered is the set of recovered sessions waiting for the
// cluster's verdict. mu is a leaf: it is taken with no other lock of the
// Server held, and none is taken under it.
type heldRecovered struct {
	mu    sync.Mutex
	byID  map[string]*heldSession
	order []string
}

// heldSession is one recovered session waiting for its verdict: ss is nil
// for a session that ended while the node was down, whose will (if any)
// is due.
type heldSession struct {
	ss   *session
	will *Message  // a will that ended with the session
	due  time.Time // when the held session's will is due
}

// RecoveredSession is a session that Open read from the store, or that
// ended while the node was down, whose fate its SessionCluster decides.
type RecoveredSession struct {
	ClientID string
	// Ended: the session expired while the broker was down; only its
	// will, if it had one, is left (KeepRecovered publishes it).
	Ended bool
}

// hold notes a recovered session (ss nil: one that ended, with will) whose
// will waits for the cluster's verdict. Called by Open only.
func (s *Server) hold(id string, ss *session, will *Message, due time.Time) {
	h := &s.held
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.byID == nil {
		h.byID = make(map[string]*heldSession)
	}
	if _, ok := h.byID[id]; !ok {
		h.order = append(h.order, id)
	}
	h.byID[id] = &heldSession{ss: ss, will: will, due: due}
}

// Recovered returns the sessions Open read from the store (and those that
// ended with a will while the node was down) that still wait for their
// SessionCluster's verdict, KeepRecovered or DropStale. It is empty
// without a SessionCluster or a Store.
func (s *Server) Recovered() []RecoveredSession {
	h := &s.held
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]RecoveredSession, 0, len(h.order))
	for _, id := range h.order {
		if hs, ok := h.byID[id]; ok {
			out = append(out, RecoveredSession{ClientID: id, Ended: hs.ss == nil})
		}
	}
	return out
}

// take removes and returns the held session id, nil if none.
func (h *heldRecovered) take(id string) *heldSession {
	h.mu.Lock()
	defer h.mu.Unlock()
	hs := h.byID[id]
	delete(h.byID, id)
	if len(h.byID) == 0 {
		h.order = nil
	} else if hs != nil {
		h.order = slices.DeleteFunc(h.order, func(x string) bool { return x == id })
	}
	return hs
}

// KeepRecovered is the verdict that this node owns the recovered session
// of clientID: a will is published now when its delay passed (or the
// session ended while the node was down), else after the rest of its
// delay unless a connection resumes the session first [MQTT-5:3.1.3-9];
// SessionChanged is given the session's record and SessionQueued every
// delivery it holds (those sent before marked so). It does nothing for a
// client id that waits for no verdict.
func (s *Server) KeepRecovered(clientID string) {
	hs := s.held.take(clientID)
	if hs == nil {
		return
	}
	will := hs.will
	if hs.ss != nil {
		will = hs.ss.kept(hs.due)
	}
	if will != nil {
		s.publish(will)
	}
}

// kept ends the wait of a recovered session: see KeepRecovered. It
// returns a will due now.
func (s *session) kept(due time.Time) (will *Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return nil
	}
	if s.conn == nil && s.will != nil && s.willTimer == nil {
		if d := time.Until(due); d > 0 {
			s.willTimer = time.AfterFunc(d, func() { s.srv.safely("will delay", s.fireWill) })
		} else {
			will, s.will = s.will, nil
		}
	}
	s.save()
	if s.srv.sessc != nil {
		s.spillAll()
	}
	return will
}

// DropStale is the verdict that the recovered session of clientID is not
// this node's: another node holds it, or it ended elsewhere. The local
// copy ends without its will and without SessionEnded (the cluster's
// record is not this node's to delete). A session a connection holds
// meanwhile is left alone (the cluster let the CONNECT claim it), and so
// is a client id that waits for no verdict.
func (s *Server) DropStale(clientID string) {
	hs := s.held.take(clientID)
	if hs == nil || hs.ss == nil {
		return
	}
	ss := hs.ss
	ss.mu.Lock()
	busy := ss.conn != nil || ss.claim != nil
	ss.mu.Unlock()
	if busy {
		s.log.Warn("cluster: a recovered session the cluster holds elsewhere is in use here; kept", "client", clientID)
		return
	}
	s.dropSession(ss)
	s.log.Info("cluster: dropped a recovered session held elsewhere", "client", clientID)
}
