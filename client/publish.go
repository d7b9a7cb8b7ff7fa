package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/ternmq/tern/codec"
)

// Message is an application message, published with Publish or received
// by a Handler.
type Message struct {
	Topic   string
	Payload []byte
	QoS     codec.QoS
	Retain  bool
	// Dup is set on a received message that the server sent again after a
	// reconnect. The client does not hand a QoS 2 message to its handlers
	// twice, so Dup is informational.
	Dup bool
	// Properties are the 5.0 PUBLISH properties (Payload Format
	// Indicator, Message Expiry Interval, Content Type, Response Topic,
	// Correlation Data, User Properties, and on received messages the
	// Subscription Identifiers, which the client assigns itself: see
	// Subscribe). Ignored for 3.1.1. The client manages
	// Topic Aliases itself: a Topic Alias given here is ignored, and one
	// received is resolved into Topic and removed.
	Properties codec.Properties

	// in is the flow of a received QoS 1 or 2 message, for Defer; c is
	// the client that received it.
	in *inMsg
	c  *Client
}

// Defer, called by a Handler, holds back the acknowledgement of m, a
// received QoS 1 or 2 message, after the handler returns: m is
// acknowledged once every handler it was given to has returned and the
// release function has been called (acknowledgements still go out in the
// order the messages arrived, so a held message holds back the ones after
// it, and the Receive Maximum bounds how many are held). Call release
// exactly once; later calls do nothing. It lets a handler hand its work
// on and take the next message, and have m acknowledged only when that
// work is done: a bridge acknowledges a message to one server only once
// the other server has acknowledged it. For a QoS 0 message, or one
// published rather than received, Defer does nothing.
func (m *Message) Defer() (release func()) {
	e, c := m.in, m.c
	if e == nil || c == nil {
		return func() {}
	}
	e.pending.Add(1) // a handler is running: pending is at least 1
	return sync.OnceFunc(func() { c.handled(e) })
}

// Handler handles a received message. Handlers run on goroutines of the
// client, never on its read loop: each subscription (each Topic Filter)
// has its own queue, so one subscription's messages are handled one at a
// time in the order they arrived, and a slow handler delays the other
// subscriptions' handlers only through flow control. A QoS 1 or 2 message
// is acknowledged when every handler it was given to has returned, and
// acknowledgements go out in the order the messages arrived, as MQTT
// requires; so handlers that fall behind slow the server down rather than
// fill memory: once the Receive Maximum of Options.ConnectProperties is
// used up, the server sends no more QoS 1 or 2 messages to the client
// until the oldest one is handled. QoS 0 messages beyond 4096 waiting for
// one handler are dropped and logged. The Message is shared by the
// handlers of overlapping subscriptions and must not be modified.
type Handler func(*Message)

// maxQueuedQoS0 bounds the QoS 0 messages waiting for one handler.
const maxQueuedQoS0 = 4096

// Publish sends m and returns when its QoS flow completes: for QoS 0 when
// the message is queued for writing, for QoS 1 when the PUBACK arrives, for
// QoS 2 when the PUBCOMP arrives. A 5.0 server's refusal (PUBACK or PUBREC
// with a reason code of 0x80 or above) is returned as a *ReasonError, as
// is a message the server announced it does not accept (above its Maximum
// QoS or Maximum Packet Size, or retained when it has no retained
// messages).
//
// QoS 1 and 2 messages wait while the server's Receive Maximum of
// messages are unacknowledged ([MQTT-5:3.3.4-7]), and while the client
// reconnects; after a reconnect they are sent again as the session
// requires. If ctx ends first Publish returns ctx's error: a message not
// yet sent is dropped, a message already sent stays in the session until
// its flow completes (a packet identifier cannot be taken back). A QoS 0
// message is never queued: while reconnecting Publish returns
// ErrNotConnected.
//
// Publish keeps a reference to m, which must not be modified until
// Publish returns.
func (c *Client) Publish(ctx context.Context, m *Message) error {
	o, err := c.enqueue(ctx, m)
	if o == nil {
		return err
	}
	return c.wait(ctx, o)
}

