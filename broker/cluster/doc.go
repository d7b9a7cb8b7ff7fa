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
// held back before it moves again. When a node's lease lapses, the
// survivor that creates reaper.<node> first marks its sessions unowned
// and publishes their wills after their Will Delay, unless a connection
// took the session first.
//
// Not yet here: QoS 1/2 acknowledged after a replicated stream (a QoS 1/2
// message crosses nodes at most once today); the QoS 1/2 matches of an
// offline session stay in its owner's queue (memory or its local store)
// until a take-over moves them to TERN_SESSQ, so the offline queues and
// in-flight messages of a node that dies are lost (its sessions resume
// elsewhere from their records, without them); retained messages shared
// by the nodes (a node keeps the retained messages published on it); and
// shared subscriptions across nodes (a $share subscriber receives only
// what its own node publishes).
//
// # Lock order
//
// Node.mu guards the subject counts; it is taken with no broker lock held
// (the broker calls its hooks outside its locks) and the NATS connection's
// own locks are taken under it (Subscribe, Unsubscribe). The dispatcher
// goroutine holds no lock of this package while it calls InjectRemote.
// registry.mu guards the registry's maps and is never held across a call
// to NATS or to the broker: a take-over is answered on its own goroutine,
// which calls Server.HandOff with no lock of this package held.
package cluster
