package broker

import (
	"fmt"
	"time"
)

// Limits are the settings that can change while the broker runs
// (SetLimits, on SIGHUP in cmd/tern). Each applies from the next time it
// is consulted, so none breaks a promise made to a client already
// connected: the CONNECT deadline, Keep Alive cap, Session Expiry cap and
// in-flight window apply to new CONNECTs (and the expiry cap to a 5.0
// DISCONNECT), the queue bounds to the next message queued. Limits that a
// CONNACK announces and the broker then enforces on the same connection
// (Maximum Packet Size, Receive Maximum) are not among them.
type Limits struct {
	ConnectTimeout   time.Duration // Options.ConnectTimeout
	MaxKeepAlive     uint16        // Options.MaxKeepAlive
	MaxSessionExpiry uint32        // Options.MaxSessionExpiry
	MaxInflight      int           // Options.MaxInflight
	MaxQueued        int           // Options.MaxQueued
	QueueQoS0        bool          // Options.QueueQoS0
}

// LimitChange is one limit changed by SetLimits.
type LimitChange struct {
	Name     string
	Old, New string
}

// limitsOf returns the Limits in o, with o's defaults applied.
func limitsOf(o Options) *Limits {
	o.setDefaults()
	return &Limits{ConnectTimeout: o.ConnectTimeout, MaxKeepAlive: o.MaxKeepAlive, MaxSessionExpiry: o.MaxSessionExpiry,
		MaxInflight: o.MaxInflight, MaxQueued: o.MaxQueued, QueueQoS0: o.QueueQoS0}
}

// limit returns the limits in force.
func (s *Server) limit() *Limits {
	if l := s.lim.Load(); l != nil {
		return l
	}
	s.lim.CompareAndSwap(nil, limitsOf(s.opts))
	return s.lim.Load()
}

// SetLimits replaces the limits in force; a zero field takes its default,
// as in Options. It logs and returns each limit that changed.
func (s *Server) SetLimits(l Limits) []LimitChange {
	o := s.opts
	o.ConnectTimeout, o.MaxKeepAlive, o.MaxSessionExpiry = l.ConnectTimeout, l.MaxKeepAlive, l.MaxSessionExpiry
	o.MaxInflight, o.MaxQueued, o.QueueQoS0 = l.MaxInflight, l.MaxQueued, l.QueueQoS0
	next := limitsOf(o)
	old := s.limit()
	for !s.lim.CompareAndSwap(old, next) {
		old = s.lim.Load()
	}
	var ch []LimitChange
	add := func(name string, a, b any) {
		if a != b {
			ch = append(ch, LimitChange{name, fmt.Sprint(a), fmt.Sprint(b)})
			s.log.Info("limit changed", "limit", name, "old", a, "new", b)
		}
	}
	add("connect_timeout", old.ConnectTimeout, next.ConnectTimeout)
	add("max_keepalive", old.MaxKeepAlive, next.MaxKeepAlive)
	add("max_session_expiry", old.MaxSessionExpiry, next.MaxSessionExpiry)
	add("max_inflight", old.MaxInflight, next.MaxInflight)
	add("max_queued", old.MaxQueued, next.MaxQueued)
	add("queue_qos0", old.QueueQoS0, next.QueueQoS0)
	return ch
}