// PublishAsync queues m as Publish does, but returns once m is queued
// (QoS 1 and 2) or written (QoS 0), without waiting for its flow:
// wait, called later, returns when the flow completes with what Publish
// would have returned, and follows the same rules when its own context
// ends first. QoS 1 and 2 messages go out in the order of the Publish and
// PublishAsync calls that queued them, so a caller that needs order and
// throughput (a bridge, say) queues in order and waits elsewhere. ctx
// bounds the wait for room in the write queue; err reports what Publish
// would have reported before queueing (an invalid message, a closed
// client, a QoS 0 message while reconnecting). PublishAsync keeps a
// reference to m, which must not be modified until wait has returned
// (or, if wait is never called, until the client is closed).
func (c *Client) PublishAsync(ctx context.Context, m *Message) (wait func(context.Context) error, err error) {
	o, err := c.enqueue(ctx, m)
	if err != nil {
		return nil, err
	}
	if o == nil {
		return func(context.Context) error { return nil }, nil
	}
	return func(ctx context.Context) error { return c.wait(ctx, o) }, nil
}

// enqueue checks m and queues it: a QoS 1 or 2 message as an op to wait
// for, a QoS 0 message written at once (nil op).
func (c *Client) enqueue(ctx context.Context, m *Message) (*op, error) {
	if err := c.checkMessage(m); err != nil {
		return nil, err
	}
	if c.closed.Load() {
		return nil, ErrClosed
	}
	if cn := c.cur.Load(); cn != nil {
		if err := cn.waitRoom(ctx); err != nil {
			return nil, err
		}
	}
	if m.QoS == 0 {
		return nil, c.publish0(m)
	}
	o := &op{kind: codec.PUBLISH, msg: m, done: make(chan struct{})}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return nil, ErrClosed
	}
	c.out.pubs = append(c.out.pubs, o)
	c.out.pump(c.cur.Load())
	return o, nil
}

// wait waits for the flow of o to complete, or for ctx: then a message
// not yet sent is dropped, and one sent stays in the session.
func (c *Client) wait(ctx context.Context, o *op) error {
	select {
	case <-o.done:
		return o.err
	case <-ctx.Done():
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-o.done:
		return o.err
	default:
	}
	if o.sent {
		o.msg = cloneMessage(o.msg) // the session keeps it after we return
	} else {
		c.out.removePub(o)
	}
	return ctx.Err()
}

func (c *Client) publish0(m *Message) error {
	cn := c.cur.Load()
	if cn == nil {
		return ErrNotConnected
	}
	p := publishPacket(m, cn.v, 0, false)
	if err := cn.check(m, &p); err != nil {
		return err
	}
	if err := cn.writePublish(&p); err != nil {
		if errors.Is(err, errConnClosed) {
			return ErrNotConnected
		}
		return err
	}
	return nil
}

// checkMessage validates what does not depend on the server.
func (c *Client) checkMessage(m *Message) error {
	if m == nil {
		return errors.New("mqtt: publish: nil message")
	}
	if m.QoS > codec.ExactlyOnce {
		return fmt.Errorf("mqtt: publish: invalid QoS %d", m.QoS)
	}
	if err := codec.ValidTopicName(m.Topic); err != nil {
		return fmt.Errorf("mqtt: publish: %w", err)
	}
	p := publishPacket(m, c.opts.Version, 1, false)
	if _, err := p.Size(c.opts.Version); err != nil {
		return fmt.Errorf("mqtt: publish: %w", err)
	}
	return nil
}

// publishPacket builds the PUBLISH for m. A client does not send Topic
// Aliases of its own choosing nor Subscription Identifiers [MQTT-5:3.3.4-6].
func publishPacket(m *Message, v codec.Version, id uint16, dup bool) codec.Publish {
	p := codec.Publish{Dup: dup, QoS: m.QoS, Retain: m.Retain, Topic: m.Topic, PacketID: id, Payload: m.Payload}
	if v == codec.V5 {
		p.Properties = m.Properties
		p.Properties.TopicAlias = 0
		p.Properties.Unmark(codec.PropTopicAlias)
		p.Properties.SubscriptionIdentifiers = nil
		p.Properties.Unmark(codec.PropSubscriptionIdentifier)
	}
	return p
}

// op is an operation that waits for the server's acknowledgement: a QoS 1
// or 2 PUBLISH, a SUBSCRIBE or an UNSUBSCRIBE.
type op struct {
	kind codec.PacketType
	id   uint16 // 0 until first sent

	// PUBLISH
	msg      *Message
	sent     bool // sent at least once: a resend carries DUP [MQTT-3.3.1-1]
	released bool // QoS 2: PUBREC received, PUBREL sent

	// SUBSCRIBE and UNSUBSCRIBE
	subs     []codec.Subscription
	subID    int // Subscription Identifier of the SUBSCRIBE, 0 for none
	filters  []string
	internal bool // a re-subscription by the client itself: nobody waits
	codes    []codec.ReasonCode
	reason   string // Reason String of the acknowledgement

	done chan struct{}
	err  error
}

