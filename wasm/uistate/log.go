package uistate

import (
	"strconv"
	"strings"
	"time"

	"github.com/ternmq/tern/codec"
)

// DefaultLogCapacity is the number of messages the web client keeps.
const DefaultLogCapacity = 10_000

// Message is one received application message as the log keeps it.
type Message struct {
	// Seq numbers messages in arrival order from 1; it is never reused,
	// not even after Clear, so it identifies a row.
	Seq     uint64
	Time    time.Time // when the page received it
	Topic   string
	Payload []byte
	QoS     byte
	Retain  bool
	Dup     bool
	// Sub is the id of the subscription that delivered the message (the
	// first one when several overlapping subscriptions matched), 0 if none.
	Sub int
	// Sinks says which consumers of the connection subscribed to the
	// message (the log, the topic tree, the chat): a connection shared by
	// several pages receives each message once and hands it to each.
	Sinks Sink
	// Props holds the MQTT 5.0 PUBLISH properties, nil when there were none.
	Props *codec.Properties
}

// FlagsLegend explains the abbreviations of Flags, for a legend.
const FlagsLegend = "Q0–Q2 QoS · R retained · D duplicate (sent again) · P has MQTT 5.0 properties"

// Flags abbreviates the message's QoS, retain and dup flags and whether
// it has properties: "Q1 R P" (FlagsLegend explains them).
func (m *Message) Flags() string {
	s := "Q" + strconv.Itoa(int(m.QoS))
	if m.Retain {
		s += " R"
	}
	if m.Dup {
		s += " D"
	}
	if m.HasProperties() {
		s += " P"
	}
	return s
}

// FlagsTitle spells out Flags, for a tooltip.
func (m *Message) FlagsTitle() string {
	s := "QoS " + strconv.Itoa(int(m.QoS))
	if m.Retain {
		s += ", retained"
	}
	if m.Dup {
		s += ", duplicate (sent again)"
	}
	if m.HasProperties() {
		s += ", has MQTT 5.0 properties"
	}
	return s
}

// HasProperties reports whether the message carries MQTT 5.0 properties
// its sender set (Subscription Identifiers, which the receiving client
// asks for, do not count).
func (m *Message) HasProperties() bool {
	return m.Props != nil && publishProps(m.Props)
}

// publishProps reports whether p holds properties a publisher sets.
func publishProps(p *codec.Properties) bool {
	return p.Has(codec.PropPayloadFormatIndicator) || p.Has(codec.PropMessageExpiryInterval) ||
		p.Has(codec.PropContentType) || p.Has(codec.PropResponseTopic) || p.Has(codec.PropCorrelationData) ||
		p.Has(codec.PropUserProperty)
}

// KeepProperties reports whether the properties of a received message are
// worth keeping in the log: those a publisher sets, or Subscription
// Identifiers.
func KeepProperties(p *codec.Properties) bool {
	return publishProps(p) || len(p.SubscriptionIdentifiers) > 0
}

// Filter selects the messages the log shows. The zero Filter shows all.
type Filter struct {
	// Topic is an MQTT topic filter when it holds a wildcard ("sensors/+/temp",
	// "home/#") and is valid; otherwise a substring of the topic.
	Topic string
	// Text is a substring of the payload, compared without regard to ASCII
	// case.
	Text string
}

// IsZero reports whether f shows every message.
func (f Filter) IsZero() bool { return f.Topic == "" && f.Text == "" }

// matcher is a compiled Filter.
type matcher struct {
	topic     string
	wildcard  bool   // topic is an MQTT filter matched with codec.MatchTopic
	text      []byte // lower-case ASCII needle
	matchNone bool
}

func compile(f Filter) matcher {
	m := matcher{topic: f.Topic}
	if f.Topic != "" && codec.HasWildcard(f.Topic) && codec.ValidTopicFilter(f.Topic) == nil {
		m.wildcard = true
		if codec.IsShared(f.Topic) {
			_, m.topic, _ = codec.ParseShared(f.Topic)
		}
	}
	if f.Text != "" {
		m.text = []byte(strings.ToLower(f.Text))
	}
	return m
}

