package broker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ternmq/tern/codec"
)

// This file is the broker's side of the admin API (cmd/tern serves it over
// HTTP): list and kick clients, list and delete sessions, list and delete
// retained messages. Every change goes through the session registry and
// the retained-message code like any other, and so through the store's
// committer; the deleting methods return once the store has it durably.

// ErrNotFound is returned for a client id or session the broker does not
// have.
var ErrNotFound = errors.New("broker: not found")

// ErrInvalidFilter is returned for a topic filter that is not valid (or is
// a shared subscription's).
var ErrInvalidFilter = errors.New("broker: invalid topic filter")

// ClientInfo describes one connected client.
type ClientInfo struct {
	ID            string    `json:"id"`
	Username      string    `json:"username,omitempty"`
	Address       string    `json:"address"`
	Protocol      string    `json:"protocol"`  // "3.1.1" or "5.0"
	KeepAlive     int       `json:"keepalive"` // seconds, as granted
	ConnectedAt   time.Time `json:"connected_at"`
	Subscriptions int       `json:"subscriptions"`
	Queued        int       `json:"queued"`
	Inflight      int       `json:"inflight"`
}

// SessionInfo describes one session, online or not.
type SessionInfo struct {
	ID            string    `json:"id"`
	Online        bool      `json:"online"`
	Durable       bool      `json:"durable"`        // kept in the store
	Expiry        uint32    `json:"expiry_seconds"` // Session Expiry Interval
	OfflineSince  time.Time `json:"offline_since,omitzero"`
	Subscriptions []string  `json:"subscriptions"`
	Queued        int       `json:"queued"`
	Inflight      int       `json:"inflight"`
}

// RetainedInfo describes one retained message.
type RetainedInfo struct {
	Topic string    `json:"topic"`
	Bytes int       `json:"bytes"` // payload size
	QoS   codec.QoS `json:"qos"`
	From  string    `json:"from,omitempty"` // publisher's client id
}

// Clients returns the connected clients, sorted by id.
func (s *Server) Clients() []ClientInfo {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	out := make([]ClientInfo, 0, len(conns))
	for _, c := range conns {
		if !c.accepted() { // after this, version, identity and session are fixed
			continue
		}
		ci := ClientInfo{ID: c.clientID, Username: c.who.Username, Address: c.nc.RemoteAddr().String(),
			Protocol: c.version.String(), KeepAlive: int(c.keepAlive * 2 / 3 / time.Second)}
		ss := c.sess
		ss.mu.Lock()
		if ss.conn == c {
			ci.ConnectedAt, ci.Subscriptions, ci.Queued, ci.Inflight = ss.since, len(ss.subs), ss.queued, ss.inflight
		}
		ss.mu.Unlock()
		out = append(out, ci)
	}
	slices.SortFunc(out, func(a, b ClientInfo) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Kick disconnects the client with id (5.0: DISCONNECT 0x98
// Administrative action) and waits until its connection has ended, or
// ctx is done. Its session stays, as after any loss of connection.
func (s *Server) Kick(ctx context.Context, id string) error {
	c := s.connOf(id)
	if c == nil {
		return fmt.Errorf("client %q: %w", id, ErrNotFound)
	}
	c.log.Info("disconnecting client: administrative action")
	done := c.finished()
	c.kick(codec.AdministrativeAction, "disconnected by an administrator")
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// connOf returns the connection that holds the session of id, if any.
func (s *Server) connOf(id string) *conn {
	s.mu.Lock()
	ss := s.sessions[id]
	s.mu.Unlock()
	if ss == nil {
		return nil
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.conn
}

// Sessions returns every session, sorted by client id.
func (s *Server) Sessions() []SessionInfo {
	sessions := s.allSessions()
	out := make([]SessionInfo, 0, len(sessions))
	for _, ss := range sessions {
		ss.mu.Lock()
		if !ss.ended {
			si := SessionInfo{ID: ss.id, Online: ss.conn != nil, Durable: ss.durable, Expiry: ss.expiry,
				OfflineSince: ss.offline, Queued: ss.queued, Inflight: ss.inflight, Subscriptions: make([]string, 0, len(ss.subs))}
			for f := range ss.subs {
				si.Subscriptions = append(si.Subscriptions, f)
			}
			slices.Sort(si.Subscriptions)
			out = append(out, si)
		}
		ss.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b SessionInfo) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// DeleteSession ends the session of id: a connected client is
// disconnected first (5.0: DISCONNECT 0x98); its subscriptions, queued
// and in-flight messages go, and a will waiting for its delay is
// published. It returns once the store has forgotten the session.
func (s *Server) DeleteSession(ctx context.Context, id string) error {
	for {
		if err := s.Kick(ctx, id); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		ss, ok := s.unregister(id)
		if ss == nil {
			return fmt.Errorf("session %q: %w", id, ErrNotFound)
		}
		if !ok { // a connection took it meanwhile: disconnect that one too
			if err := ctx.Err(); err != nil {
				return err
			}
			continue
		}
		s.endSession(ss)
		return s.syncStore(ctx)
	}
}

// unregister removes the session of id from the registry if no connection
// holds or is claiming it, in one step with the check, so that a client
// connecting meanwhile gets a new session. It returns the session (nil
// when there is none) and whether it was removed.
func (s *Server) unregister(id string) (*session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.sessions[id]
	if ss == nil {
		return nil, false
	}
	ss.mu.Lock()
	busy := ss.conn != nil || ss.claim != nil
	ss.mu.Unlock()
	if busy {
		return ss, false
	}
	delete(s.sessions, id)
	return ss, true
}

// RetainedMessages calls fn for each retained message whose topic matches
// filter (a Topic Filter: "#" does not match $SYS [MQTT-4.7.2-1]) until fn
// returns false. An invalid filter is an error.
func (s *Server) RetainedMessages(filter string, fn func(RetainedInfo) bool) error {
	if err := codec.ValidTopicFilter(filter); err != nil || codec.IsShared(filter) {
		return fmt.Errorf("%q: %w", filter, ErrInvalidFilter)
	}
	now := time.Now()
	s.retained.Match(filter, func(topic string, m *Message) bool {
		if m.expired(now) {
			return true
		}
		return fn(RetainedInfo{Topic: topic, Bytes: len(m.Payload), QoS: m.QoS, From: m.From})
	})
	return nil
}

// DeleteRetained deletes the retained messages whose topic matches filter,
// as an empty retained PUBLISH to each would, and returns how many. It
// returns once the store has the deletions durably.
func (s *Server) DeleteRetained(ctx context.Context, filter string) (int, error) {
	if err := codec.ValidTopicFilter(filter); err != nil || codec.IsShared(filter) {
		return 0, fmt.Errorf("%q: %w", filter, ErrInvalidFilter)
	}
	var msgs []*Message
	s.retained.Match(filter, func(_ string, m *Message) bool {
		msgs = append(msgs, m)
		return true
	})
	n := 0
	for _, m := range msgs {
		if s.dropRetained(m) {
			n++
		}
	}
	return n, s.syncStore(ctx)
}

// syncStore waits until everything written to the store so far is durable.
func (s *Server) syncStore(ctx context.Context) error {
	if s.commit == nil {
		return nil
	}
	done := make(chan error, 1)
	s.commit.wait(true, func(err error) { done <- err })
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
