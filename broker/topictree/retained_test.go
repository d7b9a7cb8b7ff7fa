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

// TestRetainedMatchSpec checks Retained.Match against the examples of
// section 4.7 (specMatches in tree_test.go cites the statements), one stored
// topic at a time.
func TestRetainedMatchSpec(t *testing.T) {
	for _, c := range specMatches {
		r := NewRetained[int]()
		r.Set(c.topic, 7)
		var got []string
		r.Match(c.filter, func(topic string, v int) bool {
			if v != 7 {
				t.Errorf("filter %q: value %d, want 7", c.filter, v)
			}
			got = append(got, topic)
			return true
		})
		if matched := len(got) > 0; matched != c.want || len(got) > 1 || (matched && got[0] != c.topic) {
			t.Errorf("filter %q, retained topic %q: got %q, want match=%v", c.filter, c.topic, got, c.want)
		}
	}
}

// TestRetainedMatchSpecTogether stores every topic of the table at once and
// checks that each filter finds exactly the topics it matches.
func TestRetainedMatchSpecTogether(t *testing.T) {
	r := NewRetained[string]()
	for _, c := range specMatches {
		r.Set(c.topic, c.topic)
	}
	for _, c := range specMatches {
		got := map[string]int{}
		r.Match(c.filter, func(topic, v string) bool {
			if topic != v {
				t.Errorf("topic %q reported with value %q", topic, v)
			}
			got[topic]++
			return true
		})
		if (got[c.topic] == 1) != c.want || got[c.topic] > 1 {
			t.Errorf("filter %q: topic %q reported %d times, want match=%v", c.filter, c.topic, got[c.topic], c.want)
		}
		for topic := range got {
			if !codec.MatchTopic(c.filter, topic) {
				t.Errorf("filter %q: reported topic %q, which it does not match", c.filter, topic)
			}
		}
	}
}

func TestRetainedSetGetDelete(t *testing.T) {
	r := NewRetained[int]()
	topics := []string{"a", "a/b", "a//b", "/a", "a/", "/", "//", "$SYS/x"}
	for i, topic := range topics {
		r.Set(topic, i)
	}
	r.Set("a/b", 100) // replace
	if n := r.Len(); n != len(topics) {
		t.Fatalf("Len = %d, want %d", n, len(topics))
	}
	for i, topic := range topics {
		want := i
		if topic == "a/b" {
			want = 100
		}
		if v, ok := r.Get(topic); !ok || v != want {
			t.Errorf("Get(%q) = %d, %v; want %d, true", topic, v, ok, want)
		}
	}
	for _, missing := range []string{"b", "a/b/c", "a//", "$SYS", "//a"} {
		if _, ok := r.Get(missing); ok {
			t.Errorf("Get(%q) found a value", missing)
		}
		if r.Delete(missing) {
			t.Errorf("Delete(%q) = true", missing)
		}
	}
	checkRetained(t, r)
	// Deleting "a" keeps its node for the topics below it.
	if !r.Delete("a") || r.Delete("a") {
		t.Fatal("Delete(a) did not report true once")
	}
	if _, ok := r.Get("a"); ok {
		t.Fatal("Get(a) after Delete found a value")
	}
	if v, ok := r.Get("a/b"); !ok || v != 100 {
		t.Fatalf("Get(a/b) = %d, %v after deleting a", v, ok)
	}
	checkRetained(t, r)
	for _, topic := range topics[1:] {
		if !r.Delete(topic) {
			t.Fatalf("Delete(%q) = false", topic)
		}
		checkRetained(t, r)
	}
	if n, l := r.nodeCount(), r.Len(); n != 0 || l != 0 {
		t.Fatalf("empty Retained has %d nodes and Len %d", n, l)
	}
}

func TestRetainedMatchStops(t *testing.T) {
	r := NewRetained[int]()
	for i := range 20 {
		r.Set(fmt.Sprintf("a/%d", i), i)
		r.Set(fmt.Sprintf("a/%d/x", i), i)
	}
	for _, filter := range []string{"#", "a/#", "a/+", "+/+/x", "a/+/#"} {
		for _, stopAfter := range []int{1, 2, 7} {
			calls := 0
			r.Match(filter, func(string, int) bool {
				calls++
				return calls < stopAfter
			})
			if calls != stopAfter {
				t.Errorf("Match(%q) with fn false after %d calls: %d calls", filter, stopAfter, calls)
			}
		}
	}
}

