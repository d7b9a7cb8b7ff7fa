package broker

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ternmq/tern/codec"
)

// This file holds the broker's counters and gauges, read by $SYS (sys.go)
// and by Server.Metrics (the Prometheus collector of cmd/tern).
//
// The hot path — packets and bytes in and out, PUBLISH by QoS — is
// counted per connection in plain fields that only the connection's own
// goroutine touches (the reader for what comes in, the writer for what
// goes out), and copied into atomics once per read or write batch, not
// once per packet: no cache line is shared between connections, and a
// packet costs a few plain increments. A scrape sums the atomics of the
// counter blocks of the open connections and the totals (retired under
// Metrics.foldMu, so a count is counted exactly once). Everything else
// (refusals, drops, disconnects, take-overs) is rare and counted in
// Metrics' own atomics.
//
// A connection holds a counter block only while it is active: the block
// is taken from a pool at the first packet read or written, and a
// connection that parks (park.go) with its writer idle folds its counts
// into the totals and gives the block back, so that an idle connection
// costs no counters (256 bytes of live heap each, about twice that in
// RSS at the default GOGC).

// tally is the traffic of one direction of one connection.
type tally struct {
	packets  uint64
	bytes    uint64
	pubs     [3]uint64 // PUBLISH packets by QoS
	pubBytes uint64    // PUBLISH payload bytes
}

func (t *tally) add(o *tally) {
	t.packets += o.packets
	t.bytes += o.bytes
	for i := range t.pubs {
		t.pubs[i] += o.pubs[i]
	}
	t.pubBytes += o.pubBytes
}

// sharedTally is a tally that other goroutines may read.
type sharedTally struct {
	packets  atomic.Uint64
	bytes    atomic.Uint64
	pubs     [3]atomic.Uint64
	pubBytes atomic.Uint64
}

func (s *sharedTally) store(t *tally) {
	s.packets.Store(t.packets)
	s.bytes.Store(t.bytes)
	for i := range t.pubs {
		s.pubs[i].Store(t.pubs[i])
	}
	s.pubBytes.Store(t.pubBytes)
}

func (s *sharedTally) addTo(t *tally) {
	t.packets += s.packets.Load()
	t.bytes += s.bytes.Load()
	for i := range t.pubs {
		t.pubs[i] += s.pubs[i].Load()
	}
	t.pubBytes += s.pubBytes.Load()
}

// connMetrics is the traffic of one connection. in is written only by the
// reader goroutine and out only by the writer (one at a time, handed over
// under conn.outMu); each is published to its shared copy once per batch.
//
// It is allocated on its own, 256 bytes, which the allocator places on a
// 256-byte boundary: the reader's half and the writer's half each fill
// two cache lines of their own. Embedded in conn, the writer's counts
// shared a cache line with fields that publishers read for every delivery
// (maxSize, srv); the first runs of BenchmarkMetricsCost, so built, had
// fan-in at 60-70 % of its speed without counters (on a machine loaded by
// other work, so the figure is rough).
type connMetrics struct {
	in       tally
	inShared sharedTally
	_        [128 - 2*48]byte
	out      tally
	outShr   sharedTally
	_        [128 - 2*48]byte
}

// counters returns the connection's counter block, taking one from the
// pool if it has none; nil when Options.DisableMetrics is set. The reader
// and the writer may both take one at once: one of them wins, the other
// gives its back.
func (c *conn) counters() *connMetrics {
	if m := c.m.Load(); m != nil || c.srv.metrics.off {
		return m
	}
	pool := &c.srv.metrics.blocks
	m, _ := pool.Get().(*connMetrics)
	if m == nil {
		m = new(connMetrics)
	}
	if c.m.CompareAndSwap(nil, m) {
		return m
	}
	pool.Put(m)
	return c.m.Load()
}

