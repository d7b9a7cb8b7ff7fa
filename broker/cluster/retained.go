package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ternmq/tern/broker"
)

// Retained messages shared by the nodes: TERN_RETAINED keeps the last
// message of each topic (MaxMsgsPerSubject 1) under RetainedPrefix. The
// ingress node writes a retained message there before the publisher's
// PUBACK (PublishedDurable); an empty one is written as an empty mark,
// which replaces the topic's message at once, and then the subject is
// purged below the mark. A new subscription on any node reads the last
// message of each subject its filter matches with a short-lived ordered
// ephemeral consumer (DeliverLastPerSubject), or for a filter without
// wildcards with a get from the stream leader, so a node holds no copy of
// the retained messages of other nodes. The stream does not allow direct
// gets: a follower may answer those a little behind the leader, and the
// message a publisher was just acknowledged for would be missing. The
// consumer of a wildcard read reads the replica of the node it is placed
// on, which can be a few milliseconds behind the leader.

// retainedBatch is how many retained messages one fetch asks for.
const retainedBatch = 256

// RetainedFor implements broker.ClusterRetained: it reads the retained
// messages matching filter on a goroutine of its own and calls deliver.
func (n *Node) RetainedFor(filter string, before time.Time, deliver func([]*broker.Message, error)) {
	d := n.q
	if !d.ready.Load() {
		deliver(nil, errNotReady)
		return
	}
	if !d.goTracked(func() { deliver(d.readRetained(filter, before)) }) {
		deliver(nil, fmt.Errorf("%w: node closed", broker.ErrClusterRefused))
	}
}

// readRetained returns the retained messages of the topics that match
// filter stored before since (by the stream leader's clock), skipping
// empty marks.
func (d *durable) readRetained(filter string, since time.Time) ([]*broker.Message, error) {
	ctx, cancel := context.WithTimeout(d.ctx, callTimeout)
	defer cancel()
	if !strings.ContainsAny(filter, "+#") {
		return d.readRetainedTopic(ctx, filter, since)
	}
	fs := FilterSubjects(filter)
	for i, s := range fs {
		fs[i] = RetainedPrefix + strings.TrimPrefix(s, "tern.")
	}
	// An ephemeral consumer of the last message of each matching subject,
	// deleted when read (an ordered consumer would make a new consumer,
	// with another start, for each fetch).
	cons, err := d.ret.CreateConsumer(ctx, jetstream.ConsumerConfig{
		FilterSubjects:    fs,
		DeliverPolicy:     jetstream.DeliverLastPerSubjectPolicy,
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: 10 * time.Second,
		Replicas:          1,
		MemoryStorage:     true,
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: retained messages of %q: %w", filter, err)
	}
	info := cons.CachedInfo()
	defer func() {
		del, cancel := context.WithTimeout(d.ctx, callTimeout)
		if err := d.ret.DeleteConsumer(del, info.Name); err != nil && d.ctx.Err() == nil {
			d.n.log.Debug("cluster: delete the consumer of a retained read", "err", err)
		}
		cancel()
	}()
	left := info.NumPending
	var msgs []*broker.Message
	for left > 0 {
		wait := time.Until(deadline(ctx))
		if wait <= 0 {
			return nil, fmt.Errorf("cluster: retained messages of %q: %w", filter, context.DeadlineExceeded)
		}
		batch, err := cons.Fetch(int(min(left, retainedBatch)), jetstream.FetchMaxWait(wait))
		if errors.Is(err, nats.ErrNoResponders) && sleep(ctx, 20*time.Millisecond) {
			continue // as below
		}
		if err != nil {
			return nil, fmt.Errorf("cluster: retained messages of %q: %w", filter, err)
		}
		got := 0
		for msg := range batch.Messages() {
			got++
			meta, err := msg.Metadata()
			if err != nil {
				return nil, fmt.Errorf("cluster: retained messages of %q: %w", filter, err)
			}
			left = meta.NumPending
			if meta.Timestamp.After(since) {
				continue
			}
			m, _, err := d.decode(msg, RetainedPrefix)
			if err != nil {
				d.stats.Bad.Add(1)
				d.n.log.Warn("cluster: dropped a retained message", "subject", msg.Subject(), "err", err)
				continue
			}
			if len(m.Payload) > 0 {
				m.Retain = true
				msgs = append(msgs, m)
			}
		}
		if err := batch.Error(); err != nil {
			if got == 0 && errors.Is(err, nats.ErrNoResponders) {
				// The new consumer's interest has not reached this
				// node's server yet: ask again shortly.
				if !sleep(ctx, 20*time.Millisecond) {
					return nil, fmt.Errorf("cluster: retained messages of %q: %w", filter, err)
				}
				continue
			}
			return nil, fmt.Errorf("cluster: retained messages of %q: %w", filter, err)
		}
		if got == 0 {
			return nil, fmt.Errorf("cluster: retained messages of %q: %d announced, none came", filter, left)
		}
	}
	return msgs, nil
}

// readRetainedTopic returns the retained message of topic, if any, with a
// get from the stream leader (no consumer).
func (d *durable) readRetainedTopic(ctx context.Context, topic string, since time.Time) ([]*broker.Message, error) {
	raw, err := d.ret.GetLastMsgForSubject(ctx, streamSubject(RetainedPrefix, topic))
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("cluster: retained message of %q: %w", topic, err)
	case raw.Time.After(since):
		return nil, nil
	}
	m, _, err := decodeStored(raw.Subject, raw.Header, raw.Data, raw.Time, RetainedPrefix)
	if err != nil {
		d.stats.Bad.Add(1)
		return nil, fmt.Errorf("cluster: retained message of %q: %w", topic, err)
	}
	if len(m.Payload) == 0 {
		return nil, nil // an empty mark not purged yet
	}
	m.Retain = true
	return []*broker.Message{m}, nil
}

// sleep waits for d or until ctx ends, and reports whether ctx is still
// alive.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// deadline is ctx's deadline (it has one).
func deadline(ctx context.Context) time.Time {
	t, _ := ctx.Deadline()
	return t
}

var _ broker.ClusterRetained = (*Node)(nil)
