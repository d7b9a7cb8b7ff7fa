package broker

import (
	"syscall"
	"time"
)

// Inline writes: the goroutine that queues a packet for an idle
// connection writes it itself.
//
// A packet normally crosses from the goroutine that queues it (the
// publisher's reader, routing a message) to the connection's writer
// goroutine, which is started for it. Starting and scheduling that
// goroutine is the largest part of the broker's own latency at low rates.
// So when the writer has been idle for a while (writeNowIdle) and the
// packet is the only one queued, the caller claims the writer as a writer
// goroutine would, encodes the packet and writes it with one non-blocking
// write: it never waits for the socket. If the kernel takes only part of
// it (the client is slow, its window full) the rest goes to a writer
// goroutine, which writes it before anything queued later; so the order
// of packets to a connection is the order they were queued, and the
// caller is never held up by a slow subscriber.
//
// Only while idle: a connection that is written to all the time gets a
// writer goroutine as before, which batches everything queued meanwhile
// into one write. An inline write per packet would cost one system call
// per packet, where a busy writer goroutine spends one on dozens.
//
// Only for plain TCP on Linux: a net.Conn that is a syscall.Conn, or a
// WebSocket over one. A WebSocket frame goes through coder/websocket's
// writer, which cannot give up without blocking; so under the library sits
// a wsSocket (wssocket.go) whose writes, other than the writer
// goroutine's, never wait: what the kernel does not take at once is kept
// and written by a goroutine of its own before anything later. TLS (MQTT
// over TLS, secure WebSocket) must encrypt through its own locked writer
// and is never written inline.
//
// The caller may hold a session's lock: an inline write never waits, so
// nothing waits on the network holding a lock (doc.go).

// writeNowIdle is how long the writer must have been idle for a packet to
// be written inline. At 1,000 messages per second a subscriber's writer
// is idle for about 1 ms between messages; under load (a subscriber
// receiving tens of thousands per second) it is idle for far less, and
// batching wins.
const writeNowIdle = 100 * time.Microsecond

// writeNowBurst is how many packets in a row may be written inline
// without the writer being idle for writeNowIdle in between, as long as
// no writer goroutine has run since the last idle period: the messages
// that reach the broker together at a low rate (a publisher that fell
// behind its schedule sends two or three in one write, and a reader
// routes them one after the other, microseconds apart). Before, only the
// first was written inline; the second found the writer idle for less
// than writeNowIdle and went to a writer goroutine, started for it: a
// goroutine hand-off, often another thread woken, and an ordinary system
// call on that message's path, the tail of the latency at 1,000 msg/s. A
// connection written to all the time still gets its writer goroutine after
// at most this many, as before.
//
// Only after a rest of writeNowBurstRest: a connection that rests between
// bursts for less (a fan-out subscriber whose publisher waits a moment
// for its window, then sends hundreds of messages in one write) gets one
// packet inline and then its writer goroutine, as before; several inline
// writes per subscriber on the goroutine that routes every message of the
// fan-out cost it a fifth of its throughput (ternbench fan-out 1→16).
const writeNowBurst = 4

// writeNowBurstRest is the rest after which a burst may be written inline:
// at 1,000 msg/s a subscriber's writer rests about a millisecond between
// messages, and two messages come together when their publisher was late
// by another.
const writeNowBurstRest = time.Millisecond

// epoch is the origin of monotime; it is set once at start.
var epoch = time.Now()

// monotime is the time since epoch on the monotonic clock, in ns.
func monotime() int64 { return int64(time.Since(epoch)) }

// inlineWriter makes non-blocking writes to a connection's socket. It is
// writer state: used only by the holder of the writer claim.
type inlineWriter struct {
	rc     syscall.RawConn // nil: the transport has no non-blocking writes
	fn     func(fd uintptr) bool
	b      []byte
	n      int
	failed bool // the last write failed (a bool, not the error: 64 bytes, not 80)
}

// noInline marks a connection whose transport cannot be written inline.
// It is never modified.
var noInline = &inlineWriter{}

