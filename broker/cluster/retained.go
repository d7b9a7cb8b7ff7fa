package cluster

import (
	"context"
	"fmt"
	"strings"
	"time"

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
// consumer (DeliverLastPerSubject), so a node holds no copy of the
// retained messages of other nodes.

// retainedBatch is how many retained messages one fetch asks for.
const retainedBatch = 256

// RetainedFor implements broker.ClusterRetained: it reads the retained
// messages matching filter on a goroutine of its own and calls deliver.
func (n *Node) RetainedFor(filter string, deliver func([]*broker.Message, error)) {
	d := n.q
	if !d.ready.Load() {
		deliver(nil, errNotReady)
		return
	}
	if !d.goTracked(func() { deliver(d.readRetained(filter)) }) {
		deliver(nil, fmt.Errorf("%w: node closed", broker.ErrClusterRefused))
	}
}

// readRetained returns the retained messages of the topics that match
// filter, skipping empty marks.
func (d *durable) readRetained(filter string) ([]*broker.Message, error) {
	ctx, cancel := context.WithTimeout(d.ctx, callTimeout)
	defer cancel()
	fs := FilterSubjects(filter)
	for i, s := range fs {
		fs[i] = RetainedPrefix + strings.TrimPrefix(s, "tern.")
	}
	oc, err := d.ret.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects:    fs,
		DeliverPolicy:     jetstream.DeliverLastPerSubjectPolicy,
		InactiveThreshold: 10 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: retained messages of %q: %w", filter, err)
	}
	info := oc.CachedInfo()
	defer func() {
		if info != nil {
			del, cancel := context.WithTimeout(d.ctx, callTimeout)
			d.ret.DeleteConsumer(del, info.Name)
			cancel()
		}
	}()
	if info == nil {
		return nil, fmt.Errorf("cluster: retained messages of %q: no consumer info", filter)
	}
	left := info.NumPending
	var msgs []*broker.Message
	for left > 0 {
		wait := time.Until(deadline(ctx))
		if wait <= 0 {
			return nil, fmt.Errorf("cluster: retained messages of %q: %w", filter, context.DeadlineExceeded)
		}
		batch, err := oc.Fetch(int(min(left, retainedBatch)), jetstream.FetchMaxWait(wait))
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
			return nil, fmt.Errorf("cluster: retained messages of %q: %w", filter, err)
		}
		if got == 0 {
			return nil, fmt.Errorf("cluster: retained messages of %q: %d announced, none came", filter, left)
		}
	}
	return msgs, nil
}

// deadline is ctx's deadline (it has one).
func deadline(ctx context.Context) time.Time {
	t, _ := ctx.Deadline()
	return t
}

var _ broker.ClusterRetained = (*Node)(nil)
