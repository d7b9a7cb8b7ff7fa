package topictree

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/ternmq/tern/codec"
)

// matchCase is one Topic Filter against one Topic Name.
type matchCase struct {
	filter, topic string
	want          bool
}

// specMatches holds every matching example of section 4.7 of MQTT 3.1.1 and
// 5.0 (the two texts give the same examples), then the edge cases of empty
// levels and '$' that the rules imply. Tree, Retained and codec.MatchTopic
// must all agree with it.
var specMatches = []matchCase{
	// 4.7.1.2 Multi-level wildcard, [MQTT-3:4.7.1-2] [MQTT-5:4.7.1-1]:
	// "sport/tennis/player1/#" receives these three Topic Names.
	{"sport/tennis/player1/#", "sport/tennis/player1", true},
	{"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
	{"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
	{"sport/tennis/player1/#", "sport/tennis/player2", false},
	{"sport/tennis/player1/#", "sport/tennis", false},
	// "sport/#" also matches the singular "sport", since # includes the
	// parent level.
	{"sport/#", "sport", true},
	{"sport/#", "sport/", true},
	{"sport/#", "sports", false},
	// "#" is valid and will receive every Application Message.
	{"#", "sport", true},
	{"#", "sport/tennis/player1", true},
	{"#", "/", true},
	{"#", "/finance", true},
	// "sport/tennis/#" is valid.
	{"sport/tennis/#", "sport/tennis/player1/ranking", true},

	// 4.7.1.3 Single-level wildcard, [MQTT-3:4.7.1-3] [MQTT-5:4.7.1-2]:
	// "sport/tennis/+" matches "sport/tennis/player1" and
	// "sport/tennis/player2", but not "sport/tennis/player1/ranking".
	{"sport/tennis/+", "sport/tennis/player1", true},
	{"sport/tennis/+", "sport/tennis/player2", true},
	{"sport/tennis/+", "sport/tennis/player1/ranking", false},
	// "sport/+" does not match "sport" but it does match "sport/".
	{"sport/+", "sport", false},
	{"sport/+", "sport/", true},
	// "+" is valid; "+/tennis/#" is valid; "sport/+/player1" is valid.
	{"+", "sport", true},
	{"+", "sport/tennis", false},
	{"+/tennis/#", "sport/tennis", true},
	{"+/tennis/#", "sport/tennis/player1/ranking", true},
	{"+/tennis/#", "sport/golf", false},
	{"sport/+/player1", "sport/tennis/player1", true},
	{"sport/+/player1", "sport//player1", true},
	{"sport/+/player1", "sport/tennis/player2", false},
	// "/finance" matches "+/+" and "/+", but not "+".
	{"+/+", "/finance", true},
	{"/+", "/finance", true},
	{"+", "/finance", false},

	// 4.7.2 Topics beginning with $ [MQTT-4.7.2-1]:
	// a subscription to "#" will not receive any messages published to a
	// topic beginning with a $.
	{"#", "$SYS/monitor/Clients", false},
	{"#", "$SYS", false},
	{"#", "$", false},
	// "+/monitor/Clients" will not receive "$SYS/monitor/Clients".
	{"+/monitor/Clients", "$SYS/monitor/Clients", false},
	{"+/monitor/Clients", "SYS/monitor/Clients", true},
	// "$SYS/#" will receive messages published to topics beginning with
	// "$SYS/".
	{"$SYS/#", "$SYS/monitor/Clients", true},
	{"$SYS/#", "$SYS/", true},
	{"$SYS/#", "$SYS", true},
	{"$SYS/#", "$SYSTEM/x", false},
	// "$SYS/monitor/+" will receive "$SYS/monitor/Clients".
	{"$SYS/monitor/+", "$SYS/monitor/Clients", true},
	// Only the first level counts: wildcards below it match '$' levels.
	{"+/$x", "a/$x", true},
	{"a/+", "a/$x", true},
	{"a/#", "a/$x/y", true},
	{"+/#", "$SYS/x", false},

	// 4.7.3 Topic semantic and usage [MQTT-4.7.3-4]: levels compare byte
	// for byte, no normalisation. "ACCOUNTS" and "Accounts" are two
	// different Topic Names; "Accounts payable" is a valid Topic Name;
	// "/finance" is different from "finance"; a leading or trailing '/'
	// creates a distinct Topic Name; "/" alone is valid.
	{"ACCOUNTS", "Accounts", false},
	{"Accounts", "Accounts", true},
	{"Accounts payable", "Accounts payable", true},
	{"Accounts payable", "Accounts  payable", false},
	{"/finance", "finance", false},
	{"finance", "/finance", false},
	{"finance", "finance/", false},
	{"finance/", "finance/", true},
	{"/", "/", true},
	{"/", "//", false},
	{"+/+", "/", true},
	{"+", "/", false},
	{"/#", "/", true},
	{"caf\u00e9", "cafe\u0301", false}, // same text in NFC and NFD, different bytes

	// Empty levels (4.7.1.1: adjacent separators are a zero-length level).
	{"a//b", "a//b", true},
	{"a//b", "a/b", false},
	{"a/b", "a//b", false},
	{"a/+/b", "a//b", true},
	{"a/+/+", "a//", true},
	{"+/+/+", "//", true},
	{"+/+", "//", false},
	{"//#", "//", true},
	{"//#", "/", true}, // "/" is two empty levels: the parent of "//#"
	{"///#", "/", false},
	{"+/+/#", "a", false},
	{"+/#", "a", true},
	{"a/+/#", "a/", true},
	{"a/+/#", "a", false},
}

// TestMatchSpec checks Tree.Match against the examples of section 4.7, one
// filter per tree, and codec.MatchTopic against the same table.
func TestMatchSpec(t *testing.T) {
	for _, c := range specMatches {
		if got := codec.MatchTopic(c.filter, c.topic); got != c.want {
			t.Errorf("codec.MatchTopic(%q, %q) = %v, want %v", c.filter, c.topic, got, c.want)
		}
		tr := New[string, int]()
		tr.Add(c.filter, "k", 7)
		var got []string
		tr.Match(c.topic, func(k string, v int) {
			if v != 7 {
				t.Errorf("Match(%q) under %q: value %d, want 7", c.topic, c.filter, v)
			}
			got = append(got, k)
		})
		if matched := len(got) > 0; matched != c.want || len(got) > 1 {
			t.Errorf("filter %q, topic %q: got %d matches, want match=%v", c.filter, c.topic, len(got), c.want)
		}
	}
}

// TestMatchSpecTogether puts every filter of the table into one tree and
// checks that each topic reports exactly the filters that match it.
func TestMatchSpecTogether(t *testing.T) {
	tr := New[string, struct{}]()
	for _, c := range specMatches {
		tr.Add(c.filter, c.filter, struct{}{})
	}
	for _, c := range specMatches {
		got := map[string]int{}
		tr.Match(c.topic, func(k string, _ struct{}) { got[k]++ })
		if got[c.filter] > 1 {
			t.Errorf("topic %q: filter %q reported %d times", c.topic, c.filter, got[c.filter])
		}
		if (got[c.filter] == 1) != c.want {
			t.Errorf("topic %q: filter %q matched=%v, want %v", c.topic, c.filter, got[c.filter] == 1, c.want)
		}
		for f := range got {
			if !codec.MatchTopic(f, c.topic) {
				t.Errorf("topic %q: reported filter %q, which does not match", c.topic, f)
			}
		}
	}
}

// TestSpecFilterValidity covers the validity examples of 4.7.1.2 and 4.7.1.3:
// the tree relies on codec.ValidTopicFilter having rejected these.
func TestSpecFilterValidity(t *testing.T) {
	for _, c := range []struct {
		filter string
		valid  bool
	}{
		{"#", true},                       // [MQTT-3:4.7.1-2] [MQTT-5:4.7.1-1]
		{"sport/tennis/#", true},          // [MQTT-3:4.7.1-2] [MQTT-5:4.7.1-1]
		{"sport/tennis#", false},          // [MQTT-3:4.7.1-2] [MQTT-5:4.7.1-1]
		{"sport/tennis/#/ranking", false}, // [MQTT-3:4.7.1-2] [MQTT-5:4.7.1-1]
		{"+", true},                       // [MQTT-3:4.7.1-3] [MQTT-5:4.7.1-2]
		{"+/tennis/#", true},              // [MQTT-3:4.7.1-3] [MQTT-5:4.7.1-2]
		{"sport+", false},                 // [MQTT-3:4.7.1-3] [MQTT-5:4.7.1-2]
		{"sport/+/player1", true},         // [MQTT-3:4.7.1-3] [MQTT-5:4.7.1-2]
	} {
		if err := codec.ValidTopicFilter(c.filter); (err == nil) != c.valid {
			t.Errorf("codec.ValidTopicFilter(%q) = %v, want valid=%v", c.filter, err, c.valid)
		}
	}
}

func TestAddReplaces(t *testing.T) {
	tr := New[string, int]()
	if tr.Add("a/+", "c1", 1) {
		t.Fatal("first Add reported a replacement")
	}
	if !tr.Add("a/+", "c1", 2) {
		t.Fatal("second Add for the same key and filter did not report a replacement")
	}
	if tr.Add("a/+", "c2", 3) || tr.Add("a/#", "c1", 4) || tr.Add("a//+", "c1", 5) {
		t.Fatal("Add for another key or filter reported a replacement")
	}
	if n := tr.Len(); n != 4 {
		t.Fatalf("Len = %d, want 4", n)
	}
	got := map[string]int{}
	tr.Match("a/b", func(k string, v int) { got[k] += v })
	if want := map[string]int{"c1": 2 + 4, "c2": 3}; !maps.Equal(got, want) {
		t.Fatalf("Match(a/b) = %v, want %v (the replaced value must be gone)", got, want)
	}
}

func TestRemovePrunes(t *testing.T) {
	tr := New[int, bool]()
	filters := []string{"a/b/c", "a/b/c/d", "a/+/c", "a/#", "+/+/#", "#", "/", "//", "a//b/", "$SYS/#"}
	for i, f := range filters {
		tr.Add(f, i, true)
	}
	tr.Add("a/b/c", 100, true) // a second entry on the same node
	checkTree(t, tr)

	if tr.Remove("a/b/c", 999) || tr.Remove("a/b/x", 0) || tr.Remove("a/b", 0) || tr.Remove("a/b/c/d/e", 1) {
		t.Fatal("Remove of a missing entry reported true")
	}
	before := tr.nodeCount()
	if !tr.Remove("a/b/c", 100) {
		t.Fatal("Remove(a/b/c, 100) = false")
	}
	if n := tr.nodeCount(); n != before {
		t.Fatalf("removing one of two entries changed the node count from %d to %d", before, n)
	}
	if !tr.Remove("a/b/c/d", 1) {
		t.Fatal("Remove(a/b/c/d, 1) = false")
	}
	if n := tr.nodeCount(); n != before-1 {
		t.Fatalf("after removing a/b/c/d: %d nodes, want %d (only the leaf d pruned)", n, before-1)
	}
	if tr.Remove("a/b/c/d", 1) {
		t.Fatal("second Remove of the same entry reported true")
	}
	for i, f := range filters {
		if i != 1 && !tr.Remove(f, i) {
			t.Fatalf("Remove(%q, %d) = false", f, i)
		}
		checkTree(t, tr)
	}
	if n, l := tr.nodeCount(), tr.Len(); n != 0 || l != 0 {
		t.Fatalf("empty tree has %d nodes and Len %d, want 0 and 0", n, l)
	}
	if tr.root.children != nil {
		t.Fatal("root keeps an empty children map")
	}
}

// TestMatchAgreesWithCodec compares Tree.Match with a scan of all filters by
// codec.MatchTopic over random filters and topics, before and after removing
// half of the filters, and checks that removing the rest empties the tree.
func TestMatchAgreesWithCodec(t *testing.T) {
	for seed := range uint64(8) {
		rng := rand.New(rand.NewPCG(seed, 0x7e57))
		filters := make([]string, 400)
		for i := range filters {
			filters[i] = randomFilter(rng)
		}
		topics := make([]string, 400)
		for i := range topics {
			topics[i] = randomTopic(rng)
		}
		tr := New[int, string]()
		live := map[int]bool{}
		for i, f := range filters {
			tr.Add(f, i, f)
			live[i] = true
		}
		check := func(stage string) {
			t.Helper()
			checkTree(t, tr)
			for _, topic := range topics {
				got := map[int]int{}
				tr.Match(topic, func(k int, f string) {
					if f != filters[k] {
						t.Fatalf("key %d reported with value %q, want %q", k, f, filters[k])
					}
					got[k]++
				})
				for k := range live {
					want := codec.MatchTopic(filters[k], topic)
					if n := got[k]; (want && n != 1) || (!want && n != 0) {
						t.Fatalf("seed %d, %s: topic %q, filter %q: reported %d times, codec.MatchTopic = %v",
							seed, stage, topic, filters[k], n, want)
					}
					delete(got, k)
				}
				if len(got) > 0 {
					t.Fatalf("seed %d, %s: topic %q: removed keys reported: %v", seed, stage, topic, got)
				}
			}
		}
		check("all added")
		for i := range filters {
			if i%2 == 1 {
				if !tr.Remove(filters[i], i) {
					t.Fatalf("Remove(%q, %d) = false", filters[i], i)
				}
				delete(live, i)
			}
		}
		if tr.Len() != len(live) {
			t.Fatalf("Len = %d, want %d", tr.Len(), len(live))
		}
		check("half removed")
		for i := range live {
			tr.Remove(filters[i], i)
		}
		if n := tr.nodeCount(); n != 0 || tr.Len() != 0 {
			t.Fatalf("seed %d: after removing everything: %d nodes, Len %d", seed, n, tr.Len())
		}
	}
}

// TestMatchConcurrent runs Match from several goroutines while others add
// and remove filters; run it with -race.
func TestMatchConcurrent(t *testing.T) {
	tr := New[int, int]()
	tr.Add("sensors/#", -1, 0)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range 2000 {
				seen := 0
				tr.Match(fmt.Sprintf("sensors/%d/temp", i%50), func(k, v int) {
					if k == -1 {
						seen++
					} else if v != k {
						t.Errorf("key %d with value %d", k, v)
					}
				})
				if seen != 1 {
					t.Errorf("the permanent subscription was reported %d times", seen)
					return
				}
			}
		})
	}
	for w := range 2 {
		wg.Go(func() {
			for i := range 2000 {
				f := fmt.Sprintf("sensors/%d/+", i%50)
				k := w*1_000_000 + i
				tr.Add(f, k, k)
				if i%3 == 0 {
					tr.Add("sensors/+/temp/#", k, k)
					tr.Remove("sensors/+/temp/#", k)
				}
				if !tr.Remove(f, k) {
					t.Errorf("Remove(%q, %d) = false", f, k)
					return
				}
			}
		})
	}
	wg.Wait()
	if n, l := tr.nodeCount(), tr.Len(); n != 2 || l != 1 {
		t.Fatalf("after the run: %d nodes and Len %d, want 2 and 1", n, l)
	}
}