// mayWriteNow reports whether the caller, which has just claimed the
// writer for the packet it is queuing, may write it inline: nothing else
// is queued, it does not close the connection, nothing waits for the
// writer to refill the queue, the writer has been idle long enough (or
// this is one of writeNowBurst packets written inline one after the
// other since it was), and the transport can do a non-blocking write.
// The caller holds outMu.
func (c *conn) mayWriteNow() bool {
	idle := c.srv.opts.writeNowIdle
	if len(c.out) != 0 || c.outClosed || c.wantFeed || idle < 0 {
		return false
	}
	rest := monotime() - c.idleSince
	rested := rest >= int64(idle)
	if !rested && c.inlineRun >= writeNowBurst {
		return false
	}
	if !c.canWriteNow() {
		return false
	}
	switch {
	case !rested:
		c.inlineRun++
	case rest >= int64(max(idle, writeNowBurstRest)):
		c.inlineRun = 1 // a long rest: a burst may follow
	default:
		c.inlineRun = writeNowBurst // a short rest: only this one
	}
	return true
}

// canWriteNow reports whether the transport can take a non-blocking write.
// The caller holds outMu.
func (c *conn) canWriteNow() bool {
	if c.pk != nil {
		// A parked connection's socket: plain TCP is written with a pooled
		// writer (writeNow), so that an idle connection holds none.
		return c.pk.plain && inlineWrites
	}
	if ws, ok := c.nc.(*wsConn); ok {
		return ws.canWriteNow()
	}
	if c.inline == nil {
		c.inline = newInlineWriter(c)
	}
	return c.inline.rc != nil
}

func newInlineWriter(c *conn) *inlineWriter {
	sc, ok := c.nc.(syscall.Conn)
	if !ok || !inlineWrites {
		return noInline
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return noInline
	}
	w := newWriterFD()
	w.rc = rc
	return w
}

// newWriterFD returns an inlineWriter without its socket.
func newWriterFD() *inlineWriter {
	w := &inlineWriter{}
	w.fn = w.writeFD // made once: a method value allocates
	return w
}

func (w *inlineWriter) writeFD(fd uintptr) bool {
	var err error
	w.n, err = rawWrite(fd, w.b)
	w.failed = err != nil
	return true // done, whatever happened: never wait for the socket
}

// write writes what the socket takes of b now and returns how much that
// was. An error (including EAGAIN) writes nothing; the writer goroutine
// then writes the rest and reports a failure as it does for any write.
func (w *inlineWriter) write(b []byte) int {
	w.b = b
	err := w.rc.Write(w.fn)
	w.b = nil
	if err != nil || w.failed || w.n < 0 {
		return 0
	}
	return w.n
}

// writeNow writes it, which the caller has taken off the queue while
// claiming the writer (mayWriteNow), with one non-blocking write. It
// reports whether it is done and the writer idle again; if not, the
// caller starts the writer goroutine, which still holds the claim and
// writes what is left (rest) first, then whatever was queued meanwhile.
//
// A panic while encoding ends this connection, not the caller's (the
// caller is often another client's reader, or a goroutine that recovers
// nothing): writeNow then reports done, the connection closing.
func (c *conn) writeNow(it *outItem) (done bool) {
	bp := c.srv.writeBufs.Get().(*[]byte)
	buf, ok := c.encodeSafely((*bp)[:0], it)
	*it = outItem{}
	if !ok {
		c.putBuf(bp)
		return true
	}
	var n int
	if ws, ok := c.nc.(*wsConn); ok {
		ws.writeNow(buf) // all of it: the socket's own goroutine takes any rest (wssocket.go)
		n = len(buf)
	} else {
		w := c.inline
		if c.pk != nil {
			w = c.srv.inlines.Get().(*inlineWriter)
			w.rc = c.pk.rc
		}
		n = w.write(buf)
		if c.pk != nil {
			w.rc = nil
			c.srv.inlines.Put(w)
		}
	}
	if !c.inlined { // once: under outMu, where tests read it
		c.outMu.Lock()
		c.inlined = true
		c.outMu.Unlock()
	}
	c.flushOut() // the counts of this packet, as the writer does per batch (metrics.go)
	if n < len(buf) {
		*bp = buf[:copy(buf, buf[n:])]
		c.rest = bp
		return false
	}
	*bp = buf
	c.putBuf(bp)
	c.outMu.Lock()
	defer c.outMu.Unlock()
	if len(c.out) > 0 || c.outClosed || c.wantFeed {
		return false // queued meanwhile: the writer goroutine takes over
	}
	c.writing = false
	c.idleSince = monotime()
	return true
}

// encodeSafely is encode for an inline write: a panic is recovered and
// ends the connection (writerPanicked), and ok is false.
func (c *conn) encodeSafely(b []byte, it *outItem) (_ []byte, ok bool) {
	defer func() {
		if p := recover(); p != nil {
			c.writerPanicked(p)
			ok = false
		}
	}()
	return c.encode(b, it), true
}
