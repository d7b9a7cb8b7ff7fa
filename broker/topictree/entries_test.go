package topictree

import (
	"math/rand/v2"
	"testing"
)

// TestEntriesIndex grows one filter's entries past indexAt and shrinks them
// again in random order, checking the list, the index and Match throughout.
func TestEntriesIndex(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tr := New[int, int]()
	live := map[int]bool{}
	const n = 300
	for k := range n {
		if tr.Add("news/#", k, -k) {
			t.Fatalf("Add(%d) reported a replacement", k)
		}
		live[k] = true
		if k%37 == 0 {
			if !tr.Add("news/#", k/2, -k/2) { // an existing key, index or not
				t.Fatalf("Add(%d) again did not report a replacement", k/2)
			}
			checkMatch(t, tr, "news/today", live)
		}
	}
	checkMatch(t, tr, "news", live)
	for _, k := range rng.Perm(n) {
		if !tr.Remove("news/#", k) {
			t.Fatalf("Remove(%d) = false", k)
		}
		delete(live, k)
		if tr.Remove("news/#", k) {
			t.Fatalf("second Remove(%d) = true", k)
		}
		if len(live)%23 == 0 {
			checkMatch(t, tr, "news/today", live)
		}
	}
	if tr.nodeCount() != 0 {
		t.Fatalf("%d nodes left", tr.nodeCount())
	}
}

// checkMatch checks that topic reports exactly the keys in want, each once
// with the value -key, and the tree's invariants.
func checkMatch(t *testing.T, tr *Tree[int, int], topic string, want map[int]bool) {
	t.Helper()
	checkTree(t, tr)
	got := map[int]int{}
	tr.Match(topic, func(k, v int) {
		if v != -k {
			t.Errorf("key %d with value %d", k, v)
		}
		got[k]++
	})
	if len(got) != len(want) {
		t.Fatalf("Match(%q): %d keys, want %d", topic, len(got), len(want))
	}
	for k, c := range got {
		if c != 1 || !want[k] {
			t.Fatalf("Match(%q): key %d reported %d times, wanted: %v", topic, k, c, want[k])
		}
	}
}

// checkEntries checks that the index, when there is one, agrees with the
// list, and that an empty list is nil.
func checkEntries[K comparable, V any](t *testing.T, e *entries[K, V]) {
	t.Helper()
	if e.list != nil && len(e.list) == 0 {
		t.Error("empty entries keep their slice")
	}
	if e.index == nil {
		if len(e.list) > indexAt {
			t.Errorf("%d entries without an index", len(e.list))
		}
		return
	}
	if len(e.index) != len(e.list) {
		t.Errorf("index has %d keys, list %d", len(e.index), len(e.list))
	}
	for i := range e.list {
		if j, ok := e.index[e.list[i].key]; !ok || j != i {
			t.Errorf("entry %d: index says %d, %v", i, j, ok)
		}
	}
}
