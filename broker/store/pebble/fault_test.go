package pebble

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/ternmq/tern/broker/store"
	"github.com/ternmq/tern/broker/store/storetest"
)

// injector fails the operations that match, with errno, while it is on.
type injector struct {
	on    atomic.Bool
	errno syscall.Errno
	match func(errorfs.Op) bool
	hits  atomic.Int64
}

func (in *injector) String() string { return "test injector" }

// MaybeError returns the error for op, as the operating system would.
func (in *injector) MaybeError(op errorfs.Op) error {
	if !in.on.Load() || !in.match(op) {
		return nil
	}
	in.hits.Add(1)
	return &os.PathError{Op: fmt.Sprint("op", int(op.Kind)), Path: op.Path, Err: in.errno}
}

func isWrite(k errorfs.OpKind) bool {
	switch k {
	case errorfs.OpFileWrite, errorfs.OpFileWriteAt, errorfs.OpFileSync, errorfs.OpFileSyncData,
		errorfs.OpFileSyncTo, errorfs.OpFilePreallocate, errorfs.OpCreate, errorfs.OpReuseForWrite,
		errorfs.OpLink, errorfs.OpRename, errorfs.OpMkdirAll:
		return true
	}
	return false
}

var faultCases = []struct {
	name  string
	errno syscall.Errno
	match func(errorfs.Op) bool
	// readable: the store can reopen, and so be read, during the fault.
	readable bool
}{
	{"WALWriteENOSPC", syscall.ENOSPC, func(op errorfs.Op) bool {
		return strings.HasSuffix(op.Path, ".log") && (op.Kind == errorfs.OpFileWrite || op.Kind == errorfs.OpFileWriteAt)
	}, true},
	{"WALSyncEIO", syscall.EIO, func(op errorfs.Op) bool {
		return strings.HasSuffix(op.Path, ".log") && (op.Kind == errorfs.OpFileSync || op.Kind == errorfs.OpFileSyncData || op.Kind == errorfs.OpFileSyncTo)
	}, true},
	{"DiskFullENOSPC", syscall.ENOSPC, func(op errorfs.Op) bool { return isWrite(op.Kind) }, false},
	{"DiskEIO", syscall.EIO, func(op errorfs.Op) bool { return isWrite(op.Kind) }, false},
}

func value(n int) []byte { return bytes.Repeat([]byte{'v'}, n) }

// A failed synced Apply returns an error that wraps the errno and does not
// end the process; what was synced before stays; once the fault clears,
// Apply works again, and everything synced is there after Close and Open.
// The writes during the fault include more than a memtable of unsynced
// ones, so that pebble rotates its WAL after the failure (which, left to
// itself, it survives only by exiting).
func TestWriteFaults(t *testing.T) {
	for _, tc := range faultCases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			in := &injector{errno: tc.errno, match: tc.match}
			log, lb := testLogger(t)
			s := mustOpen(t, dir, Options{FS: errorfs.Wrap(vfs.Default, in), MemTableSize: 1 << 20, Logger: log})
			defer func() {
				if s != nil {
					s.Close()
				}
			}()
			var want []storetest.KV
			for i := range 20 {
				storetest.MustApply(t, s, setKV(string(keyN("a", i)), "before"))
				want = append(want, storetest.KV{Key: string(keyN("a", i)), Value: "before"})
			}

			in.on.Store(true)
			check := func(err error, what string) {
				t.Helper()
				if err == nil {
					t.Fatalf("%s during the fault succeeded", what)
				}
				if !errors.Is(err, tc.errno) {
					t.Fatalf("%s: %v does not wrap %v", what, err, tc.errno)
				}
			}
			check(s.Apply(setKV("b", "during"), true), "first synced Apply")
			for i := range 40 { // 40 x 64 KiB unsynced: memtable rotations
				var b store.Batch
				b.Set(keyN("n", i), value(64<<10))
				if err := s.Apply(&b, false); err != nil {
					check(err, "unsynced Apply")
				}
			}
			check(s.Apply(setKV("b2", "during"), true), "second synced Apply")
			if tc.readable {
				got := storetest.Dump(t, s, []byte("a"))
				if !slices.Equal(got, want) {
					t.Fatalf("during the fault: %q, want %q", got, want)
				}
			}
			if in.hits.Load() == 0 {
				t.Fatal("no fault injected")
			}

			in.on.Store(false)
			storetest.MustApply(t, s, setKV("c", "after"))
			want = append(want, storetest.KV{Key: "c", Value: "after"})
			checkData := func(s *Store, when string) {
				var got []storetest.KV
				for _, kv := range storetest.Dump(t, s, nil) {
					if kv.Key[0] == 'a' || kv.Key[0] == 'c' {
						got = append(got, kv)
					}
				}
				if !slices.Equal(got, want) {
					t.Fatalf("%s: %q, want %q", when, got, want)
				}
			}
			checkData(s, "after the fault")
			if err := s.Close(); err != nil {
				t.Logf("Close: %v", err)
			}
			s = mustOpen(t, dir, Options{})
			checkData(s, "after Close and Open")
			if os.Getenv("SHOWLOG") != "" {
				t.Log(lb.String())
			}
			if !strings.Contains(lb.String(), "store reopened after a write failure") {
				t.Fatalf("no reopen logged")
			}
		})
	}
}

