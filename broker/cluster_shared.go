package broker

import "github.com/ternmq/tern/codec"

// This file is the optional seam for shared subscriptions across the nodes
// of a cluster: a Cluster that also implements ClusterShared delivers the
// QoS 0 messages of shared subscriptions itself, so that a message
// published on any node reaches one member of a $share group over all the
// nodes, and one that implements ClusterSharedDurable (and ClusterDurable)
// the QoS 1 and 2 messages too. Without them a group's members receive
// only what their own node publishes.

// ClusterShared is implemented by a Cluster (Options.Cluster) that carries
// the QoS 0 messages of shared subscriptions between nodes, for example
// with one NATS queue group per (group, filter).
//
// With it, the Server hands a QoS 0 message published on this node to
// its shared subscriptions only through the cluster: the Cluster's
// Published sends it to the other nodes and to this one alike, and the
// node that the cluster picks for a group passes it to InjectShared. A
// QoS 1 or 2 message reaches only the groups of the node it was published
// on, unless the Cluster is a ClusterSharedDurable; a message from
// InjectRemote never reaches this node's groups. $SYS messages never
// leave their node and are delivered here as without a cluster.
type ClusterShared interface {
	Cluster
	// SharedSubscribed is called when the first session of this node
	// joins the shared subscription $share/{group}/{filter} (the group is
	// new on this node), SharedUnsubscribed when the last one leaves. The
	// calls come without a lock of the Server held, possibly from
	// different goroutines in either order, like Subscribed: count them.
	// SharedSubscribed should return once messages published afterwards
	// on this node reach the group (before the SUBACK).
	SharedSubscribed(group, filter string)
	SharedUnsubscribed(group, filter string)
}

// ClusterSharedDurable is a ClusterShared and ClusterDurable that also
// carries the QoS 1 and 2 messages of shared subscriptions between nodes,
// for example with one durable consumer per (group, filter) on a
// replicated stream that the nodes with members pull from.
//
// When SharedDurable reports true, the Server never hands a QoS 1 or 2
// message to this node's shared groups itself, not even on the path of
// its own messages (InjectDurable with own set): the cluster picks one
// node for each message and group, and that node passes it to
// InjectSharedDurable. Joins and leaves come through SharedSubscribed and
// SharedUnsubscribed as for QoS 0; SharedSubscribed should return once a
// QoS 1 or 2 message published afterwards on any node can reach the group.
type ClusterSharedDurable interface {
	ClusterShared
	// SharedDurable reports whether the cluster delivers the QoS 1 and 2
	// messages of shared subscriptions (InjectSharedDurable). It is
	// called for each message routed here and must be cheap; its answer
	// should not change while the Server runs.
	SharedDurable() bool
}

// InjectShared delivers m, which the cluster picked this node to deliver
// to the shared subscription $share/{group}/{filter}, to one member of
// that group here: the next online member in turn, or an offline one's
// session queue when none is online, as for a message published here. It
// reports whether a member took it (false when the group has no member
// here any more, or m's topic does not match filter). m must not be
// changed afterwards.
func (s *Server) InjectShared(group, filter string, m *Message) bool {
	took, _ := s.injectShared(group, filter, m)
	return took
}

// InjectSharedDurable delivers m, a QoS 1 or 2 message that a
// ClusterSharedDurable keeps until a node took it (from a replicated
// stream) and picked this node to deliver to the shared subscription
// $share/{group}/{filter}, to one member of that group here, as
// InjectShared does: the next online member in turn, or an offline one's
// session queue when none is online, at the lower of m's QoS and the
// member's [MQTT-4.8.2-3]. It reports whether a member took it: false
// when the group has no member here any more or m's topic does not match
// filter, and then done is never called and the cluster should offer m
// to another node. When it took m, done is called once the member's copy
// is durable in the store (at once without a store or when nothing was
// written), with the store's error if that write failed; the cluster
// acknowledges m to its stream only then. m must not be changed
// afterwards.
func (s *Server) InjectSharedDurable(group, filter string, m *Message, done func(error)) bool {
	took, stored := s.injectShared(group, filter, m)
	if !took {
		return false
	}
	if stored && s.commit != nil {
		s.commit.wait(true, done)
		return true
	}
	done(nil)
	return true
}

// injectShared is InjectShared, which also reports whether the delivery
// was written to the store.
func (s *Server) injectShared(group, filter string, m *Message) (took, stored bool) {
	full := sharePrefix + group + "/" + filter
	var g *shareGroup
	s.shared.Match(m.Topic, func(c *shareGroup, _ struct{}) {
		if c.full == full {
			g = c
		}
	})
	if g == nil {
		return false, false
	}
	mem, ok := g.pick(nil, true)
	if !ok {
		return false, false
	}
	if !m.Expires.IsZero() {
		s.sweepSoon()
	}
	stored = mem.s.deliver(mem.delivery(m, m.Retain && mem.o.retainAsPublished, g))
	s.stats.Delivered.Add(1)
	return true, stored
}

// sharePrefix starts the filter of a shared subscription.
const sharePrefix = "$share/"

// sharedByCluster reports whether m reaches this node's shared
// subscriptions through the cluster rather than directly: QoS 0 with a
// ClusterShared, QoS 1 and 2 with a ClusterDurable that is also a
// ClusterSharedDurable and says so.
func (s *Server) sharedByCluster(m *Message) bool {
	if s.opts.Cluster == nil || isSysTopic(m.Topic) {
		return false
	}
	if m.QoS == 0 {
		_, ok := s.opts.Cluster.(ClusterShared)
		return ok
	}
	if s.cq == nil || s.cq.durable == nil {
		return false
	}
	cs, ok := s.opts.Cluster.(ClusterSharedDurable)
	return ok && cs.SharedDurable()
}

// clusterSharedChange tells a ClusterShared cluster that the group of a
// $share filter appeared on this node (joined) or is gone from it.
func (s *Server) clusterSharedChange(full string, joined bool) {
	cs, ok := s.opts.Cluster.(ClusterShared)
	if !ok {
		return
	}
	group, filter, err := codec.ParseShared(full)
	if err != nil {
		return
	}
	if joined {
		cs.SharedSubscribed(group, filter)
	} else {
		cs.SharedUnsubscribed(group, filter)
	}
}
