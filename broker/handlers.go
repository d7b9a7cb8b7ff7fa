package broker

import (
	"errors"
	"syscall"
	"time"

	"github.com/ternmq/tern/codec"
)

// handlePublish routes an incoming PUBLISH and acknowledges it: QoS 1 with
// PUBACK after routing, QoS 2 with PUBREC, routing only the first copy of a
// packet identifier until its PUBREL [MQTT-4.3.3-2 of 3.1.1].
func (c *conn) handlePublish(p *codec.Publish) error {
	c.srv.stats.Received.Add(1)
	v5 := c.version == codec.V5
	// Above the Maximum QoS or retained while retain is off: a protocol
	// error in 5.0 (sections 3.3.1.2, 3.3.1.3), closed as Mosquitto does
	// in 3.1.1.
	if p.QoS > c.srv.opts.maxQoS() {
		return violation(codec.QoSNotSupported, "", "PUBLISH QoS above the broker's Maximum QoS")
	}
	if p.Retain && c.srv.opts.DisableRetain {
		return violation(codec.RetainNotSupported, "", "retained PUBLISH, and retained messages are off")
	}
	if v5 {
		if len(p.Properties.SubscriptionIdentifiers) > 0 {
			return violation(codec.ProtocolError, "MQTT-5:3.3.4-6", "Subscription Identifier in a PUBLISH from a client")
		}
		if err := c.resolveAlias(p); err != nil {
			return err
		}
	}
	if n := topicLevels(p.Topic); n > c.srv.opts.MaxTopicLevels {
		c.srv.limitRefused(c, "topic levels", "levels", n, "max", c.srv.opts.MaxTopicLevels)
		return violation(codec.TopicNameInvalid, "", "topic has more levels than the broker's maximum")
	}
	rc := codec.Success
	switch {
	case !c.srv.allowed(c.who, Write, p.Topic):
		rc = codec.NotAuthorized // $SYS belongs to the broker, the rest to the Authorizer
	case v5 && p.Properties.PayloadFormatIndicator == 1 && !codec.ValidUTF8(p.Payload):
		rc = codec.PayloadFormatInvalid
	}
	if rc != codec.Success && p.QoS == 0 {
		if v5 && rc == codec.PayloadFormatInvalid {
			return violation(rc, "", "payload is not UTF-8 although its Payload Format Indicator says so")
		}
		c.log.Debug("publish refused", "topic", p.Topic, "reason", rc)
		return nil
	}
	ackRC := rc
	if !v5 {
		ackRC = codec.Success // 3.1.1 acknowledges and drops (rc still decides routing)
	}
	switch p.QoS {
	case 0:
		if _, _, err := c.route(p); err != nil {
			return err
		}
	case 1:
		stored := false
		var w *clusterWait
		if rc == codec.Success {
			var err error
			if stored, w, err = c.route(p); err != nil {
				if !v5 {
					return err
				}
				ackRC = codec.QuotaExceeded
			}
		}
		c.flushIn()                                              // counted before its acknowledgement can go out (inline)
		c.ackPublish(codec.PUBACK, p.PacketID, ackRC, stored, w) // [MQTT-4.3.2-2 of 3.1.1]
	case 2:
		seen, full := false, false
		if rc == codec.Success {
			// Receive Maximum is a 5.0 limit; a 3.1.1 client has none to exceed.
			limit := 0
			if v5 {
				limit = int(c.srv.opts.ReceiveMaximum)
			}
			seen, full = c.sess.receive(p.PacketID, limit)
		}
		if full {
			return violation(codec.ReceiveMaximumExceeded, "", "more unacknowledged QoS 2 PUBLISH packets than Receive Maximum")
		}
		// A durable publisher's packet id is in the store too, also when
		// this PUBLISH is a re-sent copy whose first write may be pending.
		stored := rc == codec.Success && c.sess.isDurable()
		var w *clusterWait
		if !seen && rc == codec.Success {
			var routed bool
			var err error
			routed, w, err = c.route(p)
			if err != nil {
				c.sess.release(p.PacketID) // refused: not held for a PUBREL
				if !v5 {
					return err
				}
				ackRC, stored = codec.QuotaExceeded, false
			}
			stored = routed || stored
		}
		c.flushIn()
		c.ackPublish(codec.PUBREC, p.PacketID, ackRC, stored, w) // [MQTT-4.3.3-2 of 3.1.1]
	}
	return nil
}

