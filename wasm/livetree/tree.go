package livetree

import (
	"slices"
	"strings"
	"time"

	"github.com/ternmq/tern/codec"
)

// Message is a received message as the tree takes it.
type Message struct {
	Topic   string
	Payload []byte // kept by the tree (up to Options.MaxValueBytes): do not modify it
	QoS     byte
	Retain  bool
	Time    time.Time
	Props   *codec.Properties // the 5.0 PUBLISH properties, nil if none; kept by the tree

	unreceived bool // AddUnreceived: the broker has it retained, the page has not received it
	size       int  // its size, when unreceived
}

// Value is one message as a node keeps it.
type Value struct {
	Seq     uint64 // the tree's message number, from 1
	At      int64  // receive time, Unix nanoseconds
	Payload []byte // at most Options.MaxValueBytes of it
	Size    int    // the payload's length as received
	QoS     byte
	Retain  bool
	Props   *codec.Properties
	// Unreceived marks a retained message the broker's admin API listed
	// but the page has not received: Payload is empty, Size its size.
	Unreceived bool
}

// Time returns the receive time.
func (v *Value) Time() time.Time { return time.Unix(0, v.At) }

// Truncated reports whether Payload holds only the start of the payload.
func (v *Value) Truncated() bool { return len(v.Payload) < v.Size }

// Defaults of Options.
const (
	DefaultHistoryLen      = 20
	DefaultMaxHistory      = 100_000
	DefaultMaxHistoryBytes = 32 << 20
	DefaultMaxTopics       = 200_000
	DefaultMaxValueBytes   = 64 << 10
)

// Options bounds the tree's memory. Zero fields take the defaults.
type Options struct {
	// HistoryLen is the number of values kept per topic, the current one
	// included (DefaultHistoryLen).
	HistoryLen int
	// MaxHistory and MaxHistoryBytes bound the older values (all but the
	// current one of each topic) over the whole tree, in number and in
	// payload bytes; the oldest go first (DefaultMaxHistory,
	// DefaultMaxHistoryBytes).
	MaxHistory      int
	MaxHistoryBytes int
	// MaxTopics bounds the nodes in the tree; a message that would add
	// nodes beyond it is counted in Dropped and otherwise ignored
	// (DefaultMaxTopics).
	MaxTopics int
	// MaxValueBytes is the most of a payload that is kept
	// (DefaultMaxValueBytes); Value.Size keeps the full length.
	MaxValueBytes int
	// RetainAsPublished says that live messages carry the RETAIN flag as
	// published (an MQTT 5.0 subscription with Retain As Published), so
	// that only an empty message with the flag clears a retained topic.
	// Otherwise an empty message on a topic marked retained clears it too.
	RetainAsPublished bool
	// AutoOpen opens nodes the user has not expanded or collapsed when the
	// tree is small (at most SmallTree nodes) or when they have a single
	// child; without it every node starts collapsed.
	AutoOpen bool
}

func (o *Options) setDefaults() {
	if o.HistoryLen <= 0 {
		o.HistoryLen = DefaultHistoryLen
	}
	if o.MaxHistory <= 0 {
		o.MaxHistory = DefaultMaxHistory
	}
	if o.MaxHistoryBytes <= 0 {
		o.MaxHistoryBytes = DefaultMaxHistoryBytes
	}
	if o.MaxTopics <= 0 {
		o.MaxTopics = DefaultMaxTopics
	}
	if o.MaxValueBytes <= 0 {
		o.MaxValueBytes = DefaultMaxValueBytes
	}
}

// Node is one topic level. Its Topic is the full topic name up to this
// level; it has a value when messages were published to that topic.
type Node struct {
	name   string
	topic  string
	parent *Node // nil for the root
	kids   []*Node
	pos    int32 // index in parent.kids
	depth  int32 // 0 for first-level nodes, -1 for the root
	sorted bool  // kids are in display order

	hasValue bool
	retained bool // the broker holds a retained message here, as far as seen
	expanded bool
	touched  bool   // the user expanded or collapsed it: no automatic opening
	sflags   uint8  // search flags, valid when sgen is the tree's
	sgen     uint32 // search generation

	count     uint64 // messages on this topic
	total     uint64 // messages on this topic and below
	topics    int32  // topics with a value, here and below
	nretained int32  // retained topics, here and below

	last Value
	hist *ring // older values, nil when none
}

// Name returns the level's name ("" for an empty level).
func (n *Node) Name() string { return n.name }

// Topic returns the topic name up to this level.
func (n *Node) Topic() string { return n.topic }

// Parent returns the parent node, nil for first-level nodes.
func (n *Node) Parent() *Node {
	if n.parent == nil || n.parent.parent == nil {
		return nil
	}
	return n.parent
}

// Depth returns the level's depth: 0 for first-level nodes.
func (n *Node) Depth() int { return int(n.depth) }

// HasValue reports whether a message was published to this topic (and not
// cleared since).
func (n *Node) HasValue() bool { return n.hasValue }

