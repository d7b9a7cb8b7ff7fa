package livetree

import (
	"strings"
	"unicode/utf8"

	"github.com/ternmq/tern/codec"
)

// view is the tree's view state: the search, the rows on screen and the
// selection.
type view struct {
	query    string
	filter   bool   // query is an MQTT topic filter (it has a wildcard)
	gen      uint32 // search generation, for Node.sgen
	matches  int
	searched uint64 // the shape the search marks were computed for

	rows     []*Node
	rowsFor  uint64 // the version rows were computed for
	rowsOK   bool
	selected *Node
}

// Search flags.
const (
	sMatch    = 1 << iota // the node's topic matches
	sAncestor             // a node below it matches
)

// removed is called when n leaves the tree: a selection on it moves to
// its parent.
func (v *view) removed(n, parent *Node) {
	if v.selected == n {
		v.selected = nil
		if parent.parent != nil {
			v.selected = parent
		}
	}
}

// SetQuery sets the search. A query with a wildcard (+ or #) that is a
// valid topic filter matches topics as MQTT does; anything else matches
// topics containing it, ignoring case. While a search is set, the rows are
// the matching nodes and their ancestors (shown expanded); a matching node
// the user expands shows all its children. An empty query ends the search.
func (t *Tree) SetQuery(q string) {
	q = strings.TrimSpace(q)
	if q == t.view.query {
		return
	}
	t.view.query = q
	t.view.filter = codec.HasWildcard(q) && codec.ValidTopicFilter(q) == nil
	t.version++
	t.shape++
}

// Query returns the search.
func (t *Tree) Query() string { return t.view.query }

// Matches returns the number of topics the search matches.
func (t *Tree) Matches() int {
	t.search()
	return t.view.matches
}

// match reports whether the search matches topic.
func (v *view) match(topic string) bool {
	if v.filter {
		return codec.MatchTopic(v.query, topic)
	}
	return containsFold(topic, v.query)
}

// search marks the matching nodes and their ancestors, when the tree or
// the query changed since it last did.
func (t *Tree) search() {
	v := &t.view
	if v.query == "" || (v.searched == t.shape && v.gen != 0) {
		return
	}
	v.gen++
	v.searched = t.shape
	v.matches = 0
	for _, n := range t.nodes {
		v.mark(n)
	}
}

// mark marks n and its ancestors when n matches the search.
func (v *view) mark(n *Node) {
	if !v.match(n.topic) {
		return
	}
	v.matches++
	if n.sgen != v.gen {
		n.sgen, n.sflags = v.gen, 0
	}
	n.sflags |= sMatch
	for a := n.parent; a != nil && a.parent != nil; a = a.parent {
		if a.sgen == v.gen && a.sflags&sAncestor != 0 {
			break
		}
		if a.sgen != v.gen {
			a.sgen, a.sflags = v.gen, 0
		}
		a.sflags |= sAncestor
	}
}

// added marks new nodes while a search is current, so that new topics do
// not cost a search of the whole tree; removals do (see Tree.shape).
func (t *Tree) added(nodes []*Node) {
	v := &t.view
	if v.query == "" || v.gen == 0 || v.searched != t.shape {
		return
	}
	for _, n := range nodes {
		v.mark(n)
	}
}

// inSearch returns the search flags of n (0 when it is not shown).
func (t *Tree) inSearch(n *Node) uint8 {
	if n.sgen != t.view.gen {
		return 0
	}
	return n.sflags
}

// Rows returns the nodes on screen, in order: the expanded part of the
// tree, or while searching the matches and their ancestors. It is
// computed again only when the Version changed. The slice is the tree's
// own: do not modify it.
func (t *Tree) Rows() []*Node {
	v := &t.view
	if v.rowsOK && v.rowsFor == t.version {
		return v.rows
	}
	t.search()
	v.rows = v.rows[:0]
	t.flatten(&t.root, v.query == "")
	v.rowsFor, v.rowsOK = t.version, true
	return v.rows
}

// flatten appends the rows below n; all says that every child is shown
// (no search, or below a match the user expanded).
func (t *Tree) flatten(n *Node, all bool) {
	for _, k := range n.Children() {
		kidsAll, open := all, t.open(k)
		if all && t.view.query != "" && t.inSearch(k)&sAncestor != 0 {
			open = true
		}
		if !all {
			f := t.inSearch(k)
			if f == 0 {
				continue
			}
			switch {
			case f&sMatch != 0 && t.open(k):
				kidsAll = true
			case f&sAncestor != 0:
				open = true
			default:
				open = false
			}
		}
		t.view.rows = append(t.view.rows, k)
		if open && len(k.kids) > 0 {
			t.flatten(k, kidsAll)
		}
	}
}

// IsOpen reports whether n's children are on screen.
func (t *Tree) IsOpen(n *Node) bool {
	if len(n.kids) == 0 {
		return false
	}
	if t.view.query == "" || t.open(n) {
		return t.open(n)
	}
	t.search()
	return t.inSearch(n)&sAncestor != 0
}

// IsMatch reports whether n matches the search (false with no search).
func (t *Tree) IsMatch(n *Node) bool {
	if t.view.query == "" {
		return false
	}
	t.search()
	return t.inSearch(n)&sMatch != 0
}

// SmallTree is the most nodes a tree may have to be shown expanded
// until the user collapses something: a newcomer sees the few topics of a
// small broker without a click.
const SmallTree = 32