func (o *op) finish(err error) {
	o.err = err
	if o.done != nil {
		close(o.done)
	}
}

// outbound is the client's half of the session: the QoS 1 and 2
// publishes not yet completed, in the order they were published, and the
// SUBSCRIBE and UNSUBSCRIBE packets awaiting their acknowledgement. It is
// guarded by Client.mu.
//
// On each connection publishes go on the wire in order and at most
// quota at a time, so the ones on the wire are always a prefix of pubs:
// pubs[:onWire] are sent and unacknowledged on the current connection,
// pubs[onWire:] wait for the quota or for a connection.
type outbound struct {
	ids    map[uint16]*op
	nextID uint16
	pubs   []*op
	onWire int
	quota  int // the server's Receive Maximum [MQTT-5:4.9.0-1]
	ctrl   []*op
}

func (o *outbound) init() {
	o.ids = make(map[uint16]*op)
	o.quota = defaultReceiveMaximum
}

func (o *outbound) setQuota(q int) { o.quota = q }

// newID returns an unused packet identifier [MQTT-4.3.2-1] [MQTT-4.3.3-1].
func (o *outbound) newID(x *op) (uint16, bool) {
	if len(o.ids) >= 65535 {
		return 0, false
	}
	for {
		o.nextID++
		if o.nextID == 0 {
			o.nextID = 1
		}
		if o.ids[o.nextID] == nil {
			o.ids[o.nextID] = x
			return o.nextID, true
		}
	}
}

// pump sends waiting publishes, in order, while the send quota allows
// ([MQTT-5:3.3.4-7], [MQTT-5:4.9.0-2]). A publish sent before is sent
// again with DUP set and its original packet identifier, or as a PUBREL if
// the server has received it ([MQTT-4.4.0-1], [MQTT-4.6.0-1]).
func (o *outbound) pump(cn *conn) {
	if cn == nil {
		return
	}
	for o.onWire < len(o.pubs) && o.onWire < o.quota {
		x := o.pubs[o.onWire]
		if x.id == 0 {
			id, ok := o.newID(x)
			if !ok {
				return // wait for an identifier to be released
			}
			x.id = id
		}
		if x.released {
			cn.writeAck(codec.PUBREL, x.id, codec.Success)
		} else {
			p := publishPacket(x.msg, cn.v, x.id, x.sent)
			if err := cn.check(x.msg, &p); err != nil {
				o.removePub(x)
				x.finish(err)
				continue
			}
			if err := cn.writePublish(&p); err != nil {
				return // the connection is closing; resent on the next
			}
		}
		x.sent = true
		o.onWire++
	}
}

// removePub forgets a publish.
func (o *outbound) removePub(x *op) {
	i := slices.Index(o.pubs, x)
	if i < 0 {
		return
	}
	o.pubs = slices.Delete(o.pubs, i, i+1)
	if i < o.onWire {
		o.onWire--
	}
	if x.id != 0 && o.ids[x.id] == x {
		delete(o.ids, x.id)
	}
}

// complete ends a publish with err and sends the next ones.
func (o *outbound) complete(x *op, err error, cn *conn) {
	o.removePub(x)
	x.finish(err)
	o.pump(cn)
}

// pub returns the publish with packet identifier id.
func (o *outbound) pub(id uint16) *op {
	if x := o.ids[id]; x != nil && x.kind == codec.PUBLISH {
		return x
	}
	return nil
}

// sendCtrl sends a SUBSCRIBE or UNSUBSCRIBE and keeps it until its
// acknowledgement, resending it after a reconnect.
func (o *outbound) sendCtrl(x *op, cn *conn) error {
	id, ok := o.newID(x)
	if !ok {
		return ErrNoPacketID
	}
	x.id = id
	o.ctrl = append(o.ctrl, x)
	if cn != nil {
		if err := cn.writePacket(x.packet()); err != nil && !errors.Is(err, errConnClosed) {
			o.removeCtrl(x)
			return err
		}
	}
	return nil
}

func (x *op) packet() codec.Packet {
	if x.kind == codec.SUBSCRIBE {
		p := &codec.Subscribe{PacketID: x.id, Subscriptions: x.subs}
		if x.subID > 0 {
			p.Properties.SubscriptionIdentifiers = []int{x.subID}
		}
		return p
	}
	return &codec.Unsubscribe{PacketID: x.id, Filters: x.filters}
}

