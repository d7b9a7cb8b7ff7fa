package livetree

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func msg(topic, payload string, retain bool) Message {
	return Message{Topic: topic, Payload: []byte(payload), Retain: retain, Time: t0}
}

func TestApplyCounts(t *testing.T) {
	tr := New(Options{})
	changed := tr.Apply(
		msg("home/kitchen/temp", "21.5", true),
		msg("home/kitchen/temp", "21.7", false),
		msg("home/hall/light", "on", true),
		msg("office/door", "closed", false),
	)
	if !changed {
		t.Fatal("Apply did not report new nodes")
	}
	if tr.Apply(msg("home/kitchen/temp", "22", false)) {
		t.Error("Apply reported a shape change for a known topic")
	}
	tests := []struct {
		topic                  string
		count, total           uint64
		topics, retained       int
		hasValue, retainedFlag bool
		last                   string
	}{
		{"home", 0, 4, 2, 2, false, false, ""},
		{"home/kitchen", 0, 3, 1, 1, false, false, ""},
		{"home/kitchen/temp", 3, 3, 1, 1, true, true, "22"},
		{"home/hall/light", 1, 1, 1, 1, true, true, "on"},
		{"office", 0, 1, 1, 0, false, false, ""},
		{"office/door", 1, 1, 1, 0, true, false, "closed"},
	}
	for _, tt := range tests {
		n := tr.Get(tt.topic)
		if n == nil {
			t.Fatalf("no node %q", tt.topic)
		}
		if n.Count() != tt.count || n.Total() != tt.total || n.Topics() != tt.topics ||
			n.RetainedCount() != tt.retained || n.HasValue() != tt.hasValue || n.Retained() != tt.retainedFlag {
			t.Errorf("%s: count %d total %d topics %d retained %d value %v flag %v; want %+v", tt.topic,
				n.Count(), n.Total(), n.Topics(), n.RetainedCount(), n.HasValue(), n.Retained(), tt)
		}
		if tt.hasValue && string(n.Last().Payload) != tt.last {
			t.Errorf("%s: last %q, want %q", tt.topic, n.Last().Payload, tt.last)
		}
		if !tt.hasValue && n.Last() != nil {
			t.Errorf("%s: has a last value", tt.topic)
		}
	}
	if tr.Len() != 3 || tr.Nodes() != 7 || tr.Messages() != 5 || tr.Root().Total() != 5 {
		t.Errorf("Len %d Nodes %d Messages %d Total %d", tr.Len(), tr.Nodes(), tr.Messages(), tr.Root().Total())
	}
	n := tr.Get("home/kitchen/temp")
	if n.Name() != "temp" || n.Depth() != 2 || n.Parent().Topic() != "home/kitchen" || tr.Get("home").Parent() != nil {
		t.Errorf("name %q depth %d parent %v", n.Name(), n.Depth(), n.Parent())
	}
	if p := n.Prev(); p == nil || string(p.Payload) != "21.7" {
		t.Errorf("Prev = %v", p)
	}
	var vals []string
	for _, v := range n.History(nil) {
		vals = append(vals, string(v.Payload))
	}
	if want := []string{"22", "21.7", "21.5"}; !slices.Equal(vals, want) {
		t.Errorf("History = %q, want %q", vals, want)
	}
}

func TestEmptyLevels(t *testing.T) {
	tr := New(Options{})
	tr.Apply(msg("/a", "1", false), msg("a//b", "2", false), msg("a/", "3", false))
	for _, topic := range []string{"", "/a", "a", "a/", "a//b"} {
		if tr.Get(topic) == nil {
			t.Errorf("no node %q", topic)
		}
	}
	if n := tr.Get("a/"); n.Name() != "" || !n.HasValue() || n.NumChildren() != 1 {
		t.Errorf("a/: name %q value %v children %d", n.Name(), n.HasValue(), n.NumChildren())
	}
}

func TestClearRetained(t *testing.T) {
	tests := []struct {
		name    string
		rap     bool
		clear   Message
		gone    []string // nodes removed
		kept    []string // nodes still there
		cleared bool     // home/a/x lost its value
	}{
		{"empty retained clears", true, msg("home/a/x", "", true), []string{"home/a/x"}, []string{"home/a", "home"}, true},
		{"empty live with RAP is a value", true, msg("home/a/x", "", false), nil, []string{"home/a/x"}, false},
		{"empty live on retained without RAP clears", false, msg("home/a/x", "", false), []string{"home/a/x"}, []string{"home/a"}, true},
		{"intermediate with value keeps node", true, msg("home/a", "", true), nil, []string{"home/a", "home/a/x"}, false},
		{"unknown topic", true, msg("nope", "", true), []string{"nope"}, []string{"home/a/x"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := New(Options{RetainAsPublished: tt.rap})
			tr.Apply(msg("home/a/x", "1", true), msg("home/a/x", "2", true), msg("home/a", "p", true), msg("home/b", "3", true))
			tr.Select(tr.Get("home/a/x"))
			before := tr.Root().RetainedCount()
			tr.Apply(tt.clear)
			for _, g := range tt.gone {
				if tr.Get(g) != nil {
					t.Errorf("%q still in the tree", g)
				}
			}
			for _, k := range tt.kept {
				if tr.Get(k) == nil {
					t.Errorf("%q gone", k)
				}
			}
			if n := tr.Get("home/a/x"); tt.cleared && n != nil {
				t.Errorf("home/a/x still there")
			} else if tt.cleared && tr.Selected() != tr.Get("home/a") {
				t.Errorf("selection %v did not move to the parent", tr.Selected())
			}
			wantRetained := before
			if tt.cleared || tt.clear.Topic == "home/a" {
				wantRetained--
			}
			if got := tr.Root().RetainedCount(); got != wantRetained {
				t.Errorf("retained %d, want %d", got, wantRetained)
			}
			checkInvariants(t, tr)
		})
	}
}

