package pebble

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/ternmq/tern/broker/store"
	"github.com/ternmq/tern/broker/store/storetest"
)

// logBuf collects a test's log, shown if the test fails.
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// testLogger returns a logger whose output is shown if t fails.
func testLogger(t testing.TB) (*slog.Logger, *logBuf) {
	lb := &logBuf{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("store log:\n%s", lb)
		}
	})
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

func mustOpen(t testing.TB, dir string, opts Options) *Store {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger, _ = testLogger(t)
	}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Engine { return mustOpen(t, t.TempDir(), Options{}) })
}

func TestReopen(t *testing.T) {
	storetest.RunDurable(t, func(t *testing.T, dir string) storetest.Engine { return mustOpen(t, dir, Options{}) })
}

func TestConformanceMemFS(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Engine { return mustOpen(t, "/db", Options{FS: vfs.NewMem()}) })
}

// Pebble locks the directory: a second Open fails while the first store
// is open, and succeeds after it is closed.
func TestDirectoryLocked(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	if s2, err := Open(dir, Options{}); err == nil {
		s2.Close()
		t.Fatal("second Open of an open store succeeded")
	} else {
		t.Logf("second Open: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	mustOpen(t, dir, Options{}).Close()
}

// A large batch (over half a memtable) takes pebble's flushable-batch path.
func TestLargeBatch(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{MemTableSize: 1 << 20})
	var b store.Batch
	for i := range 4000 {
		b.Set(store.QueueKey("c", uint64(i)), bytes.Repeat([]byte{'v'}, 300))
	}
	storetest.MustApply(t, s, &b)
	if n := len(storetest.Keys(t, s, nil)); n != 4000 {
		t.Fatalf("%d keys, want 4000", n)
	}
	if s.DiskUsage() == 0 {
		t.Error("DiskUsage 0 after 1.2 MB of writes")
	}
	s.Close()
	s = mustOpen(t, dir, Options{})
	defer s.Close()
	if n := len(storetest.Keys(t, s, nil)); n != 4000 {
		t.Fatalf("%d keys after reopen, want 4000", n)
	}
}

// Fatalf from pebble must neither exit nor be ignored: the store logs it,
// stops using that pebble, and reopens for the next write.
func TestFatalfReopens(t *testing.T) {
	log, lb := testLogger(t)
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{Logger: log})
	defer s.Close()
	storetest.MustApply(t, s, setKV("a", "1"))
	s.mu.RLock()
	inst := s.db
	s.mu.RUnlock()
	logger{log: log, f: inst.fence}.Fatalf("MANIFEST sync failed: %v", errors.New("boom"))
	storetest.MustApply(t, s, setKV("b", "2"))
	if got := storetest.Keys(t, s, nil); strings.Join(got, ",") != "a,b" {
		t.Fatalf("keys %q", got)
	}
	s.mu.RLock()
	reopened := s.db != inst
	s.mu.RUnlock()
	if !reopened {
		t.Fatal("still on the pebble that failed")
	}
	if out := lb.String(); !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "MANIFEST sync failed") {
		t.Fatalf("Fatalf not logged at error level:\n%s", out)
	}
}

func setKV(kv ...string) *store.Batch {
	var b store.Batch
	for i := 0; i+1 < len(kv); i += 2 {
		b.Set([]byte(kv[i]), []byte(kv[i+1]))
	}
	return &b
}

// keyN is the key of the n-th write of a test.
func keyN(prefix string, n int) []byte { return []byte(fmt.Sprintf("%s%06d", prefix, n)) }
