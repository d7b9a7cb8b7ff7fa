package livetree

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestClearJob clears the retained topics under a node with a fake
// publisher: every topic once, at most parallel at a time, failures
// counted and the first one reported, progress while it runs.
func TestClearJob(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := New(Options{})
		for _, topic := range []string{"p/a", "p/b", "p/c/d", "p/e", "q/x"} {
			tr.Apply(msg(topic, "1", true))
		}
		tr.Apply(msg("p/live", "1", false))
		j := tr.NewClearJob(tr.Get("p"))
		if j.Node != "p" || len(j.Topics) != 4 || j.Running() {
			t.Fatalf("job %+v", j)
		}
		var mu sync.Mutex
		var got []string
		var inFlight, most atomic.Int32
		var progress atomic.Int32
		publish := func(ctx context.Context, topic string) error {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			advance(100 * time.Millisecond) // the broker's round trip
			mu.Lock()
			got = append(got, topic)
			mu.Unlock()
			if topic == "p/c/d" {
				return errors.New("not authorized")
			}
			return nil
		}
		j.Run(t.Context(), 2, 30*time.Millisecond, publish, func() { progress.Add(1) })
		slices.Sort(got)
		if !slices.Equal(got, []string{"p/a", "p/b", "p/c/d", "p/e"}) {
			t.Errorf("published %q", got)
		}
		if most.Load() != 2 {
			t.Errorf("%d at a time, want 2", most.Load())
		}
		if progress.Load() == 0 {
			t.Error("no progress while it ran")
		}
		if d, n := j.Progress(); d != 4 || n != 4 {
			t.Errorf("progress %d of %d", d, n)
		}
		if r := j.Result(); r != "Cleared 3 retained messages under p. 1 failed (p/c/d: not authorized)." {
			t.Errorf("result %q", r)
		}
		j.Run(t.Context(), 2, time.Second, publish, func() {}) // runs once
		if len(got) != 4 {
			t.Error("a second Run published again")
		}
		// Started by the page first (to show the progress at once), then run.
		j2 := tr.NewClearJob(tr.Get("q"))
		j2.Start()
		if !j2.Running() {
			t.Error("not running once started")
		}
		j2.Run(t.Context(), 4, time.Second, publish, func() {})
		if d, n := j2.Progress(); d != 1 || n != 1 || j2.Result() != "Cleared 1 retained message under q." {
			t.Errorf("started then run: %d of %d, %q", d, n, j2.Result())
		}
	})
}

func TestRate(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var r Rate
	r.Reset(100, t0)
	r.Observe(600, t0.Add(500*time.Millisecond))
	if r.PerSecond(t0.Add(500*time.Millisecond)) != 0 {
		t.Error("a rate before a second has passed")
	}
	r.Observe(2100, t0.Add(time.Second))
	if got := r.PerSecond(t0.Add(time.Second)); got != 2000 {
		t.Errorf("rate %v, want 2000", got)
	}
	if got := r.PerSecond(t0.Add(4 * time.Second)); got != 0 {
		t.Errorf("rate %v after 3 s of nothing, want 0", got)
	}
}

// advance moves a synctest bubble's fake clock on by d: the goroutine
// waits until every other goroutine of the bubble is blocked and the
// clock has reached its deadline. Outside a bubble it would wait for
// real, so call it only inside synctest.Test.
func advance(d time.Duration) { <-time.After(d) }
