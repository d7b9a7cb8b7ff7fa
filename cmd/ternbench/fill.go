package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/ternmq/tern/codec"
)

// fillStall is how long a filling publisher waits without an
// acknowledgement before it gives up: a durable broker may pause for a
// flush or a compaction.
const fillStall = 30 * time.Second

// pubSpec is one publisher of a fill: its topics (message seq goes to
// topics[(seq-1) % len]), whether the messages are retained, and how many.
type pubSpec struct {
	topics []string
	retain bool
	count  int64
}

// publishAll runs one QoS 1 publisher per spec at once, each with at
// most 1000 unacknowledged messages, and returns when every message is
// acknowledged. The publishers are numbered in the order of specs.
func (r *run) publishAll(ctx context.Context, specs []pubSpec) ([]*publisher, error) {
	pubs := make([]*publisher, len(specs))
	var wg sync.WaitGroup
	for i, sp := range specs {
		c, err := r.connectTimeout(ctx, fmt.Sprintf("tb-%s-f%d", r.prefix[10:18], i))
		if err != nil {
			return nil, err
		}
		defer c.close()
		p := newPublisher(i, c, sp.topics, 1, sp.retain, r.cfg.Payload)
		pubs[i] = p
		lim := limits{count: sp.count, inflight: int64(min(c.recvMax, 1000)), stall: fillStall}
		go p.readAcks()
		wg.Go(func() { p.run(ctx, r.clk, lim) })
	}
	wg.Wait()
	for _, p := range pubs {
		if p.err != nil {
			return nil, fmt.Errorf("publisher %d: %w", p.idx, p.err)
		}
	}
	return pubs, ctx.Err()
}

// fill makes the restart scenario's sessions, queued messages and
// retained messages, and returns the publishers (whose numbers the
// messages carry).
func (r *run) fill(ctx context.Context) ([]*publisher, error) {
	cfg := r.cfg
	t0 := time.Now()
	if err := r.createSessions(ctx, cfg.Sessions, r.queueTopic); err != nil {
		return nil, err
	}
	nPub := min(8, cfg.Sessions)
	specs := make([]pubSpec, nPub, nPub+1)
	for i := range cfg.Sessions {
		sp := &specs[i%nPub]
		sp.topics = append(sp.topics, r.queueTopic(i))
	}
	for i := range specs {
		specs[i].count = int64(len(specs[i].topics)) * int64(cfg.Queued)
	}
	if cfg.Retained > 0 {
		rt := make([]string, cfg.Retained)
		for i := range rt {
			rt[i] = r.retainedTopic(i)
		}
		specs = append(specs, pubSpec{topics: rt, retain: true, count: int64(cfg.Retained)})
	}
	pubs, err := r.publishAll(ctx, specs)
	if err != nil {
		return nil, err
	}
	d := time.Since(t0)
	r.rep.FillSeconds = round3(d.Seconds())
	r.rep.FillPerSec = round1(float64(int64(cfg.Sessions)*int64(cfg.Queued)+int64(cfg.Retained)) / d.Seconds())
	return pubs, nil
}

func (r *run) retainedTopic(i int) string { return r.prefix + "r/" + strconv.Itoa(i) }

// checkRecovery counts what came back after the restart: the queued
// messages of session 0 (which reconnects) and the retained messages (to
// a new subscriber).
func (r *run) checkRecovery(ctx context.Context, pubs []*publisher) {
	rep := r.rep
	rep.RecoveredQueued, rep.SessionPresent = r.countSession(ctx, pubs)
	rep.RecoveredRetained = r.countRetained(ctx, pubs)
}

// countSession reconnects persistent session 0 and counts the messages
// it gets within the drain time.
func (r *run) countSession(ctx context.Context, pubs []*publisher) (int64, bool) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	c, present, err := r.t.connectSession(cctx, r.sessionID(0), r.v, true)
	cancel()
	if err != nil {
		r.rep.Error = "session 0 after the restart: " + err.Error()
		return 0, false
	}
	return r.count(ctx, c, pubs, int64(r.cfg.Queued)), present
}

// countRetained counts the retained messages a new subscriber gets.
func (r *run) countRetained(ctx context.Context, pubs []*publisher) int64 {
	if r.cfg.Retained == 0 {
		return 0
	}
	c, err := r.connectTimeout(ctx, "tb-"+r.prefix[10:18]+"-rs")
	if err != nil {
		return 0
	}
	if err := c.subscribe(r.prefix+"r/+", codec.QoS(1)); err != nil {
		c.close()
		return 0
	}
	return r.count(ctx, c, pubs, int64(r.cfg.Retained))
}

// count reads messages on c until want have come or the drain time is
// over, then closes c.
func (r *run) count(ctx context.Context, c *client, pubs []*publisher, want int64) int64 {
	s := newSubscriber(0, c, pubs, "")
	go s.run(r.clk)
	n := r.drain(ctx, want, s.count.Load)
	c.close()
	<-s.done
	return n
}
