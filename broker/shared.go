package broker

import (
	"sync"
	"time"

	"github.com/ternmq/tern/codec"
)

// shareGroup is one shared subscription, $share/{name}/{filter}: its
// members take turns receiving the matching messages (5.0 section 4.8.2).
type shareGroup struct {
	full   string // "$share/{name}/{filter}"
	filter string

	mu      sync.Mutex
	members []shareMember
	next    int
}

type shareMember struct {
	s *session
	o subOpts
}

// add adds or replaces ss's membership and reports whether it is new.
func (g *shareGroup) add(ss *session, o subOpts) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i := range g.members {
		if g.members[i].s == ss {
			g.members[i].o = o
			return false
		}
	}
	g.members = append(g.members, shareMember{ss, o})
	return true
}

// remove drops ss and returns the number of members left.
func (g *shareGroup) remove(ss *session) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i := range g.members {
		if g.members[i].s == ss {
			g.members = append(g.members[:i], g.members[i+1:]...)
			break
		}
	}
	return len(g.members)
}

// pick chooses the member to receive the next message: the next online
// member in turn, or, when none is online and queue is set, the next
// member, whose session queues it. skip, if set, is never chosen.
func (g *shareGroup) pick(skip *session, queue bool) (shareMember, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := len(g.members)
	var fallback *shareMember
	for i := 0; i < n; i++ {
		m := &g.members[(g.next+i)%n]
		if m.s == skip {
			continue
		}
		if m.s.online() {
			g.next = (g.next + i + 1) % n
			return *m, true
		}
		if fallback == nil {
			fallback = m
		}
	}
	if fallback != nil && queue {
		g.next = (g.next + 1) % n
		return *fallback, true
	}
	return shareMember{}, false
}

// subscribeShared adds ss to the group of a $share filter and reports
// whether the membership is new. Retained messages are not sent for shared
// subscriptions.
func (s *Server) subscribeShared(ss *session, full string, o subOpts) bool {
	_, filter, _ := codec.ParseShared(full)
	s.mu.Lock()
	g := s.groups[full]
	created := g == nil
	if created {
		g = &shareGroup{full: full, filter: filter}
		s.groups[full] = g
		s.shared.Add(filter, g, struct{}{})
	}
	isNew := g.add(ss, o)
	s.mu.Unlock()
	if created && s.opts.Cluster != nil {
		s.clusterSharedChange(full, true) // cluster_shared.go
	}
	return isNew
}

// unsubscribeShared removes ss from the group of a $share filter.
func (s *Server) unsubscribeShared(ss *session, full string) {
	s.mu.Lock()
	g := s.groups[full]
	gone := g != nil && g.remove(ss) == 0
	if gone {
		delete(s.groups, full)
		s.shared.Remove(g.filter, g)
	}
	s.mu.Unlock()
	if gone && s.opts.Cluster != nil {
		s.clusterSharedChange(full, false) // cluster_shared.go
	}
}

// publishShared gives the message to one member of each matching group
// and reports whether a delivery was written to the store and how many
// groups matched. With a cluster, the groups of a message from another
// node (remote) are left out, and those of a message the cluster hands
// to the groups itself (cluster_shared.go) are counted but left to it.
func (s *Server) publishShared(m *Message, a *aggregator, remote bool) (stored bool, groups int) {
	s.shared.Match(m.Topic, func(g *shareGroup, _ struct{}) {
		a.groups = append(a.groups, g)
	})
	skip := s.opts.Cluster != nil && (remote || s.sharedByCluster(m))
	for i, g := range a.groups {
		a.groups[i] = nil
		if skip {
			continue
		}
		mem, ok := g.pick(nil, true)
		if !ok {
			continue
		}
		stored = mem.s.deliver(mem.delivery(m, m.Retain && mem.o.retainAsPublished, g)) || stored
		s.stats.Delivered.Add(1)
	}
	groups = len(a.groups)
	a.groups = a.groups[:0]
	return stored, groups
}

// delivery returns the delivery of m to member mem of g.
func (mem shareMember) delivery(m *Message, retain bool, g *shareGroup) *delivery {
	var ids []int
	if mem.o.id > 0 {
		ids = []int{mem.o.id}
	}
	return &delivery{msg: m, qos: min(m.QoS, mem.o.qos), retain: retain, subIDs: ids, group: g}
}

// redistribute hands the shared-subscription messages a session has not
// finished receiving (session.takeShared) to other members of their
// groups, after its connection is lost. They go to an online member; when
// none is online, a session that is ending hands them to an offline
// member's queue (the spec's SHOULD), and one that lives on keeps them.
// A started QoS 2 delivery stays: it must be completed with the same
// client [MQTT-5:4.8.2-4] or die with its session [MQTT-5:4.8.2-5].
func (s *Server) redistribute(ss *session, ending bool) {
	now := time.Now()
	for _, d := range ss.takeShared() {
		if d.msg.expired(now) {
			continue // [MQTT-5:3.3.2-5]
		}
		mem, ok := d.group.pick(ss, ending)
		switch {
		case ok:
			mem.s.deliver(mem.delivery(d.msg, d.retain, d.group))
		case !ending:
			ss.requeue(d) // no other member is online: keep it here
		}
	}
}
