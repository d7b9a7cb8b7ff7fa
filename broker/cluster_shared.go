package broker

import "github.com/ternmq/tern/codec"

// This file is the optional seam for shared subscriptions across the nodes
// of a cluster: a Cluster that also implements ClusterShared delivers the
// QoS 0 messages of shared subscriptions itself, so that a message
// published on any node reaches one member of a $share group over all the
// nodes. Without it (or for QoS 1 and 2, for now) a group's members
// receive only what their own node publishes.

// ClusterShared is implemented by a Cluster (Options.Cluster) that carries
// the QoS 0 messages of shared subscriptions between nodes, for example
// with one NATS queue group per (group, filter).
//
// With it, the Server hands a QoS 0 message published on this node to
// its shared subscriptions only through the cluster: the Cluster's
// Published sends it to the other nodes and to this one alike, and the
// node that the cluster picks for a group passes it to InjectShared. A
// QoS 1 or 2 message, and every message from InjectRemote, reaches only
// the groups of the node it was published on. $SYS messages never leave
// their node and are delivered here as without a cluster.
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

// InjectShared delivers m, which the cluster picked this node to deliver
// to the shared subscription $share/{group}/{filter}, to one member of
// that group here: the next online member in turn, or an offline one's
// session queue when none is online, as for a message published here. It
// reports whether a member took it (false when the group has no member
// here any more, or m's topic does not match filter). m must not be
// changed afterwards.
func (s *Server) InjectShared(group, filter string, m *Message) bool {
	full := sharePrefix + group + "/" + filter
	var g *shareGroup
	s.shared.Match(m.Topic, func(c *shareGroup, _ struct{}) {
		if c.full == full {
			g = c
		}
	})
	if g == nil {
		return false
	}
	mem, ok := g.pick(nil, true)
	if !ok {
		return false
	}
	if !m.Expires.IsZero() {
		s.sweepSoon()
	}
	mem.s.deliver(mem.delivery(m, m.Retain && mem.o.retainAsPublished, g))
	s.stats.Delivered.Add(1)
	return true
}

// sharePrefix starts the filter of a shared subscription.
const sharePrefix = "$share/"

// sharedByCluster reports whether m reaches this node's shared
// subscriptions through the cluster (ClusterShared) rather than directly.
func (s *Server) sharedByCluster(m *Message) bool {
	if m.QoS != 0 || s.opts.Cluster == nil || isSysTopic(m.Topic) {
		return false
	}
	_, ok := s.opts.Cluster.(ClusterShared)
	return ok
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
