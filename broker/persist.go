package broker

import (
	"encoding/binary"
	"time"

	"github.com/ternmq/tern/broker/store"
)

// This file converts the broker's state to the records of package store
// and back.

// messageRecord encodes m's body.
func messageRecord(m *Message) []byte {
	r := toRecord(m)
	return r.Append(nil)
}

func toRecord(m *Message) store.MessageRecord {
	r := store.MessageRecord{Topic: m.Topic, Payload: m.Payload, QoS: m.QoS, Retain: m.Retain, Props: m.Props, From: m.From}
	if !m.Expires.IsZero() {
		r.Expires = m.Expires.UnixNano()
	}
	return r
}

func fromRecord(r *store.MessageRecord) *Message {
	m := &Message{Topic: r.Topic, Payload: r.Payload, QoS: r.QoS, Retain: r.Retain, Props: r.Props, From: r.From}
	if r.Expires != 0 {
		m.Expires = time.Unix(0, r.Expires)
	}
	return m
}

// retainedRecord is the value of a retained key: the id of its message.
func retainedRecord(m *Message) []byte {
	return binary.BigEndian.AppendUint64(nil, m.id)
}

// queueRecord encodes one delivery of a session.
func queueRecord(d *delivery) []byte {
	r := store.QueueRecord{QoS: d.qos, Retain: d.retain, Released: d.released, SubIDs: d.subIDs}
	if d.msg != nil {
		r.MsgID = d.msg.id
	}
	if d.group != nil {
		r.Group = d.group.full
	}
	return r.Append(nil)
}

// sessionRecord encodes s. The caller holds s.mu.
func sessionRecord(s *session) []byte {
	r := store.SessionRecord{Version: s.version, Expiry: s.expiry}
	if !s.offline.IsZero() {
		r.Disconnected = s.offline.UnixNano()
	}
	r.Subs = make([]store.SubRecord, 0, len(s.subs))
	for f, o := range s.subs {
		r.Subs = append(r.Subs, store.SubRecord{Filter: f, QoS: o.qos, NoLocal: o.noLocal,
			RetainAsPublished: o.retainAsPublished, RetainHandling: o.retainHandling, ID: o.id})
	}
	if s.will != nil {
		w := toRecord(s.will)
		r.Will, r.WillDelay = &w, s.willDelay
		r.WillLife, r.HasWillLife = int64(s.will.willLife), s.will.hasWillLife
	}
	return r.Append(nil)
}