// TestMatchDoesNotAllocate proves the PUBLISH path allocation-free.
func TestMatchDoesNotAllocate(t *testing.T) {
	tr := New[int, uint8]()
	for i, f := range []string{
		"site/1/device/2/temp", "site/+/device/+/temp", "site/1/#", "#", "+/+/+/+/+",
		"$SYS/#", "$SYS/broker/+", "a//b", "a/+/b", "/", "+/#", "site/1/device/2/temp/#",
	} {
		tr.Add(f, i, uint8(i))
	}
	topics := []string{"site/1/device/2/temp", "site/9/device/3/temp", "$SYS/broker/load", "a//b", "/", "x", "a/b/c/d/e/f/g/h"}
	var n int
	fn := func(int, uint8) { n++ }
	allocs := testing.AllocsPerRun(100, func() {
		for _, topic := range topics {
			tr.Match(topic, fn)
		}
	})
	if allocs != 0 {
		t.Fatalf("Match allocates: %v allocations per run", allocs)
	}
	if n == 0 {
		t.Fatal("no matches: the test exercised nothing")
	}
}

// randomLevel and randomFilter build small random topics from few distinct
// levels, so that filters and topics overlap often. They include empty
// levels, levels starting with '$' and, for filters, '+' and a final '#'.
var (
	topicLevels  = []string{"a", "b", "", "$x", "ab"}
	filterLevels = []string{"a", "b", "", "$x", "+", "+"}
)

