package broker

import (
	"log/slog"
	"testing"

	"github.com/ternmq/tern/broker/store"
	"github.com/ternmq/tern/broker/store/memory"
)

// syncCounter is a Store that counts synced Applies.
type syncCounter struct {
	Store
	applies, syncs int
}

func (s *syncCounter) Apply(b *store.Batch, sync bool) error {
	s.applies++
	if sync {
		s.syncs++
	}
	return s.Store.Apply(b, sync)
}

// TestCommitterSyncsEarlierWrites: when the goroutine takes a group
// between a caller's writes and its wait, the writes go out unsynced and
// the wait lands in an empty group, which must still sync before the
// caller is told its writes are durable.
func TestCommitterSyncsEarlierWrites(t *testing.T) {
	st := &syncCounter{Store: memory.New()}
	c := newCommitter(st, slog.New(slog.DiscardHandler), new(Stats), 0)
	c.running = true // the test plays the goroutine
	step := func() {
		if g := c.take(); g != nil {
			c.apply(g)
			c.recycle(g)
		}
	}
	c.set([]byte("Sk\x00S"), []byte("v"))
	step() // taken before the wait: no sync asked for yet
	var done, synced bool
	c.wait(true, func(err error) { done = err == nil; synced = st.syncs == 1 })
	step()
	if !done || !synced {
		t.Fatalf("wait completed %v after %d applies, %d synced; want it completed after a sync", done, st.applies, st.syncs)
	}
	// With nothing written unsynced, an empty wait costs no write.
	c.running = true
	c.wait(true, func(error) {})
	step()
	if st.applies != 2 {
		t.Errorf("%d applies, want no third for a wait with nothing to sync", st.applies)
	}
}
