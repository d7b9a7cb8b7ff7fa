package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ternmq/tern/codec"
)

// sessionID is the client id of the run's persistent session i.
func (r *run) sessionID(i int) string {
	return fmt.Sprintf("tb-%s-q%d", r.prefix[10:18], i)
}

// parallel runs f(i) for i in [0, n) on cfg.Workers goroutines and returns
// the first error; after an error the remaining calls are not made.
func (r *run) parallel(ctx context.Context, n int, f func(i int) error) error {
	var (
		next   atomic.Int64
		failed atomic.Bool
		once   sync.Once
		first  error
		wg     sync.WaitGroup
	)
	for range min(r.cfg.Workers, n) {
		wg.Go(func() {
			for ctx.Err() == nil && !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					failed.Store(true)
					once.Do(func() { first = err })
				}
			}
		})
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// createSessions makes n persistent sessions (ids from sessionID), session
// i subscribed at QoS 1 to filter(i), and disconnects them: afterwards
// the broker queues their messages.
func (r *run) createSessions(ctx context.Context, n int, filter func(i int) string) error {
	return r.parallel(ctx, n, func(i int) error {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		c, _, err := r.t.connectSession(cctx, r.sessionID(i), r.v, true)
		if err != nil {
			return err
		}
		defer c.close()
		return c.subscribe(filter(i), codec.QoS(1))
	})
}

// dropSessions ends the sessions of ids by connecting with Clean Start
// (and, in 5.0, no Session Expiry), so that a broker used again does not
// keep them. Failures are reported on stderr only.
func (r *run) dropSessions(ctx context.Context, ids []string) {
	if len(ids) == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	err := r.parallel(ctx, len(ids), func(i int) error {
		c, err := r.connectTimeout(ctx, ids[i])
		if err != nil {
			return err
		}
		c.close()
		return nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "ternbench: ending persistent sessions:", err)
	}
}

// sessionIDs returns the ids of sessions [0, n).
func (r *run) sessionIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = r.sessionID(i)
	}
	return ids
}