// Retained reports whether the broker holds a retained message on this
// topic, as far as the tree has seen.
func (n *Node) Retained() bool { return n.retained }

// Count returns the number of messages received on this topic.
func (n *Node) Count() uint64 { return n.count }

// Total returns the number of messages received on this topic and below.
func (n *Node) Total() uint64 { return n.total }

// Topics returns the number of topics with a value, this one and below.
func (n *Node) Topics() int { return int(n.topics) }

// RetainedCount returns the number of retained topics, this one and below:
// how many "clear retained" on this node clears.
func (n *Node) RetainedCount() int { return int(n.nretained) }

// Expanded reports whether the user expanded the node.
func (n *Node) Expanded() bool { return n.expanded }

// NumChildren returns the number of child levels.
func (n *Node) NumChildren() int { return len(n.kids) }

// Children returns the child levels in display order (natural order: "2"
// before "10"). The slice is the node's own: do not modify it.
func (n *Node) Children() []*Node {
	if !n.sorted {
		slices.SortFunc(n.kids, func(a, b *Node) int { return naturalCompare(a.name, b.name) })
		for i, k := range n.kids {
			k.pos = int32(i)
		}
		n.sorted = true
	}
	return n.kids
}

// Last returns the current value, nil when the node has none.
func (n *Node) Last() *Value {
	if !n.hasValue {
		return nil
	}
	return &n.last
}

// Prev returns the value before the current one, nil when none is kept.
func (n *Node) Prev() *Value {
	if n.hist == nil || n.hist.n == 0 {
		return nil
	}
	return n.hist.at(n.hist.n - 1)
}

// History appends the values kept, newest first (the current one first),
// to dst and returns it.
func (n *Node) History(dst []Value) []Value {
	if !n.hasValue {
		return dst
	}
	dst = append(dst, n.last)
	if h := n.hist; h != nil {
		for i := h.n - 1; i >= 0; i-- {
			dst = append(dst, *h.at(i))
		}
	}
	return dst
}

// Tree is the topic tree. It is not safe for concurrent use: the web
// client uses it on the UI goroutine only.
type Tree struct {
	o       Options
	root    Node
	nodes   map[string]*Node // every node but the root, by topic
	seq     uint64           // messages applied
	made    uint64           // of those, made by the page (DropRetained, AddUnreceived): not received
	version uint64           // changes with the rows: nodes added or removed, expanded, collapsed
	shape   uint64           // changes when nodes are removed or the search changes (added ones are searched as they come)
	newer   []*Node          // scratch for insert
	dropped uint64
	hist    budget

	view view
}

// New returns an empty tree.
func New(o Options) *Tree {
	o.setDefaults()
	t := &Tree{o: o, nodes: make(map[string]*Node)}
	t.root.depth = -1
	t.root.expanded = true
	t.hist.init(&t.o)
	return t
}

// Root returns the root: its children are the first-level nodes; its
// counts are the whole tree's.
func (t *Tree) Root() *Node { return &t.root }

// Get returns the node of topic, nil if none.
func (t *Tree) Get(topic string) *Node { return t.nodes[topic] }

// Len returns the number of topics with a value.
func (t *Tree) Len() int { return int(t.root.topics) }

// Nodes returns the number of nodes (topic levels) in the tree.
func (t *Tree) Nodes() int { return len(t.nodes) }

// Messages returns the number of messages received (applied, less the
// ones DropRetained and AddUnreceived made).
func (t *Tree) Messages() uint64 { return t.seq - t.made }

// Dropped returns the number of messages ignored because the tree was full
// (Options.MaxTopics).
func (t *Tree) Dropped() uint64 { return t.dropped }

// Version changes whenever the rows could change shape: a node was added
// or removed, expanded or collapsed, or the search changed. Values and
// counts change without it.
func (t *Tree) Version() uint64 { return t.version }

// HistoryLen returns the number of older values kept over all topics, and
// their payload bytes.
func (t *Tree) HistoryLen() (values, bytes int) { return t.hist.values, t.hist.bytes }

// Apply adds messages to the tree, in order. It reports whether the shape
// of the tree changed (see Version).
func (t *Tree) Apply(msgs ...Message) bool {
	v := t.version
	for i := range msgs {
		t.apply(&msgs[i])
	}
	return t.version != v
}

