package acl

import (
	"strings"
	"testing"

	"github.com/ternmq/tern/codec"
)

// words joins every sequence of 1..depth levels drawn from levels.
func words(levels []string, depth int) []string {
	var out []string
	var rec func(prefix []string)
	rec = func(prefix []string) {
		if len(prefix) > 0 {
			out = append(out, strings.Join(prefix, "/"))
		}
		if len(prefix) == depth {
			return
		}
		for _, l := range levels {
			rec(append(prefix[:len(prefix):len(prefix)], l))
		}
	}
	rec(nil)
	return out
}

// TestOverlapsCoversExhaustive checks overlaps and covers against their
// definitions over every topic of a universe big enough to hold a witness
// for these filters: overlaps(a, b) iff some topic matches both;
// covers(r, f) iff every topic matching f matches r.
func TestOverlapsCoversExhaustive(t *testing.T) {
	var filters []string
	for _, f := range words([]string{"a", "$a", "", "+", "#"}, 3) {
		if codec.ValidTopicFilter(f) == nil {
			filters = append(filters, f)
		}
	}
	topics := words([]string{"a", "$a", "c", ""}, 4)
	match := make([][]bool, len(filters))
	for i, f := range filters {
		match[i] = make([]bool, len(topics))
		for j, tp := range topics {
			match[i][j] = codec.MatchTopic(f, tp)
		}
	}
	for i, a := range filters {
		for k, b := range filters {
			some, all := false, true
			for j := range topics {
				some = some || (match[i][j] && match[k][j])
				all = all && (!match[k][j] || match[i][j])
			}
			if got := overlaps(a, b); got != some {
				t.Errorf("overlaps(%q, %q) = %v, want %v", a, b, got, some)
			}
			if got := covers(a, b); got != all {
				t.Errorf("covers(%q, %q) = %v, want %v", a, b, got, all)
			}
		}
	}
	if len(filters) < 100 {
		t.Fatalf("only %d filters", len(filters))
	}
}
