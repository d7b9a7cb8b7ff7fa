package broker

import (
	"errors"
	"sync"
	"time"

	"github.com/ternmq/tern/codec"
)

// This file is the seam to a cluster that keeps QoS 1/2 and retained
// messages durably (broker/cluster's replicated streams): optional
// interfaces of Options.Cluster, checked once by New and Open. A Server
// without Options.Cluster, or with one that implements neither, keeps
// cq nil and pays one nil check per acknowledgement.

// ErrClusterRefused is wrapped by the error a ClusterDurable hands to done
// when the cluster refused a message it could not keep: no quorum, no
// answer in time, or full. A 5.0 publisher then gets PUBACK or PUBREC
// with 0x97 (Quota exceeded); other errors get 0x80 (Unspecified error).
// A 3.1.1 publisher, whose acknowledgements carry no reason code, is
// disconnected without its acknowledgement and publishes again on its
// next connection [MQTT-4.4.0-1 of 3.1.1].
var ErrClusterRefused = errors.New("broker: the cluster refused the message")

// ClusterDurable is a Cluster that carries QoS 1/2 and retained messages
// between nodes durably and tells when it holds them.
type ClusterDurable interface {
	// PublishedDurable is called instead of Cluster.Published for a
	// message with QoS 1 or 2 or the RETAIN flag published on this node
	// (and not on a $SYS topic). A QoS 1 or 2 message is then not
	// delivered to this node's subscribers: the Cluster hands it back
	// with Server.InjectDurable(m, true, …) once it holds it (a copy of
	// m with the same Topic, Payload, QoS, Retain, Props, Expires and
	// From; Origin set). A QoS 0 retained message is delivered here at
	// once, as without a ClusterDurable.
	//
	// The Cluster calls done exactly once, from any goroutine and
	// possibly before PublishedDurable returns, with nil once the cluster
	// holds m durably (and, for a retained message, its topic's retained
	// state is written), or with an error (wrapping ErrClusterRefused
	// when the cluster refused it). The publisher's PUBACK or PUBREC waits
	// for done. PublishedDurable must not block on the network for long;
	// it may block briefly when too many messages are waiting for the
	// cluster.
	PublishedDurable(m *Message, done func(error))
}

// ClusterRetained is a Cluster that keeps the retained messages of all
// nodes: a new subscription receives them from the cluster instead of
// from this node's own retained messages.
type ClusterRetained interface {
	// RetainedFor calls deliver once, from any goroutine, with the
	// retained messages of the topics that match filter (a valid,
	// non-shared topic filter) that the cluster held before the time
	// before (taken before the SUBACK: a message stored later reaches the
	// new subscription live and must not come twice), or with an error,
	// in which case the Server sends its own node's retained messages
	// instead. It must not block on the network for long.
	RetainedFor(filter string, before time.Time, deliver func([]*Message, error))
}

// clusterSeam holds the optional cluster interfaces and the
// acknowledgements that wait for the cluster.
type clusterSeam struct {
	durable  ClusterDurable  // nil if the Cluster does not implement it
	retained ClusterRetained // nil if the Cluster does not implement it
	// acks holds, by connection (*conn → *ackSeq), the acknowledgements
	// of a connection while any of them waits for the cluster; an entry
	// is removed when its queue empties.
	acks sync.Map
}

// newClusterSeam returns the seam for c, or nil when c implements no
// optional interface.
func newClusterSeam(c Cluster) *clusterSeam {
	if c == nil {
		return nil
	}
	d, _ := c.(ClusterDurable)
	r, _ := c.(ClusterRetained)
	if d == nil && r == nil {
		return nil
	}
	return &clusterSeam{durable: d, retained: r}
}

// clusterWait is the cluster's part of one acknowledgement: the done of a
// PublishedDurable call, which may come before or after the
// acknowledgement is queued (then).
type clusterWait struct {
	mu   sync.Mutex
	done bool
	err  error
	next func(error)
}

// finish is the done handed to the Cluster.
func (w *clusterWait) finish(err error) {
	w.mu.Lock()
	w.done, w.err = true, err
	next := w.next
	w.mu.Unlock()
	if next != nil {
		next(err)
	}
}

