package broker

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ternmq/tern/broker/topictree"
	"github.com/ternmq/tern/codec"
)

// Server is an MQTT 3.1.1 and 5.0 broker. Create it with New, feed it
// connections with Serve or ServeConn, and stop it with Shutdown.
type Server struct {
	opts Options
	log  *slog.Logger
	subs *topictree.Tree[*session, subOpts]
	// shared holds the shared subscription groups by topic filter; groups
	// (under mu) finds them by their full $share filter.
	shared *topictree.Tree[*shareGroup, struct{}]

	mu        sync.Mutex
	sessions  map[string]*session
	groups    map[string]*shareGroup
	conns     map[*conn]struct{}
	listeners map[net.Listener]struct{}
	closing   bool

	wg      sync.WaitGroup // connections being served
	connSeq atomic.Uint64
	stats   Stats
	aggs    sync.Pool // *aggregator
	// writeBufs holds the writers' batch buffers (*[]byte). A writer takes
	// one only while it runs, so an idle connection holds none.
	writeBufs sync.Pool
}

// Stats are counters the broker keeps while it runs.
type Stats struct {
	// Dropped counts messages not delivered to a session: QoS 0 messages
	// when a connection's write buffer is full, and any message when a
	// session queue overflows or a message exceeds the client's Maximum
	// Packet Size.
	Dropped atomic.Uint64
	// Received counts PUBLISH packets received from clients.
	Received atomic.Uint64
	// Delivered counts PUBLISH packets queued for clients.
	Delivered atomic.Uint64
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("broker: server closed")

// New returns a Server configured by opts.
func New(opts Options) *Server {
	opts.setDefaults()
	s := &Server{
		opts:      opts,
		log:       opts.Logger,
		subs:      topictree.New[*session, subOpts](),
		shared:    topictree.New[*shareGroup, struct{}](),
		groups:    make(map[string]*shareGroup),
		sessions:  make(map[string]*session),
		conns:     make(map[*conn]struct{}),
		listeners: make(map[net.Listener]struct{}),
	}
	s.aggs.New = func() any { return &aggregator{index: make(map[*session]int)} }
	s.writeBufs.New = func() any { return new([]byte) }
	return s
}

// Stats returns the server's counters.
func (s *Server) Stats() *Stats { return &s.stats }

// Serve accepts connections on ln and serves each in its own goroutine
// until ctx is done or Shutdown is called. It closes ln before returning.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosing() || ctx.Err() != nil {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed; retrying", "err", err, "delay", delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		if !s.serveInBackground(ctx, nc) {
			return ErrServerClosed
		}
	}
}

// serveInBackground serves nc on a new goroutine, counted before it starts
// so Shutdown waits for it. It reports false (and closes nc) when the
// server is closing.
func (s *Server) serveInBackground(ctx context.Context, nc net.Conn) bool {
	if !s.track(1) {
		nc.Close()
		return false
	}
	go func() {
		defer s.wg.Done()
		s.serve(ctx, nc)
	}()
	return true
}

// ServeConn serves one connection that is already established (a
// WebSocket adapted to net.Conn, a test pipe) and returns when it closes.
func (s *Server) ServeConn(ctx context.Context, nc net.Conn) {
	if !s.track(1) {
		nc.Close()
		return
	}
	defer s.wg.Done()
	s.serve(ctx, nc)
}

// track adds n to the connection wait group unless the server is closing.
func (s *Server) track(n int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.wg.Add(n)
	return true
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// safely runs f, a timer's work, and logs a panic instead of letting it
// end the process: no panic escapes a goroutine of the broker.
func (s *Server) safely(what string, f func()) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic in "+what+"; recovered", "panic", p, "stack", string(debug.Stack()))
		}
	}()
	f()
}

// connCount returns the number of open connections.
func (s *Server) connCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *Server) serve(ctx context.Context, nc net.Conn) {
	c := newConn(s, nc)
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	c.run(ctx)
}

