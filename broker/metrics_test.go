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

// TestConnSizeClass: what an idle connection keeps on the heap stays in
// its size classes. A field added to conn past 480 bytes costs every idle
// connection 32 bytes more (the next class is 512), about 64 of RSS.
func TestConnSizeClass(t *testing.T) {
	for _, c := range []struct {
		name      string
		size, max uintptr
	}{
		{"conn", unsafe.Sizeof(conn{}), 480},
		{"session", unsafe.Sizeof(session{}), 320},
		{"parker", unsafe.Sizeof(parker{}), 48},
	} {
		if c.size > c.max {
			t.Errorf("%s is %d bytes, want at most %d (its size class)", c.name, c.size, c.max)
		}
	}
}
