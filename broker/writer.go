package broker

import (
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
	d     delivery // PUBLISH
	dup   bool
	pkt   codec.Packet // anything else
	close bool         // close the connection after writing this
}

const (
	maxWriteBatch = 64 << 10 // flush when the batch buffer reaches this
	closeGrace    = 2 * time.Second
)

// enqueue adds an item to the write queue. A droppable item is refused
// when the queue holds more than the outbound budget.
func (c *conn) enqueue(it outItem, droppable bool, size int) bool {
	c.outMu.Lock()
	if c.outClosed || (droppable && c.outBytes+size > c.srv.opts.OutboundBuffer) {
		c.outMu.Unlock()
		return false
	}
	c.out = append(c.out, it)
	c.outBytes += size
	c.outMu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return true
}

func (c *conn) enqueuePacket(p codec.Packet) bool {
	return c.enqueue(outItem{kind: p.Type(), pkt: p}, false, 16)
}

func (c *conn) enqueueAck(t codec.PacketType, pid uint16, rc codec.ReasonCode) {
	c.enqueue(outItem{kind: t, pid: pid, rc: rc}, false, 4)
}

func (c *conn) enqueuePublish(d delivery, droppable bool) bool {
	return c.enqueue(outItem{kind: codec.PUBLISH, d: d}, droppable, len(d.msg.Payload)+len(d.msg.Topic)+8)
}

func (c *conn) enqueueRedelivery(d delivery) {
	c.enqueue(outItem{kind: codec.PUBLISH, d: d, dup: true}, false, len(d.msg.Payload)+len(d.msg.Topic)+8)
}

// closeQueue stops accepting packets; the writer drains what is queued and
// then closes the network connection.
func (c *conn) closeQueue() {
	c.outMu.Lock()
	c.outClosed = true
	c.outMu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// writeLoop drains the queue: it encodes everything queued into one buffer
// and writes it with one call, then waits for more. It ends after the queue
// is closed and drained, or when a write fails, and closes the connection.
func (c *conn) writeLoop() {
	defer close(c.writerDone)
	defer c.nc.Close()
	var (
		batch []outItem
		buf   []byte
	)
	for {
		<-c.wake
		c.outMu.Lock()
		batch, c.out = c.out, batch[:0]
		c.outBytes = 0
		closed := c.outClosed
		c.outMu.Unlock()

		stop := false
		for i := range batch {
			buf = c.encode(buf, &batch[i])
			stop = stop || batch[i].close
			batch[i] = outItem{}
			if len(buf) >= maxWriteBatch {
				if !c.write(buf) {
					return
				}
				buf = buf[:0]
			}
		}
		if len(buf) > 0 {
			if !c.write(buf) {
				return
			}
			if cap(buf) > 4*maxWriteBatch {
				buf = nil // do not keep a large buffer while idle
			} else {
				buf = buf[:0]
			}
		}
		if stop || closed {
			// Close even if more was queued after the closing packet.
			return
		}
		if cap(batch) > 1024 {
			batch = nil
		}
	}
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
	return out
}

func (c *conn) encodePublish(buf []byte, it *outItem) ([]byte, error) {
	p := c.publishPacket(&it.d, it.dup, time.Now())
	if c.aliasMax > 0 {
		c.outAliases.apply(&p, c.aliasMax)
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
// Maximum [MQTT-5:3.1.2-26], never 0 [MQTT-5:3.3.2-8].
func (a *outAliases) apply(p *codec.Publish, max uint16) {
	if alias, ok := a.byTopic[p.Topic]; ok {
		p.Properties.TopicAlias = alias
		p.Topic = ""
		return
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
func (c *conn) publishPacket(d *delivery, dup bool, now time.Time) codec.Publish {
	m := d.msg
	p := codec.Publish{
		Dup:      dup && d.qos > 0,
		QoS:      d.qos,
		Retain:   d.retain,
		Topic:    m.Topic,
		PacketID: d.pid,
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
func (c *conn) fits(d delivery) bool {
	if c.maxSize <= 0 {
		return true
	}
	d.pid = 1
	p := c.publishPacket(&d, false, time.Now())
	n, err := p.Size(c.version)
	return err == nil && n <= c.maxSize
}
