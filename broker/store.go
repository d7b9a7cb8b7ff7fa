package broker

import "github.com/ternmq/tern/broker/store"

// Store is where the broker keeps what a restart needs: persistent
// sessions with their subscriptions, wills, queues, in-flight and inbound
// QoS 2 state, and retained messages, as ordered keys and values in the
// layout of package store. The engines are in broker/store/memory and
// broker/store/pebble; Open reads a Store back before serving.
//
// The broker writes through one committer goroutine that groups the
// writes of every connection into one Apply and one sync (see
// committer). Implementations must be safe for concurrent use.
type Store interface {
	// Apply writes b atomically and in order. With sync it returns only
	// once the writes are durable.
	Apply(b *store.Batch, sync bool) error
	// Scan calls fn for every key with the prefix, in key order; key and
	// value are valid only during the call. An error from fn stops the
	// scan and is returned.
	Scan(prefix []byte, fn func(key, value []byte) error) error
	// Close releases the store.
	Close() error
}
