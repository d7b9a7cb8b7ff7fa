package broker

import (
	"runtime/debug"
	"time"

	"github.com/ternmq/tern/codec"
)

// outItem is one packet waiting in a connection's write queue. Publishes and
// acknowledgements are plain values so queueing them does not allocate;
// other packets travel as pkt.
type outItem struct {
	kind  codec.PacketType
	pid   uint16
	rc    codec.ReasonCode
	d     *delivery // PUBLISH
	dup   bool
	pkt   codec.Packet // anything else
	close bool         // close the connection after writing this
	// accept marks the CONNACK that accepts the connection; queuing it
	// sets conn.hasSession.
	accept bool
}

const (
	maxWriteBatch = 64 << 10 // flush when the batch buffer reaches this
	closeGrace    = 2 * time.Second
)

// enqueue adds an item to the write queue. A droppable item is refused
// when it would take the queue over the outbound budget, unless the queue
// is empty: a message larger than the budget still goes to a client that
// keeps up. Once an item that
// closes the connection (a server DISCONNECT) is queued, nothing more is:
// no packet may follow the DISCONNECT [MQTT-5:3.14.4-1].
func (c *conn) enqueue(it outItem, droppable bool, size int) bool {
	c.outMu.Lock()
	if c.outClosed || (droppable && c.outBytes > 0 && c.outBytes+size > c.srv.opts.OutboundBuffer) {
		c.outMu.Unlock()
		return false
	}
	if it.accept {
		c.hasSession = true
	}
	if it.close {
		c.outClosed = true
	}
	start := c.claimWriter()
	// now: the caller writes the item itself (writenow.go), without
	// queuing it (the queue of an idle connection has no slice to take it).
	now := start && c.mayWriteNow()
	if !now {
		c.out = append(c.out, it)
		c.outBytes += size
	}
	c.outMu.Unlock()
	if start && !(now && c.writeNow(&it)) {
		c.startWriter()
	}
	return true
}

// startWriter runs c.drain on a new goroutine. The go statement takes
// a func value the Server made once and the connection goes through a
// channel: `go c.drain()` would allocate a closure each time, and a
// func value kept in every connection costs an idle one 16 bytes. Each
// goroutine started takes one connection, so a send waits only for
// goroutines already started, which receive before doing anything else.
func (c *conn) startWriter() {
	c.srv.drains <- c
	go c.srv.drainOne()
}

func (s *Server) runDrain() { (<-s.drains).drain() }

// claimWriter reports whether the caller must start a writer goroutine:
// there is none and the connection can still be written. The caller holds
// outMu.
func (c *conn) claimWriter() bool {
	if c.writing || c.writerGone {
		return false
	}
	c.writing = true
	return true
}

func (c *conn) enqueuePacket(p codec.Packet) bool {
	return c.enqueue(outItem{kind: p.Type(), pkt: p}, false, 16)
}

func (c *conn) enqueueAck(t codec.PacketType, pid uint16, rc codec.ReasonCode) {
	c.enqueue(outItem{kind: t, pid: pid, rc: rc}, false, 4)
}

// enqueuePublish queues a PUBLISH of d with packet identifier pid (QoS
// 1/2) and the DUP flag. A droppable one (QoS 0) is refused when the
// outbound buffer is full.
func (c *conn) enqueuePublish(d *delivery, pid uint16, dup, droppable bool) bool {
	return c.enqueue(outItem{kind: codec.PUBLISH, d: d, pid: pid, dup: dup}, droppable, len(d.msg.Payload)+len(d.msg.Topic)+8)
}

// hasRoom reports whether the outbound buffer is less than half full. If
// not, the writer calls the session's refill once it has written what is
// queued: a session feeding retained messages waits for that.
func (c *conn) hasRoom() bool {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	if c.outBytes < c.srv.opts.OutboundBuffer/2 {
		return true
	}
	c.wantFeed = true
	return false
}

// closeQueue stops accepting packets; the writer drains what is queued and
// then closes the network connection. With nothing queued and no writer
// running, the caller closes it: a goroutine (and its stack) only to
// close a connection made a burst of closes, such as connections that
// never sent CONNECT reaching their deadline together, cost a burst of
// goroutines.
func (c *conn) closeQueue() {
	c.outMu.Lock()
	c.outClosed = true
	start := c.claimWriter()
	now := start && len(c.out) == 0
	if now {
		c.writerGone = true
	}
	c.outMu.Unlock()
	switch {
	case now:
		c.nc.Close() // nothing more to say: no half-close (close.go)
		c.writerFinished()
	case start:
		c.startWriter()
	}
}

