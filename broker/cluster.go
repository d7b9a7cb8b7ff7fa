package broker

// This file is the seam to a cluster of nodes (broker/cluster): the hooks
// a node is given and the entry point for messages from other nodes. A
// Server without Options.Cluster pays one nil check per PUBLISH and per
// subscription change.

// Cluster connects a Server to the other nodes of a cluster
// (Options.Cluster). The Server calls it without holding any of its locks
// (see the lock order in doc.go); the calls must not block on the network
// for long, and must not call back into the Server from the same
// goroutine.
type Cluster interface {
	// Subscribed is called each time a session adds a subscription to a
	// (non-shared) filter that it did not have; a filter held by n
	// sessions is reported n times. Unsubscribed is called each time one
	// is removed. The two calls for one filter may reach the Cluster from
	// different goroutines in either order: count them, don't assume a
	// sequence.
	Subscribed(filter string)
	Unsubscribed(filter string)
	// Published is called with every message published on this node
	// (by a client, a will, a bridge or Publish; not $SYS topics and not
	// messages from InjectRemote) after it passed the retained-message
	// caps and before it is delivered to local subscribers. m must not be
	// changed.
	Published(m *Message)
}

// InjectRemote routes a message that another node of the cluster received
// to this node's subscribers. Unlike Publish it is not handed to
// Options.Cluster again (the ingress node did that) and a retained message
// is delivered with its RETAIN flag for Retain As Published subscribers
// but not stored here: the ingress node keeps the retained state. m must
// not be changed afterwards. From is usually empty (No Local then never
// applies).
func (s *Server) InjectRemote(m *Message) {
	s.routeFrom(m, true)
}

// addSub adds ss's subscription to filter to the topic tree and tells the
// cluster when the entry is new.
func (s *Server) addSub(filter string, ss *session, o subOpts) {
	if !s.subs.Add(filter, ss, o) && s.opts.Cluster != nil {
		s.opts.Cluster.Subscribed(filter)
	}
}

// removeSub removes ss's subscription to filter from the topic tree and
// tells the cluster when there was one.
func (s *Server) removeSub(filter string, ss *session) {
	if s.subs.Remove(filter, ss) && s.opts.Cluster != nil {
		s.opts.Cluster.Unsubscribed(filter)
	}
}