// then calls f with the cluster's answer: at once if it came, else when
// it comes.
func (w *clusterWait) then(f func(error)) {
	w.mu.Lock()
	if !w.done {
		w.next = f
		w.mu.Unlock()
		return
	}
	err := w.err
	w.mu.Unlock()
	f(err)
}

// toCluster hands m to a ClusterDurable when it is one for it (QoS 1/2 or
// RETAIN), with w (nil: nobody waits, a refusal is only logged), and
// reports whether it did; if not, the caller calls Cluster.Published.
func (s *Server) toCluster(m *Message, w *clusterWait) bool {
	cs := s.cq
	if cs == nil || cs.durable == nil || (m.QoS == 0 && !m.Retain) {
		return false
	}
	done := func(err error) {
		if err != nil {
			s.log.Warn("cluster: message not kept by the cluster", "topic", m.Topic, "qos", m.QoS, "retain", m.Retain, "err", err)
		}
	}
	if w != nil {
		done = w.finish
	}
	cs.durable.PublishedDurable(m, done)
	return true
}

// routeClient routes a client's message; with a ClusterDurable it also
// returns what the acknowledgement must wait for in the cluster (nil when
// nothing).
func (s *Server) routeClient(m *Message) (stored, refused bool, w *clusterWait) {
	if s.cq != nil && s.cq.durable != nil && (m.QoS > 0 || m.Retain) && !isSysTopic(m.Topic) {
		w = new(clusterWait)
	}
	stored, refused = s.routeWith(m, false, w)
	if refused {
		w = nil // not handed to the cluster
	}
	return stored, refused, w
}

// InjectDurable routes m, a QoS 1/2 message the cluster keeps until this
// node took it (from a replicated stream), to this node's subscribers,
// and calls done once every persistent session's copy is durable in the
// store (at once without a store), with the store's error if that write
// failed; the cluster acknowledges the message to its stream only then.
//
// own says that m was published on this node. With a ClusterDurable, a
// QoS 1/2 message published here (by a client, a will, Publish) is not
// routed on publication: it reaches this node's subscribers only through
// InjectDurable with own set, once the cluster holds it, so that a
// message the cluster refuses is delivered nowhere. It is then routed as
// a message published here: No Local by m.From [MQTT-5:3.8.3-3], and one
// member of each of this node's matching shared groups (none when the
// Cluster is a ClusterSharedDurable that delivers them itself:
// InjectSharedDurable). A message from another node (own false) skips the
// shared groups, and No Local applies
// only if the cluster set m.From. Either way m is neither retained here
// (the ingress node did that) nor handed to the Cluster again. m must not
// be changed afterwards.
func (s *Server) InjectDurable(m *Message, own bool, done func(error)) {
	if stored := s.deliverLocal(m, own); stored && s.commit != nil {
		s.commit.wait(true, done)
		return
	}
	done(nil)
}

// InjectRemoteDurable is InjectDurable(m, false, done): a message another
// node published.
func (s *Server) InjectRemoteDurable(m *Message, done func(error)) {
	s.InjectDurable(m, false, done)
}

// clusterRetained is a new subscription's read of the cluster's retained
// messages, made once its SUBACK is queued (conn.handleSubscribe).
type clusterRetained struct {
	filter string
	opts   subOpts
}

// retainedByCluster reports whether a ClusterRetained keeps the retained
// messages that new subscriptions get (sendRetainedFromCluster).
func (s *Server) retainedByCluster() bool {
	return s.cq != nil && s.cq.retained != nil
}

// sendRetainedFromCluster asks the ClusterRetained for the retained
// messages matching filter held before the time before and schedules them
// for ss.
func (s *Server) sendRetainedFromCluster(ss *session, filter string, o subOpts, before time.Time) {
	s.cq.retained.RetainedFor(filter, before, func(msgs []*Message, err error) {
		if err != nil {
			s.log.Warn("cluster: retained messages not read from the cluster; sending this node's", "filter", filter, "err", err)
			ss.addRetained(s.matchRetained(filter), o)
			return
		}
		now := time.Now()
		kept := msgs[:0]
		for _, m := range msgs {
			if len(m.Payload) > 0 && !m.expired(now) {
				kept = append(kept, m)
			}
		}
		ss.addRetained(kept, o)
	})
}

