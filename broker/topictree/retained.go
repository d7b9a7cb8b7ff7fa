package topictree

import (
	"strings"
	"sync"
)

// Retained maps Topic Names to values, such as the retained message of each
// topic, and finds those that match a Topic Filter.
//
// A Retained is safe for concurrent use. Get and Match take a read lock; Set
// and Delete take the write lock. The zero value is empty and ready to use.
type Retained[V any] struct {
	mu    sync.RWMutex
	root  rnode[V] // zero levels; never holds a value
	count int
}

// rnode is one level of a Topic Name. A node that holds a value keeps the
// full name, so that Match can report it without building it.
type rnode[V any] struct {
	parent   *rnode[V]
	level    string // the level that leads here from parent
	children map[string]*rnode[V]
	topic    string // the full Topic Name, if has
	val      V
	has      bool
}

// NewRetained returns an empty Retained.
func NewRetained[V any]() *Retained[V] {
	return &Retained[V]{}
}

// Set stores v for the Topic Name topic, replacing any value it had.
func (r *Retained[V]) Set(topic string, v V) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := r.root.find(topic); n != nil && n.has {
		n.val = v
		return
	}
	// A new name: keep one copy of it, and key new nodes by its levels.
	topic = strings.Clone(topic)
	n := &r.root
	for rest := topic; ; {
		level, next, more := cutLevel(rest)
		c := n.children[level]
		if c == nil {
			c = &rnode[V]{parent: n, level: level}
			if n.children == nil {
				n.children = make(map[string]*rnode[V], 1)
			}
			n.children[level] = c
		}
		n = c
		if !more {
			break
		}
		rest = next
	}
	n.topic, n.val, n.has = topic, v, true
	r.count++
}

// Delete removes the value of topic and reports whether there was one. Nodes
// left without a value and without children are pruned.
func (r *Retained[V]) Delete(topic string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.root.find(topic)
	if n == nil || !n.has {
		return false
	}
	var zero V
	n.topic, n.val, n.has = "", zero, false
	r.count--
	for n.parent != nil && !n.has && len(n.children) == 0 {
		p := n.parent
		delete(p.children, n.level)
		if len(p.children) == 0 {
			p.children = nil
		}
		n.parent = nil
		n = p
	}
	return true
}

// Get returns the value stored for topic.
func (r *Retained[V]) Get(topic string) (V, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if n := r.root.find(topic); n != nil && n.has {
		return n.val, true
	}
	var zero V
	return zero, false
}

// Match calls fn for each stored Topic Name that the Topic Filter filter
// matches, by the rules of section 4.7 (see the package documentation),
// including that a filter starting with '+' or '#' matches no name starting
// with '$'. The filter must be valid and not a shared subscription. Match
// walks the tree along the filter's levels, visiting only the subtrees the
// filter can reach. If fn returns false, the iteration stops. The order is
// unspecified.
//
// Match does not allocate. It holds the read lock while it calls fn, so fn
// should be quick (copy what it needs and deliver after Match returns) and
// must not call Set or Delete on the same Retained.
func (r *Retained[V]) Match(filter string, fn func(topic string, v V) bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	r.root.match(filter, true, fn)
}

// All calls fn for every stored name and value, '$' topics included, until
// fn returns false. It holds the read lock while it calls fn, as Match does.
func (r *Retained[V]) All(fn func(topic string, v V) bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	r.root.all(false, fn)
}

// Len returns the number of stored topics.
func (r *Retained[V]) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.count
}

// find returns the node of topic, or nil.
func (n *rnode[V]) find(topic string) *rnode[V] {
	for {
		level, rest, more := cutLevel(topic)
		if n = n.children[level]; n == nil || !more {
			return n
		}
		topic = rest
	}
}

// match reports the names below n that match filter, the levels left after
// the ones n stands for. root marks the root, where wildcards skip names
// that start with '$' [MQTT-4.7.2-1]. It returns false once fn has.
func (n *rnode[V]) match(filter string, root bool, fn func(string, V) bool) bool {
	level, rest, more := cutLevel(filter)
	switch level {
	case "#":
		// '#' is the last level; it matches the parent (n itself, never the
		// root) and everything below it.
		if n.has && !fn(n.topic, n.val) {
			return false
		}
		return n.all(root, fn)
	case "+":
		for l, c := range n.children {
			if root && isDollar(l) {
				continue
			}
			if !c.matched(rest, more, fn) {
				return false
			}
		}
		return true
	default:
		if c := n.children[level]; c != nil {
			return c.matched(rest, more, fn)
		}
		return true
	}
}

// matched continues after n matched one level of the filter: with the rest if
// there is more, else n's own name is the match.
func (n *rnode[V]) matched(rest string, more bool, fn func(string, V) bool) bool {
	if more {
		return n.match(rest, false, fn)
	}
	if n.has {
		return fn(n.topic, n.val)
	}
	return true
}

// all reports every name below n, skipping those that start with '$' when n
// is the root.
func (n *rnode[V]) all(root bool, fn func(string, V) bool) bool {
	for l, c := range n.children {
		if root && isDollar(l) {
			continue
		}
		if c.has && !fn(c.topic, c.val) {
			return false
		}
		if !c.all(false, fn) {
			return false
		}
	}
	return true
}

func isDollar(level string) bool { return len(level) > 0 && level[0] == '$' }
