package main

import (
	"context"
	"math"
	"time"
)

// The open-loop scenario offers the broker a fixed load, whatever it does
// with it. Each publisher owns a schedule of slots, slot k due k/rate
// seconds after the start, and never waits for the broker to catch up:
//
//   - When slots are due, the publisher sends as many of them as its
//     in-flight window (--inflight unacknowledged QoS 1 messages) has room
//     for, in one write.
//   - The due slots the window has no room for are skipped and counted
//     (Report.Skipped), and the schedule moves on. A skipped slot is load
//     the broker could not take: it shows as delivered < offered, never as
//     a publisher that quietly slowed down.
//   - A message carries the time of its slot, not the time it was written,
//     so its latency includes any delay of the publisher behind schedule
//     (no coordinated omission).
//
// The only thing the broker can still slow is a write that blocks because
// the socket's buffer is full; the in-flight window bounds that to the
// window's bytes, and the slots that fell due meanwhile are sent late
// (with their scheduled times) or skipped.

// schedule is a publisher's open-loop plan: rate slots per second, slot k
// (from 0) due at at(k) after the start.
type schedule struct{ rate float64 }

// due returns how many slots are due elapsed after the start (slot 0 is
// due at once).
func (s schedule) due(elapsed time.Duration) int64 {
	if elapsed < 0 {
		return 0
	}
	// The last slot due: estimated in floating point, then settled
	// against at, which is the definition.
	k := int64(float64(elapsed) * s.rate / 1e9)
	for s.at(k+1) <= elapsed {
		k++
	}
	for k > 0 && s.at(k) > elapsed {
		k--
	}
	return k + 1
}

// at returns when slot k is due, after the start, rounded up to the
// nanosecond (so that due(at(k)) > k).
func (s schedule) at(k int64) time.Duration {
	return time.Duration(math.Ceil(float64(k) * 1e9 / s.rate))
}

// plan decides what to do with the slots from next up to due: send is how
// many to send now (at most batch, at most room, the free places in the
// in-flight window); skip is how many to give up because the window is
// full. Slots held back only by the batch size wait for the next write.
func plan(due, next, room, batch int64) (send, skip int64) {
	pending := due - next
	if pending <= 0 {
		return 0, 0
	}
	room = max(room, 0)
	send = min(pending, batch, room)
	if room < min(pending, batch) {
		skip = pending - send
	}
	return send, skip
}

// runOpen publishes on sch until the deadline or count slots: the
// open-loop counterpart of run. It then waits (for at most lim.stall
// without progress) for the last acknowledgements.
func (p *publisher) runOpen(ctx context.Context, clk clock, lim limits, sch schedule) {
	pkt, perBatch, buf, err := p.prepare()
	if err != nil {
		p.err = err
		return
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	start := clk.now()
	var seq, next int64 // messages sent, next slot
	for ctx.Err() == nil {
		now := clk.now()
		if !lim.deadline.IsZero() && time.Now().After(lim.deadline) || lim.count > 0 && next >= lim.count {
			break
		}
		due := sch.due(time.Duration(now - start))
		if lim.count > 0 {
			due = min(due, lim.count)
		}
		room := int64(1 << 62)
		if p.qos > 0 {
			room = lim.inflight - (seq - p.acked.Load())
		}
		send, skip := plan(due, next, room, perBatch)
		p.skipped.Add(skip)
		if send == 0 {
			next += skip
			sleepUntil(ctx, timer, time.Duration(start+int64(sch.at(next))-clk.now()))
			continue
		}
		buf = buf[:0]
		for i := range send {
			buf, _ = p.batch(buf, &pkt, seq+i, 1, start+int64(sch.at(next+i)))
		}
		next += send + skip
		if err := p.c.write(buf); err != nil {
			p.err = err
			return
		}
		seq += send
		p.sent.Store(seq)
	}
	p.slots.Store(next)
	p.awaitAcks(ctx, timer, seq, lim.stall)
}

// sleepUntil waits for d: until the next slot is due. Acknowledgements
// do not wake it: a slot is sent or skipped when it is due.
func sleepUntil(ctx context.Context, timer *time.Timer, d time.Duration) {
	if d <= 0 {
		return
	}
	timer.Reset(d) // Go 1.23 timers: no stale value after Reset
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
}

// awaitAcks waits until the broker acknowledged seq messages, giving up
// (errStalled) after stall without progress.
func (p *publisher) awaitAcks(ctx context.Context, timer *time.Timer, seq int64, stall time.Duration) {
	for p.qos > 0 && p.acked.Load() < seq && ctx.Err() == nil {
		timer.Reset(stall)
		select {
		case <-p.wake:
		case <-timer.C:
			p.err = errStalled
			return
		case <-ctx.Done():
		}
	}
}
