package livetree

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func rowTopics(tr *Tree) []string {
	var out []string
	for _, n := range tr.Rows() {
		out = append(out, n.Topic())
	}
	return out
}

func sampleTree() *Tree {
	tr := New(Options{})
	tr.Apply(
		msg("home/kitchen/temp", "21", true),
		msg("home/kitchen/humidity", "40", true),
		msg("home/hall/light", "on", true),
		msg("office/Door", "closed", false),
		msg("office/desk2/lamp", "off", false),
		msg("office/desk10/lamp", "on", false),
	)
	return tr
}

func TestRowsExpandCollapse(t *testing.T) {
	tr := sampleTree()
	steps := []struct {
		do   func()
		want []string
	}{
		{func() {}, []string{"home", "office"}},
		{func() { tr.SetExpanded(tr.Get("office"), true) }, []string{"home", "office", "office/desk2", "office/desk10", "office/Door"}},
		{func() { tr.Toggle(tr.Get("office/desk10")) }, []string{"home", "office", "office/desk2", "office/desk10", "office/desk10/lamp", "office/Door"}},
		{func() { tr.Toggle(tr.Get("office")) }, []string{"home", "office"}},
		{func() { tr.Reveal(tr.Get("home/kitchen/temp")) }, []string{"home", "home/hall", "home/kitchen", "home/kitchen/humidity", "home/kitchen/temp", "office"}},
		{func() { tr.CollapseAll() }, []string{"home", "office"}},
		{func() { tr.ExpandAll(tr.Get("home")) }, []string{"home", "home/hall", "home/hall/light", "home/kitchen", "home/kitchen/humidity", "home/kitchen/temp", "office"}},
	}
	for i, s := range steps {
		v := tr.Version()
		s.do()
		if i > 0 && tr.Version() == v {
			t.Errorf("step %d: version did not change", i)
		}
		if got := rowTopics(tr); !slices.Equal(got, s.want) {
			t.Errorf("step %d: rows %q, want %q", i, got, s.want)
		}
	}
	// Rows are cached while only values change.
	r1 := tr.Rows()
	tr.Apply(msg("home/kitchen/temp", "22", true))
	if r2 := tr.Rows(); &r1[0] != &r2[0] || tr.Version() != tr.view.rowsFor {
		t.Error("rows were computed again for a value change")
	}
	// A new node appears in an expanded parent.
	tr.Apply(msg("home/hall/fan", "1", false))
	if got := rowTopics(tr); !slices.Contains(got, "home/hall/fan") {
		t.Errorf("new node not in rows %q", got)
	}
}

func TestSearch(t *testing.T) {
	tests := []struct {
		query   string
		matches int
		rows    []string
	}{
		{"lamp", 2, []string{"office", "office/desk2", "office/desk2/lamp", "office/desk10", "office/desk10/lamp"}},
		{"DOOR", 1, []string{"office", "office/Door"}},
		{"home/+/temp", 1, []string{"home", "home/kitchen", "home/kitchen/temp"}},
		{"home/#", 6, []string{"home", "home/hall", "home/hall/light", "home/kitchen", "home/kitchen/humidity", "home/kitchen/temp"}},
		{"kitchen", 3, []string{"home", "home/kitchen", "home/kitchen/humidity", "home/kitchen/temp"}},
		{"nothing", 0, nil},
		{"", 0, []string{"home", "office"}},
	}
	tr := sampleTree()
	for _, tt := range tests {
		tr.SetQuery(tt.query)
		if got := rowTopics(tr); !slices.Equal(got, tt.rows) {
			t.Errorf("%q: rows %q, want %q", tt.query, got, tt.rows)
		}
		if tt.query != "" && tr.Matches() != tt.matches {
			t.Errorf("%q: %d matches, want %d", tt.query, tr.Matches(), tt.matches)
		}
	}
	// A match the user expands shows all its children.
	tr.SetQuery("office/+")
	want := []string{"office", "office/desk2", "office/desk10", "office/Door"}
	if got := rowTopics(tr); !slices.Equal(got, want) {
		t.Errorf("rows %q, want %q", got, want)
	}
	if !tr.IsMatch(tr.Get("office/desk10")) || tr.IsMatch(tr.Get("office")) || !tr.IsOpen(tr.Get("office")) || tr.IsOpen(tr.Get("office/desk10")) {
		t.Error("IsMatch/IsOpen wrong")
	}
	tr.SetExpanded(tr.Get("office/desk10"), true)
	want = []string{"office", "office/desk2", "office/desk10", "office/desk10/lamp", "office/Door"}
	if got := rowTopics(tr); !slices.Equal(got, want) {
		t.Errorf("rows %q, want %q", got, want)
	}
	tr.SetQuery("desk1")
	// New matching topics show up in the search.
	tr.Apply(msg("lab/desk1x", "1", false))
	if got := rowTopics(tr); !slices.Contains(got, "lab/desk1x") {
		t.Errorf("new match missing from %q", got)
	}
}