// TestRetainedMatchAgreesWithCodec compares Retained.Match with a scan of
// all stored topics by codec.MatchTopic, before and after deleting half of
// them.
func TestRetainedMatchAgreesWithCodec(t *testing.T) {
	for seed := range uint64(8) {
		rng := rand.New(rand.NewPCG(seed, 0x4e7a))
		stored := map[string]int{}
		r := NewRetained[int]()
		for i := range 400 {
			topic := randomTopic(rng)
			stored[topic] = i
			r.Set(topic, i)
		}
		filters := make([]string, 400)
		for i := range filters {
			filters[i] = randomFilter(rng)
		}
		check := func(stage string) {
			t.Helper()
			checkRetained(t, r)
			if r.Len() != len(stored) {
				t.Fatalf("Len = %d, want %d", r.Len(), len(stored))
			}
			for _, f := range filters {
				got := map[string]int{}
				r.Match(f, func(topic string, v int) bool {
					if v != stored[topic] {
						t.Fatalf("topic %q reported with %d, want %d", topic, v, stored[topic])
					}
					got[topic]++
					return true
				})
				for topic := range stored {
					want := codec.MatchTopic(f, topic)
					if n := got[topic]; (want && n != 1) || (!want && n != 0) {
						t.Fatalf("seed %d, %s: filter %q, topic %q: reported %d times, codec.MatchTopic = %v",
							seed, stage, f, topic, n, want)
					}
					delete(got, topic)
				}
				if len(got) > 0 {
					t.Fatalf("seed %d, %s: filter %q: deleted topics reported: %v", seed, stage, f, got)
				}
			}
		}
		check("all set")
		keys := slices.Sorted(maps.Keys(stored))
		for i, topic := range keys {
			if i%2 == 0 {
				if !r.Delete(topic) {
					t.Fatalf("Delete(%q) = false", topic)
				}
				delete(stored, topic)
			}
		}
		check("half deleted")
		for topic := range stored {
			r.Delete(topic)
		}
		if n := r.nodeCount(); n != 0 || r.Len() != 0 {
			t.Fatalf("seed %d: after deleting everything: %d nodes, Len %d", seed, n, r.Len())
		}
	}
}

// TestRetainedConcurrent runs Match and Get while other goroutines set and
// delete topics; run it with -race.
func TestRetainedConcurrent(t *testing.T) {
	r := NewRetained[int]()
	r.Set("status/online", 1)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 1000 {
				seen := 0
				r.Match("status/#", func(topic string, v int) bool {
					if topic == "status/online" {
						seen++
					}
					return true
				})
				if _, ok := r.Get("status/online"); !ok || seen != 1 {
					t.Errorf("the permanent topic was reported %d times, Get found it: %v", seen, ok)
					return
				}
			}
		})
	}
	for w := range 2 {
		wg.Go(func() {
			for i := range 1000 {
				topic := fmt.Sprintf("status/%d/%d", w, i%40)
				r.Set(topic, i)
				if !r.Delete(topic) {
					t.Errorf("Delete(%q) = false", topic)
					return
				}
			}
		})
	}
	wg.Wait()
	if n, l := r.nodeCount(), r.Len(); n != 2 || l != 1 {
		t.Fatalf("after the run: %d nodes and Len %d, want 2 and 1", n, l)
	}
}

// nodeCount returns the number of nodes below the root.
func (r *Retained[V]) nodeCount() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.root.size()
}

func (n *rnode[V]) size() int {
	s := 0
	for _, c := range n.children {
		s += 1 + c.size()
	}
	return s
}

// checkRetained checks parent links, levels, stored topic names, pruning and
// the count.
func checkRetained[V any](t *testing.T, r *Retained[V]) {
	t.Helper()
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.root.has {
		t.Error("the root holds a value")
	}
	values := 0
	var walk func(n *rnode[V], path string)
	walk = func(n *rnode[V], path string) {
		if n.has {
			values++
			if n.topic != path {
				t.Errorf("node at %q stores topic %q", path, n.topic)
			}
		} else if n.topic != "" {
			t.Errorf("node at %q without a value keeps topic %q", path, n.topic)
		}
		if n.children != nil && len(n.children) == 0 {
			t.Errorf("node at %q keeps an empty children map", path)
		}
		for l, c := range n.children {
			if c.level != l || c.parent != n {
				t.Errorf("node under key %q: level %q, parent ok %v", l, c.level, c.parent == n)
			}
			if !c.has && len(c.children) == 0 {
				t.Errorf("empty node under %q was not pruned", path)
			}
			p := l
			if n != &r.root {
				p = path + "/" + l
			}
			walk(c, p)
		}
	}
	walk(&r.root, "")
	if values != r.count {
		t.Errorf("%d values in the tree, count says %d", values, r.count)
	}
}

// TestRetainedMatchDoesNotAllocate backs the claim in Match's documentation.
func TestRetainedMatchDoesNotAllocate(t *testing.T) {
	r := NewRetained[int]()
	for i, topic := range []string{"site/1/device/2/temp", "site/9/device/3/temp", "$SYS/broker/load", "a//b", "/", "x"} {
		r.Set(topic, i)
	}
	var n int
	fn := func(string, int) bool { n++; return true }
	allocs := testing.AllocsPerRun(100, func() {
		for _, f := range []string{"#", "site/+/device/+/temp", "$SYS/#", "+/+", "a/+/b", "site/1/#"} {
			r.Match(f, fn)
		}
	})
	if allocs != 0 {
		t.Fatalf("Match allocates: %v allocations per run", allocs)
	}
	if n == 0 {
		t.Fatal("no matches: the test exercised nothing")
	}
}

// TestRetainedAll: All visits every name, '$' topics included, which no
// filter with a leading wildcard matches [MQTT-4.7.2-1].
func TestRetainedAll(t *testing.T) {
	r := NewRetained[int]()
	for i, topic := range []string{"a", "a/b", "$SYS/x", "$share-like/y", "/"} {
		r.Set(topic, i)
	}
	var got []string
	r.All(func(topic string, _ int) bool {
		got = append(got, topic)
		return true
	})
	slices.Sort(got)
	if want := []string{"$SYS/x", "$share-like/y", "/", "a", "a/b"}; !slices.Equal(got, want) {
		t.Errorf("All visited %v, want %v", got, want)
	}
}