// writeLoop starts writing what is queued, unless a writer goroutine is
// already running. The writer of a connection is started on demand by
// enqueue and closeQueue; tests that attach a connection by hand use this.
func (c *conn) writeLoop() {
	c.outMu.Lock()
	start := c.claimWriter()
	c.outMu.Unlock()
	if start {
		c.drain()
	}
}

// drain is the connection's writer goroutine while there is something to
// write: it encodes everything queued into one buffer, writes it with one
// call, and repeats until the queue is empty; then it ends, so that an
// idle connection has no writer goroutine (nor its stack and buffer).
// Once the queue is closed and drained, or after a closing packet or a
// failed write, it closes the connection and calls writerFinished instead.
func (c *conn) drain() {
	bp := c.srv.writeBufs.Get().(*[]byte)
	buf := (*bp)[:0]
	if r := c.rest; r != nil {
		// What an inline write left goes first (writenow.go).
		buf = append(buf, *r...)
		c.rest = nil
		c.putBuf(r)
	}
	defer func() {
		if p := recover(); p != nil {
			c.writerPanicked(p)
		}
		*bp = buf
		c.putBuf(bp)
	}()
	for {
		c.outMu.Lock()
		if len(c.out) == 0 && !c.outClosed && !c.wantFeed && len(buf) == 0 {
			c.writing = false // the next enqueue starts a writer
			c.idleSince = monotime()
			c.inlineRun = writeNowBurst // busy: the next inline write waits for writeNowIdle
			c.outMu.Unlock()
			return
		}
		batch := c.out
		c.out, c.spare = c.spare[:0], nil
		c.outBytes = 0
		closed := c.outClosed
		feed := c.wantFeed
		c.wantFeed = false
		c.outMu.Unlock()

		stop, ok := false, true
		for i := range batch {
			if !stop && ok {
				buf = c.encode(buf, &batch[i])
				stop = batch[i].close
			}
			batch[i] = outItem{}
			if ok && len(buf) >= maxWriteBatch {
				ok = c.write(buf)
				buf = buf[:0]
			}
		}
		if ok && len(buf) > 0 {
			ok = c.write(buf)
			buf = buf[:0]
		}
		c.flushOut()
		if !ok || stop || closed {
			// Close even if more was queued after the closing packet.
			c.outMu.Lock()
			c.writerGone = true
			c.outMu.Unlock()
			c.ending()                    // a parked reader resumes and finishes the connection
			c.halfClosed = c.endWrite(ok) // see close.go
			c.writerFinished()
			return
		}
		c.outMu.Lock()
		if c.spare == nil && cap(batch) <= 1024 {
			c.spare = batch[:0]
		}
		c.outMu.Unlock()
		if feed && c.sess != nil {
			c.sess.refill()
		}
	}
}

// putBuf returns a batch buffer to the pool, unless it grew for one huge
// packet.
func (c *conn) putBuf(bp *[]byte) {
	if cap(*bp) > 4*maxWriteBatch {
		*bp = nil
	}
	*bp = (*bp)[:0]
	c.srv.writeBufs.Put(bp)
}

func (c *conn) write(b []byte) bool {
	if _, err := c.nc.Write(b); err != nil {
		c.log.Debug("write failed", "err", err)
		return false
	}
	return true
}

// encode appends one queued packet to buf.
func (c *conn) encode(buf []byte, it *outItem) []byte {
	var (
		out []byte
		err error
	)
	v := c.version
	switch it.kind {
	case codec.PUBLISH:
		out, err = c.encodePublish(buf, it)
	case codec.PUBACK:
		a := codec.Puback{Ack: codec.Ack{PacketID: it.pid, ReasonCode: it.rc}}
		out, err = a.Append(buf, v)
	case codec.PUBREC:
		a := codec.Pubrec{Ack: codec.Ack{PacketID: it.pid, ReasonCode: it.rc}}
		out, err = a.Append(buf, v)
	case codec.PUBREL:
		a := codec.Pubrel{Ack: codec.Ack{PacketID: it.pid, ReasonCode: it.rc}}
		out, err = a.Append(buf, v)
	case codec.PUBCOMP:
		a := codec.Pubcomp{Ack: codec.Ack{PacketID: it.pid, ReasonCode: it.rc}}
		out, err = a.Append(buf, v)
	default:
		out, err = it.pkt.Append(buf, v)
	}
	if err != nil {
		c.log.Error("cannot encode packet", "type", it.kind, "err", err)
		return buf
	}
	c.countOut(it, len(out)-len(buf))
	return out
}

