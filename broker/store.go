package broker

import "github.com/ternmq/tern/broker/topictree"

// Store keeps retained messages. The broker calls it on every retained
// PUBLISH and on every subscription, so implementations must be safe for
// concurrent use. Sessions live in memory for now; a durable store that
// also keeps sessions and in-flight messages is planned.
type Store interface {
	// SetRetained stores m as the retained message of its topic, replacing
	// any earlier one.
	SetRetained(m *Message) error
	// DeleteRetained removes the retained message of topic, if any.
	DeleteRetained(topic string) error
	// MatchRetained calls fn for each retained message whose topic matches
	// filter, until fn returns false.
	MatchRetained(filter string, fn func(m *Message) bool) error
}

// MemoryStore is the in-memory Store: retained messages in a topic tree.
type MemoryStore struct {
	retained *topictree.Retained[*Message]
}

// NewMemoryStore returns an empty in-memory store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{retained: topictree.NewRetained[*Message]()}
}

// SetRetained implements Store.
func (s *MemoryStore) SetRetained(m *Message) error {
	s.retained.Set(m.Topic, m)
	return nil
}

// DeleteRetained implements Store.
func (s *MemoryStore) DeleteRetained(topic string) error {
	s.retained.Delete(topic)
	return nil
}

// MatchRetained implements Store.
func (s *MemoryStore) MatchRetained(filter string, fn func(m *Message) bool) error {
	s.retained.Match(filter, func(_ string, m *Message) bool { return fn(m) })
	return nil
}

// RetainedCount returns the number of retained messages.
func (s *MemoryStore) RetainedCount() int { return s.retained.Len() }
