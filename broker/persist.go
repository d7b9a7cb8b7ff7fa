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
	r := store.SessionRecord{Version: s.version, Username: s.who.Username, Expiry: s.expiry}
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

// rewrite replaces everything in the store with the state in memory: the
// retained messages and every durable session with its queue and inbound
// packet ids. The committer calls it after a failed write, whose engine
// may have lost earlier unsynced writes with it. Changes made meanwhile
// are ordered by the same locks as always, so the result is the state in
// memory whichever way they interleave.
func (s *Server) rewrite() {
	cm := s.commit
	for _, kind := range []byte{store.KindMessage, store.KindRetained, store.KindSession} {
		cm.delRange([]byte{kind}, []byte{kind + 1})
	}
	written := make(map[uint64]bool)
	s.retainMu.Lock()
	s.retained.All(func(_ string, m *Message) bool {
		cm.body(m, written)
		cm.set(store.RetainedKey(m.Topic), retainedRecord(m))
		return true
	})
	s.retainMu.Unlock()
	sessions := s.allSessions()
	for _, ss := range sessions {
		ss.rewrite(written)
	}
	s.log.Warn("store rewritten after a failed write", "sessions", len(sessions), "messages", len(written))
}

// rewrite writes the whole of a durable session again (Server.rewrite).
func (s *session) rewrite(written map[uint64]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.durable || s.ended {
		return
	}
	cm := s.srv.commit
	s.save()
	for seq := s.q.head; seq < s.q.tail; seq++ {
		if d := s.q.at(seq); d != nil && d.qos > 0 {
			if d.msg != nil {
				cm.body(d.msg, written)
			}
			cm.set(store.QueueKey(s.id, seq), queueRecord(d))
		}
	}
	for pid := range s.inbound {
		cm.set(store.InboundKey(s.id, pid), nil)
	}
}