// ackSeq is the acknowledgements of one connection, in the order of its
// packets, while any waits for the cluster: each is sent once it and all
// before it are ready, so that the cluster's answers, which come on
// another goroutine than the store's, keep PUBACKs and PUBRECs in the
// order of the PUBLISH packets [MQTT-4.6.0-2] [MQTT-4.6.0-3].
//
// Lock order: ackSeq.mu is taken with no broker lock held (from the
// connection's reader, the committer's callbacks and the cluster's done)
// and before a session's lock and a connection's write-queue lock.
type ackSeq struct {
	mu   sync.Mutex
	q    []*pendingAck
	dead bool // removed from clusterSeam.acks; take a new one
}

// pendingAck is one acknowledgement in an ackSeq.
type pendingAck struct {
	t     codec.PacketType
	pid   uint16
	rc    codec.ReasonCode
	parts int   // answers still awaited (store, cluster); under ackSeq.mu
	store error // the store's error
	clu   error // the cluster's error
}

// ackPublish queues the acknowledgement of a client's PUBLISH: as
// ackWhenStored does, and with w also after the cluster holds the message.
func (c *conn) ackPublish(t codec.PacketType, pid uint16, rc codec.ReasonCode, stored bool, w *clusterWait) {
	cs := c.srv.cq
	if cs == nil {
		c.ackWhenStored(t, pid, rc, stored)
		return
	}
	if w == nil {
		if _, busy := cs.acks.Load(c); !busy {
			c.ackWhenStored(t, pid, rc, stored)
			return
		}
	}
	a := &pendingAck{t: t, pid: pid, rc: rc, parts: 1}
	if w != nil {
		a.parts++
	}
	var seq *ackSeq
	for {
		v, _ := cs.acks.LoadOrStore(c, new(ackSeq))
		seq = v.(*ackSeq)
		seq.mu.Lock()
		if !seq.dead {
			seq.q = append(seq.q, a)
			seq.mu.Unlock()
			break
		}
		seq.mu.Unlock()
	}
	// The store part also when nothing was stored: it keeps this
	// acknowledgement behind any still waiting in ackWhenStored.
	if cm := c.srv.commit; cm != nil {
		cm.wait(stored, func(err error) { c.ackReady(seq, a, &a.store, err) })
	} else {
		c.ackReady(seq, a, &a.store, nil)
	}
	if w != nil {
		w.then(func(err error) { c.ackReady(seq, a, &a.clu, err) })
	}
}

// ackReady records one answer for a and sends every acknowledgement at
// the head of seq that has all of its answers.
func (c *conn) ackReady(seq *ackSeq, a *pendingAck, slot *error, err error) {
	seq.mu.Lock()
	defer seq.mu.Unlock()
	*slot = err
	a.parts--
	for len(seq.q) > 0 && seq.q[0].parts == 0 {
		h := seq.q[0]
		seq.q[0] = nil
		seq.q = seq.q[1:]
		switch {
		case h.store != nil:
			c.storeFailed(h.t, h.pid, h.store)
		case h.clu != nil:
			c.clusterFailed(h.t, h.pid, h.clu)
		default:
			c.enqueueAck(h.t, h.pid, h.rc)
		}
	}
	if len(seq.q) == 0 {
		seq.dead = true
		seq.q = nil
		c.srv.cq.acks.CompareAndDelete(c, seq)
	}
}

// clusterFailed answers a PUBLISH that the cluster did not keep: a 5.0
// client gets PUBACK or PUBREC with 0x97 (Quota exceeded) when the
// cluster refused it (no quorum, full, no answer in time) and 0x80
// otherwise, and may publish again; a 3.1.1 client is disconnected and
// publishes again on its next connection. The packet id of a QoS 2
// PUBLISH is forgotten, so that its next copy is routed again.
func (c *conn) clusterFailed(t codec.PacketType, pid uint16, err error) {
	if t == codec.PUBREC {
		c.sess.release(pid)
	}
	if c.version == codec.V5 {
		rc := codec.UnspecifiedError
		if errors.Is(err, ErrClusterRefused) {
			rc = codec.QuotaExceeded
		}
		c.log.Warn("not acknowledged: the cluster did not keep the message", "packet", t, "id", pid, "reason", rc, "err", err)
		c.enqueueAck(t, pid, rc)
		return
	}
	c.log.Warn("the cluster did not keep the message; closing the connection", "packet", t, "id", pid, "err", err)
	c.kick(codec.UnspecifiedError, "cluster refused the message")
}
