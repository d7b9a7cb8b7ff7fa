package main

import (
	"testing"
	"time"
)

// TestReleaser: memory is released once a wave of closed connections is
// over (no release while they are still falling), not for churn that is
// small against the peak, and not twice within releaseEvery.
func TestReleaser(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	type sample struct {
		s, open int
		release bool
	}
	for _, tc := range []struct {
		name    string
		samples []sample
	}{
		{"a wave, released once it is over", []sample{
			{0, 0, false}, {1, 2000, false}, {2, 2000, false}, {3, 1200, false}, {4, 0, false}, {5, 0, true}, {6, 0, false},
		}},
		{"fewer than releaseDrop", []sample{
			{0, 900, false}, {1, 0, false}, {2, 0, false},
		}},
		{"churn against a large peak", []sample{
			{0, 1_000_000, false}, {1, 998_000, false}, {2, 998_000, false}, {3, 760_000, false}, {4, 740_000, false}, {5, 740_000, true},
		}},
		{"not twice within releaseEvery", []sample{
			{0, 2000, false}, {1, 0, false}, {2, 0, true}, {3, 3000, false}, {4, 0, false}, {5, 0, false},
			{31, 0, false}, {32, 0, true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := releaser{last: t0.Add(-time.Hour)}
			for _, s := range tc.samples {
				if got := r.observe(s.open, at(s.s)); got != s.release {
					t.Fatalf("at %d s with %d open: release %v, want %v", s.s, s.open, got, s.release)
				}
			}
		})
	}
}