// foldCounters folds the counts of a connection about to park into the
// totals and gives its counter block back to the pool, if its writer is
// idle (else the block stays until a later park). The reader calls it:
// it counts nothing meanwhile, nor does a writer, which can start only by
// claiming outMu.
func (c *conn) foldCounters() {
	m := c.m.Load()
	if m == nil {
		return
	}
	mt := &c.srv.metrics
	c.outMu.Lock()
	if c.writing {
		c.outMu.Unlock()
		return
	}
	read := c.r.BytesRead()
	m.in.bytes = read - c.inFolded
	mt.foldMu.Lock()
	mt.retiredIn.add(&m.in)
	mt.retiredOut.add(&m.out)
	c.m.Store(nil)
	mt.foldMu.Unlock()
	c.inFolded = read
	c.outMu.Unlock()
	*m = connMetrics{}
	mt.blocks.Put(m)
}

// countIn counts a packet the reader decoded.
func (c *conn) countIn(p codec.Packet) {
	if m := c.counters(); m != nil {
		m.in.packets++
		if pub, ok := p.(*codec.Publish); ok {
			m.in.pubs[pub.QoS]++
			m.in.pubBytes += uint64(len(pub.Payload))
			return
		}
	}
	if _, ok := p.(*codec.Connect); ok {
		c.srv.metrics.connects.Add(1)
	}
}

// flushIn publishes the reader's counts; the reader calls it before it
// blocks on the network.
func (c *conn) flushIn() {
	m := c.m.Load()
	if m == nil {
		if c.r.BytesRead() == c.inFolded {
			return // nothing read since the last fold: no block needed
		}
		if m = c.counters(); m == nil {
			return
		}
	}
	m.in.bytes = c.r.BytesRead() - c.inFolded
	m.inShared.store(&m.in)
}

// countOut counts a packet the writer encoded into n bytes.
func (c *conn) countOut(it *outItem, n int) {
	if m := c.counters(); m != nil {
		m.out.packets++
		m.out.bytes += uint64(n)
		if it.kind == codec.PUBLISH {
			m.out.pubs[it.d.qos]++
			m.out.pubBytes += uint64(len(it.d.msg.Payload))
			return
		}
	}
	if it.kind == codec.CONNACK {
		c.countConnack(it.pkt)
	}
}

// countConnack counts a CONNACK that refuses, by its 5.0 reason code
// (a 3.1.1 return code is counted as the 5.0 code it stands for).
func (c *conn) countConnack(p codec.Packet) {
	ack, ok := p.(*codec.Connack)
	if !ok || ack.ReasonCode == codec.Success {
		return
	}
	rc := ack.ReasonCode
	if c.version != codec.V5 {
		switch rc {
		case 1:
			rc = codec.UnsupportedProtocolVersion
		case 2:
			rc = codec.ClientIdentifierNotValid
		case 3:
			rc = codec.ServerUnavailable
		case 4:
			rc = codec.BadUserNameOrPassword
		case 5:
			rc = codec.NotAuthorized
		}
	}
	c.srv.metrics.refused[byte(rc)].Add(1)
}

// flushOut publishes the writer's counts, once per written batch.
func (c *conn) flushOut() {
	if m := c.m.Load(); m != nil {
		m.outShr.store(&m.out)
	}
}

// Drop reasons, as labels of the drop counters.
const (
	dropNoSubscribers = iota // no subscription matched (not a loss: counted apart)
	dropQueueFullIdx
	dropExpiredIdx
	dropTooLargeIdx
	dropOutboundIdx
	numDropReasons
)

// dropReasons names the reasons a message is dropped (DropReasons).
var dropReasons = [numDropReasons]string{"no_subscribers", "queue_full", "expired", "too_large", "outbound_buffer_full"}

// Disconnect reasons, as labels of the disconnect counter.
const (
	discClient         = iota // DISCONNECT from the client
	discLost                  // the network connection ended or failed
	discKeepAlive             // keep-alive timeout
	discProtocol              // the client broke a rule
	discRefused               // the CONNECT was refused or invalid
	discTakenOver             // another connection took the session over
	discAdministrative        // kicked by an administrator or a reload
	discShutdown              // server shutting down
	discOther                 // anything else (store failure, ...)
	numDiscReasons
)