func (t *Tree) apply(m *Message) {
	n := t.nodes[m.Topic]
	if len(m.Payload) == 0 && !m.unreceived && (m.Retain || (!t.o.RetainAsPublished && n != nil && n.retained)) {
		t.seq++
		if n != nil {
			t.clear(n)
		}
		return
	}
	if n == nil {
		if n = t.insert(m.Topic); n == nil {
			t.dropped++
			return
		}
	}
	t.seq++
	v := Value{Seq: t.seq, At: m.Time.UnixNano(), Payload: m.Payload, Size: len(m.Payload),
		QoS: m.QoS, Retain: m.Retain, Props: m.Props}
	if m.Time.IsZero() {
		v.At = time.Now().UnixNano()
	}
	if m.unreceived {
		v.Size, v.Unreceived = m.size, true
	}
	if len(v.Payload) > t.o.MaxValueBytes {
		v.Payload = slices.Clone(v.Payload[:t.o.MaxValueBytes])
	}
	newTopic := !n.hasValue
	becameRetained := m.Retain && !n.retained
	if n.hasValue && !n.last.Unreceived {
		t.hist.push(n, n.last)
	}
	n.last, n.hasValue = v, true
	msgs := uint64(1)
	if m.unreceived {
		msgs = 0 // a value, not a message
	}
	n.count += msgs
	if m.Retain {
		n.retained = true
	}
	for a := n; a != nil; a = a.parent {
		a.total += msgs
		if newTopic {
			a.topics++
		}
		if becameRetained {
			a.nretained++
		}
	}
}

// insert adds the nodes of topic, or returns nil when that would make the
// tree larger than MaxTopics.
func (t *Tree) insert(topic string) *Node {
	// Find the deepest existing ancestor.
	levels := strings.Count(topic, "/") + 1
	parent, start, have := &t.root, 0, 0
	for i := len(topic); ; {
		i = strings.LastIndexByte(topic[:i], '/')
		if i < 0 {
			break
		}
		if p := t.nodes[topic[:i]]; p != nil {
			parent, start, have = p, i+1, int(p.depth)+1
			break
		}
	}
	if len(t.nodes)+levels-have > t.o.MaxTopics {
		return nil
	}
	added := t.newer[:0]
	for {
		end := strings.IndexByte(topic[start:], '/')
		if end < 0 {
			end = len(topic)
		} else {
			end += start
		}
		n := &Node{name: topic[start:end], topic: topic[:end], parent: parent, depth: parent.depth + 1}
		n.pos = int32(len(parent.kids))
		parent.kids = append(parent.kids, n)
		parent.sorted = len(parent.kids) == 1
		t.nodes[n.topic] = n
		added = append(added, n)
		parent = n
		if end == len(topic) {
			break
		}
		start = end + 1
	}
	t.version++
	t.added(added)
	clear(added)
	t.newer = added[:0]
	return parent
}

// clear removes a topic's value (an empty retained message arrived), and
// the node itself and any ancestors left with no value and no children.
func (t *Tree) clear(n *Node) {
	if !n.hasValue {
		return
	}
	wasRetained := n.retained
	count := n.count
	t.hist.drop(n)
	n.last, n.hasValue, n.retained, n.count = Value{}, false, false, 0
	for a := n; a != nil; a = a.parent {
		a.total -= count
		a.topics--
		if wasRetained {
			a.nretained--
		}
	}
	for n.parent != nil && !n.hasValue && len(n.kids) == 0 {
		p := n.parent
		t.remove(n)
		n = p
	}
}

// remove takes a leaf out of the tree.
func (t *Tree) remove(n *Node) {
	p := n.parent
	last := len(p.kids) - 1
	if i := int(n.pos); i != last {
		p.kids[i] = p.kids[last]
		p.kids[i].pos = int32(i)
		p.sorted = false
	}
	p.kids[last] = nil
	p.kids = p.kids[:last]
	if len(p.kids) == 0 {
		p.kids = nil
	}
	delete(t.nodes, n.topic)
	n.parent = nil
	t.view.removed(n, p)
	t.version++
	t.shape++
}

// RetainedUnder returns the topics at n and below that hold a retained
// message, in display order: the topics "clear retained" on n clears. A
// nil n means the whole tree.
func (t *Tree) RetainedUnder(n *Node) []string {
	if n == nil {
		n = &t.root
	}
	out := make([]string, 0, n.nretained)
	var walk func(*Node)
	walk = func(n *Node) {
		if n.retained {
			out = append(out, n.topic)
		}
		for _, k := range n.Children() {
			if k.nretained > 0 {
				walk(k)
			}
		}
	}
	walk(n)
	return out
}

// naturalCompare orders level names ignoring ASCII case, with runs of
// digits compared as numbers, so that "sensor2" comes before "sensor10"
// and "Door" between "desk" and "fan". Names equal but for case and
// leading zeros are ordered by their bytes.
func naturalCompare(a, b string) int {
	x, y := a, b
	for x != "" && y != "" {
		if isDigit(x[0]) && isDigit(y[0]) {
			i, j := digitRun(x), digitRun(y)
			p, q := strings.TrimLeft(x[:i], "0"), strings.TrimLeft(y[:j], "0")
			if len(p) != len(q) {
				return len(p) - len(q)
			}
			if c := strings.Compare(p, q); c != 0 {
				return c
			}
			x, y = x[i:], y[j:]
			continue
		}
		if c, d := lower(x[0]), lower(y[0]); c != d {
			return int(c) - int(d)
		}
		x, y = x[1:], y[1:]
	}
	if len(x) != len(y) {
		return len(x) - len(y)
	}
	return strings.Compare(a, b)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func digitRun(s string) int {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}
