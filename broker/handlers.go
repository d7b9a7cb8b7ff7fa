package broker

import (
	"time"

	"github.com/ternmq/tern/codec"
)

// handlePublish routes an incoming PUBLISH and acknowledges it: QoS 1 with
// PUBACK after routing, QoS 2 with PUBREC, routing only the first copy of a
// packet identifier until its PUBREL [MQTT-4.3.3-2 of 3.1.1].
func (c *conn) handlePublish(p *codec.Publish) error {
	c.srv.stats.Received.Add(1)
	v5 := c.version == codec.V5
	if v5 {
		if len(p.Properties.SubscriptionIdentifiers) > 0 {
			return violation(codec.ProtocolError, "MQTT-5:3.3.4-6", "Subscription Identifier in a PUBLISH from a client")
		}
		if err := c.resolveAlias(p); err != nil {
			return err
		}
	}
	rc := codec.Success
	switch {
	case isSysTopic(p.Topic):
		rc = codec.NotAuthorized // $SYS belongs to the broker
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
		c.srv.publish(newMessage(p, c.clientID, time.Now()))
	case 1:
		if rc == codec.Success {
			c.srv.publish(newMessage(p, c.clientID, time.Now()))
		}
		c.enqueueAck(codec.PUBACK, p.PacketID, ackRC) // [MQTT-4.3.2-2 of 3.1.1]
	case 2:
		ss := c.sess
		ss.mu.Lock()
		seen := ss.inbound[p.PacketID]
		// Receive Maximum is a 5.0 limit; a 3.1.1 client has none to exceed.
		full := v5 && !seen && len(ss.inbound) >= int(c.srv.opts.ReceiveMaximum)
		if !seen && !full && rc == codec.Success {
			ss.inbound[p.PacketID] = true
		}
		ss.mu.Unlock()
		if full && v5 {
			return violation(codec.ReceiveMaximumExceeded, "", "more unacknowledged QoS 2 PUBLISH packets than Receive Maximum")
		}
		if !seen && rc == codec.Success {
			c.srv.publish(newMessage(p, c.clientID, time.Now()))
		}
		c.enqueueAck(codec.PUBREC, p.PacketID, ackRC) // [MQTT-4.3.3-2 of 3.1.1]
	}
	return nil
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
		filter string
		opts   subOpts
	}
	var toSend []retained
	subID := 0
	if len(p.Properties.SubscriptionIdentifiers) > 0 {
		subID = p.Properties.SubscriptionIdentifiers[0]
	}
	for _, sub := range p.Subscriptions {
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
			toSend = append(toSend, retained{sub.Filter, o})
		}
	}
	c.enqueuePacket(ack) // [MQTT-3.8.4-1]
	for _, r := range toSend {
		c.srv.sendRetained(c.sess, r.filter, r.opts)
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
	ss := c.sess
	if codec.IsShared(filter) {
		ss.mu.Lock()
		ss.subs[filter] = o
		ss.mu.Unlock()
		return codec.ReasonCode(o.qos), c.srv.subscribeShared(ss, filter, o)
	}
	ss.mu.Lock()
	_, existed := ss.subs[filter]
	ss.subs[filter] = o
	ss.mu.Unlock()
	// An identical filter replaces the subscription [MQTT-3.8.4-3].
	c.srv.subs.Add(filter, ss, o)
	return codec.ReasonCode(o.qos), !existed // granted QoS [MQTT-3:3.8.4-5]
}

// handleUnsubscribe removes each filter and answers with UNSUBACK; delivery
// already started completes [MQTT-3.10.4-3].
func (c *conn) handleUnsubscribe(p *codec.Unsubscribe) {
	ack := &codec.Unsuback{PacketID: p.PacketID}
	ss := c.sess
	for _, f := range p.Filters {
		ss.mu.Lock()
		_, ok := ss.subs[f]
		delete(ss.subs, f)
		ss.mu.Unlock()
		rc := codec.Success
		switch {
		case ok && codec.IsShared(f):
			c.srv.unsubscribeShared(ss, f)
		case ok:
			c.srv.subs.Remove(f, ss)
		default:
			rc = codec.NoSubscriptionExisted
		}
		if c.version == codec.V5 {
			ack.ReasonCodes = append(ack.ReasonCodes, rc)
		}
	}
	c.enqueuePacket(ack) // [MQTT-3.10.4-4], even when nothing was removed [MQTT-3.10.4-5]
}