// Shutdown stops accepting connections, disconnects every client (5.0
// clients get DISCONNECT 0x8B Server shutting down, and wills are
// published as for any unexpected loss), and waits for the connections to
// finish or ctx to end.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for ln := range s.listeners {
		ln.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.kick(codec.ServerShuttingDown, "server shutting down")
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	// Stop the timers of offline sessions; publish wills still pending.
	s.mu.Lock()
	sessions := make([]*session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		sessions = append(sessions, ss)
	}
	s.mu.Unlock()
	for _, ss := range sessions {
		s.stopSession(ss)
	}
	return nil
}

// stopSession stops a session's timers at shutdown, publishing a will that
// is waiting for its delay.
func (s *Server) stopSession(ss *session) {
	ss.mu.Lock()
	if ss.expTimer != nil {
		ss.expTimer.Stop()
	}
	var will *Message
	if ss.willTimer != nil && ss.willTimer.Stop() {
		will = ss.will
		ss.will = nil
	}
	ss.mu.Unlock()
	if will != nil {
		s.publish(will)
	}
}

func (s *Server) countDrop(ss *session, why string, m *Message) {
	n := s.stats.Dropped.Add(1)
	// Log the first drop and then every 1000th, so a flood cannot flood the log.
	if n == 1 || n%1000 == 0 {
		s.log.Warn("message dropped", "client", ss.id, "reason", why, "topic", m.Topic, "qos", m.QoS, "dropped_total", n)
	}
}

// target collects the matching subscriptions of one session for one message.
type target struct {
	s       *session
	qos     codec.QoS
	rap     bool
	matched bool
	ids     []int
}

// aggregator merges overlapping subscriptions so each session receives one
// copy at the highest granted QoS, with every Subscription Identifier
// [MQTT-3.3.5-1].
type aggregator struct {
	index   map[*session]int
	targets []target
	groups  []*shareGroup
}

// publish routes a message to every matching subscription and, when it is
// retained, updates the retained store. It never blocks on a subscriber.
func (s *Server) publish(m *Message) {
	if m.hasWillLife {
		m = m.atPublication(time.Now()) // a will's expiry starts now
	}
	if m.Retain {
		s.retain(m)
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
	for i := range a.targets {
		t := &a.targets[i]
		var ids []int
		if len(t.ids) > 0 {
			ids = append([]int(nil), t.ids...)
		}
		// Forwarded with the lower of the two QoS [MQTT-3.8.4-6 of 3.1.1],
		// and RETAIN cleared unless Retain As Published [MQTT-3.3.1-9 of 3.1.1].
		t.s.deliver(m, min(m.QoS, t.qos), m.Retain && t.rap, ids)
		s.stats.Delivered.Add(1)
		t.ids = t.ids[:0]
		t.s = nil
	}
	clear(a.index)
	a.targets = a.targets[:0]
	s.publishShared(m, a)
	s.aggs.Put(a)
}

// retain stores, replaces or (for an empty payload) deletes the retained
// message of m's topic.
func (s *Server) retain(m *Message) {
	var err error
	if len(m.Payload) == 0 {
		err = s.opts.Store.DeleteRetained(m.Topic) // [MQTT-3.3.1-6 of 5.0]
	} else {
		err = s.opts.Store.SetRetained(m)
	}
	if err != nil {
		s.log.Error("retained store failed", "topic", m.Topic, "err", err)
	}
}

// sendRetained delivers the retained messages matching filter to ss with
// the RETAIN flag set [MQTT-3.3.1-8 of 3.1.1].
func (s *Server) sendRetained(ss *session, filter string, o subOpts) {
	now := time.Now()
	var ids []int
	if o.id > 0 {
		ids = []int{o.id}
	}
	err := s.opts.Store.MatchRetained(filter, func(m *Message) bool {
		if m.expired(now) {
			return true
		}
		ss.deliver(m, min(m.QoS, o.qos), true, ids)
		return true
	})
	if err != nil {
		s.log.Error("reading retained messages failed", "filter", filter, "err", err)
	}
}

// isSysTopic reports whether topic belongs to the broker.
func isSysTopic(topic string) bool { return strings.HasPrefix(topic, "$SYS/") || topic == "$SYS" }