// discReasons names why connections end (DisconnectReasons).
var discReasons = [numDiscReasons]string{"client", "connection_lost", "keepalive_timeout", "protocol_error",
	"connect_refused", "session_taken_over", "administrative", "server_shutdown", "other"}

// commitBuckets are the upper bounds of the store commit latency histogram.
var commitBuckets = [...]time.Duration{
	250 * time.Microsecond, 500 * time.Microsecond, time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
	250 * time.Millisecond, 500 * time.Millisecond, time.Second,
}

// histogram counts durations into commitBuckets (the last slot is +Inf).
type histogram struct {
	counts [len(commitBuckets) + 1]atomic.Uint64
	sum    atomic.Uint64 // nanoseconds
}

func (h *histogram) observe(d time.Duration) {
	i := 0
	for i < len(commitBuckets) && d > commitBuckets[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(uint64(max(d, 0)))
}

// Metrics are the broker's counters and gauges beyond the per-connection
// traffic. A Server owns one; read it with Server.Metrics.
type Metrics struct {
	off     bool // Options.DisableMetrics: connections have no counters (conn.m nil)
	started time.Time

	// foldMu guards the traffic folded out of counter blocks: of closed
	// connections and of parked ones. A scrape holds it while it reads
	// them and the blocks of the open connections, so that a count moves
	// from a block to the totals between two scrapes, never during one.
	// Lock order: Server.mu or a connection's outMu, then foldMu
	// (innermost).
	foldMu                sync.Mutex
	retiredIn, retiredOut tally
	// blocks are the counter blocks of no connection (connMetrics).
	blocks sync.Pool

	connsMax int           // the most connections open at once, under Server.mu
	sockets  atomic.Uint64 // connections accepted in all

	connects    atomic.Uint64                 // CONNECT packets received
	refused     [256]atomic.Uint64            // CONNACK refusals by 5.0 reason code
	denied      [Subscribe + 1]atomic.Uint64  // authorization denials by Access
	disconnects [numDiscReasons]atomic.Uint64 // connections ended, by reason
	drops       [numDropReasons]atomic.Uint64 // messages not delivered, by reason
	takeovers   atomic.Uint64                 // sessions taken over by a new connection
	subs        atomic.Int64                  // subscriptions (shared ones too)
	sharedSubs  atomic.Int64                  // shared subscriptions
	online      atomic.Int64                  // sessions with a connection
	onlineMax   atomic.Int64                  // the most sessions online at once
	commits     histogram                     // synced store commits
}

// drop counts a message not delivered, by reason.
func (m *Metrics) drop(reason int) { m.drops[reason].Add(1) }

// dropIndex maps the reasons countDrop logs to the drop counters.
func dropIndex(why string) int {
	switch why {
	case dropQueueFull:
		return dropQueueFullIdx
	case dropTooLarge:
		return dropTooLargeIdx
	case dropOutbound:
		return dropOutboundIdx
	}
	return dropExpiredIdx
}

// online counts a session going online (+1) or offline (-1).
func (m *Metrics) sessionOnline(delta int64) {
	n := m.online.Add(delta)
	for {
		hi := m.onlineMax.Load()
		if n <= hi || m.onlineMax.CompareAndSwap(hi, n) {
			return
		}
	}
}

// subscribed counts a subscription added (+1) or removed (-1).
func (m *Metrics) subscribed(filter string, delta int64) {
	m.subs.Add(delta)
	if codec.IsShared(filter) {
		m.sharedSubs.Add(delta)
	}
}

// connOpened records a new connection; the caller holds Server.mu and has
// added it to Server.conns.
func (s *Server) connOpened() {
	s.metrics.sockets.Add(1)
	s.metrics.connsMax = max(s.metrics.connsMax, len(s.conns))
}

// retire folds the final counts of a connection that ended into the
// totals; the caller holds Server.mu and removes it from Server.conns in
// the same critical section. The connection's goroutines are done, so its
// plain counts are final.
func (s *Server) retire(c *conn) {
	if s.metrics.off {
		return
	}
	m := c.m.Load()
	read := c.r.BytesRead()
	if m == nil && read == c.inFolded {
		return
	}
	var in tally
	if m != nil {
		in = m.in
	}
	in.bytes = read - c.inFolded
	s.metrics.foldMu.Lock()
	s.metrics.retiredIn.add(&in)
	if m != nil {
		s.metrics.retiredOut.add(&m.out)
	}
	s.metrics.foldMu.Unlock()
}

// disconnected counts why a connection ended; finish calls it with the
// read loop's error.
func (c *conn) disconnected(err error) {
	r := disconnectReason(c, err)
	c.srv.metrics.disconnects[r].Add(1)
	if r != discRefused && c.accepted() {
		c.presence(false, discReasons[r])
	}
}

func disconnectReason(c *conn, err error) int {
	if k := c.kicked.Load(); k != nil {
		switch k.code {
		case codec.SessionTakenOver:
			return discTakenOver
		case codec.AdministrativeAction:
			return discAdministrative
		case codec.ServerShuttingDown:
			return discShutdown
		}
		return discOther
	}
	var ce *closeError
	switch {
	case errors.Is(err, errNormal):
		return discClient
	case !c.accepted():
		return discRefused
	case errors.As(err, &ce) && ce.code == codec.KeepAliveTimeout:
		return discKeepAlive
	case errors.As(err, &ce):
		return discProtocol
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return discLost
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return discLost
	}
	return discOther
}

// DropReasons names the reasons a message is dropped, indexed as
// MetricsSnapshot.Dropped: no_subscribers (no subscription matched; not
// a loss), queue_full, expired, too_large (the client's Maximum Packet
// Size) and outbound_buffer_full (QoS 0 to a slow connection).
func DropReasons() [numDropReasons]string { return dropReasons }

// DisconnectReasons names why connections end, indexed as
// MetricsSnapshot.Disconnects.
func DisconnectReasons() [numDiscReasons]string { return discReasons }

// Bucket is one bucket of a cumulative histogram.
type Bucket struct {
	UpperBound float64 // seconds
	Count      uint64  // observations at most UpperBound
}

// MetricsSnapshot is the broker's counters and gauges at one moment.
// Counters only grow while the Server runs; gauges go up and down.
type MetricsSnapshot struct {
	Uptime time.Duration

	// Connections are open network connections (gauge), ConnectionsMax
	// the most open at once, Sockets those accepted in all (counter).
	Connections, ConnectionsMax int
	Sockets                     uint64
	// Sessions: online (with a connection), offline (kept for a
	// persistent client), the most online at once, and those ended by
	// their expiry (counter).
	SessionsOnline, SessionsOffline, SessionsMax int
	SessionsExpired                              uint64
	// Counters of CONNECTs: received, refused by 5.0 reason code,
	// refused by the Authenticator; authorization denials by Access.
	Connects       uint64
	ConnackRefused map[codec.ReasonCode]uint64
	AuthFailures   uint64
	Denied         map[Access]uint64
	// Disconnects counts connections ended, indexed like DisconnectReasons.
	Disconnects [numDiscReasons]uint64
	// Traffic counters: all packets and bytes, PUBLISH packets by QoS and
	// their payload bytes.
	PacketsReceived, PacketsSent           uint64
	BytesReceived, BytesSent               uint64
	PublishReceived, PublishSent           [3]uint64
	PublishBytesReceived, PublishBytesSent uint64
	// Dropped counts messages not delivered, indexed like DropReasons.
	Dropped [numDropReasons]uint64
	// Gauges of state: subscriptions (shared ones included), shared
	// subscriptions, retained messages and their topic and payload bytes,
	// messages queued for sessions and in flight to clients.
	Subscriptions, SharedSubscriptions int64
	Retained, RetainedBytes            int
	Queued, Inflight                   int
	// Takeovers counts sessions taken over by a new connection.
	Takeovers uint64
	// Store: synced commits as a cumulative histogram of their latency
	// (seconds), failed writes, and the size on disk (-1 when unknown or
	// without a store).
	CommitBuckets []Bucket
	CommitCount   uint64
	CommitSeconds float64
	StoreErrors   uint64
	StoreBytes    int64
}

// StoreSizer is a Store that can tell its size on disk; Metrics reports it.
type StoreSizer interface {
	DiskUsage() uint64
}

// Metrics returns the broker's counters and gauges now. It walks the open
// connections and the sessions, so it costs time in proportion to them:
// call it at scrape or $SYS interval, not per message.
func (s *Server) Metrics() MetricsSnapshot {
	m := &s.metrics
	var snap MetricsSnapshot
	snap.Uptime = time.Since(m.started)
	var in, out tally
	s.mu.Lock()
	m.foldMu.Lock()
	in, out = m.retiredIn, m.retiredOut
	for c := range s.conns {
		if cm := c.m.Load(); cm != nil {
			cm.inShared.addTo(&in)
			cm.outShr.addTo(&out)
		}
	}
	m.foldMu.Unlock()
	snap.Connections, snap.ConnectionsMax = len(s.conns), m.connsMax
	sessions := len(s.sessions)
	s.mu.Unlock()
	snap.PacketsReceived, snap.BytesReceived, snap.PublishReceived, snap.PublishBytesReceived = in.packets, in.bytes, in.pubs, in.pubBytes
	snap.PacketsSent, snap.BytesSent, snap.PublishSent, snap.PublishBytesSent = out.packets, out.bytes, out.pubs, out.pubBytes
	snap.Sockets = m.sockets.Load()

	online := int(m.online.Load())
	snap.SessionsOnline, snap.SessionsOffline, snap.SessionsMax = online, max(sessions-online, 0), int(m.onlineMax.Load())
	snap.SessionsExpired = s.stats.Expired.Load()
	snap.Connects = m.connects.Load()
	snap.ConnackRefused = make(map[codec.ReasonCode]uint64)
	for i := range m.refused {
		if n := m.refused[i].Load(); n > 0 {
			snap.ConnackRefused[codec.ReasonCode(i)] = n
		}
	}
	snap.AuthFailures = s.stats.AuthFailures.Load()
	snap.Denied = map[Access]uint64{}
	for _, a := range []Access{Write, Read, Subscribe} {
		snap.Denied[a] = m.denied[a].Load()
	}
	for i := range m.disconnects {
		snap.Disconnects[i] = m.disconnects[i].Load()
	}
	for i := range m.drops {
		snap.Dropped[i] = m.drops[i].Load()
	}
	snap.Subscriptions, snap.SharedSubscriptions = m.subs.Load(), m.sharedSubs.Load()
	s.retainMu.Lock()
	snap.RetainedBytes = s.retainedBytes
	s.retainMu.Unlock()
	snap.Retained = s.retained.Len()
	for _, ss := range s.allSessions() {
		ss.mu.Lock()
		snap.Queued += ss.queued
		snap.Inflight += ss.inflight
		ss.mu.Unlock()
	}
	snap.Takeovers = m.takeovers.Load()
	s.commitSnapshot(&snap)
	return snap
}

// commitSnapshot fills in the store's figures.
func (s *Server) commitSnapshot(snap *MetricsSnapshot) {
	h := &s.metrics.commits
	var cum uint64
	snap.CommitBuckets = make([]Bucket, len(commitBuckets))
	for i, ub := range commitBuckets {
		cum += h.counts[i].Load()
		snap.CommitBuckets[i] = Bucket{UpperBound: ub.Seconds(), Count: cum}
	}
	snap.CommitCount = cum + h.counts[len(commitBuckets)].Load()
	snap.CommitSeconds = float64(h.sum.Load()) / 1e9
	snap.StoreErrors = s.stats.StoreErrors.Load()
	snap.StoreBytes = -1
	if sz, ok := s.opts.Store.(StoreSizer); ok {
		snap.StoreBytes = int64(sz.DiskUsage())
	}
}
