package broker

import (
	"testing"
	"unsafe"
)

// TestConnMetricsLayout: a connection's counters fill a 256-byte size
// class (so they start on a 256-byte boundary), the reader's half and the
// writer's half 128 bytes each, on cache lines of their own.
func TestConnMetricsLayout(t *testing.T) {
	var m connMetrics
	if s := unsafe.Sizeof(m); s != 256 {
		t.Errorf("connMetrics is %d bytes, want 256", s)
	}
	if o := unsafe.Offsetof(m.out); o != 128 {
		t.Errorf("the writer's counts start at %d, want 128", o)
	}
	for range 100 {
		c := newConn(New(Options{}), newSinkConn()) // on the heap, as served
		if p := uintptr(unsafe.Pointer(c.counters())); p%64 != 0 {
			t.Fatalf("connMetrics allocated at %#x, not on a cache line", p)
		}
	}
}
