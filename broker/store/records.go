package store

import (
	"encoding/binary"

	"github.com/ternmq/tern/codec"
)

// MessageRecord is an Application Message as stored once under M<id>,
// whatever the number of sessions and retained entries that refer to it.
type MessageRecord struct {
	Topic   string
	Payload []byte
	QoS     codec.QoS
	Retain  bool
	// Props are the properties forwarded to subscribers (Payload Format
	// Indicator, Content Type, Response Topic, Correlation Data, User
	// Properties); nil for none.
	Props *codec.Properties
	// Expires is the wall-clock time (Unix nanoseconds) at which the
	// Message Expiry Interval runs out; 0 for never.
	Expires int64
	// From is the publisher's client id, for No Local.
	From string
}

// SubRecord is one subscription of a session with all its options.
type SubRecord struct {
	Filter            string // as subscribed, with any $share/{group}/ prefix
	QoS               codec.QoS
	NoLocal           bool
	RetainAsPublished bool
	RetainHandling    byte
	ID                int // Subscription Identifier, 0 for none
}

// SessionRecord is a persistent session: everything but its queue and its
// inbound QoS 2 packet ids, which have keys of their own.
type SessionRecord struct {
	Version codec.Version
	// Username is the one the client last connected with, "" for none: an
	// Authorizer decides deliveries to the session by it while it is
	// offline.
	Username string
	// Expiry is the Session Expiry Interval in seconds (0xFFFFFFFF never).
	Expiry uint32
	// Disconnected is the wall-clock time (Unix nanoseconds) at which the
	// session's expiry started counting; 0 while a connection holds it.
	Disconnected int64
	Subs         []SubRecord
	// Will is the pending will message, nil for none; WillDelay its Will
	// Delay Interval in seconds. WillLife is the will's Message Expiry
	// Interval in nanoseconds, which runs from its publication, when
	// HasWillLife.
	Will        *MessageRecord
	WillDelay   uint32
	WillLife    int64
	HasWillLife bool
}

// QueueRecord is one delivery to a session, queued or in flight; its key
// holds the session's delivery sequence number, from which the broker
// derives the packet identifier.
type QueueRecord struct {
	MsgID  uint64 // key of the body under M
	QoS    codec.QoS
	Retain bool // RETAIN flag of the delivery
	// Released: QoS 2, PUBREC received and PUBREL sent.
	Released bool
	SubIDs   []int
	// Group is the $share/{group}/{filter} the message was delivered
	// through, "" for none.
	Group string
}

// VersionKey is the key of the format version.
func VersionKey() []byte { return []byte{KindVersion} }

// MessageKey is the key of message id.
func MessageKey(id uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{KindMessage}, id)
}

// RetainedKey is the key of topic's retained message.
func RetainedKey(topic string) []byte {
	return append([]byte{KindRetained}, topic...)
}

// SessionPrefix is the prefix of every key of client's session.
func SessionPrefix(client string) []byte {
	b := make([]byte, 0, len(client)+2)
	b = append(b, KindSession)
	b = append(b, client...)
	return append(b, 0)
}

// SessionRange returns the bounds [start, end) of client's keys.
func SessionRange(client string) (start, end []byte) {
	start = SessionPrefix(client)
	end = append([]byte(nil), start...)
	end[len(end)-1] = 1
	return start, end
}

// SessionKey is the key of client's SessionRecord.
func SessionKey(client string) []byte { return append(SessionPrefix(client), SubSession) }

// QueueKey is the key of client's delivery seq.
func QueueKey(client string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(append(SessionPrefix(client), SubQueue), seq)
}

// InboundKey is the key of client's inbound QoS 2 packet id.
func InboundKey(client string, pid uint16) []byte {
	return binary.BigEndian.AppendUint16(append(SessionPrefix(client), SubInbound), pid)
}

// ParsedKey is a key taken apart by ParseKey.
type ParsedKey struct {
	Kind   byte   // KindVersion, KindMessage, KindRetained or KindSession
	Sub    byte   // for KindSession: SubSession, SubQueue or SubInbound
	ID     uint64 // message id (KindMessage) or sequence number (SubQueue)
	PID    uint16 // SubInbound
	Topic  string // KindRetained
	Client string // KindSession
}
