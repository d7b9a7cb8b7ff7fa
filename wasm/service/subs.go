package service

import (
	"context"
	"errors"
	"time"

	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/wasm/uistate"
)

// filterSubs is what the sinks of a service subscribed to one filter. The
// client keeps one handler per filter, so the service subscribes each
// filter once, with the options of all its members merged, and hands a
// message to every member.
type filterSubs struct {
	members []member
}

// member is one sink's subscription to a filter.
type member struct {
	sink uistate.Sink
	sub  uistate.Subscription
}

// merged returns the subscription sent for the filter: the highest QoS,
// No Local only if every member asked for it, Retain As Published if one
// did, and the retained messages unless every member declined them.
func (f *filterSubs) merged() codec.Subscription {
	out := f.members[0].sub.Codec()
	for _, m := range f.members[1:] {
		c := m.sub.Codec()
		out.QoS = max(out.QoS, c.QoS)
		out.NoLocal = out.NoLocal && c.NoLocal
		out.RetainAsPublished = out.RetainAsPublished || c.RetainAsPublished
		out.RetainHandling = min(out.RetainHandling, c.RetainHandling)
	}
	return out
}

// Subscribe subscribes sink to sub.Filter and returns the server's reason
// code (the granted QoS or a failure). The messages it delivers carry the
// sink and count for sub.ID. A filter another sink has subscribed to is
// subscribed again with the merged options, so the new sink gets the
// retained messages (and the others get them once more).
func (s *Service) Subscribe(ctx context.Context, sink uistate.Sink, sub uistate.Subscription) (codec.ReasonCode, error) {
	c := s.c.Load()
	if c == nil {
		return 0, ErrNotConnected
	}
	filter := sub.Filter
	s.mu.Lock()
	f := s.subs[filter]
	if f == nil {
		f = &filterSubs{}
		s.subs[filter] = f
	}
	f.remove(sink)
	f.members = append(f.members, member{sink: sink, sub: sub})
	cs := f.merged()
	s.mu.Unlock()

	codes, err := c.Subscribe(ctx, func(m *client.Message) { s.deliver(filter, m) }, cs)
	var code codec.ReasonCode
	if len(codes) > 0 {
		code = codes[0]
	}
	var re *client.ReasonError
	if errors.As(err, &re) && re.Op == "subscribe" {
		err = nil // the reason code says it
	}
	return code, err
}

// Unsubscribe ends sink's subscription to filter; the filter is
// unsubscribed when no sink is left on it.
func (s *Service) Unsubscribe(ctx context.Context, sink uistate.Sink, filter string) error {
	c := s.c.Load()
	if c == nil {
		return ErrNotConnected
	}
	s.mu.Lock()
	last := false
	if f := s.subs[filter]; f != nil {
		f.remove(sink)
		if last = len(f.members) == 0; last {
			delete(s.subs, filter)
		}
	}
	s.mu.Unlock()
	if !last {
		return nil
	}
	return c.Unsubscribe(ctx, filter)
}

func (f *filterSubs) remove(sink uistate.Sink) {
	for i, m := range f.members {
		if m.sink == sink {
			f.members = append(f.members[:i], f.members[i+1:]...)
			return
		}
	}
}

// filters returns the filters subscribed.
func (s *Service) filters() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.subs))
	for f := range s.subs {
		out = append(out, f)
	}
	return out
}

// batch is what waits for the next update.
type batch struct {
	msgs    []uistate.Message
	first   uint64                   // the number of the message at msgs[0]
	seen    map[*client.Message]seen // messages of this batch, to queue a message once
	counts  map[int]uint64
	dropped uint64
	events  []uistate.ConnEvent
}

// seen is a message queued in this batch: its number, and the sink of
// the subscription named in its Sub.
type seen struct {
	n       uint64
	subSink uistate.Sink
}

func newBatch() batch {
	return batch{seen: make(map[*client.Message]seen), counts: make(map[int]uint64)}
}

// deliver queues a message delivered for filter ("" for the default
// handler). Overlapping subscriptions hand the client's same
// *client.Message to the handler of each filter: it is queued once, with
// the sinks of all, and counted for each subscription. Its Sub names a
// subscription of the lowest sink that matched (the log's, for its
// colors, when the tree matched too).
func (s *Service) deliver(filter string, m *client.Message) {
	now := time.Now()
	s.mu.Lock()
	b := &s.batch
	sinks, sub, subSink := s.o.DefaultSink, 0, uistate.Sink(0)
	f := s.subs[filter]
	if f == nil && sinks == 0 { // nobody here asked for it
		s.mu.Unlock()
		return
	}
	if f != nil {
		sinks = 0
		for _, mb := range f.members {
			sinks |= mb.sink
			b.counts[mb.sub.ID]++
			if subSink == 0 || mb.sink < subSink {
				sub, subSink = mb.sub.ID, mb.sink
			}
		}
	}
	if q, dup := b.seen[m]; dup {
		if q.n >= b.first {
			lm := &b.msgs[q.n-b.first]
			lm.Sinks |= sinks
			if subSink != 0 && (q.subSink == 0 || subSink < q.subSink) {
				lm.Sub, q.subSink = sub, subSink
				b.seen[m] = q
			}
		}
	} else {
		b.seen[m] = seen{n: b.first + uint64(len(b.msgs)), subSink: subSink}
		b.add(m, now, sub, sinks, s.o.MaxPending)
	}
	s.mu.Unlock()
	s.signal()
}

// add appends a message, keeping at most about max.
func (b *batch) add(m *client.Message, now time.Time, sub int, sinks uistate.Sink, max int) {
	lm := uistate.Message{Time: now, Topic: m.Topic, Payload: m.Payload, QoS: byte(m.QoS),
		Retain: m.Retain, Dup: m.Dup, Sub: sub, Sinks: sinks}
	if uistate.KeepProperties(&m.Properties) {
		p := m.Properties
		lm.Props = &p
	}
	b.msgs = append(b.msgs, lm)
	if n := len(b.msgs) - max; n >= max {
		// Keep the newest max; copying only once per max messages keeps
		// this O(1) per message.
		b.dropped += uint64(n)
		b.first += uint64(n)
		b.msgs = append(b.msgs[:0], b.msgs[n:]...)
	}
}

// take returns what is queued and empties the queue.
func (b *batch) take() uistate.Update {
	u := uistate.Update{Messages: b.msgs, Dropped: b.dropped, Conn: b.events}
	if len(b.counts) > 0 {
		u.Counts = b.counts
		b.counts = make(map[int]uint64, len(u.Counts))
	}
	b.first += uint64(len(b.msgs))
	b.msgs, b.dropped, b.events = nil, 0, nil
	clear(b.seen)
	return u
}