func randomTopic(rng *rand.Rand) string {
	for {
		s := randomLevels(rng, topicLevels)
		if codec.ValidTopicName(s) == nil {
			return s
		}
	}
}

func randomFilter(rng *rand.Rand) string {
	for {
		s := randomLevels(rng, filterLevels)
		switch rng.IntN(4) {
		case 0:
			s += "/#"
		case 1:
			s = "#"
		}
		if codec.ValidTopicFilter(s) == nil {
			return s
		}
	}
}

func randomLevels(rng *rand.Rand, levels []string) string {
	n := 1 + rng.IntN(5)
	s := levels[rng.IntN(len(levels))]
	for range n - 1 {
		s += "/" + levels[rng.IntN(len(levels))]
	}
	return s
}

// nodeCount returns the number of nodes below the root.
func (t *Tree[K, V]) nodeCount() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.root.size()
}

func (n *node[K, V]) size() int {
	s := 0
	for _, c := range n.allChildren() {
		s += 1 + c.size()
	}
	return s
}

func (n *node[K, V]) allChildren() []*node[K, V] {
	cs := slices.Collect(maps.Values(n.children))
	if n.plus != nil {
		cs = append(cs, n.plus)
	}
	if n.hash != nil {
		cs = append(cs, n.hash)
	}
	return cs
}