// route routes a PUBLISH from the client; it reports whether it wrote to
// the store, what the acknowledgement waits for in the cluster (nil:
// nothing), and an error that closes the connection (5.0: DISCONNECT
// 0x97) when a cap on retained messages refused it.
func (c *conn) route(p *codec.Publish) (bool, *clusterWait, error) {
	stored, refused, w := c.srv.routeClient(newMessage(p, c.clientID, time.Now()))
	if refused {
		c.srv.limitRefused(c, "retained messages", "topic", p.Topic, "bytes", len(p.Payload))
		return false, nil, violation(codec.QuotaExceeded, "", "retained message quota exceeded")
	}
	return stored, w, nil
}

// resolveAlias applies a client→server Topic Alias (5.0 section 3.3.2.3.4).
func (c *conn) resolveAlias(p *codec.Publish) error {
	alias := p.Properties.TopicAlias
	if alias == 0 {
		return nil
	}
	if alias > c.srv.opts.TopicAliasMaximum {
		return violation(codec.TopicAliasInvalid, "MQTT-5:3.3.2-12", "Topic Alias above the maximum")
	}
	if p.Topic != "" {
		if c.aliases == nil {
			c.aliases = make(map[uint16]string)
		}
		c.aliases[alias] = p.Topic
	} else if t, ok := c.aliases[alias]; ok {
		p.Topic = t
	} else {
		return violation(codec.ProtocolError, "", "unknown Topic Alias")
	}
	p.Properties.TopicAlias = 0
	p.Properties.Unmark(codec.PropTopicAlias)
	return nil
}

// handleSubscribe adds or replaces each subscription, answers with SUBACK
// and then sends retained messages as each subscription's Retain Handling
// asks.
func (c *conn) handleSubscribe(p *codec.Subscribe) {
	v5 := c.version == codec.V5
	ack := &codec.Suback{PacketID: p.PacketID, ReasonCodes: make([]codec.ReasonCode, 0, len(p.Subscriptions))}
	type retained struct {
		msgs []*Message
		opts subOpts
	}
	var toSend []retained
	var fromCluster []clusterRetained
	subID := 0
	if len(p.Properties.SubscriptionIdentifiers) > 0 {
		subID = p.Properties.SubscriptionIdentifiers[0]
	}
	for _, sub := range p.Subscriptions {
		// Granted at most the Maximum QoS, never refused for asking more [MQTT-5:3.2.2-10].
		sub.QoS = min(sub.QoS, c.srv.opts.maxQoS())
		o := subOpts{qos: sub.QoS}
		if v5 {
			o = subOpts{qos: sub.QoS, noLocal: sub.NoLocal, retainAsPublished: sub.RetainAsPublished,
				retainHandling: sub.RetainHandling, id: subID}
		}
		rc, isNew := c.subscribe(o, sub.Filter)
		ack.ReasonCodes = append(ack.ReasonCodes, rc)
		switch {
		case rc.IsError():
		case o.retainHandling == 2: // [MQTT-5:3.3.1-11]
		case o.retainHandling == 1 && !isNew: // [MQTT-5:3.3.1-10]
		case codec.IsShared(sub.Filter): // no retained messages for shared subscriptions
		default:
			// The retained messages are those held before the SUBACK goes
			// out: one that a client publishes after reading the SUBACK
			// reaches the new subscription live, and must not come a
			// second time as a retained message [MQTT-3.3.1-6 of 3.1.1]
			// (the SUBACK may be written inline, before this goroutine
			// goes on).
			if c.srv.retainedByCluster() && !isSysTopic(sub.Filter) { // $SYS stays on its node
				fromCluster = append(fromCluster, clusterRetained{sub.Filter, o}) // read after the SUBACK, held before it
				continue
			}
			toSend = append(toSend, retained{c.srv.matchRetained(sub.Filter), o})
		}
	}
	before := time.Now()
	c.enqueuePacket(ack) // [MQTT-3.8.4-1]
	for _, r := range toSend {
		c.sess.addRetained(r.msgs, r.opts)
	}
	for _, r := range fromCluster {
		c.srv.sendRetainedFromCluster(c.sess, r.filter, r.opts, before)
	}
}