func TestRetainedMarkerSurvivesLiveMessage(t *testing.T) {
	tr := New(Options{RetainAsPublished: true})
	tr.Apply(msg("a/b", "1", true), msg("a/b", "2", false))
	n := tr.Get("a/b")
	if !n.Retained() || n.Last().Retain || tr.Root().RetainedCount() != 1 {
		t.Errorf("retained %v, last.Retain %v, count %d", n.Retained(), n.Last().Retain, tr.Root().RetainedCount())
	}
}

func TestRetainedUnder(t *testing.T) {
	tr := New(Options{})
	tr.Apply(
		msg("plant/line10/temp", "1", true),
		msg("plant/line2/temp", "1", true),
		msg("plant/line2/speed", "1", false),
		msg("plant", "root value", true),
		msg("plantation/x", "1", true),
		msg("other", "1", true),
	)
	got := tr.RetainedUnder(tr.Get("plant"))
	want := []string{"plant", "plant/line2/temp", "plant/line10/temp"}
	if !slices.Equal(got, want) {
		t.Errorf("RetainedUnder(plant) = %q, want %q", got, want)
	}
	if n := tr.Get("plant").RetainedCount(); n != len(want) {
		t.Errorf("RetainedCount = %d", n)
	}
	if all := tr.RetainedUnder(nil); len(all) != 5 {
		t.Errorf("RetainedUnder(nil) = %q", all)
	}
	// Clearing them one by one empties the subtree of retained topics and
	// leaves the non-retained topic.
	for _, topic := range got {
		tr.Apply(msg(topic, "", true))
	}
	if tr.Get("plant/line2/speed") == nil || tr.Get("plant/line10") != nil || tr.Get("plantation/x") == nil {
		t.Error("clearing removed the wrong nodes")
	}
	if n := tr.Get("plant").RetainedCount(); n != 0 {
		t.Errorf("RetainedCount after clearing = %d", n)
	}
}

func TestHistoryBounds(t *testing.T) {
	t.Run("per topic", func(t *testing.T) {
		tr := New(Options{HistoryLen: 5})
		for i := range 100 {
			tr.Apply(msg("a", fmt.Sprint(i), false))
		}
		h := tr.Get("a").History(nil)
		if len(h) != 5 || string(h[0].Payload) != "99" || string(h[4].Payload) != "95" {
			t.Errorf("history %d values, newest %q", len(h), h[0].Payload)
		}
		if v, _ := tr.HistoryLen(); v != 4 {
			t.Errorf("HistoryLen values = %d", v)
		}
	})
	t.Run("global count", func(t *testing.T) {
		tr := New(Options{HistoryLen: 10, MaxHistory: 50})
		for i := range 1000 {
			tr.Apply(msg(fmt.Sprintf("t/%d", i%20), fmt.Sprint(i), false))
		}
		if v, _ := tr.HistoryLen(); v > 50 {
			t.Errorf("%d older values kept, bound 50", v)
		}
		for i := range 20 {
			n := tr.Get(fmt.Sprintf("t/%d", i))
			if n.Last() == nil || len(n.History(nil)) > 10 {
				t.Errorf("t/%d: %d values", i, len(n.History(nil)))
			}
		}
		checkInvariants(t, tr)
	})
	t.Run("global bytes", func(t *testing.T) {
		tr := New(Options{MaxHistoryBytes: 10_000})
		big := strings.Repeat("x", 1000)
		for i := range 500 {
			tr.Apply(msg(fmt.Sprintf("t/%d", i%7), big, false))
		}
		if _, b := tr.HistoryLen(); b > 10_000 {
			t.Errorf("%d history bytes, bound 10000", b)
		}
	})
	t.Run("value size", func(t *testing.T) {
		tr := New(Options{MaxValueBytes: 10})
		tr.Apply(msg("a", strings.Repeat("y", 100), false))
		v := tr.Get("a").Last()
		if len(v.Payload) != 10 || v.Size != 100 || !v.Truncated() {
			t.Errorf("payload %d bytes, size %d", len(v.Payload), v.Size)
		}
	})
	t.Run("topics", func(t *testing.T) {
		tr := New(Options{MaxTopics: 10})
		for i := range 20 {
			tr.Apply(msg(fmt.Sprintf("a/%d", i), "1", false))
		}
		if tr.Nodes() != 10 || tr.Dropped() != 11 {
			t.Errorf("Nodes %d Dropped %d", tr.Nodes(), tr.Dropped())
		}
		tr.Apply(msg("a/0", "2", false)) // known topics still update
		if string(tr.Get("a/0").Last().Payload) != "2" {
			t.Error("a known topic was not updated in a full tree")
		}
	})
}

