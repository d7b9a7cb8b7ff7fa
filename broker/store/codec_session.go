package store

import (
	"encoding/binary"

	"github.com/ternmq/tern/codec"
)

// maxSubID is the largest Subscription Identifier (a Variable Byte
// Integer, MQTT 5.0 section 3.8.2.1.2).
const maxSubID = 268_435_455

// Flags of a SessionRecord.
const (
	sessHasWill  = 0b001
	sessWillLife = 0b010
	sessUsername = 0b100
)

// Subscription options, laid out as in a SUBSCRIBE (section 3.8.3.1).
const (
	subQoSMask  = 0b0000_0011
	subNoLocal  = 0b0000_0100
	subRAP      = 0b0000_1000
	subRHShift  = 4
	subRHMask   = 0b0011_0000
	subOptsMask = subQoSMask | subNoLocal | subRAP | subRHMask
)

// Flags of a QueueRecord.
const (
	queueQoSMask  = 0b0011
	queueRetain   = 0b0100
	queueReleased = 0b1000
)

// Append appends the encoding of r to dst and returns the extended buffer.
// The will, if any, is encoded as by (*MessageRecord).Append.
func (r *SessionRecord) Append(dst []byte) []byte {
	var flags byte
	if r.Will != nil {
		flags |= sessHasWill
	}
	if r.HasWillLife {
		flags |= sessWillLife
	}
	if r.Username != "" {
		flags |= sessUsername
	}
	dst = append(dst, recordFormat, byte(r.Version), flags)
	dst = binary.AppendUvarint(dst, uint64(r.Expiry))
	dst = binary.AppendVarint(dst, r.Disconnected)
	dst = binary.AppendUvarint(dst, uint64(r.WillDelay))
	dst = binary.AppendVarint(dst, r.WillLife)
	if r.Username != "" {
		dst = appendString(dst, r.Username)
	}
	dst = binary.AppendUvarint(dst, uint64(len(r.Subs)))
	for i := range r.Subs {
		dst = r.Subs[i].append(dst)
	}
	if r.Will != nil {
		dst = r.Will.Append(dst)
	}
	return dst
}

func (s *SubRecord) append(dst []byte) []byte {
	opts := byte(s.QoS)&subQoSMask | s.RetainHandling<<subRHShift&subRHMask
	if s.NoLocal {
		opts |= subNoLocal
	}
	if s.RetainAsPublished {
		opts |= subRAP
	}
	dst = appendString(dst, s.Filter)
	dst = append(dst, opts)
	return binary.AppendUvarint(dst, uint64(s.ID))
}

// DecodeSession decodes a SessionRecord written by Append. The record owns
// its memory. Errors wrap ErrCorrupt.
func DecodeSession(b []byte) (SessionRecord, error) {
	r := reader{b: b}
	var s SessionRecord
	r.header("session")
	s.Version = codec.Version(r.byte("version"))
	flags := r.byte("session flags")
	if flags&^(sessHasWill|sessWillLife|sessUsername) != 0 {
		r.fail("session flags")
	}
	s.HasWillLife = flags&sessWillLife != 0
	s.Expiry = uint32(r.uint("session expiry", 1<<32-1))
	s.Disconnected = r.varint("disconnected")
	s.WillDelay = uint32(r.uint("will delay", 1<<32-1))
	s.WillLife = r.varint("will life")
	if flags&sessUsername != 0 {
		s.Username = r.string("username")
	}
	if n := r.count("subscriptions", 3); n > 0 {
		s.Subs = make([]SubRecord, n)
		for i := range s.Subs {
			s.Subs[i] = r.sub()
		}
	}
	if flags&sessHasWill != 0 {
		w := r.message()
		s.Will = &w
	}
	if err := r.done("session"); err != nil {
		return SessionRecord{}, err
	}
	return s, nil
}

func (r *reader) sub() SubRecord {
	var s SubRecord
	s.Filter = r.string("filter")
	opts := r.byte("subscription options")
	if opts&^subOptsMask != 0 || opts&subQoSMask > 2 || opts&subRHMask>>subRHShift > 2 {
		r.fail("subscription options")
	}
	s.QoS = codec.QoS(opts & subQoSMask)
	s.NoLocal = opts&subNoLocal != 0
	s.RetainAsPublished = opts&subRAP != 0
	s.RetainHandling = opts & subRHMask >> subRHShift
	s.ID = int(r.uint("subscription identifier", maxSubID))
	return s
}

// Append appends the encoding of r to dst and returns the extended buffer.
func (r *QueueRecord) Append(dst []byte) []byte {
	flags := byte(r.QoS) & queueQoSMask
	if r.Retain {
		flags |= queueRetain
	}
	if r.Released {
		flags |= queueReleased
	}
	dst = append(dst, recordFormat, flags)
	dst = binary.AppendUvarint(dst, r.MsgID)
	dst = binary.AppendUvarint(dst, uint64(len(r.SubIDs)))
	for _, id := range r.SubIDs {
		dst = binary.AppendUvarint(dst, uint64(id))
	}
	return appendString(dst, r.Group)
}

// DecodeQueue decodes a QueueRecord written by Append. The record owns its
// memory. Errors wrap ErrCorrupt.
func DecodeQueue(b []byte) (QueueRecord, error) {
	r := reader{b: b}
	var q QueueRecord
	r.header("queue")
	flags := r.byte("queue flags")
	if flags&^(queueQoSMask|queueRetain|queueReleased) != 0 || flags&queueQoSMask > 2 {
		r.fail("queue flags")
	}
	q.QoS = codec.QoS(flags & queueQoSMask)
	q.Retain = flags&queueRetain != 0
	q.Released = flags&queueReleased != 0
	q.MsgID = r.uvarint("message id")
	if n := r.count("subscription identifiers", 1); n > 0 {
		q.SubIDs = make([]int, n)
		for i := range q.SubIDs {
			q.SubIDs[i] = int(r.uint("subscription identifier", maxSubID))
		}
	}
	q.Group = r.string("group")
	if err := r.done("queue"); err != nil {
		return QueueRecord{}, err
	}
	return q, nil
}
