package uistate

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ternmq/tern/codec"
)

// Publish is a message to publish, as the publish form holds it.
type Publish struct {
	Topic   string `json:"topic"`
	Payload string `json:"payload,omitempty"`
	QoS     byte   `json:"qos,omitempty"`
	Retain  bool   `json:"retain,omitempty"`
	// The MQTT 5.0 properties (ignored for 3.1.1).
	ContentType     string               `json:"content_type,omitempty"`
	ResponseTopic   string               `json:"response_topic,omitempty"`
	CorrelationData string               `json:"correlation_data,omitempty"`
	MessageExpiry   uint32               `json:"message_expiry,omitempty"` // seconds, 0: none
	PayloadUTF8     bool                 `json:"payload_utf8,omitempty"`   // Payload Format Indicator 1
	UserProperties  []codec.UserProperty `json:"user_properties,omitempty"`
	// Time is when it was last published (history entries only).
	Time time.Time `json:"time,omitzero"`
}

// Validate checks the topic, QoS and 5.0 properties.
func (p *Publish) Validate() error {
	if err := codec.ValidTopicName(p.Topic); err != nil {
		return err
	}
	if p.QoS > 2 {
		return fmt.Errorf("invalid QoS %d", p.QoS)
	}
	if p.ResponseTopic != "" {
		if err := codec.ValidTopicName(p.ResponseTopic); err != nil {
			return fmt.Errorf("response topic: %w", err)
		}
	}
	for _, u := range p.UserProperties {
		if u.Key == "" {
			return errors.New("a user property needs a name")
		}
	}
	return nil
}

// Properties returns the MQTT 5.0 PUBLISH properties of p.
func (p *Publish) Properties() codec.Properties {
	var pr codec.Properties
	pr.ContentType = p.ContentType
	pr.ResponseTopic = p.ResponseTopic
	if p.CorrelationData != "" {
		pr.CorrelationData = []byte(p.CorrelationData)
	}
	pr.MessageExpiryInterval = p.MessageExpiry
	if p.PayloadUTF8 {
		pr.PayloadFormatIndicator = 1
	}
	for _, u := range p.UserProperties {
		if u.Key != "" {
			pr.UserProperties = append(pr.UserProperties, u)
		}
	}
	return pr
}

// same reports whether two publishes send the same message.
func (p *Publish) same(q *Publish) bool {
	a, b := *p, *q
	a.Time, b.Time = time.Time{}, time.Time{}
	return a.Topic == b.Topic && a.Payload == b.Payload && a.QoS == b.QoS && a.Retain == b.Retain &&
		a.ContentType == b.ContentType && a.ResponseTopic == b.ResponseTopic &&
		a.CorrelationData == b.CorrelationData && a.MessageExpiry == b.MessageExpiry &&
		a.PayloadUTF8 == b.PayloadUTF8 && slices.Equal(a.UserProperties, b.UserProperties)
}

// FromMessage fills a publish form from a received message, so that it
// can be edited and sent again.
func FromMessage(m *Message) Publish {
	p := Publish{Topic: m.Topic, Payload: string(m.Payload), QoS: m.QoS, Retain: m.Retain}
	if pr := m.Props; pr != nil {
		p.ContentType = pr.ContentType
		p.ResponseTopic = pr.ResponseTopic
		p.CorrelationData = string(pr.CorrelationData)
		p.MessageExpiry = pr.MessageExpiryInterval
		p.PayloadUTF8 = pr.PayloadFormatIndicator == 1
		p.UserProperties = slices.Clone(pr.UserProperties)
	}
	return p
}

// DefaultHistorySize is how many recent publishes the page remembers.
const DefaultHistorySize = 50

// History is the list of recent publishes, newest first, without
// duplicates.
type History struct {
	List []Publish `json:"publishes"`
	Max  int       `json:"-"`
}

// Add records p as published at t: it moves an identical earlier entry to
// the front, and forgets the oldest beyond Max (DefaultHistorySize).
func (h *History) Add(p Publish, t time.Time) {
	p.Time = t
	p.UserProperties = slices.Clone(p.UserProperties)
	h.List = slices.DeleteFunc(h.List, func(q Publish) bool { return q.same(&p) })
	h.List = slices.Insert(h.List, 0, p)
	max := h.Max
	if max <= 0 {
		max = DefaultHistorySize
	}
	if len(h.List) > max {
		h.List = h.List[:max]
	}
}

// Remove forgets entry i.
func (h *History) Remove(i int) {
	if i >= 0 && i < len(h.List) {
		h.List = slices.Delete(h.List, i, i+1)
	}
}