func (c *conn) encodePublish(buf []byte, it *outItem) ([]byte, error) {
	p := c.publishPacket(it.d, it.pid, it.dup, time.Now())
	if c.aliasMax > 0 {
		c.outAliases.apply(&p, c.aliasMax, c.maxSize)
	}
	out, err := p.Append(buf, c.version)
	if err != nil {
		c.outAliases = outAliases{} // the client never saw this alias
	}
	return out, err
}

// outAliases are the server→client Topic Aliases of one connection, used
// only by its writer goroutine. A topic gets an alias the first time it is
// sent; later PUBLISH packets carry the alias and an empty topic. When all
// aliases are taken, they are reassigned in turn. The map is per
// connection: aliases do not carry over to the next one [MQTT-5:3.3.2-7].
type outAliases struct {
	byTopic map[string]uint16
	topics  []string // topics[a-1] is the topic of alias a
	next    uint16   // the alias to reassign when all are taken
}

// apply sets the Topic Alias of p, within the client's Topic Alias
// Maximum [MQTT-5:3.1.2-26], never 0 [MQTT-5:3.3.2-8]. A new alias travels
// with its topic and makes the packet 3 bytes longer: it is not assigned
// when that would take the packet over the client's Maximum Packet Size
// (maxSize, 0 for none) [MQTT-5:3.1.2-24].
func (a *outAliases) apply(p *codec.Publish, max uint16, maxSize int) {
	if alias, ok := a.byTopic[p.Topic]; ok {
		p.Properties.TopicAlias = alias
		p.Topic = ""
		return
	}
	if maxSize > 0 {
		p.Properties.TopicAlias = max // as long as any alias
		n, err := p.Size(codec.V5)
		p.Properties.TopicAlias = 0
		if err != nil || n > maxSize {
			return
		}
	}
	if a.byTopic == nil {
		a.byTopic = make(map[string]uint16)
	}
	var alias uint16
	if len(a.topics) < int(max) {
		a.topics = append(a.topics, p.Topic)
		alias = uint16(len(a.topics))
	} else {
		a.next = a.next%max + 1
		alias = a.next
		delete(a.byTopic, a.topics[alias-1])
		a.topics[alias-1] = p.Topic
	}
	a.byTopic[p.Topic] = alias
	p.Properties.TopicAlias = alias
}

// publishPacket builds the PUBLISH for a delivery in the connection's
// version, with the remaining Message Expiry Interval [MQTT-5:3.3.2-6] and
// the Subscription Identifiers of the matching subscriptions.
func (c *conn) publishPacket(d *delivery, pid uint16, dup bool, now time.Time) codec.Publish {
	m := d.msg
	p := codec.Publish{
		Dup:      dup && d.qos > 0,
		QoS:      d.qos,
		Retain:   d.retain,
		Topic:    m.Topic,
		PacketID: pid,
		Payload:  m.Payload,
	}
	if c.version == codec.V5 {
		if m.Props != nil {
			p.Properties = *m.Props
		}
		if secs, ok := m.remaining(now); ok {
			p.Properties.MessageExpiryInterval = secs
			p.Properties.Mark(codec.PropMessageExpiryInterval)
		}
		p.Properties.SubscriptionIdentifiers = d.subIDs
	}
	return p
}

// fits reports whether a delivery is within the client's Maximum Packet
// Size [MQTT-5:3.1.2-24].
func (c *conn) fits(d *delivery) bool {
	if c.maxSize <= 0 {
		return true
	}
	p := c.publishPacket(d, 1, false, time.Now())
	n, err := p.Size(c.version)
	return err == nil && n <= c.maxSize
}

// writerPanicked ends the connection whose writer (the writer goroutine,
// or a goroutine writing inline for it) panicked with p, by the caller's
// recover: no panic escapes, and only this connection is closed; its
// reader then finishes it. The caller holds the writer claim.
func (c *conn) writerPanicked(p any) {
	c.log.Error("panic in connection writer; closing it", "panic", p, "stack", string(debug.Stack()))
	c.outMu.Lock()
	gone := c.writerGone
	c.writerGone = true
	c.outMu.Unlock()
	c.ending() // a parked reader resumes and finishes the connection
	c.nc.Close()
	if !gone {
		c.writerFinished()
	}
}
