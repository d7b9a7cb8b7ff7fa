// Package storetest is a conformance suite for store engines: what the
// broker relies on from broker.Store, checked against each engine by its
// own tests.
package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/ternmq/tern/broker/store"
)

// Engine is what the suite tests: the methods of broker.Store.
type Engine interface {
	Apply(b *store.Batch, sync bool) error
	Scan(prefix []byte, fn func(key, value []byte) error) error
	Close() error
}

// KV is a key and a value read by Dump.
type KV struct{ Key, Value string }

// Dump returns the keys and values under prefix, in scan order, failing
// t on an error.
func Dump(t testing.TB, e Engine, prefix []byte) []KV {
	t.Helper()
	var kvs []KV
	err := e.Scan(prefix, func(k, v []byte) error {
		kvs = append(kvs, KV{string(k), string(v)})
		return nil
	})
	if err != nil {
		t.Fatalf("Scan(%q): %v", prefix, err)
	}
	return kvs
}

// Keys returns the keys under prefix, in scan order.
func Keys(t testing.TB, e Engine, prefix []byte) []string {
	t.Helper()
	var keys []string
	for _, kv := range Dump(t, e, prefix) {
		keys = append(keys, kv.Key)
	}
	return keys
}

// MustApply applies b with sync, failing t on an error.
func MustApply(t testing.TB, e Engine, b *store.Batch) {
	t.Helper()
	if err := e.Apply(b, true); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

// set returns a batch of sets of alternating keys and values.
func set(kv ...string) *store.Batch {
	var b store.Batch
	for i := 0; i+1 < len(kv); i += 2 {
		b.Set([]byte(kv[i]), []byte(kv[i+1]))
	}
	return &b
}

func equal(t *testing.T, got, want []KV) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

// Run runs the suite; open returns a new, empty engine, which the suite
// closes.
func Run(t *testing.T, open func(t *testing.T) Engine) {
	tests := []struct {
		name string
		fn   func(*testing.T, Engine)
	}{
		{"SetScan", testSetScan},
		{"Overwrite", testOverwrite},
		{"EmptyValue", testEmptyValue},
		{"PrefixBounds", testPrefixBounds},
		{"PrefixOfFF", testPrefixOfFF},
		{"EmptyPrefixScansAll", testEmptyPrefix},
		{"Delete", testDelete},
		{"DeleteRangeSession", testDeleteRangeSession},
		{"OrderWithinBatch", testOrderWithinBatch},
		{"QueueSeqOrder", testQueueOrder},
		{"InvalidBatchChangesNothing", testAtomicity},
		{"ScanStopsOnError", testScanError},
		{"ValuesNotAliased", testNotAliased},
		{"ConcurrentApply", testConcurrent},
		{"NoSync", testNoSync},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := open(t)
			defer func() {
				if err := e.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}()
			tc.fn(t, e)
		})
	}
	t.Run("Closed", func(t *testing.T) { testClosed(t, open(t)) })
}

func testSetScan(t *testing.T, e Engine) {
	MustApply(t, e, set("b", "2", "a", "1", "c", "3"))
	equal(t, Dump(t, e, nil), []KV{{"a", "1"}, {"b", "2"}, {"c", "3"}})
	equal(t, Dump(t, e, []byte("b")), []KV{{"b", "2"}})
	equal(t, Dump(t, e, []byte("d")), nil)
}

func testOverwrite(t *testing.T, e Engine) {
	MustApply(t, e, set("k", "old"))
	MustApply(t, e, set("k", "new"))
	equal(t, Dump(t, e, nil), []KV{{"k", "new"}})
}

func testEmptyValue(t *testing.T, e Engine) {
	var b store.Batch
	b.Set(store.InboundKey("c", 7), nil)
	MustApply(t, e, &b)
	n := 0
	err := e.Scan(store.SessionPrefix("c"), func(k, v []byte) error {
		n++
		if len(v) != 0 {
			t.Errorf("value %q, want empty", v)
		}
		return nil
	})
	if err != nil || n != 1 {
		t.Fatalf("Scan: %d keys, %v; want 1 key", n, err)
	}
}

