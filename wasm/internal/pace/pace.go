// Package pace batches UI updates: it turns a stream of wake-ups into
// calls of a flush function, at once after a quiet period and then at most
// once per interval while wake-ups keep coming. The connection services of
// the web client use it so the UI gets one update per interval, never one
// per message.
package pace

import (
	"context"
	"time"
)

// Run calls flush after each wake-up on wake, no sooner than interval
// after the previous call, until ctx ends. Wake-ups that arrive meanwhile
// are merged into the next call (wake is meant to have a buffer of one and
// be sent to without blocking).
func Run(ctx context.Context, wake <-chan struct{}, interval time.Duration, flush func()) {
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		}
		if wait := interval - time.Since(last); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		last = time.Now()
		flush()
	}
}
