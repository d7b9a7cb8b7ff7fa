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
// member over all the nodes. At QoS 1 and 2 (sharedqos.go,
// broker.ClusterSharedDurable) each (group, filter) has one durable
// consumer on TERN_QOS, tern-share-<hash>, that every node with a member
// pulls from: JetStream hands a message to one node, which gives it to
// one of its members (broker.Server.InjectSharedDurable) and acks it once
// stored and written through, or naks it when it has no member left. The
// broker leaves shared messages of every QoS to the cluster. A node
// stops pulling when its last member leaves; a consumer no node pulls
// from keeps the group's messages until JetStream deletes it, 10 minutes
// later (InactiveThreshold). A group's messages that a dead node pulled
// and did not ack go to the other nodes' members after AckWait, and
// those it acked are in its persistent members' TERN_SESSQ, so an
// adoption leaves $share subscriptions out of its matching of TERN_QOS.
//
// QoS 1/2 and retained messages go through replicated JetStream streams
// (qos.go, retained.go): a Node is also a broker.ClusterDurable and a
// broker.ClusterRetained. A QoS 1/2 message published on a node goes to
// the R3 stream TERN_QOS, and its publisher's PUBACK or PUBREC waits for
// the stream's PubAck (a refusal, e.g. without quorum, gives a 5.0
// publisher 0x97 and closes a 3.1.1 publisher's connection, and the
// message reaches nobody); each node has exactly one durable consumer on
// it, which hands the messages to the broker's sessions
// (broker.Server.InjectDurable; the node's own messages too, with own
// set: no QoS 1/2 message is routed at publication) and acks them once
// they are queued (durably with a store) and written through to
// TERN_SESSQ. A message the stream sends again while the node still
// processes it (AckWait, 5 s) is not routed twice. Retained messages live
// in TERN_RETAINED, one per topic, written before the PUBACK; a new
// subscription on any node reads them there.
//
// A Node is also a broker.SessionCluster: a session registry keeps each
// client id live on one node (registry.go, takeover.go, reaper.go). The
// KV bucket tern_sessions maps a hash of the client id to its owner node,
// an epoch and the session record (subscriptions, expiry, will), which
// the owner rewrites as the session changes (SessionChanged, one
// coalescing writer per node); tern_nodes holds each node's lease
// (renewed every 2 s, gone 6 s after the last renewal). Every QoS 1/2
// delivery queued for a session with an expiry interval, online or
// offline, is written through to the stream TERN_SESSQ under
// tern.sq.<hash> with the owner's epoch (SessionQueued, sessq.go), and
// the subject is purged below the oldest delivery still unsettled as the
// client acknowledges them (SessionAcked, coalesced per session); a
// delivery settled while an older one is not is deleted on its own. A
// CONNECT asks the owner, if its lease is held, to hand the session over
// on tern.ctl.<owner>.takeover: the owner sends its client DISCONNECT
// 0x8E, writes the session's deliveries (queued and in flight, with their
// sequence numbers, so packet identifiers stay) again in TERN_SESSQ,
// purges their older copies, and puts the session into the record. The
// new node then writes itself in as owner with epoch+1 by
// compare-and-swap at the revision it read, reads the deliveries of the
// previous epoch (others are stale; the last copy of each), purges them
// and resumes the session (Session Present 1). A client id that moved
// less than a second ago is held back before it moves again.
//
// When a node's lease lapses (it died), the survivor that creates
// reaper.<node> first adopts each of its sessions (reaper.go): it writes
// itself in as owner with epoch+1 by compare-and-swap, and hands the
// broker (broker.Server.Adopt) the session with its will, the deliveries
// the dead node wrote through, and the messages of TERN_QOS above the
// dead node's consumer's ack floor that the session's subscriptions
// match (those in flight in the dead node, and those published since);
// the broker publishes the will after its delay unless a connection
// resumes the session first. Then it deletes the dead node's consumer.
// A CONNECT that comes before the adoption (the dead node's lease not yet
// lapsed, or its owner not answering the take-over) recovers the session
// the same way (registry.recover): the ack floor is read before the node
// takes the session, and the end of TERN_QOS with the node's routing held
// (durable.gate) until the broker has put the subscriptions in its tree
// (broker.SessionHandoff.Installed), so that no message falls between.
// So a kill -9 of one node loses no acknowledged QoS 1/2 message for a
// persistent session: its client resumes on any survivor and gets them,
// those possibly sent before with DUP set.
//
// A node restarted with its store (restart.go; the same Config.Name, a
// new Node.ID) reconciles the sessions its broker read back from the store
// (broker.Server.Recovered, whose wills wait for this) once its registry
// is ready: a session the registry still gives to an earlier incarnation
// of the node is taken back by compare-and-swap with epoch+1, its local
// state kept and written through again (broker.Server.KeepRecovered); one
// another node holds, or that has no record, is dropped without its will
// (broker.Server.DropStale); a survivor's reaper already adopting the
// earlier incarnation is waited for. Then it adopts the earlier
// incarnation's sessions its store lacked (expiry 0 with a will). A
// CONNECT for a recovered client id waits for its verdict. Survivors do
// not reap a node whose name has a live lease again, nor delete the
// consumer it shares with its earlier incarnation.
//
// Not yet here: an adoption may bring
// a QoS 1 message twice (one the dead node delivered and the client
// acknowledged just before the death, above the consumer's ack floor or
// not yet purged; or one that the adopter's own consumer routes as well);
// deliveries the dead node wrote through are re-sent with DUP set, as it
// cannot be known which it had sent. (A session with expiry 0 ends with
// its connection [MQTT-3.1.2-23], so only its will outlives its node.)
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
// never held with Node.mu; durable.mu is taken under it (starting a
// group's pull: goTracked). A group's pull is stopped by cancelling its
// context, and its goroutine stops the consumer with no lock held. The dispatcher goroutines hold no lock of this
// package while they call InjectRemote, InjectShared and
// InjectSharedDurable (a group consumer's handler holds durable.gate for
// reading, as the node consumer's does).
// registry.mu guards the session registry's maps and is never held
// across a call to NATS or to the broker: a take-over is answered on its
// own goroutine, which calls Server.HandOff with no lock of this package
// held. writeThrough.mu (sessq.go) is taken with no other lock of this
// package, possibly under a broker session's lock (SessionQueued,
// SessionAcked), and released before any call out. durable.gate is held
// for reading while the consumer routes a message and for writing by an
// adoption around Server.Adopt, and by a recovery from before its
// registry.recover returns until the broker calls Installed (the broker
// then holds none of its locks across the call); durable.imu guards the redelivery
// bookkeeping; both are taken with no other lock of this package.
package cluster