func TestContainsFold(t *testing.T) {
	tests := []struct {
		s, sub string
		want   bool
	}{
		{"Home/Kitchen", "kitchen", true},
		{"home", "HOME", true},
		{"home", "homes", false},
		{"Größe/Ärger", "ärger", true},
		{"x/ÄRGER", "ärg", true},
		{"abc", "", true},
	}
	for _, tt := range tests {
		if got := containsFold(tt.s, tt.sub); got != tt.want {
			t.Errorf("containsFold(%q, %q) = %v", tt.s, tt.sub, got)
		}
	}
}

func TestKeyboard(t *testing.T) {
	tr := sampleTree()
	sel := func() string {
		if n := tr.Selected(); n != nil {
			return n.Topic()
		}
		return ""
	}
	steps := []struct {
		key     string
		used    bool
		sel     string
		openSel bool
	}{
		{"x", false, "", false},
		{"ArrowDown", true, "home", false},
		{"ArrowRight", true, "home", true},       // expand
		{"ArrowRight", true, "home/hall", false}, // first child
		{"ArrowDown", true, "home/kitchen", false},
		{"ArrowLeft", true, "home", true},  // to parent
		{"ArrowLeft", true, "home", false}, // collapse
		{"ArrowDown", true, "office", false},
		{"Enter", true, "office", true},
		{"End", true, "office/Door", false},
		{"Home", true, "home", false},
		{"PageDown", true, "office/desk10", false},
		{"PageUp", true, "home", false},
		{"ArrowUp", true, "home", false},
		{"*", true, "home", true},
	}
	for i, s := range steps {
		used := tr.Key(s.key, 3)
		if used != s.used || sel() != s.sel {
			t.Fatalf("step %d %q: used %v sel %q; want %v %q (rows %q)", i, s.key, used, sel(), s.used, s.sel, rowTopics(tr))
		}
		if n := tr.Selected(); n != nil && tr.IsOpen(n) != s.openSel {
			t.Errorf("step %d %q: open %v", i, s.key, tr.IsOpen(n))
		}
	}
	if i := tr.SelectedRow(); i != 0 {
		t.Errorf("SelectedRow = %d", i)
	}
	tr.Select(tr.Root())
	if tr.Selected() != nil {
		t.Error("the root can be selected")
	}
}

// New topics are searched as they arrive; the rows must be what a search
// of the whole tree gives, through insertions and removals.
func TestSearchIncremental(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	tr := New(Options{})
	tr.SetQuery("a1")
	for i := range 5000 {
		topic := fmt.Sprintf("a%d/b%d/c%d", r.IntN(3), r.IntN(20), r.IntN(5))
		payload := "x"
		if r.IntN(4) == 0 {
			payload = ""
		}
		tr.Apply(msg(topic, payload, true))
		if i%250 == 0 {
			got := slices.Clone(tr.Rows())
			matches := tr.Matches()
			tr.shape++ // force a search of the whole tree
			tr.version++
			if want := tr.Rows(); !slices.Equal(got, want) || tr.Matches() != matches {
				t.Fatalf("after %d messages: incremental rows %d (%d matches), full search %d (%d)", i, len(got), matches, len(want), tr.Matches())
			}
		}
	}
}

// TestAutoOpen: a lone topic three levels deep is on screen at once; a
// small tree starts expanded; a large one keeps only chains of single
// children open; what the user expands or collapses stays so.
func TestAutoOpen(t *testing.T) {
	tr := New(Options{AutoOpen: true})
	tr.Apply(msg("plant/line1/temp", "21.5", true))
	if got, want := rowTopics(tr), []string{"plant", "plant/line1", "plant/line1/temp"}; !slices.Equal(got, want) {
		t.Errorf("lone topic: rows %q, want %q", got, want)
	}
	tr.Apply(msg("plant/line2/temp", "19", true), msg("office/door", "closed", true))
	if got, want := rowTopics(tr), []string{"office", "office/door", "plant", "plant/line1", "plant/line1/temp", "plant/line2", "plant/line2/temp"}; !slices.Equal(got, want) {
		t.Errorf("small tree: rows %q, want %q", got, want)
	}
	v := tr.Version()
	tr.Toggle(tr.Get("plant"))
	if tr.Version() == v {
		t.Error("collapsing did not change the version")
	}
	if got, want := rowTopics(tr), []string{"office", "office/door", "plant"}; !slices.Equal(got, want) {
		t.Errorf("after collapsing plant: rows %q, want %q", got, want)
	}

	// Past SmallTree nodes, only single-child chains open by themselves.
	for i := range SmallTree {
		tr.Apply(msg(fmt.Sprintf("load/%d", i), "x", false))
	}
	got := rowTopics(tr)
	if want := []string{"load", "office", "office/door", "plant"}; !slices.Equal(got, want) {
		t.Errorf("large tree: rows %q, want %q", got, want)
	}
	tr.SetExpanded(tr.Get("load"), true)
	if n := len(rowTopics(tr)); n != 4+SmallTree {
		t.Errorf("expanded load: %d rows", n)
	}
}
