// Package cluster links Tern brokers into a cluster over NATS (see
// cluster.md in the project's shared notes): each node embeds a
// nats-server with JetStream, routed to the other nodes, or connects to an
// external NATS cluster by URL.
//
// This first slice carries messages between nodes on core NATS, at most
// once: a Node is a broker.Cluster (Options.Cluster). It subscribes, on one
// NATS connection, to the subjects of the union of the node's local
// subscription filters, counted per subject (never one NATS subscription
// per client); publishes every message published on the node to its
// topic's subject (Subject) with the MQTT 5 properties, the QoS, the RETAIN
// flag, the origin node and a sequence number as headers; and hands what
// it receives to broker.Server.InjectRemote, dropping its own echo (the connection asks NATS for none) and
// the second copy that overlapping subscriptions bring.
//
// Shared subscriptions (shared.go, broker.ClusterShared): a node with a
// member of $share/{group}/{filter} is in one NATS queue group per
// (group, filter), on a second connection that also sees the node's own
// messages, so a QoS 0 message published on any node reaches exactly one
// member over all the nodes; the broker leaves QoS 0 messages to the
// cluster's groups.
//
// QoS 1/2 and retained messages go through replicated JetStream streams
// (qos.go, retained.go): a Node is also a broker.ClusterDurable and a
// broker.ClusterRetained. A QoS 1/2 message published on a node goes to
// the R3 stream TERN_QOS, and its publisher's PUBACK or PUBREC waits for
// the stream's PubAck (a refusal, e.g. without quorum, gives a 5.0
// publisher 0x97 and closes a 3.1.1 publisher's connection); each node has
// exactly one durable consumer on it, which hands the messages to the
// broker's sessions and acks them once they are queued (durably with a
// store). Retained messages live in TERN_RETAINED, one per topic, written
// before the PUBACK; a new subscription on any node reads them there.
//
// A Node is also a broker.SessionCluster: a session registry keeps each
// client id live on one node (registry.go, takeover.go, reaper.go). The
// KV bucket tern_sessions maps a hash of the client id to its owner node,
// an epoch and the session record (subscriptions, expiry, will), which
// the owner rewrites as the session changes (SessionChanged, one
// coalescing writer per node); tern_nodes holds each node's lease
// (renewed every 2 s, gone 6 s after the last renewal). A CONNECT asks
// the owner, if its lease is held, to hand the session over on
// tern.ctl.<owner>.takeover: the owner sends its client DISCONNECT 0x8E,
// puts the session's deliveries (queued and in flight, with their
// sequence numbers, so packet identifiers stay) in the stream TERN_SESSQ
// under tern.sq.<hash> with its epoch, and the session into the record.
// The new node then writes itself in as owner with epoch+1 by
// compare-and-swap at the revision it read, reads the deliveries of the
// previous epoch (others are stale), purges them and resumes the session
// (Session Present 1). A client id that moved less than a second ago is
// held back before it moves again. The QoS 1/2 deliveries queued for an
// offline persistent session also go to TERN_SESSQ as they are queued
// (SessionQueued), so a session whose node died resumes elsewhere with
// them. When a node's lease lapses, the
// survivor that creates reaper.<node> first marks its sessions unowned
// and publishes their wills after their Will Delay, unless a connection
// took the session first.
//
// Not yet here: QoS 1/2 shared subscriptions across nodes (a $share
// subscriber receives only the QoS 1/2 messages its own node publishes,
// until a pull consumer per group on the replicated stream); and the
// in-flight QoS 1/2 messages of a node that dies (sent to a client, not
// yet acknowledged) are lost with it: what a dead node's sessions had
// queued while offline is in TERN_SESSQ, but what a connected client had
// in flight lives only in the node's memory or its local store.
//
// Leases (bridgelease.go): Node.RunOwned runs a function on one node of
// the cluster at a time, the holder of a key in the KV bucket
// tern_leases; cmd/tern runs each bridge under the lease bridge.<name>,
// so that one node, not all, connects to the remote broker. The holder
// renews its key every 2 s by compare-and-swap; the key expires 6 s after
// its last write, and the holder stops on its own 4 s after its last
// renewal that succeeded (at once when a renewal is refused), so a node
// that lost the lease has stopped before another can take it. An orderly
// stop deletes the key and another node, watching it, takes over at once.
//
// # Lock order
//
// Node.mu guards the subject counts; it is taken with no broker lock held
// (the broker calls its hooks outside its locks) and the NATS connection's
// own locks are taken under it (Subscribe, Unsubscribe). shared.mu (the
// queue groups) is the same for the shared-subscription hooks, and is
// never held with Node.mu. The dispatcher goroutines hold no lock of this
// package while they call InjectRemote and InjectShared.
// registry.mu guards the session registry's maps and is never held
// across a call to NATS or to the broker: a take-over is answered on its
// own goroutine, which calls Server.HandOff with no lock of this package
// held.
package cluster
