// Package memory is an in-memory store engine: ordered keys, atomic
// batches and nothing on disk. It backs the broker's tests and an
// in-memory broker, and satisfies broker.Store.
package memory

import (
	"bytes"
	"slices"
	"sync"

	"github.com/ternmq/tern/broker/store"
)

type entry struct {
	key, value []byte
}

// Store is an in-memory engine. It is safe for concurrent use. It keeps
// copies of the keys and values it is given.
type Store struct {
	mu      sync.RWMutex
	entries []entry // sorted by key; stored bytes are never changed
	closed  bool
}

// New returns an empty Store.
func New() *Store { return &Store{} }

// Apply writes b atomically and in order. sync is ignored: nothing here is
// durable. A batch that fails Validate changes nothing.
func (s *Store) Apply(b *store.Batch, sync bool) error {
	if err := b.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	for _, op := range b.Ops {
		switch op.Kind {
		case store.OpSet:
			s.set(op.Key, op.Value)
		case store.OpDelete:
			if i, ok := s.find(op.Key); ok {
				s.entries = slices.Delete(s.entries, i, i+1)
			}
		case store.OpDeleteRange:
			i, _ := s.find(op.Key)
			j, _ := s.find(op.End)
			s.entries = slices.Delete(s.entries, i, max(i, j))
		}
	}
	s.shrink()
	return nil
}

// shrink drops spare capacity after mass deletes, so that a store that
// was once large does not keep its peak memory.
func (s *Store) shrink() {
	if c := cap(s.entries); c > 64 && len(s.entries) < c/4 {
		s.entries = slices.Clip(slices.Clone(s.entries)) // cap about len
	}
}

// find returns the index of the first entry whose key is not less than
// key, and whether that entry's key is key.
func (s *Store) find(key []byte) (int, bool) {
	return slices.BinarySearchFunc(s.entries, key, func(e entry, k []byte) int { return bytes.Compare(e.key, k) })
}

func (s *Store) set(key, value []byte) {
	v := bytes.Clone(value)
	if v == nil {
		v = []byte{}
	}
	i, ok := s.find(key)
	if ok {
		s.entries[i].value = v
		return
	}
	s.entries = slices.Insert(s.entries, i, entry{key: bytes.Clone(key), value: v})
}

// Scan calls fn for every key with prefix, in key order, until fn returns
// an error, which Scan returns. It sees the store as it was when Scan
// began; fn may call Apply. key and value must not be changed; they stay
// valid after fn returns, but callers of a Store should not rely on that.
func (s *Store) Scan(prefix []byte, fn func(key, value []byte) error) error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return store.ErrClosed
	}
	i, _ := s.find(prefix)
	j := len(s.entries)
	if end := store.PrefixEnd(prefix); end != nil {
		j, _ = s.find(end)
	}
	snap := slices.Clone(s.entries[i:j])
	s.mu.RUnlock()
	for _, e := range snap {
		if err := fn(e.key, e.value); err != nil {
			return err
		}
	}
	return nil
}

// Len returns the number of keys in the store.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.entries)
}

// Close drops the contents; later calls return store.ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	s.closed = true
	s.entries = nil
	return nil
}