// checkInvariants recomputes every node's counts from scratch and checks
// the tree's bookkeeping.
func checkInvariants(t *testing.T, tr *Tree) {
	t.Helper()
	var walk func(n *Node) (total uint64, topics, retained int)
	nodes := 0
	walk = func(n *Node) (uint64, int, int) {
		total, topics, retained := n.count, 0, 0
		if n.hasValue {
			topics++
		} else if n.count != 0 || n.retained {
			t.Errorf("%q: no value but count %d retained %v", n.topic, n.count, n.retained)
		}
		if n.retained {
			retained++
		}
		if n.parent != nil && !n.hasValue && len(n.kids) == 0 {
			t.Errorf("%q: empty leaf left in the tree", n.topic)
		}
		for i, k := range n.kids {
			nodes++
			if k.parent != n || int(k.pos) != i || tr.nodes[k.topic] != k {
				t.Errorf("%q: bad links", k.topic)
			}
			a, b, c := walk(k)
			total, topics, retained = total+a, topics+b, retained+c
		}
		if total != n.total || topics != int(n.topics) || retained != int(n.nretained) {
			t.Errorf("%q: total %d/%d topics %d/%d retained %d/%d", n.topic, n.total, total, n.topics, topics, n.nretained, retained)
		}
		return total, topics, retained
	}
	walk(&tr.root)
	if nodes != len(tr.nodes) {
		t.Errorf("%d nodes linked, %d in the map", nodes, len(tr.nodes))
	}
	values, bytes := 0, 0
	for _, n := range tr.nodes {
		if h := n.hist; h != nil {
			if h.n == 0 {
				t.Errorf("%q: empty history ring kept", n.topic)
			}
			for i := 0; i < h.n; i++ {
				values++
				bytes += len(h.at(i).Payload) + valueCost
			}
		}
	}
	if v, b := tr.HistoryLen(); v != values || b != bytes {
		t.Errorf("history accounting %d values %d bytes, counted %d %d", v, b, values, bytes)
	}
}

func TestRandomInvariants(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, rap := range []bool{false, true} {
		tr := New(Options{HistoryLen: 4, MaxHistory: 200, MaxTopics: 300, RetainAsPublished: rap})
		for i := range 20_000 {
			topic := fmt.Sprintf("r/%d/%d", r.IntN(8), r.IntN(30))
			if r.IntN(4) == 0 {
				topic = fmt.Sprintf("r/%d", r.IntN(8))
			}
			payload := fmt.Sprint(i)
			if r.IntN(5) == 0 {
				payload = ""
			}
			tr.Apply(msg(topic, payload, r.IntN(2) == 0))
			if i%2000 == 0 {
				tr.ExpandAll(nil)
				tr.SetQuery(fmt.Sprint(r.IntN(10)))
				tr.Rows()
				tr.SetQuery("")
				checkInvariants(t, tr)
			}
		}
		checkInvariants(t, tr)
	}
}

func TestNaturalCompare(t *testing.T) {
	names := []string{"sensor10", "b", "sensor2", "", "A", "sensor02", "sensor1", "10", "9"}
	slices.SortFunc(names, naturalCompare)
	want := []string{"", "9", "10", "A", "b", "sensor1", "sensor02", "sensor2", "sensor10"}
	if !slices.Equal(names, want) {
		t.Errorf("sorted %q, want %q", names, want)
	}
}

// TestUpdateRate applies ten seconds' worth of the page's target load
// (5,000 messages a second over 50,000 topics) and checks that it takes a
// small part of those ten seconds, even with the race detector.
func TestUpdateRate(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	tr := New(Options{})
	batch := make([]Message, 0, 500)
	for i := range 50_000 {
		batch = append(batch, msg(benchTopic(i), "1", true))
		if len(batch) == cap(batch) {
			tr.Apply(batch...)
			batch = batch[:0]
		}
	}
	start := time.Now()
	payload := []byte(`{"temp":21.5}`)
	for i := range 50_000 {
		batch = append(batch, Message{Topic: benchTopic(i * 7 % 50_000), Payload: payload, Time: t0})
		if len(batch) == 375 { // one 75 ms batch at 5,000 msg/s
			tr.Apply(batch...)
			tr.Rows()
			batch = batch[:0]
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("50,000 updates took %v", d)
	} else {
		t.Logf("50,000 updates (10 s at 5,000 msg/s) applied in %v", d)
	}
}

// benchTopic spreads topics over 3 levels like a plant: site/line/sensor.
func benchTopic(i int) string {
	return fmt.Sprintf("site%d/line%d/sensor%d", i%10, i/10%100, i/1000)
}
