// Package broker is the Tern MQTT 3.1.1 and 5.0 broker as a library.
//
// # Serving
//
// New returns a Server that keeps everything in memory; Open returns one
// that keeps its state in a Store and reads it back first. Feed it
// connections with Serve (a net.Listener: TCP, TLS), ServeConn (one
// net.Conn that is already established, such as a test pipe) or the
// http.Handler from WebSocketHandler (MQTT over WebSocket, with origin
// checks); stop it with Shutdown, which tells 5.0 clients why, publishes
// the wills that are due and writes what is pending to the store.
//
// # Sessions, routing and the store
//
// A session is the server's state for one client id and outlives
// connections: subscriptions, the deliveries queued or in flight to the
// client, the QoS 2 packet ids received from it, its will and its expiry.
// Every change to a session is a method of session (session.go,
// session_state.go); the registry of sessions (take-over, release, expiry,
// end) is sessions.go; routing (match, overlapping subscriptions, shared
// groups, retained messages) is route.go and shared.go.
//
// With a Store, a session whose expiry interval is not 0 is durable: its
// record, its QoS 1/2 deliveries and its inbound QoS 2 packet ids are
// written as they change, and so are retained messages; a message body is
// stored once however many sessions hold it. All writes go through one
// committer, which applies them in groups with one sync per group. A QoS 1
// PUBLISH is answered with PUBACK, and a QoS 2 with PUBREC, only after
// everything it changed in the store is synced; so is a PUBREL sent after
// a PUBREC and a PUBCOMP after a PUBREL, since either ends an exchange
// that a restart must not repeat. QoS 0 messages and sessions with expiry
// 0 never touch the store. If the store fails, nothing is acknowledged
// that was not written: a 5.0 client gets reason code 0x80 (0x97 when the
// disk is full), a 3.1.1 client is disconnected.
//
// # Goroutines
//
// A connection's reader goroutine decodes packets and handles them; a
// writer goroutine exists only while there is something to write: it
// batches everything queued into one write. A packet for a plain TCP
// connection whose writer has been idle is instead written by the
// goroutine that queues it, with one non-blocking write; the writer
// goroutine takes what the socket did not (writenow.go). A TCP or TLS
// connection from Serve, on Linux, holds no reader goroutine while idle
// either (park.go, poll_linux.go): when no packet has come for 10 ms, its
// reader returns the read buffer and packet cache to a pool, registers the
// socket in the Server's epoll set and ends; bytes or a hang-up on the
// socket (seen by the poller's one goroutine, which Shutdown stops), the
// keep-alive deadline (a timer), a kick or the writer closing the
// connection start a new reader. Connections from ServeConn (WebSocket,
// pipes) and on other systems keep one reader goroutine each; between
// packets a WebSocket reader waits for the next message before it takes a
// read buffer; after handling packets it waits up to 10 ms for the next
// message on its own goroutine (at a steady rate no goroutine starts on a
// message's path), and then on a new goroutine, whose stack has not
// grown. A new TCP connection on Linux parks as soon as its CONNACK is
// queued. Routing runs on the publisher's reader
// goroutine and never blocks on a subscriber: a message goes to the
// subscriber's write queue (or socket, as above), into its session's
// queue, or (QoS 0 only) is dropped and counted. A connection the server
// ends is half-closed after its last packet and its input drained for a
// bounded time, so that a DISCONNECT arrives (close.go). The committer's goroutine, too,
// runs only while there is something to write. Timers (keep-alive is a
// read deadline; will delay, session expiry and the expiry sweep are
// time.AfterFunc) hold no goroutine while they wait.
//
// # Observability
//
// Server.Metrics returns the counters and gauges (metrics.go): traffic is
// counted per connection by its own goroutines and summed when read, so
// the hot path shares no cache line. With Options.SysInterval the broker
// publishes them under $SYS/broker/ with Mosquitto's names (sys.go). The
// admin methods (admin.go) list and kick clients, list and end sessions,
// and list and delete retained messages, through the same session and
// store code as everything else. SetLimits changes the limits that can
// change safely while the broker runs (reload.go).
//
// # Lock order
//
// Locks are taken in this order, and never the other way round:
//
//	Server.mu → shareGroup.mu → session.mu → committer.mu → conn.outMu
//	Server.retainMu → committer.mu
//	sysPublisher.mu → any of the above (one $SYS tick at a time; sys.go)
//
// heldRecovered.mu (recovered sessions waiting for the cluster's verdict,
// cluster_restart.go) is a leaf, taken with no other lock held.
//
// poller.mu (the set of parked connections, poll_linux.go) is taken with
// no other lock held, and no lock of this package is taken under it (it is
// held across the socket's RawConn.Control, whose locks are the runtime's):
// a kick or a writer resumes a parked connection only after releasing
// conn.outMu. Two channel sends may happen while session.mu is held: the
// poller's resume channel and the writer-start channel. Each is received
// by a goroutine that is already running and takes the connection off the
// channel before it does anything else, so neither send waits on a lock.
//
// Options.Cluster (cluster.go) is called with no lock of this package
// held: Subscribed and Unsubscribed after the topic tree changed,
// Published before local delivery (with a ClusterDurable, a QoS 1/2
// message is delivered here only when the cluster hands it back through
// InjectDurable). Its own locks are its business; it
// calls InjectRemote from its own goroutine, never from within a hook.
// Exceptions (cluster_session.go): SessionCluster.SessionChanged,
// SessionQueued and SessionAcked are called with session.mu held, and
// only take note under the Cluster's own locks, never waiting.
//
// The topic trees (topictree) have their own locks, innermost: they are
// called with at most Server.mu held, and their callbacks here take no
// lock. The committer calls the Store and runs callbacks
// with no lock held; nothing waits on the network holding a lock (an
// inline write under session.mu is non-blocking: it never waits).
//
// All packet bytes come from the codec package; this package never imports
// the client, wasm or UI packages.
package broker
