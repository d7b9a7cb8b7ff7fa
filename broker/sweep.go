package broker

import (
	"sync"
	"time"
)

// sweeper removes expired messages in the background: retained messages
// whose Message Expiry Interval has passed, and expired deliveries queued
// for sessions, from memory and from the store. Expired messages are also
// skipped when they are touched, but without the sweep one that is never
// touched again would stay for ever. The sweep runs on a timer, not a
// goroutine, and only while messages with an expiry exist: publish arms
// it (sweepSoon), and a sweep that finds nothing left to expire does not
// re-arm. Shutdown stops it.
type sweeper struct {
	mu      sync.Mutex
	timer   *time.Timer
	stopped bool
}

// sweepSoon arms the sweep if it is not armed.
func (s *Server) sweepSoon() {
	w := &s.sweep
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.timer != nil || w.stopped {
		return
	}
	w.timer = time.AfterFunc(s.opts.SweepInterval, func() { s.safely("sweep", s.runSweep) })
}

// runSweep sweeps once and re-arms while something may still expire.
func (s *Server) runSweep() {
	pending := s.sweepNow(time.Now())
	w := &s.sweep
	w.mu.Lock()
	w.timer = nil
	w.mu.Unlock()
	if pending {
		s.sweepSoon()
	}
}

// sweepNow removes what has expired by now and reports whether messages
// with an expiry remain.
func (s *Server) sweepNow(now time.Time) (pending bool) {
	var expired []*Message
	s.retained.All(func(_ string, m *Message) bool {
		switch {
		case m.expired(now):
			expired = append(expired, m)
		case !m.Expires.IsZero():
			pending = true
		}
		return true
	})
	for _, m := range expired {
		s.dropRetained(m)
	}
	sessions := s.allSessions()
	for _, ss := range sessions {
		pending = ss.sweep(now) || pending
	}
	return pending
}

// stop stops the sweep for good.
func (w *sweeper) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
}