func testPrefixBounds(t *testing.T, e Engine) {
	var b store.Batch
	for _, c := range []string{"a", "ab", "b", ""} {
		b.Set(store.SessionKey(c), []byte("s"+c))
		b.Set(store.QueueKey(c, 1), []byte("q"+c))
	}
	b.Set(store.RetainedKey("a/b"), []byte("r"))
	b.Set(store.MessageKey(1), []byte("m"))
	MustApply(t, e, &b)
	equal(t, Dump(t, e, store.SessionPrefix("a")), []KV{
		{string(store.QueueKey("a", 1)), "qa"}, {string(store.SessionKey("a")), "sa"},
	})
	equal(t, Dump(t, e, store.SessionPrefix("")), []KV{
		{string(store.QueueKey("", 1)), "q"}, {string(store.SessionKey("")), "s"},
	})
	if got := Keys(t, e, []byte{store.KindSession}); len(got) != 8 {
		t.Fatalf("%d session keys, want 8: %q", len(got), got)
	}
	equal(t, Dump(t, e, []byte{store.KindRetained}), []KV{{string(store.RetainedKey("a/b")), "r"}})
}

func testPrefixOfFF(t *testing.T, e Engine) {
	MustApply(t, e, set("\xff", "1", "\xff\xff", "2", "\xff\xff\x00", "3", "\xfe", "0"))
	equal(t, Dump(t, e, []byte("\xff\xff")), []KV{{"\xff\xff", "2"}, {"\xff\xff\x00", "3"}})
	equal(t, Dump(t, e, []byte("\xfe")), []KV{{"\xfe", "0"}})
}

func testEmptyPrefix(t *testing.T, e Engine) {
	rng := rand.New(rand.NewPCG(1, 2))
	var b store.Batch
	var want []KV
	for i := range 500 {
		k := make([]byte, 1+rng.IntN(6))
		for j := range k {
			k[j] = byte(rng.IntN(256))
		}
		if slices.ContainsFunc(want, func(kv KV) bool { return kv.Key == string(k) }) {
			continue
		}
		v := fmt.Sprint(i)
		b.Set(k, []byte(v))
		want = append(want, KV{string(k), v})
	}
	MustApply(t, e, &b)
	slices.SortFunc(want, func(a, b KV) int { return bytes.Compare([]byte(a.Key), []byte(b.Key)) })
	equal(t, Dump(t, e, nil), want)
	equal(t, Dump(t, e, []byte{}), want)
}

func testDelete(t *testing.T, e Engine) {
	MustApply(t, e, set("a", "1", "b", "2"))
	var b store.Batch
	b.Delete([]byte("a"))
	b.Delete([]byte("missing"))
	MustApply(t, e, &b)
	equal(t, Dump(t, e, nil), []KV{{"b", "2"}})
}

func testDeleteRangeSession(t *testing.T, e Engine) {
	var b store.Batch
	for _, c := range []string{"a", "ab", "b"} {
		b.Set(store.SessionKey(c), []byte("s"))
		for seq := range uint64(50) {
			b.Set(store.QueueKey(c, seq), []byte("q"))
		}
		b.Set(store.InboundKey(c, 9), nil)
	}
	MustApply(t, e, &b)
	b = store.Batch{}
	b.DeleteRange(store.SessionRange("a"))
	MustApply(t, e, &b)
	if got := Keys(t, e, store.SessionPrefix("a")); len(got) != 0 {
		t.Fatalf("after DeleteRange: %q", got)
	}
	for _, c := range []string{"ab", "b"} {
		if got := Keys(t, e, store.SessionPrefix(c)); len(got) != 52 {
			t.Fatalf("client %q: %d keys, want 52", c, len(got))
		}
	}
	b = store.Batch{}
	b.DeleteRange([]byte("x"), []byte("x")) // empty range
	MustApply(t, e, &b)
	if got := Keys(t, e, nil); len(got) != 104 {
		t.Fatalf("%d keys after an empty range delete, want 104", len(got))
	}
}

func testOrderWithinBatch(t *testing.T, e Engine) {
	var b store.Batch
	b.Set([]byte("a"), []byte("1"))
	b.Delete([]byte("a"))
	b.Set([]byte("b"), []byte("1"))
	b.Set([]byte("b"), []byte("2"))
	b.Set([]byte("c1"), []byte("x"))
	b.DeleteRange([]byte("c"), []byte("d"))
	b.Set([]byte("c2"), []byte("y"))
	MustApply(t, e, &b)
	equal(t, Dump(t, e, nil), []KV{{"b", "2"}, {"c2", "y"}})
}

