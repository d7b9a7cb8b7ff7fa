package broker

import (
	"errors"
	"sync/atomic"
	"syscall"
	"time"
)

// Parked readers. A connection accepted by Serve over TCP or TLS (on
// Linux) holds no goroutine while it is idle: when no packet has come for
// parkLinger, its reader returns the read buffer and packet cache to the
// codec's pool, registers the socket with the Server's poller and ends.
// The first of these resumes it on a new goroutine, which reads on as
// before:
//
//   - bytes or a hang-up on the socket (the poller);
//   - the keep-alive deadline (a timer);
//   - a kick (take-over, Shutdown, revoked credentials) or the writer
//     closing the connection (wake).
//
// A read whose deadline has passed fails without reading, so a reader
// resumed after its keep-alive deadline first peeks at the socket: only a
// socket with nothing to read has timed out. Other connections (ServeConn:
// WebSocket, pipes; other systems) keep one reader goroutine each.

// parkLinger is how long a reader waits at least for the next packet
// before it parks (at most lingerUntil): a connection whose packets come
// less than this apart never parks
// (a publisher at 100 msg/s or more, the packets of one exchange on
// loopback). Over a slower link the packets of one exchange may park and
// resume in between, which costs one wake. Shorter lingers were not tried
// below 10 ms. A wake after a long park does not linger (quietPark).
const parkLinger = 10 * time.Millisecond

// lingerUntil is how far ahead a lingering reader sets its read deadline:
// it moves the deadline only when less than parkLinger of it is left, so
// a connection parks after between parkLinger and lingerUntil without a
// packet, and a busy one moves its deadline once per lingerUntil -
// parkLinger instead of before every read.
//
// Why: every move of a read deadline modifies the runtime timer behind it,
// and the first modification after the runtime has looked at its timers
// wakes another thread to poll the network (the reader runs on the thread
// that left the poller, so none is polling): a futex wake-up and a thread
// that spins, finds nothing and sleeps again, on the 2 CPUs the message
// needs. Moved before every read (a publisher at 1,000 msg/s), that was
// about 240 futile thread wake-ups a second; a runtime trace of 4 s of
// ternbench's latency case showed 981 processor starts that ran no
// goroutine, 245 with this, 97 with the deadline never moved (round 6 of
// issue 16, bench/results/2026-12-07-round6-tail.md).
const lingerUntil = 100 * time.Millisecond

// quietPark is how long a connection must have been parked for its next
// wake to be quiet: a reader resumed by a quiet wake parks again as soon
// as it has handled what woke it (on TCP without another read; over TLS
// after one read that waits for nothing), without lingering. A device that
// pings or publishes once in a while rarely sends its next packet within
// the linger, and lingering readers cost their goroutine stacks and read
// buffers all at once when many devices wake together (ternbench's RSS
// after PINGREQ: 10,000 pings from 16 workers kept hundreds of readers
// lingering at a time). A connection woken again less than quietPark
// after it parked lingers as before, so a steady publisher pays one extra
// wake, for its first packet; a QoS 2 exchange started after a quiet
// period pays one for its PUBREL.
const quietPark = time.Second

// errParked ends a reader goroutine that has parked its connection.
var errParked = errors.New("parked")

// Park states.
const (
	running int32 = iota
	parked
)

// parker is a parkable connection's parking state. It fits the 48-byte
// size class (TestConnSizeClass): the Server's poller is not kept here
// (Server.poller, which outlives every parked connection), and parkedAt
// is 32 bits.
type parker struct {
	rc    syscall.RawConn // the TCP socket
	state atomic.Int32    // running or parked; one waker wins the swap
	// ending: the connection is being closed (kick, writer); it never
	// parks again.
	ending atomic.Bool
	timer  *time.Timer // wakes the connection at its keep-alive deadline
	// fd and gen identify the registration in the poller (under its mu).
	fd  int32
	gen uint32
	// parkedAt is when the connection last parked, in milliseconds of
	// monotime, wrapping: only differences of less than 24 days are read
	// (a longer park may make one wake lingering instead of quiet).
	parkedAt int32
	// off: the server has no poller; the reader keeps its goroutine.
	// quiet: this wake is quiet (see quietPark). plain: the socket is the
	// connection (no TLS, which may hold read bytes above it). nowait: a
	// raw read of an empty socket fails with errWouldBlock instead of
	// waiting (connectNow). Read and written by the reader only.
	off, quiet, plain, nowait bool
}