func (m *matcher) match(msg *Message) bool {
	if m.topic != "" {
		if m.wildcard {
			if !codec.MatchTopic(m.topic, msg.Topic) {
				return false
			}
		} else if !strings.Contains(msg.Topic, m.topic) {
			return false
		}
	}
	return len(m.text) == 0 || containsFold(msg.Payload, m.text)
}

// containsFold reports whether s contains the lower-case ASCII needle,
// ignoring ASCII case in s. It does not allocate.
func containsFold(s, needle []byte) bool {
	n := len(needle)
	if n == 0 {
		return true
	}
	first := needle[0]
	for i := 0; i+n <= len(s); i++ {
		if lower(s[i]) != first {
			continue
		}
		j := 1
		for j < n && lower(s[i+j]) == needle[j] {
			j++
		}
		if j == n {
			return true
		}
	}
	return false
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// Log is the bounded message log: a ring buffer of the newest messages, a
// filter that applies to the messages already held and to those that
// arrive later, and a pause that holds new messages back from the view.
//
// Rows are addressed through the view: ViewLen messages match the filter,
// ViewAt(0) is the oldest of them. Only the rows on screen need to be
// looked at, so the UI can render a window of a large log.
//
// A Log is not safe for concurrent use; the web client only touches it on
// the UI goroutine.
type Log struct {
	ring []Message // capacity cap; the n messages from head (oldest) on
	head int
	n    int
	next uint64 // Seq of the next message

	filter Filter
	m      matcher
	// view holds the Seqs of the matching messages, oldest first, from
	// view[vhead]; it is used only while the filter is not zero.
	view  []uint64
	vhead int
	// added counts the messages that entered the view since the Log was
	// made (the UI keeps its scroll position steady with it).
	added uint64

	paused      bool
	held        []Message // arrived while paused, oldest first
	heldDropped uint64    // held messages dropped for want of room
	evicted     uint64    // messages pushed out of the ring
}

// NewLog returns a log that keeps the newest capacity messages
// (DefaultLogCapacity when capacity <= 0).
func NewLog(capacity int) *Log {
	if capacity <= 0 {
		capacity = DefaultLogCapacity
	}
	return &Log{ring: make([]Message, capacity), next: 1}
}

// Cap returns the number of messages the log keeps.
func (l *Log) Cap() int { return len(l.ring) }

// Len returns the number of messages held (matching the filter or not).
func (l *Log) Len() int { return l.n }

// Received returns the number of messages appended since the Log was made,
// including those held while paused.
func (l *Log) Received() uint64 { return l.next - 1 + uint64(len(l.held)) + l.heldDropped }

// Lost returns the number of messages lost while paused (more arrived
// than the log holds); unlike the eviction of the oldest rows from a full
// log, that is worth telling.
func (l *Log) Lost() uint64 { return l.heldDropped }

// Evicted returns the number of messages dropped because the log was full,
// and of messages dropped while paused.
func (l *Log) Evicted() uint64 { return l.evicted + l.heldDropped }

// Added returns the number of messages that have entered the view so far.
// The difference between two calls is how many rows were added in between.
func (l *Log) Added() uint64 { return l.added }

// Paused reports whether the log is paused.
func (l *Log) Paused() bool { return l.paused }

// Held returns the number of messages waiting for Resume.
func (l *Log) Held() int { return len(l.held) }

// Filter returns the current filter.
func (l *Log) Filter() Filter { return l.filter }

// Append adds messages in arrival order, numbering them. While paused
// they are held back (the newest Cap of them) until Resume.
func (l *Log) Append(msgs ...Message) {
	if l.paused {
		l.hold(msgs)
		return
	}
	for i := range msgs {
		l.push(&msgs[i])
	}
}

func (l *Log) hold(msgs []Message) {
	c := len(l.ring)
	if len(msgs) >= c {
		l.heldDropped += uint64(len(l.held) + len(msgs) - c)
		l.held = append(l.held[:0], msgs[len(msgs)-c:]...)
		return
	}
	if over := len(l.held) + len(msgs) - c; over > 0 {
		l.heldDropped += uint64(over)
		l.held = append(l.held[:0], l.held[over:]...)
	}
	l.held = append(l.held, msgs...)
}

func (l *Log) push(msg *Message) {
	c := len(l.ring)
	var slot int
	if l.n < c {
		slot = (l.head + l.n) % c
		l.n++
	} else {
		// Full: the new message takes the oldest one's slot.
		slot = l.head
		old := l.ring[slot].Seq
		l.head = (l.head + 1) % c
		l.evicted++
		if l.vhead < len(l.view) && l.view[l.vhead] == old {
			l.vhead++
		}
	}
	m := *msg
	m.Seq = l.next
	l.next++
	l.ring[slot] = m
	if l.filter.IsZero() {
		l.added++
		return
	}
	if l.m.match(&l.ring[slot]) {
		l.compactView()
		l.view = append(l.view, m.Seq)
		l.added++
	}
}

// compactView reclaims the space of view entries that left the ring.
func (l *Log) compactView() {
	if l.vhead > 0 && l.vhead >= len(l.view)/2 && len(l.view) == cap(l.view) {
		n := copy(l.view, l.view[l.vhead:])
		l.view, l.vhead = l.view[:n], 0
	}
}

// Pause holds new messages back from the view until Resume.
func (l *Log) Pause() { l.paused = true }

// Resume shows the messages held while paused and stops holding.
func (l *Log) Resume() {
	if !l.paused {
		return
	}
	l.paused = false
	held := l.held
	l.held = nil
	l.Append(held...)
}

// Clear removes every message, held ones included. Seq numbers go on.
func (l *Log) Clear() {
	clear(l.ring)
	l.head, l.n = 0, 0
	l.view, l.vhead = l.view[:0], 0
	l.held = nil
}

// SetFilter changes the filter and recomputes the view.
func (l *Log) SetFilter(f Filter) {
	l.filter = f
	l.m = compile(f)
	l.view, l.vhead = l.view[:0], 0
	if f.IsZero() {
		return
	}
	for i := 0; i < l.n; i++ {
		m := &l.ring[(l.head+i)%len(l.ring)]
		if l.m.match(m) {
			l.view = append(l.view, m.Seq)
		}
	}
}

// ViewLen returns the number of messages that match the filter.
func (l *Log) ViewLen() int {
	if l.filter.IsZero() {
		return l.n
	}
	return len(l.view) - l.vhead
}

// ViewAt returns the i-th matching message, oldest first, or nil.
func (l *Log) ViewAt(i int) *Message {
	if i < 0 || i >= l.ViewLen() {
		return nil
	}
	if l.filter.IsZero() {
		return &l.ring[(l.head+i)%len(l.ring)]
	}
	return l.Get(l.view[l.vhead+i])
}

// Newest returns the i-th matching message counting from the newest (0),
// which is the order the web client shows them in, or nil.
func (l *Log) Newest(i int) *Message { return l.ViewAt(l.ViewLen() - 1 - i) }

// Get returns the message with sequence number seq, or nil if the log no
// longer holds it.
func (l *Log) Get(seq uint64) *Message {
	if l.n == 0 {
		return nil
	}
	oldest := l.ring[l.head].Seq
	if seq < oldest || seq >= oldest+uint64(l.n) {
		return nil
	}
	return &l.ring[(l.head+int(seq-oldest))%len(l.ring)]
}

// IndexOf returns the position of the message seq in newest-first order,
// or -1 if it is not in the view.
func (l *Log) IndexOf(seq uint64) int {
	n := l.ViewLen()
	if l.filter.IsZero() {
		if m := l.Get(seq); m != nil {
			return n - 1 - int(seq-l.ring[l.head].Seq)
		}
		return -1
	}
	// The view is sorted by Seq.
	v := l.view[l.vhead:]
	lo, hi := 0, len(v)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if v[mid] < seq {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < len(v) && v[lo] == seq {
		return n - 1 - lo
	}
	return -1
}