func testQueueOrder(t *testing.T, e Engine) {
	seqs := []uint64{1 << 40, 256, 1, 255, 0, 65536, 2, 1<<64 - 1}
	var b store.Batch
	for _, s := range seqs {
		b.Set(store.QueueKey("c", s), []byte(fmt.Sprint(s)))
	}
	MustApply(t, e, &b)
	var got []uint64
	err := e.Scan(store.SessionPrefix("c"), func(k, v []byte) error {
		p, err := store.ParseKey(k)
		if err != nil {
			return err
		}
		if fmt.Sprint(p.ID) != string(v) {
			return fmt.Errorf("key seq %d has value %q", p.ID, v)
		}
		got = append(got, p.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(seqs)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("seq order %v, want %v", got, want)
	}
}

func testAtomicity(t *testing.T, e Engine) {
	MustApply(t, e, set("keep", "1"))
	var b store.Batch
	b.Set([]byte("new"), []byte("x"))
	b.Delete([]byte("keep"))
	b.DeleteRange([]byte("z"), []byte("a")) // start after end
	if err := e.Apply(&b, true); err == nil {
		t.Fatal("Apply of a batch with a reversed range succeeded")
	}
	b = store.Batch{}
	b.Delete([]byte("keep"))
	b.Ops = append(b.Ops, store.Op{Kind: 99, Key: []byte("k")})
	if err := e.Apply(&b, false); err == nil {
		t.Fatal("Apply of a batch with an unknown op succeeded")
	}
	equal(t, Dump(t, e, nil), []KV{{"keep", "1"}})
}

func testScanError(t *testing.T, e Engine) {
	MustApply(t, e, set("a", "1", "b", "2", "c", "3"))
	stop := errors.New("stop")
	n := 0
	err := e.Scan(nil, func(k, v []byte) error {
		n++
		if string(k) == "b" {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 2 {
		t.Fatalf("Scan returned %v after %d keys; want stop after 2", err, n)
	}
}

func testNotAliased(t *testing.T, e Engine) {
	k, v := []byte("key"), []byte("value")
	var b store.Batch
	b.Set(k, v)
	MustApply(t, e, &b)
	copy(k, "XXX")
	copy(v, "XXXXX")
	equal(t, Dump(t, e, nil), []KV{{"key", "value"}})
}

func testConcurrent(t *testing.T, e Engine) {
	const writers, each = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				var b store.Batch
				b.Set(store.QueueKey(fmt.Sprint(w), uint64(i)), []byte("v"))
				b.Set(store.SessionKey(fmt.Sprint(w)), []byte(fmt.Sprint(i)))
				if err := e.Apply(&b, i%2 == 0); err != nil {
					errs <- err
					return
				}
				if i%10 == 0 {
					if err := e.Scan(store.SessionPrefix(fmt.Sprint(w)), func(k, v []byte) error { return nil }); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for w := range writers {
		kvs := Dump(t, e, store.SessionPrefix(fmt.Sprint(w)))
		if len(kvs) != each+1 {
			t.Fatalf("writer %d: %d keys, want %d", w, len(kvs), each+1)
		}
		if last := kvs[len(kvs)-1]; last.Value != fmt.Sprint(each-1) {
			t.Fatalf("writer %d: session %q, want the last write", w, last.Value)
		}
	}
}

func testNoSync(t *testing.T, e Engine) {
	if err := e.Apply(set("a", "1"), false); err != nil {
		t.Fatal(err)
	}
	equal(t, Dump(t, e, nil), []KV{{"a", "1"}})
}

func testClosed(t *testing.T, e Engine) {
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := e.Apply(set("a", "1"), true); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Apply after Close: %v, want ErrClosed", err)
	}
	if err := e.Scan(nil, func(k, v []byte) error { return nil }); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Scan after Close: %v, want ErrClosed", err)
	}
	if err := e.Close(); !errors.Is(err, store.ErrClosed) {
		t.Errorf("second Close: %v, want ErrClosed", err)
	}
}

// RunDurable checks that a durable engine keeps what it was given across
// Close and open, which opens the engine in dir.
func RunDurable(t *testing.T, open func(t *testing.T, dir string) Engine) {
	dir := t.TempDir()
	e := open(t, dir)
	var b store.Batch
	b.Set(store.VersionKey(), store.AppendVersion(nil))
	for _, c := range []string{"a", "ab"} {
		b.Set(store.SessionKey(c), []byte("s"))
		for seq := range uint64(100) {
			b.Set(store.QueueKey(c, seq), bytes.Repeat([]byte{byte(seq)}, 200))
		}
	}
	MustApply(t, e, &b)
	b = store.Batch{}
	b.DeleteRange(store.SessionRange("a"))
	b.Delete(store.QueueKey("ab", 0))
	MustApply(t, e, &b)
	want := Dump(t, e, nil)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = open(t, dir)
	equal(t, Dump(t, e, nil), want)
	if len(want) != 1+1+99 {
		t.Fatalf("%d keys, want 101", len(want))
	}
	MustApply(t, e, set("z", "after reopen"))
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = open(t, dir)
	defer e.Close()
	equal(t, Dump(t, e, nil), append(want, KV{"z", "after reopen"}))
}
