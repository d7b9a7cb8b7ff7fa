// Package bridge connects a Tern broker to another MQTT broker and
// forwards messages between them by topic rules, with the meaning of
// Mosquitto's bridges:
//
//	topic sensors/# out 1 "" site-a/
//
// sends what is published locally under sensors/ to the remote broker
// under site-a/sensors/. See Rule for the syntax and the prefixes, Config
// for the connection, and FromMosquitto for mosquitto.conf bridge
// sections.
//
// # How a bridge works
//
// A Bridge is a client of both brokers. On the local broker it is an MQTT
// 5.0 client connected in-process (a net.Pipe served by
// broker.Server.ServeConn) with a persistent session: the broker's own
// session machinery queues what the Out rules match while the remote
// broker is away (durably when the broker has a store), and its
// Authenticator and Authorizer apply to the bridge like to any client.
// On the remote broker it is a client of package client, over mqtt://,
// mqtts://, ws:// or wss://. Each side acknowledges a QoS 1 or 2 message
// only once the other side has acknowledged it, so that nothing is lost
// while either side is down; reconnects use a jittered exponential
// backoff that never gives up. Loops are prevented with No Local and
// Retain As Published on both sides (and Mosquitto's bridge marker
// towards 3.1.1 remote brokers). The state is published retained on
// $SYS/broker/connection/<name>/state.
//
// # Goroutines and locks
//
// Run's goroutine connects and then waits for its context; each client
// runs its own goroutines (handlers, one queue per subscription); one
// drain goroutine per direction completes the flows in progress; each
// local connection has a ServeConn goroutine. All end before Run
// returns.
//
// Bridge.stateMu (the state topic) is taken before Bridge.mu (the
// transports), never the other way round; with stateMu held the bridge
// calls broker.Server.Publish, which takes the broker's own locks. No
// lock is held while waiting on the network.
//
// This package imports the client package, which the broker itself never
// does: a bridge is a client (see the import rules in deps_test.go).
package bridge
