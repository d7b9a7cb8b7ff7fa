package pace

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// TestRun: a first wake-up flushes at once; five more wake-ups in quick
// succession cost two flushes, one interval apart (one for the wake-up the
// waiting loop took, one for those merged while it waited), not five.
func TestRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		wake := make(chan struct{}, 1)
		var flushes []time.Duration
		start := time.Now()
		done := make(chan struct{})
		go func() {
			defer close(done)
			Run(ctx, wake, 100*time.Millisecond, func() { flushes = append(flushes, time.Since(start)) })
		}()
		wake <- struct{}{}
		synctest.Wait()
		for range 5 {
			select {
			case wake <- struct{}{}:
			default:
			}
			synctest.Wait()
		}
		<-time.After(time.Second) // fake time (synctest)
		cancel()
		<-done
		want := []time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond}
		if !slices.Equal(flushes, want) {
			t.Fatalf("flushes at %v, want %v", flushes, want)
		}
	})
}
