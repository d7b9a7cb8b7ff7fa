package broker

import (
	"time"

	"github.com/ternmq/tern/codec"
)

// Message is an Application Message as the broker holds it: immutable once
// routed, and shared by every session it is delivered to.
type Message struct {
	Topic   string
	Payload []byte
	QoS     codec.QoS
	Retain  bool
	// Props holds the properties forwarded unchanged to subscribers
	// (Payload Format Indicator, Content Type, Response Topic, Correlation
	// Data, User Properties). Nil when there are none.
	Props *codec.Properties
	// Expires is when the Message Expiry Interval runs out; zero means never.
	Expires time.Time
	// From is the client id of the publisher ("" for the broker itself),
	// for the No Local option.
	From string
	// Origin is the cluster's id of a message it carried between nodes
	// (for broker/cluster: the ingress node and its sequence number), set
	// by the Cluster before InjectDurable; empty otherwise. The cluster
	// uses it to recognise a message it already queued for a session.
	Origin string

	// willLife is a will's Message Expiry Interval, which runs from the
	// will's publication, not from its CONNECT (5.0 section 3.1.3.2.4);
	// hasWillLife says whether it has one. See atPublication.
	willLife    time.Duration
	hasWillLife bool

	// id is the key of the stored body (0 until first stored) and refs the
	// number of durable references to it: persistent sessions' queued
	// deliveries and the retained entry of its topic. Both are guarded by
	// the committer's lock (see committer.ref).
	id   uint64
	refs int32
}

// atPublication returns m as published at now: for a will with a Message
// Expiry Interval, a copy whose expiry runs from now.
func (m *Message) atPublication(now time.Time) *Message {
	if !m.hasWillLife {
		return m
	}
	p := *m
	p.Expires, p.hasWillLife = now.Add(m.willLife), false
	p.id, p.refs = 0, 0
	return &p
}

// newMessage copies what it needs out of a decoded PUBLISH, whose slices
// point into the reader's buffer.
func newMessage(p *codec.Publish, from string, now time.Time) *Message {
	m := &Message{
		Topic:   p.Topic,
		Payload: append([]byte(nil), p.Payload...),
		QoS:     p.QoS,
		Retain:  p.Retain,
		From:    from,
	}
	pp := &p.Properties
	if pp.Has(codec.PropMessageExpiryInterval) {
		m.Expires = now.Add(time.Duration(pp.MessageExpiryInterval) * time.Second)
	}
	if pp.PayloadFormatIndicator != 0 || pp.ContentType != "" || pp.ResponseTopic != "" ||
		pp.CorrelationData != nil || len(pp.UserProperties) > 0 {
		m.Props = &codec.Properties{
			PayloadFormatIndicator: pp.PayloadFormatIndicator,
			ContentType:            pp.ContentType,
			ResponseTopic:          pp.ResponseTopic,
			UserProperties:         append([]codec.UserProperty(nil), pp.UserProperties...),
		}
		if pp.CorrelationData != nil {
			m.Props.CorrelationData = append([]byte{}, pp.CorrelationData...)
		}
	}
	return m
}

// expired reports whether the message's expiry interval has passed.
func (m *Message) expired(now time.Time) bool {
	return !m.Expires.IsZero() && !now.Before(m.Expires)
}

// remaining returns the Message Expiry Interval to send: the received
// value minus the time the message waited [MQTT-3.3.2-6]. A message sent
// again after its interval has passed (an unacknowledged QoS 1 or 2
// PUBLISH, which must still be re-sent [MQTT-5:4.3.3-7]) gets 0.
func (m *Message) remaining(now time.Time) (uint32, bool) {
	if m.Expires.IsZero() {
		return 0, false
	}
	d := m.Expires.Sub(now)
	if d <= 0 {
		return 0, true
	}
	secs := uint32((d + time.Second - 1) / time.Second)
	return secs, true
}
