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
// Each connection has a reader goroutine that decodes packets and handles
// them, and a writer goroutine that exists only while there is something
// to write: it batches everything queued into one write. A packet for a
// plain TCP connection whose writer has been idle is instead written by
// the goroutine that queues it, with one non-blocking write; the writer
// goroutine takes what the socket did not (writenow.go). Routing runs on
// the publisher's reader goroutine and never blocks on a subscriber: a
// message goes to the subscriber's write queue (or socket, as above), into
// its session's queue, or (QoS 0 only) is dropped and counted. A
// connection the server ends is half-closed after its last packet and its
// input drained for a bounded time, so that a DISCONNECT arrives
// (close.go). The committer's goroutine, too,
// runs only while there is something to write. Timers (keep-alive is a
// read deadline; will delay, session expiry and the expiry sweep are
// time.AfterFunc) hold no goroutine while they wait.
//
// # Lock order
//
// Locks are taken in this order, and never the other way round:
//
//	Server.mu → shareGroup.mu → session.mu → committer.mu → conn.outMu
//	Server.retainMu → committer.mu
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
