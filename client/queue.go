package client

import "sync"

// serial runs a function on queued items, one at a time and in order, on a
// goroutine that exists only while there is work: an idle queue costs no
// goroutine. It is how handlers and callbacks run off the read loop.
type serial[T any] struct {
	mu      sync.Mutex
	items   []T
	head    int
	running bool
	closed  bool
	wg      *sync.WaitGroup
	run     func(T)
}

func newSerial[T any](wg *sync.WaitGroup, run func(T)) *serial[T] {
	return &serial[T]{wg: wg, run: run}
}

// push queues x. It reports false, without queueing, when the queue is
// closed or limit > 0 items are already waiting.
func (s *serial[T]) push(x T, limit int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || limit > 0 && len(s.items)-s.head >= limit {
		return false
	}
	if s.head > 0 && s.head >= len(s.items)/2 {
		// Reuse the space of the items already run.
		n := copy(s.items, s.items[s.head:])
		clear(s.items[n:])
		s.items, s.head = s.items[:n], 0
	}
	s.items = append(s.items, x)
	if !s.running {
		s.running = true
		s.wg.Add(1)
		go s.loop()
	}
	return true
}

func (s *serial[T]) loop() {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		if s.closed || s.head == len(s.items) {
			clear(s.items)
			s.items, s.head, s.running = s.items[:0], 0, false
			s.mu.Unlock()
			return
		}
		x := s.items[s.head]
		var zero T
		s.items[s.head] = zero
		s.head++
		s.mu.Unlock()
		s.run(x)
	}
}

// close drops the items not yet run and refuses new ones. An item being
// run finishes.
func (s *serial[T]) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}