// checkTree checks the invariants Remove relies on: parent links and levels
// agree with where each node hangs, no empty node stays below the root, '#'
// nodes have no children, and Len counts the entries.
func checkTree[K comparable, V any](t *testing.T, tr *Tree[K, V]) {
	t.Helper()
	tr.mu.RLock()
	defer tr.mu.RUnlock()
	entries := 0
	var walk func(n *node[K, V])
	walk = func(n *node[K, V]) {
		entries += n.entries.len()
		checkEntries(t, &n.entries)
		if n.children != nil && len(n.children) == 0 {
			t.Errorf("node %q keeps an empty children map", n.level)
		}
		for l, c := range n.children {
			if c.level != l || l == "+" || l == "#" {
				t.Errorf("child under key %q has level %q", l, c.level)
			}
		}
		if n.plus != nil && n.plus.level != "+" || n.hash != nil && n.hash.level != "#" {
			t.Error("wildcard child with the wrong level")
		}
		if n.hash != nil && len(n.hash.allChildren()) > 0 {
			t.Error("'#' node with children")
		}
		for _, c := range n.allChildren() {
			if c.parent != n {
				t.Errorf("node %q: wrong parent", c.level)
			}
			if c.entries.len() == 0 && len(c.allChildren()) == 0 {
				t.Errorf("empty node %q was not pruned", c.level)
			}
			walk(c)
		}
	}
	walk(&tr.root)
	if entries != tr.count {
		t.Errorf("%d entries in the tree, count says %d", entries, tr.count)
	}
}
