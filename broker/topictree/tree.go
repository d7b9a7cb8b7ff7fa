// Package topictree indexes MQTT topics by level for the broker's routing.
//
// A [Tree] maps Topic Filters (with '+' and '#') to entries and finds, for a
// Topic Name, every entry whose filter matches it: the PUBLISH path. A
// [Retained] maps Topic Names to values and finds, for a Topic Filter, every
// stored name that it matches: the retained-message lookup on SUBSCRIBE.
//
// Both follow section 4.7 of MQTT 3.1.1 and 5.0, the rules of
// [github.com/ternmq/tern/codec.MatchTopic]: levels are separated by '/' and
// compared byte for byte; empty levels are legal, so "a//b", "/a" and "a/"
// are distinct topics; '+' matches exactly one level, also an empty one; '#'
// matches its parent level and everything below it; and a filter whose first
// level is a wildcard never matches a name that starts with '$'.
//
// Neither type knows about shared subscriptions: the caller strips
// "$share/{ShareName}/" with [github.com/ternmq/tern/codec.ParseShared] and
// indexes the rest. Inputs are assumed valid (see
// [github.com/ternmq/tern/codec.ValidTopicName] and
// [github.com/ternmq/tern/codec.ValidTopicFilter]); the package does not
// check them again.
package topictree

import (
	"strings"
	"sync"
)

// Tree is a subscription index: topic filters -> (key, value) entries. Each
// filter holds at most one entry per key; a typical key is a session and a
// typical value its subscription options.
//
// A Tree is safe for concurrent use. Match takes a read lock, so any number of
// publishers match in parallel; Add and Remove take the write lock. The zero
// value is an empty Tree ready to use.
type Tree[K comparable, V any] struct {
	mu    sync.RWMutex
	root  node[K, V] // zero levels; only its children are used
	count int
}

// node is one level of a filter. The filter that ends at a node is the path
// from the root to it; entries hold the subscriptions of that filter.
type node[K comparable, V any] struct {
	parent   *node[K, V]
	level    string // the level that leads here from parent: "+", "#" or a literal
	children map[string]*node[K, V]
	plus     *node[K, V] // the "+" child
	hash     *node[K, V] // the "#" child: never has children of its own
	entries  entries[K, V]
}

// New returns an empty Tree.
func New[K comparable, V any]() *Tree[K, V] {
	return &Tree[K, V]{}
}

// Add stores val for key under filter, which must be a valid Topic Filter
// that is not a shared subscription (the caller validated it and removed any
// "$share/{ShareName}/" prefix). It replaces an existing entry for the same
// key and filter and reports whether one existed.
func (t *Tree[K, V]) Add(filter string, key K, val V) (replaced bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := &t.root
	for rest := filter; ; {
		level, r, more := cutLevel(rest)
		n = n.child(level, true)
		if !more {
			break
		}
		rest = r
	}
	if replaced = n.entries.put(key, val); !replaced {
		t.count++
	}
	return replaced
}

// Remove deletes key's entry under filter and reports whether it existed.
// Nodes left without entries and without children are pruned.
func (t *Tree[K, V]) Remove(filter string, key K) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := &t.root
	for rest := filter; ; {
		level, r, more := cutLevel(rest)
		if n = n.child(level, false); n == nil {
			return false
		}
		if !more {
			break
		}
		rest = r
	}
	if !n.entries.del(key) {
		return false
	}
	t.count--
	n.prune()
	return true
}

// Match calls fn for every entry whose filter matches the Topic Name topic
// (section 4.7: '+' matches one level, also an empty one; '#' matches the
// parent level and everything below it; a filter starting with '+' or '#'
// never matches a topic starting with '$'). Each matching entry is reported
// once; the order is unspecified. Overlapping filters of one key report that
// key once per filter.
//
// Match does not allocate. It holds the read lock while it calls fn, so fn
// must be quick and must not call Add or Remove on the same Tree.
func (t *Tree[K, V]) Match(topic string, fn func(key K, val V)) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if len(topic) > 0 && topic[0] == '$' {
		// [MQTT-4.7.2-1]: only literal first levels match a '$' topic, so
		// take the first step by hand, without the root's '+' and '#'.
		level, rest, more := cutLevel(topic)
		if c := t.root.children[level]; c != nil {
			c.matched(rest, more, fn)
		}
		return
	}
	t.root.match(topic, fn)
}

// Len returns the number of entries.
func (t *Tree[K, V]) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.count
}

// match reports the entries below n that match topic, the levels left after
// the ones n stands for (at least one level: "" is one empty level).
func (n *node[K, V]) match(topic string, fn func(K, V)) {
	for {
		if n.hash != nil {
			// "x/#" matches anything below "x".
			n.hash.emit(fn)
		}
		level, rest, more := cutLevel(topic)
		if n.plus != nil {
			n.plus.matched(rest, more, fn)
		}
		c := n.children[level]
		if c == nil {
			return
		}
		if !more {
			c.emitEnd(fn)
			return
		}
		n, topic = c, rest
	}
}

// matched continues after n matched one level of the topic: with the rest if
// there is more, else n is where the topic ends.
func (n *node[K, V]) matched(rest string, more bool, fn func(K, V)) {
	if more {
		n.match(rest, fn)
	} else {
		n.emitEnd(fn)
	}
}

// emitEnd reports the entries that match a topic ending at n: n's own and
// those of "n/#", since '#' also matches the parent level.
func (n *node[K, V]) emitEnd(fn func(K, V)) {
	n.emit(fn)
	if n.hash != nil {
		n.hash.emit(fn)
	}
}

func (n *node[K, V]) emit(fn func(K, V)) {
	for i := range n.entries.list {
		fn(n.entries.list[i].key, n.entries.list[i].val)
	}
}

// child returns n's child for level, creating it when create is set, or nil.
func (n *node[K, V]) child(level string, create bool) *node[K, V] {
	var c *node[K, V]
	switch level {
	case "+":
		c = n.plus
	case "#":
		c = n.hash
	default:
		c = n.children[level]
	}
	if c != nil || !create {
		return c
	}
	// Copy the level so that the tree never pins (or aliases) the caller's
	// filter string beyond the levels it keeps.
	c = &node[K, V]{parent: n, level: strings.Clone(level)}
	switch level {
	case "+":
		n.plus = c
	case "#":
		n.hash = c
	default:
		if n.children == nil {
			n.children = make(map[string]*node[K, V], 1)
		}
		n.children[c.level] = c
	}
	return c
}

// prune detaches n and then each ancestor that is left empty, up to the root.
func (n *node[K, V]) prune() {
	for n.parent != nil && n.entries.len() == 0 && len(n.children) == 0 && n.plus == nil && n.hash == nil {
		p := n.parent
		switch n.level {
		case "+":
			p.plus = nil
		case "#":
			p.hash = nil
		default:
			delete(p.children, n.level)
			if len(p.children) == 0 {
				p.children = nil
			}
		}
		n.parent = nil
		n = p
	}
}

// cutLevel splits s at its first '/': level is the first level and more
// reports whether another level follows in rest. It does not allocate.
func cutLevel(s string) (level, rest string, more bool) {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}