// open reports whether n is shown expanded (without a search): the user
// expanded it, or the user has not touched it and it opens by itself,
// because the tree is small or because n has a single child. Chains of
// single children (plant/line1/temp alone) thus open all the way, as in
// MQTT Explorer. The rule depends only on counts that change when nodes
// are added or removed, which change the tree's version too.
func (t *Tree) open(n *Node) bool {
	if n.touched || n.expanded || !t.o.AutoOpen {
		return n.expanded
	}
	return len(n.kids) == 1 || len(t.nodes) <= SmallTree
}

// SetExpanded expands or collapses n; from then on n opens only as the
// user says.
func (t *Tree) SetExpanded(n *Node, open bool) {
	if n == nil || n.parent == nil || (n.touched && n.expanded == open) {
		return
	}
	was := t.open(n)
	n.expanded, n.touched = open, true
	if was != open {
		t.version++
	}
}

// Toggle expands a collapsed node and collapses an expanded one.
func (t *Tree) Toggle(n *Node) {
	if n != nil {
		t.SetExpanded(n, !t.open(n))
	}
}

// ExpandAll expands n and every node below it (the whole tree for nil).
func (t *Tree) ExpandAll(n *Node) {
	if n == nil {
		n = &t.root
	}
	var walk func(*Node)
	walk = func(n *Node) {
		if len(n.kids) == 0 {
			return
		}
		n.expanded = true
		for _, k := range n.kids {
			walk(k)
		}
	}
	walk(n)
	t.root.expanded = true
	t.version++
}

// CollapseAll collapses every node.
func (t *Tree) CollapseAll() {
	for _, n := range t.nodes {
		n.expanded, n.touched = false, true
	}
	t.version++
}

// Reveal expands n's ancestors so that it is on screen (without a search).
func (t *Tree) Reveal(n *Node) {
	for a := n.parent; a != nil && a.parent != nil; a = a.parent {
		t.SetExpanded(a, true)
	}
}

// Selected returns the selected node, nil for none.
func (t *Tree) Selected() *Node { return t.view.selected }

// Select selects n (nil for none).
func (t *Tree) Select(n *Node) {
	if n != nil && n.parent == nil {
		n = nil // the root, or a node no longer in the tree
	}
	t.view.selected = n
}

// SelectedRow returns the index of the selected node in Rows, or -1.
func (t *Tree) SelectedRow() int {
	s := t.view.selected
	if s == nil {
		return -1
	}
	for i, n := range t.Rows() {
		if n == s {
			return i
		}
	}
	return -1
}

// Key moves the selection or expands and collapses nodes as a tree view
// does with the keyboard (the WAI-ARIA tree pattern), and reports whether
// it used the key. Keys are KeyboardEvent.key names: ArrowUp, ArrowDown,
// ArrowRight (expand, or go to the first child), ArrowLeft (collapse, or
// go to the parent), Home, End, PageUp and PageDown (by page rows), "*"
// (expand all below the selection) and Enter or " " (toggle).
func (t *Tree) Key(key string, page int) bool {
	rows := t.Rows()
	if len(rows) == 0 {
		return false
	}
	page = max(page, 1)
	i := t.SelectedRow()
	sel := t.view.selected
	if i < 0 {
		switch key {
		case "ArrowUp", "ArrowDown", "Home", "End", "PageUp", "PageDown", "ArrowRight", "ArrowLeft":
			t.Select(rows[0])
			return true
		}
		return false
	}
	switch key {
	case "ArrowDown":
		t.Select(rows[min(i+1, len(rows)-1)])
	case "ArrowUp":
		t.Select(rows[max(i-1, 0)])
	case "Home":
		t.Select(rows[0])
	case "End":
		t.Select(rows[len(rows)-1])
	case "PageDown":
		t.Select(rows[min(i+page, len(rows)-1)])
	case "PageUp":
		t.Select(rows[max(i-page, 0)])
	case "ArrowRight":
		switch {
		case len(sel.kids) == 0:
		case !t.IsOpen(sel):
			t.SetExpanded(sel, true)
		case i+1 < len(rows):
			t.Select(rows[i+1])
		}
	case "ArrowLeft":
		if t.IsOpen(sel) && t.open(sel) {
			t.SetExpanded(sel, false)
		} else if p := sel.Parent(); p != nil {
			t.Select(p)
		}
	case "Enter", " ":
		if len(sel.kids) > 0 {
			t.Toggle(sel)
		}
	case "*":
		t.ExpandAll(sel)
	default:
		return false
	}
	return true
}

// containsFold reports whether s contains sub, ignoring case (simple
// folding, which is what topic names need).
func containsFold(s, sub string) bool {
	if sub == "" {
		return true
	}
	if isASCII(sub) {
		n := len(sub)
		for i := 0; i+n <= len(s); i++ {
			if equalFoldASCII(s[i:i+n], sub) {
				return true
			}
		}
		return false
	}
	for i := 0; i < len(s); {
		if hasPrefixFold(s[i:], sub) {
			return true
		}
		_, w := utf8.DecodeRuneInString(s[i:])
		i += w
	}
	return false
}

func hasPrefixFold(s, prefix string) bool {
	for _, r := range prefix {
		if s == "" {
			return false
		}
		q, w := utf8.DecodeRuneInString(s)
		if !strings.EqualFold(string(r), string(q)) {
			return false
		}
		s = s[w:]
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func equalFoldASCII(a, b string) bool {
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