// monoMillis is monotime in milliseconds, wrapping at 32 bits (parker).
func monoMillis() int32 { return int32(monotime() / int64(time.Millisecond)) }

// getPoller returns the Server's poller, made at the first call, or nil
// when the server is closing or no poller can be made.
func (s *Server) getPoller() *poller {
	if p := s.poller.Load(); p != nil {
		return p // Shutdown stops it only once every connection has finished
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing || s.pollErr {
		return nil
	}
	if p := s.poller.Load(); p != nil {
		return p
	}
	p, err := newPoller(s.log)
	if err != nil {
		s.log.Warn("connections cannot be parked; each keeps a reader goroutine", "err", err)
		s.pollErr = true
		return nil
	}
	s.poller.Store(p)
	return p
}

// quietAfter returns how long a connection must have been parked for its
// next wake to be quiet: quietPark, unless a test changed it.
func (s *Server) quietAfter() time.Duration {
	if s.quietPark != 0 {
		return s.quietPark
	}
	return quietPark
}

// parkedCount returns the number of parked connections.
func (s *Server) parkedCount() int {
	if p := s.poller.Load(); p != nil {
		return p.len()
	}
	return 0
}

// stopPoller stops the poller; the connections have all finished.
func (s *Server) stopPoller() {
	s.mu.Lock()
	p := s.poller.Swap(nil)
	s.mu.Unlock()
	if p != nil {
		p.stop()
	}
}

// park parks the connection, its read buffer empty. It returns errParked
// when the reader must end (another goroutine has or will resume the
// connection), or nil when it could not park and reads on itself.
func (c *conn) park() error {
	pk := c.pk
	p := c.srv.getPoller()
	if p == nil {
		pk.off = true // never try again
		return nil
	}
	c.r.Release()
	c.trimQueue()
	c.foldCounters()
	pk.parkedAt = monoMillis()
	pk.state.Store(parked)
	if !c.readBy.IsZero() {
		if pk.timer == nil {
			pk.timer = time.AfterFunc(time.Until(c.readBy), c.wake)
		} else {
			pk.timer.Reset(time.Until(c.readBy))
		}
	}
	// A kick or a closing writer sets ending or kicked before it calls
	// wake: either wake sees parked, or this sees what it set.
	if !pk.ending.Load() && c.kicked.Load() == nil && p.add(c) {
		return errParked
	}
	if pk.state.CompareAndSwap(parked, running) {
		p.remove(c)
		return nil
	}
	return errParked // a timer or a kick has resumed it
}

// trimQueue drops the write queue's slices while the writer is idle.
func (c *conn) trimQueue() {
	c.outMu.Lock()
	if !c.writing && len(c.out) == 0 {
		c.out, c.spare = nil, nil
	}
	c.outMu.Unlock()
}

// wake resumes a parked connection; it does nothing to one that is
// running. It is the keep-alive timer's function and is called by kick and
// by the writer before it closes the connection.
func (c *conn) wake() {
	pk := c.pk
	if pk == nil || !pk.state.CompareAndSwap(parked, running) {
		return
	}
	p := c.srv.poller.Load() // stopped only once every connection has finished
	p.remove(c)
	p.start(c)
}

// wakeBy resumes a connection whose registration p has just removed.
func (c *conn) wakeBy() {
	if c.pk.state.CompareAndSwap(parked, running) {
		c.srv.poller.Load().start(c)
	}
}

// ending marks a parkable connection as closing and resumes it if parked,
// so that its reader finishes it: the writer calls it before it closes
// the network connection, kick after it has set its deadlines.
func (c *conn) ending() {
	if pk := c.pk; pk != nil {
		pk.ending.Store(true)
		c.wake()
	}
}

// resume is a resumed connection's reader goroutine.
func (c *conn) resume() {
	err := c.resumeRead()
	if err == errParked {
		return
	}
	c.finish(err)
}

func (c *conn) resumeRead() (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = c.panicked(p)
		}
	}()
	if c.pk.timer != nil {
		c.pk.timer.Stop()
	}
	c.pk.quiet = int64(monoMillis()-c.pk.parkedAt) >= c.srv.quietAfter().Milliseconds()
	if !c.readBy.IsZero() && !time.Now().Before(c.readBy) && c.kicked.Load() == nil {
		if !c.pk.readable() {
			return errKeepAlive
		}
		// Bytes came at the deadline: read them.
		c.readBy = time.Now().Add(c.keepAlive)
	}
	return c.readLoop(false)
}
