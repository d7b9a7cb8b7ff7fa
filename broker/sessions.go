package broker

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/ternmq/tern/codec"
)

// This file is the session registry: which session a client id has, its
// take-over by a new connection, its release when a connection ends, its
// expiry and its end. One session's own state changes only through its
// methods (session.go, session_state.go).

// takeSession finds or creates the session for clientID and claims it for
// a CONNECT, taking it over from a connection that holds it
// [MQTT-3.1.4-2 of 3.1.1, MQTT-3.1.4-3 of 5.0]. It reports whether an
// existing session was resumed. Until attach, deliveries are queued as
// for an offline session, so nothing is sent before the CONNACK; another
// CONNECT for the same id waits for the claim to end. In a cluster,
// claimSession follows it (cluster_session.go).
func (s *Server) takeSession(ctx context.Context, clientID string, clean bool) (*session, bool, error) {
	for {
		s.mu.Lock()
		ss := s.sessions[clientID]
		if ss == nil {
			if max := s.opts.MaxSessions; max > 0 && len(s.sessions) >= max {
				s.mu.Unlock()
				return nil, false, errTooManySessions
			}
			ss = newSession(s, clientID)
			ss.claim = make(chan struct{})
			s.sessions[clientID] = ss
			s.mu.Unlock()
			return ss, false, nil
		}
		ss.mu.Lock()
		old, claim := ss.conn, ss.claim
		if old == nil && claim == nil && !clean {
			ss.claim = make(chan struct{})
			ss.mu.Unlock()
			s.mu.Unlock()
			return ss, true, nil
		}
		ss.mu.Unlock()
		s.mu.Unlock()
		var wait <-chan struct{}
		switch {
		case old != nil:
			s.metrics.takeovers.Add(1)
			old.kick(codec.SessionTakenOver, "session taken over")
			wait = old.finished()
		case claim != nil:
			wait = claim // another CONNECT is between claim and attach
		default:
			s.endSession(ss) // [MQTT-3.1.2-6 of 3.1.1, MQTT-3.1.2-4 of 5.0]
			continue
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
}

// errTooManySessions refuses a CONNECT that would exceed MaxSessions.
var errTooManySessions = errors.New("session limit reached")

// release hands a session back when its connection ends: the will is
// published or scheduled, shared-subscription messages go to other
// members, and the session ends or waits for its expiry.
func (s *Server) release(c *conn) {
	ss := c.sess
	will, expiry, ok := ss.detach(c, c.willOnClose)
	if !ok {
		return
	}
	if will != nil {
		s.publish(will)
	}
	s.redistribute(ss, expiry == 0)
	if expiry == 0 {
		s.endSession(ss)
	}
}

// expireSession ends an offline session whose expiry interval has passed.
func (s *Server) expireSession(ss *session) {
	if !ss.online() {
		s.stats.Expired.Add(1)
		s.redistribute(ss, true)
		s.endSession(ss)
	}
}

// endSession discards a session: its subscriptions, queue, in-flight
// state and stored keys. A will still waiting for its delay is published.
func (s *Server) endSession(ss *session) {
	if s.endLocal(ss) && s.sessc != nil {
		s.sessc.SessionEnded(ss.id)
	}
}

// endLocal is endSession without telling the cluster; it reports whether
// the session had not ended before.
func (s *Server) endLocal(ss *session) bool {
	s.mu.Lock()
	if s.sessions[ss.id] == ss {
		delete(s.sessions, ss.id)
	}
	s.mu.Unlock()
	filters, will, ok := ss.end()
	if !ok {
		return false
	}
	for _, f := range filters {
		s.metrics.subscribed(f, -1)
		if codec.IsShared(f) {
			s.unsubscribeShared(ss, f)
		} else {
			s.removeSub(f, ss)
		}
	}
	if will != nil {
		s.publish(will)
	}
	return true
}

// stopSessions stops the timers of every session at shutdown and
// publishes the wills still waiting for their delay.
func (s *Server) stopSessions() {
	sessions := s.allSessions()
	for _, ss := range sessions {
		if will := ss.stop(); will != nil {
			s.publish(will)
		}
	}
}

// allSessions returns every session the registry holds now.
func (s *Server) allSessions() []*session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Collect(maps.Values(s.sessions))
}

// newClientID returns a random client identifier for a client that sent
// none.
func newClientID() string {
	var b [15]byte
	rand.Read(b[:])
	return "tern-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// Reauthorize applies changed credentials and rules (after the
// Authenticator or Authorizer reloaded their files) to the clients already
// connected: each is authenticated again with the credentials it connected
// with (a client of enhanced authentication: its AuthStep.Valid is asked)
// and disconnected if it no longer passes (5.0: DISCONNECT 0x98
// Administrative action), and every subscription, of online and offline
// sessions alike, that the Authorizer no longer allows is removed. It
// returns the numbers of clients disconnected and subscriptions removed.
func (s *Server) Reauthorize(ctx context.Context) (disconnected, unsubscribed int) {
	s.mu.Lock()
	conns := slices.Collect(maps.Keys(s.conns))
	s.mu.Unlock()
	sessions := s.allSessions()
	if auth := s.opts.Authenticator; auth != nil {
		for _, c := range conns {
			if !c.accepted() {
				continue
			}
			if a := c.auth.Load(); a != nil {
				if a.valid != nil && !a.valid() {
					c.log.Info("credentials no longer valid; disconnecting", "method", a.method)
					c.kick(codec.AdministrativeAction, "credentials no longer valid")
					disconnected++
				}
				continue
			}
			p := &codec.Connect{Version: c.version, ClientID: c.who.ID, Username: c.who.Username, Password: c.password}
			if rc := auth.Authenticate(ctx, &Login{Connect: p, ClientID: c.who.ID, Remote: c.nc.RemoteAddr()}); rc != codec.Success {
				c.log.Info("credentials no longer valid; disconnecting", "reason", rc)
				c.kick(codec.AdministrativeAction, "credentials no longer valid")
				disconnected++
			}
		}
	}
	if s.opts.Authorizer != nil {
		for _, ss := range sessions {
			unsubscribed += ss.reauthorize()
		}
	}
	return disconnected, unsubscribed
}
