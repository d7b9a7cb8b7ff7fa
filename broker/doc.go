// Package broker will hold the Tern MQTT 3.1.1 and 5.0 broker as a library:
// sessions that outlive connections, the subscription trie that routes
// PUBLISH packets (with +, # and $share), retained messages, flow control
// and limits, and persistence behind a Store interface that this package
// defines. Listeners (TCP, TLS, WebSocket) hand each net.Conn to the same
// connection code. It uses the codec package for all packet bytes and never
// imports the client, wasm or UI packages.
//
// The package is planned; it has no API yet.
package broker
