package broker

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"runtime/debug"
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
	// retained holds the retained message of each topic; retainMu orders
	// the changes of retained messages in memory and in the store.
	retained *topictree.Retained[*Message]
	retainMu sync.Mutex
	// Under retainMu: retained bytes in all and by publisher (limits.go).
	retainedBytes int
	retainOwners  map[string]*retainQuota
	// sessc is Options.Cluster as a SessionCluster, nil if it is none.
	sessc SessionCluster
	// held: recovered sessions waiting for sessc's verdict
	// (cluster_restart.go).
	held heldRecovered
	// commit writes to the store; nil without one.
	commit *committer
	// cq is the seam to a cluster that keeps messages (cluster_qos.go);
	// nil without one.
	cq    *clusterSeam
	sweep sweeper
	// shared holds the shared subscription groups by topic filter; groups
	// (under mu) finds them by their full $share filter.
	shared *topictree.Tree[*shareGroup, struct{}]

	mu        sync.Mutex
	sessions  map[string]*session
	groups    map[string]*shareGroup
	conns     map[*conn]struct{}
	listeners map[net.Listener]struct{}
	closing   bool

	wg sync.WaitGroup // connections being served
	// poller holds the parked connections (park.go): made under mu at the
	// first park, read without it, stopped by Shutdown. pollErr (under
	// mu): it cannot be made here.
	poller  atomic.Pointer[poller]
	pollErr bool
	// noPark serves every connection with a reader goroutine (tests).
	noPark  bool
	connSeq atomic.Uint64
	stats   Stats
	aggs    sync.Pool // *aggregator
	// writeBufs holds the writers' batch buffers (*[]byte). A writer takes
	// one only while it runs, so an idle connection holds none.
	writeBufs sync.Pool

	// Observability (metrics.go, sys.go) and the limits SetLimits changes
	// (reload.go).
	metrics Metrics
	sys     sysPublisher
	lim     atomic.Pointer[Limits]

	// quietPark, when not zero, replaces the constant of park.go (tests).
	quietPark time.Duration
	// inlines holds the inline writers of parkable connections
	// (writenow.go), taken only for one write.
	inlines sync.Pool
	// rawReads holds the state of raw reads (rawread.go), taken for one read.
	rawReads sync.Pool
	// drains and drainOne start writer goroutines (writer.go).
	drains   chan *conn
	drainOne func()
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
	// AuthFailures counts CONNECTs refused by the Authenticator, and
	// Denied the publishes, subscriptions and deliveries the broker's
	// rules or the Authorizer refused.
	AuthFailures atomic.Uint64
	Denied       atomic.Uint64
	// Expired counts sessions ended by their expiry interval.
	Expired atomic.Uint64
	// LimitRefusals counts what the caps refused (limits.go).
	LimitRefusals atomic.Uint64
	// Syncs counts synced store writes, and SyncNanos the time they took.
	Syncs     atomic.Uint64
	SyncNanos atomic.Uint64
	// StoreErrors counts failed store writes, and StoreFailedAcks the
	// client packets that were therefore not acknowledged.
	StoreErrors     atomic.Uint64
	StoreFailedAcks atomic.Uint64
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("broker: server closed")

// New returns a Server that keeps everything in memory, configured by
// opts. It panics if opts.Store is set: a server with a store is made by
// Open, which reads the store back first.
func New(opts Options) *Server {
	if opts.Store != nil {
		panic("broker: New with a Store; use Open")
	}
	s := newServer(opts)
	s.startSys()
	return s
}

func newServer(opts Options) *Server {
	opts.setDefaults()
	s := &Server{
		opts:         opts,
		log:          opts.Logger,
		subs:         topictree.New[*session, subOpts](),
		retained:     topictree.NewRetained[*Message](),
		retainOwners: make(map[string]*retainQuota),
		shared:       topictree.New[*shareGroup, struct{}](),
		groups:       make(map[string]*shareGroup),
		sessions:     make(map[string]*session),
		conns:        make(map[*conn]struct{}),
		listeners:    make(map[net.Listener]struct{}),
		cq:           newClusterSeam(opts.Cluster),
	}
	s.sessc, _ = opts.Cluster.(SessionCluster)
	s.metrics.started, s.metrics.off = time.Now(), opts.DisableMetrics
	s.aggs.New = func() any { return &aggregator{index: make(map[*session]int)} }
	s.writeBufs.New = func() any { return new([]byte) }
	s.inlines.New = func() any { return newWriterFD() }
	s.rawReads.New = func() any { return newRawRead() }
	s.drains = make(chan *conn, 256)
	s.drainOne = s.runDrain
	return s
}

