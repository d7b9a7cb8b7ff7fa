package memory

import (
	"fmt"
	"testing"

	"github.com/ternmq/tern/broker/store"
	"github.com/ternmq/tern/broker/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Engine { return New() })
}

// After a mass delete the store must not keep the capacity of its peak:
// the broker measures the heap after expiry sweeps.
func TestShrinksAfterMassDelete(t *testing.T) {
	s := New()
	defer s.Close()
	var b store.Batch
	for i := range 10000 {
		b.Set(store.QueueKey(fmt.Sprint(i%10), uint64(i)), []byte("v"))
	}
	if err := s.Apply(&b, false); err != nil {
		t.Fatal(err)
	}
	peak := cap(s.entries)
	b = store.Batch{}
	for c := range 9 {
		b.DeleteRange(store.SessionRange(fmt.Sprint(c)))
	}
	if err := s.Apply(&b, false); err != nil {
		t.Fatal(err)
	}
	if s.Len() != 1000 || cap(s.entries) > peak/4 {
		t.Fatalf("len %d cap %d after deleting 90%% of %d (cap %d)", s.Len(), cap(s.entries), 10000, peak)
	}
	b = store.Batch{}
	for i := range 1000 {
		b.Delete(store.QueueKey("9", uint64(i*10+9)))
	}
	if err := s.Apply(&b, false); err != nil {
		t.Fatal(err)
	}
	if s.Len() != 0 || cap(s.entries) > 16 {
		t.Fatalf("len %d cap %d after deleting everything", s.Len(), cap(s.entries))
	}
}
