// Package store holds what the broker writes to disk: the key layout, the
// record encodings and the Batch of writes that the broker hands to an
// engine. Engines live below it (memory/, pebble/); the broker defines the
// interface it uses (broker.Store), and this package knows nothing of
// either.
//
// Key layout (all keys start with one kind byte, so one engine holds every
// kind in order):
//
//	V                          format version (uvarint)
//	M <id:8>                   a message body, stored once (MessageRecord)
//	R <topic>                  retained message of topic -> <id:8>
//	S <client> 0x00 S          session (SessionRecord)
//	S <client> 0x00 Q <seq:8>  queued or in-flight delivery (QueueRecord)
//	S <client> 0x00 N <pid:2>  inbound QoS 2 packet id awaiting PUBREL (empty value)
//
// Integers in keys are big-endian so that key order is numeric order. A
// client identifier never contains U+0000 [MQTT-1.5.3-2], so
// SessionPrefix(c) covers exactly the keys of client c, and dropping a
// session is one range delete (SessionRange).
package store

import (
	"bytes"
	"errors"
	"fmt"
)

// FormatVersion is the layout this package writes. A store that records a
// newer version is refused (see CheckVersion).
const FormatVersion = 1

// Key kinds.
const (
	KindVersion  = 'V'
	KindMessage  = 'M'
	KindRetained = 'R'
	KindSession  = 'S'
)

// Kinds of keys under a session prefix.
const (
	SubSession = 'S'
	SubQueue   = 'Q'
	SubInbound = 'N'
)

// OpKind says what an Op does.
type OpKind uint8

// The kinds of Op.
const (
	OpSet         OpKind = iota + 1 // set Key to Value
	OpDelete                        // delete Key
	OpDeleteRange                   // delete every key in [Key, End)
)

// Op is one write in a Batch.
type Op struct {
	Kind  OpKind
	Key   []byte
	Value []byte // OpSet
	End   []byte // OpDeleteRange
}

// Batch is a list of writes that an engine applies atomically and in
// order. The zero value is empty and ready to use. A Batch owns the slices
// passed to it: callers must not change them afterwards.
type Batch struct {
	Ops []Op
}

// Set adds a write of value to key.
func (b *Batch) Set(key, value []byte) {
	b.Ops = append(b.Ops, Op{Kind: OpSet, Key: key, Value: value})
}

// Delete adds a deletion of key.
func (b *Batch) Delete(key []byte) { b.Ops = append(b.Ops, Op{Kind: OpDelete, Key: key}) }

// DeleteRange adds a deletion of every key k with start <= k < end.
func (b *Batch) DeleteRange(start, end []byte) {
	b.Ops = append(b.Ops, Op{Kind: OpDeleteRange, Key: start, End: end})
}

// Len returns the number of writes in b.
func (b *Batch) Len() int { return len(b.Ops) }

// Empty reports whether b holds no writes.
func (b *Batch) Empty() bool { return len(b.Ops) == 0 }

// Append adds the writes of o after those of b.
func (b *Batch) Append(o *Batch) { b.Ops = append(b.Ops, o.Ops...) }

// Reset empties b, keeping its capacity.
func (b *Batch) Reset() {
	clear(b.Ops)
	b.Ops = b.Ops[:0]
}

// ErrClosed is returned by an engine's methods after Close.
var ErrClosed = errors.New("store: closed")

// Validate checks that every Op of b is well formed: a known kind, and a
// range with its start before its end. Engines call it before applying
// anything, so that a bad batch changes nothing.
func (b *Batch) Validate() error {
	for i, op := range b.Ops {
		switch op.Kind {
		case OpSet, OpDelete:
		case OpDeleteRange:
			if bytes.Compare(op.Key, op.End) > 0 {
				return fmt.Errorf("store: op %d deletes the range [%q, %q) whose start is after its end", i, op.Key, op.End)
			}
		default:
			return fmt.Errorf("store: op %d has unknown kind %d", i, op.Kind)
		}
	}
	return nil
}

// PrefixEnd returns the smallest key greater than every key with the
// given prefix, or nil if there is none (the prefix is empty or all
// 0xFF bytes), meaning no upper bound.
func PrefixEnd(prefix []byte) []byte {
	for i := len(prefix) - 1; i >= 0; i-- {
		if prefix[i] != 0xFF {
			end := append([]byte(nil), prefix[:i+1]...)
			end[i]++
			return end
		}
	}
	return nil
}