// Stats returns the server's counters.
func (s *Server) Stats() *Stats { return &s.stats }

// RetainedCount returns the number of retained messages.
func (s *Server) RetainedCount() int { return s.retained.Len() }

// Serve accepts connections on ln and serves each in its own goroutine
// until ctx is done or Shutdown is called. It closes ln before returning.
// (A TCP listener that its owner closes meanwhile ends Serve at the next
// connection attempt on Linux, where Serve waits on a duplicate of its
// socket: accept_linux.go.)
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	kaOn := keepAliveOnAccept(ln)
	acc := newAcceptor(ln) // nil: ln.Accept
	if acc != nil {
		ln = acc.listener(ln) // closes the acceptor's duplicate too
	}
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
		var nc net.Conn
		var err error
		if acc != nil {
			nc, err = acc.accept()
		} else {
			nc, err = ln.Accept()
		}
		if err != nil {
			if s.isClosing() || ctx.Err() != nil {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed; retrying", "err", err, "delay", delay)
				select {
				case <-time.After(delay):
				case <-ctx.Done():
					return ErrServerClosed
				}
				continue
			}
			return err
		}
		delay = 0
		if !s.serveInBackground(ctx, nc, kaOn) {
			return ErrServerClosed
		}
	}
}

// serveInBackground serves nc on a new goroutine, counted before it starts
// so Shutdown waits for it. It reports false (and closes nc) when the
// server is closing. kaOn: nc has TCP keep-alive on already (accepted
// from a listener that has it, keepAliveOnAccept).
//
// A plain TCP connection whose CONNECT has already arrived is served on
// the calling goroutine, Serve's, up to its park when that cannot wait
// (connectNow): no goroutine is started for it.
func (s *Server) serveInBackground(ctx context.Context, nc net.Conn, kaOn bool) bool {
	if !s.track(1) {
		nc.Close()
		return false
	}
	c := s.open(nc, true, kaOn)
	if !c.connectNow(ctx) {
		go c.run(ctx)
	}
	return true
}

// ServeConn serves one connection that is already established (a
// WebSocket adapted to net.Conn, a test pipe) and returns when it closes.
func (s *Server) ServeConn(ctx context.Context, nc net.Conn) {
	if !s.track(1) {
		nc.Close()
		return
	}
	s.serve(ctx, nc, false, false)
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

// Connections returns the number of open network connections.
func (s *Server) Connections() int { return s.connCount() }

// connCount returns the number of open connections.
func (s *Server) connCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// serve serves nc, counted in wg by the caller, until it ends, or, if it
// may park (park), until it parks; the reader that finishes it then calls
// forget.
func (s *Server) serve(ctx context.Context, nc net.Conn, park, kaOn bool) {
	s.open(nc, park, kaOn).run(ctx)
}

// open returns the conn of nc, counted among the server's connections;
// park: it may park (Serve's), kaOn: see serveInBackground.
func (s *Server) open(nc net.Conn, park, kaOn bool) *conn {
	var pk *parker
	if park && !s.noPark {
		pk = parkerFor(nc)
	}
	c := newConnFor(s, nc, pk)
	c.background, c.kaOn = park, kaOn
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.connOpened()
	closing := s.closing
	s.mu.Unlock()
	if closing {
		// Counted (track) before Shutdown began but registered only now,
		// after Shutdown took its list of connections to kick: nothing
		// else would end it, and Shutdown waits for it.
		c.kick(codec.ServerShuttingDown, "server shutting down")
	}
	return c
}

// forget ends the serving of a finished connection.
func (s *Server) forget(c *conn) {
	s.mu.Lock()
	s.retire(c)
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
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
	// Stop the timers of offline sessions; publish wills still pending;
	// write what is left to the store.
	s.sys.stop()
	s.stopPoller()
	s.stopSessions()
	s.sweep.stop()
	if s.commit != nil {
		s.commit.close()
	}
	return nil
}

// Reasons for dropping a message, as counted and logged.
const (
	dropQueueFull = "session queue full"
	dropTooLarge  = "larger than the client's Maximum Packet Size"
	dropOutbound  = "outbound buffer full"
)

func (s *Server) countDrop(ss *session, why string, m *Message) {
	n := s.stats.Dropped.Add(1)
	s.metrics.drop(dropIndex(why))
	// Log the first drop and then every 1000th, so a flood cannot flood the log.
	if n == 1 || n%1000 == 0 {
		s.log.Warn("message dropped", "client", ss.id, "reason", why, "topic", m.Topic, "qos", m.QoS, "dropped_total", n)
	}
}