// A process killed without Close keeps every synced write: a crash clone
// of the file system (with none, or half, of the unsynced data) opens
// with everything up to the last synced Apply.
func TestCrashKeepsSyncedWrites(t *testing.T) {
	mem := vfs.NewCrashableMem()
	s := mustOpen(t, "/db", Options{FS: mem, MemTableSize: 1 << 20})
	defer s.Close()
	var synced []storetest.KV
	for round := range 6 {
		for i := range 50 {
			var b store.Batch
			k := fmt.Sprintf("r%d-%03d", round, i)
			b.Set([]byte(k), value(8<<10))
			if i%10 == 3 {
				b.DeleteRange([]byte(fmt.Sprintf("r%d-%03d", round, i-2)), []byte(k))
			}
			sync := i == 39
			if err := s.Apply(&b, sync); err != nil {
				t.Fatal(err)
			}
			if sync {
				synced = storetest.Dump(t, s, nil) // everything so far is durable
			}
		}
		// 10 unsynced writes after the last sync.
		for pct := range []int{0, 50, 100} {
			crashed := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: pct * 50, RNG: rand.New(rand.NewPCG(uint64(round), uint64(pct)))})
			c := mustOpen(t, "/db", Options{FS: crashed})
			got := storetest.Dump(t, c, nil)
			if len(got) < len(synced) || !slices.Equal(got[:len(synced)], synced) {
				t.Fatalf("round %d, %d%% unsynced kept: %d keys, want the %d synced first", round, pct*50, len(got), len(synced))
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// After its fence is up, a pebble.DB driven on directly (as a commit in
// flight when a WAL fails would be) neither panics nor hangs: pebble never
// sees the WAL error, which would make it panic on the next commit or on
// the next WAL rotation. Without the fence, the unsynced commit right
// after a failed sync panics in pebble's commit pipeline.
func TestFencedPebbleKeepsRunning(t *testing.T) {
	for _, tc := range faultCases {
		t.Run(tc.name, func(t *testing.T) {
			in := &injector{errno: tc.errno, match: tc.match}
			log, lb := testLogger(t)
			s := mustOpen(t, t.TempDir(), Options{FS: errorfs.Wrap(vfs.Default, in), MemTableSize: 1 << 20, Logger: log})
			if os.Getenv("SHOWLOG") != "" {
				defer func() { t.Log(lb.String()) }()
			}
			storetest.MustApply(t, s, setKV("a", "1"))
			// Hold the store as an Apply in flight would, so that the
			// fenced pebble is not closed under the test.
			s.mu.RLock()
			inst := s.db
			in.on.Store(true)
			if err := s.Apply(setKV("b", "2"), true); !errors.Is(err, tc.errno) {
				t.Fatalf("synced Apply during the fault: %v", err)
			}
			if inst.fence.failed() == nil {
				t.Fatal("fence not up")
			}
			for i := range 80 { // several WAL rotations
				if err := inst.db.Set(keyN("n", i), value(64<<10), nil); err != nil {
					t.Logf("unsynced Set %d on the fenced pebble: %v", i, err)
				}
			}
			if err := inst.db.Set([]byte("s"), nil, pebble.Sync); err != nil {
				t.Logf("synced Set on the fenced pebble: %v", err)
			}
			s.mu.RUnlock()
			if err := s.Close(); err != nil { // waits for the fenced pebble to close
				t.Fatal(err)
			}
		})
	}
}

// Concurrent writers through a fault and its recovery: every Apply that
// succeeded is there after Close and Open, and every failure wraps the
// errno.
func TestConcurrentWritersThroughFault(t *testing.T) {
	tc := faultCases[0] // WAL writes fail with ENOSPC
	dir := t.TempDir()
	in := &injector{errno: tc.errno, match: tc.match}
	s := mustOpen(t, dir, Options{FS: errorfs.Wrap(vfs.Default, in)})
	var (
		mu        sync.Mutex
		ok        []string
		failures  int
		bad       error
		okCh      = make(chan struct{}, 1<<16)
		failCh    = make(chan struct{}, 1<<16)
		stop      atomic.Bool
		wg        sync.WaitGroup
		nextID    atomic.Int64
		wrongErrs atomic.Int64
	)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				k := string(keyN("k", int(nextID.Add(1))))
				err := s.Apply(setKV(k, "v"), true)
				mu.Lock()
				switch {
				case err == nil:
					ok = append(ok, k)
					okCh <- struct{}{}
				case errors.Is(err, tc.errno):
					failures++
					failCh <- struct{}{}
				default:
					bad = err
					wrongErrs.Add(1)
					failCh <- struct{}{}
				}
				mu.Unlock()
			}
		}()
	}
	wait := func(ch chan struct{}, n int) {
		for range n {
			<-ch
		}
	}
	wait(okCh, 200)
	in.on.Store(true)
	wait(failCh, 100)
	in.on.Store(false)
	drain := len(okCh)
	wait(okCh, drain+200)
	stop.Store(true)
	wg.Wait()
	if wrongErrs.Load() > 0 {
		t.Fatalf("%d failures do not wrap %v, e.g. %v", wrongErrs.Load(), tc.errno, bad)
	}
	if err := s.Close(); err != nil {
		t.Logf("Close: %v", err)
	}
	s = mustOpen(t, dir, Options{})
	defer s.Close()
	have := map[string]bool{}
	for _, k := range storetest.Keys(t, s, nil) {
		have[k] = true
	}
	for _, k := range ok {
		if !have[k] {
			t.Fatalf("acknowledged write %s lost (%d acknowledged, %d failed)", k, len(ok), failures)
		}
	}
	t.Logf("%d acknowledged, %d failed, %d keys stored", len(ok), failures, len(have))
}