// subscribe adds or replaces one subscription. It returns the SUBACK
// reason code and whether the subscription is new.
func (c *conn) subscribe(o subOpts, filter string) (codec.ReasonCode, bool) {
	v5 := c.version == codec.V5
	fail := codec.SubackFailure
	if err := codec.ValidTopicFilter(filter); err != nil {
		if v5 {
			fail = codec.TopicFilterInvalid
		}
		c.log.Info("subscription refused", "filter", filter, "err", err)
		return fail, false
	}
	plain := filter
	if codec.IsShared(filter) {
		_, plain, _ = codec.ParseShared(filter)
	}
	if n := topicLevels(plain); n > c.srv.opts.MaxTopicLevels {
		c.srv.limitRefused(c, "topic filter levels", "levels", n, "max", c.srv.opts.MaxTopicLevels)
		if v5 {
			fail = codec.TopicFilterInvalid
		}
		return fail, false
	}
	if !c.sess.hasRoomFor(filter) {
		c.srv.limitRefused(c, "subscriptions per client", "filter", filter, "max", c.srv.opts.MaxSubscriptionsPerClient)
		if v5 {
			fail = codec.QuotaExceeded
		}
		return fail, false
	}
	if !c.srv.allowed(c.who, Subscribe, plain) {
		if v5 {
			fail = codec.NotAuthorized
		}
		return fail, false
	}
	return codec.ReasonCode(o.qos), c.sess.subscribe(filter, o) // granted QoS [MQTT-3:3.8.4-5]
}

// handleUnsubscribe removes each filter and answers with UNSUBACK; delivery
// already started completes [MQTT-3.10.4-3].
func (c *conn) handleUnsubscribe(p *codec.Unsubscribe) {
	ack := &codec.Unsuback{PacketID: p.PacketID}
	for _, f := range p.Filters {
		rc := codec.Success
		if !c.sess.unsubscribe(f) {
			rc = codec.NoSubscriptionExisted
		}
		if c.version == codec.V5 {
			ack.ReasonCodes = append(ack.ReasonCodes, rc)
		}
	}
	c.enqueuePacket(ack) // [MQTT-3.10.4-4], even when nothing was removed [MQTT-3.10.4-5]
}

// ackWhenStored queues an acknowledgement of the client's packet: at once
// when nothing it answers for was written to the store, else once the
// store has it durably (stored). Either way it never overtakes an earlier
// acknowledgement still waiting, so acknowledgements keep the order of the
// packets [MQTT-4.6.0-2] [MQTT-4.6.0-3].
func (c *conn) ackWhenStored(t codec.PacketType, pid uint16, rc codec.ReasonCode, stored bool) {
	cm := c.srv.commit
	if cm == nil || (!stored && c.waiting.Load() == 0) {
		c.enqueueAck(t, pid, rc)
		return
	}
	c.waiting.Add(1)
	cm.wait(stored, func(err error) {
		defer c.waiting.Add(-1)
		if err != nil {
			c.storeFailed(t, pid, err)
			return
		}
		c.enqueueAck(t, pid, rc)
	})
}

// storeFailed answers a packet whose store write failed: nothing is
// acknowledged that was not committed. A 5.0 client gets a PUBACK or
// PUBREC with an error reason code (0x97 Quota exceeded when the disk is
// full, else 0x80) and may publish again; a 3.1.1 client, whose
// acknowledgements carry no reason, is disconnected and re-sends on its
// next connection. An inbound QoS 2 packet id is forgotten, so that the
// re-sent PUBLISH is routed (and stored) again.
func (c *conn) storeFailed(t codec.PacketType, pid uint16, err error) {
	c.srv.stats.StoreFailedAcks.Add(1)
	if t == codec.PUBREC {
		c.sess.release(pid)
	}
	if c.version == codec.V5 && (t == codec.PUBACK || t == codec.PUBREC) {
		rc := codec.UnspecifiedError
		if errors.Is(err, syscall.ENOSPC) {
			rc = codec.QuotaExceeded
		}
		c.log.Warn("not acknowledged: store write failed", "packet", t, "id", pid, "reason", rc, "err", err)
		c.enqueueAck(t, pid, rc)
		return
	}
	c.log.Warn("store write failed; closing the connection", "packet", t, "id", pid, "err", err)
	c.kick(codec.UnspecifiedError, "store write failed")
}