func (o *outbound) removeCtrl(x *op) {
	if i := slices.Index(o.ctrl, x); i >= 0 {
		o.ctrl = slices.Delete(o.ctrl, i, i+1)
	}
	if o.ids[x.id] == x {
		delete(o.ids, x.id)
	}
}

// ctrlOp returns the SUBSCRIBE or UNSUBSCRIBE with packet identifier id.
func (o *outbound) ctrlOp(id uint16, kind codec.PacketType) *op {
	if x := o.ids[id]; x != nil && x.kind == kind {
		return x
	}
	return nil
}

// detach is called when the connection is lost: nothing is on the wire.
func (o *outbound) detach() { o.onWire = 0 }

// resendCtrl sends the SUBSCRIBE and UNSUBSCRIBE packets still
// unacknowledged on a new connection.
func (o *outbound) resendCtrl(cn *conn) {
	for _, x := range o.ctrl {
		cn.writePacket(x.packet())
	}
}

// resetSession discards the session state after the server reported no
// session [MQTT-3.2.2-5]: a QoS 2 publish the server has received
// (PUBREC) is complete; the others become new messages, sent again
// without DUP.
func (o *outbound) resetSession() {
	for _, x := range slices.Clone(o.pubs) {
		if x.released {
			o.removePub(x)
			x.finish(nil)
			continue
		}
		x.sent = false
	}
}

// failAll ends every pending operation with err.
func (o *outbound) failAll(err error) {
	for _, x := range o.pubs {
		x.finish(err)
	}
	for _, x := range o.ctrl {
		x.finish(err)
	}
	o.pubs, o.ctrl, o.onWire = nil, nil, 0
	clear(o.ids)
}

// handleAck processes PUBACK, PUBREC and PUBCOMP for our publishes
// ([MQTT-4.3.2-3], [MQTT-4.3.3-3..5]). A reason code of 0x80 or above
// ends the flow with a *ReasonError and the message is not sent again
// [MQTT-5:4.4.0-2].
func (c *Client) handleAck(cn *conn, t codec.PacketType, a *codec.Ack) {
	c.mu.Lock()
	defer c.mu.Unlock()
	x := c.out.pub(a.PacketID)
	if x == nil {
		if t == codec.PUBREC {
			// Not ours (any more): let the server finish its flow.
			cn.writeAck(codec.PUBREL, a.PacketID, codec.PacketIdentifierNotFound)
		}
		c.log.Debug("acknowledgement for an unknown packet identifier", "type", t, "id", a.PacketID)
		return
	}
	var err error
	switch {
	case t == codec.PUBCOMP && a.ReasonCode == codec.PacketIdentifierNotFound:
		// The server completed this flow before (its PUBCOMP was lost with
		// the connection, and the PUBREL sent again finds nothing): the
		// PUBREC already told that it owns the message.
		c.log.Debug("PUBCOMP: Packet Identifier not found; the flow was complete", "id", a.PacketID)
	case a.ReasonCode.IsError():
		err = &ReasonError{Op: "publish", Code: a.ReasonCode, Reason: a.Properties.ReasonString}
	}
	switch {
	case t == codec.PUBACK && x.msg.QoS == 1,
		t == codec.PUBREC && x.msg.QoS == 2 && err != nil,
		t == codec.PUBCOMP && x.msg.QoS == 2 && x.released:
		c.out.complete(x, err, cn)
	case t == codec.PUBREC && x.msg.QoS == 2:
		// PUBREL, in the order of the PUBRECs [MQTT-4.6.0-4]; the PUBLISH
		// is never sent again [MQTT-5:4.3.3-6].
		x.released = true
		cn.writeAck(codec.PUBREL, x.id, codec.Success)
	default:
		c.log.Debug("unexpected acknowledgement", "type", t, "id", a.PacketID, "qos", x.msg.QoS)
	}
}

// cloneMessage returns a copy of m that shares no memory with it.
func cloneMessage(m *Message) *Message {
	cp := *m
	cp.Payload = bytes.Clone(m.Payload)
	cp.Properties = cloneProperties(&m.Properties)
	return &cp
}

// cloneProperties returns a copy of p that shares no memory with it.
func cloneProperties(p *codec.Properties) codec.Properties {
	cp := *p
	cp.CorrelationData = bytes.Clone(p.CorrelationData)
	cp.AuthenticationData = bytes.Clone(p.AuthenticationData)
	cp.SubscriptionIdentifiers = slices.Clone(p.SubscriptionIdentifiers)
	cp.UserProperties = slices.Clone(p.UserProperties)
	return cp
}
