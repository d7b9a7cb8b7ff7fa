package main

import (
	"context"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/ternmq/tern/broker"
)

// After a wave of connections has closed (2,000 clients that never sent
// CONNECT, cut at the CONNECT deadline; a fleet that went away), the
// memory they held is garbage, but an idle broker allocates too little to
// start a collection, and the runtime returns to the system only what a
// collection has freed: measured, 2,000 such connections left +12 MiB of
// RSS 15 s after their close. The releaser watches the open connections
// and, once a wave is over, collects and returns the memory at once
// (debug.FreeOSMemory).
const (
	releaseTick  = time.Second      // how often the open connections are looked at
	releaseDrop  = 1000             // a wave: at least this many fewer than the peak
	releaseEvery = 30 * time.Second // at most one release in this time
)

// releaser decides when to release memory from samples of the open
// connections (observe).
type releaser struct {
	peak, prev int       // the most open since the last release; the last sample
	last       time.Time // the last release
}

// observe takes the open connections at now and reports whether memory
// should be released now: the connections have stopped falling, they are
// at least releaseDrop and a quarter fewer than their peak since the last
// release (a broker with a million devices does not collect for the
// churn of a thousand), and the last release is releaseEvery ago.
func (r *releaser) observe(open int, now time.Time) bool {
	falling := open < r.prev
	r.prev = open
	r.peak = max(r.peak, open)
	drop := r.peak - open
	if falling || drop < releaseDrop || drop < r.peak/4 || now.Sub(r.last) < releaseEvery {
		return false
	}
	r.peak, r.last = open, now
	return true
}

// releaseMemory runs the releaser on srv until ctx ends or stop is closed.
func releaseMemory(ctx context.Context, srv *broker.Server, log *slog.Logger, stop <-chan struct{}) {
	var r releaser
	tick := time.NewTicker(releaseTick)
	defer tick.Stop()
	for {
		select {
		case now := <-tick.C:
			if open := srv.Connections(); r.observe(open, now) {
				start := time.Now()
				// Twice: buffers the connections returned to sync.Pools
				// survive one collection (as the pools' victims).
				debug.FreeOSMemory()
				debug.FreeOSMemory()
				log.Debug("memory of closed connections released", "open", open, "took", time.Since(start))
			}
		case <-ctx.Done():
			return
		case <-stop:
			return
		}
	}
}
