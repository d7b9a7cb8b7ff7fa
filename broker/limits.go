package broker

import "strings"

// This file holds the caps that keep one client from growing the broker
// without bound: topic depth, subscriptions per client, retained messages
// and bytes per client and in all, and sessions. Each refusal is logged
// and counted (Stats.LimitRefusals).
//
// Measured before these caps: 50 retained PUBLISHes to 65,535-byte topics
// made only of '/' (65,533 levels each) grew the broker by 938 MB, in the
// nodes of its topic trees. A topic of at most MaxTopicLevels levels keeps
// a tree's growth per message to that many nodes.

// topicLevels returns the number of levels of a topic name or filter.
func topicLevels(topic string) int { return strings.Count(topic, "/") + 1 }

// retainQuota is what one client's retained messages cost, under retainMu.
type retainQuota struct {
	count int
	bytes int
}

// retainedSize is what a retained message counts against the caps.
func retainedSize(m *Message) int { return len(m.Topic) + len(m.Payload) }

// retainAllowed reports whether from may make m the retained message of
// its topic, replacing old (nil for none), within the per-client and
// global caps. The caller holds retainMu.
func (s *Server) retainAllowed(m, old *Message) bool {
	o := &s.opts
	size := retainedSize(m)
	grow := size
	if old != nil {
		grow -= retainedSize(old)
	}
	if o.MaxRetainedBytes > 0 && s.retainedBytes+grow > o.MaxRetainedBytes {
		return false
	}
	q := s.retainOwners[m.From]
	same := old != nil && old.From == m.From
	count, bytes := 0, 0
	if q != nil {
		count, bytes = q.count, q.bytes
	}
	if !same {
		count++
	} else {
		bytes -= retainedSize(old)
	}
	return (o.MaxRetainedPerClient <= 0 || count <= o.MaxRetainedPerClient) &&
		(o.MaxRetainedBytesPerClient <= 0 || bytes+size <= o.MaxRetainedBytesPerClient)
}

// account adds (sign 1) or removes (sign -1) m from the retained totals.
// The caller holds retainMu.
func (s *Server) account(m *Message, sign int) {
	size := retainedSize(m) * sign
	s.retainedBytes += size
	q := s.retainOwners[m.From]
	if q == nil {
		q = &retainQuota{}
		s.retainOwners[m.From] = q
	}
	q.count += sign
	q.bytes += size
	if q.count <= 0 {
		delete(s.retainOwners, m.From)
	}
}

// limitRefused logs and counts a refusal by a cap.
func (s *Server) limitRefused(c *conn, what string, args ...any) {
	n := s.stats.LimitRefusals.Add(1)
	c.log.Warn("refused by a limit: "+what, append(args, "refused_total", n)...)
}
