// Package pebble is the durable store engine: a Pebble
// (github.com/cockroachdb/pebble/v2) database in one directory. It
// satisfies broker.Store.
//
// Every synced Apply is durable in the write-ahead log before it returns;
// concurrent synced Applies share fsyncs, and WAL files are recycled.
//
// A failed write does not end the process, as it would with pebble's
// defaults. The first write error fences the database (see fence): the
// Apply that saw it, and any Apply in flight, returns an error wrapping
// the error of the system call (so errors.Is(err, syscall.ENOSPC) holds
// for a full disk), pebble is closed in the background, and the next
// Apply or Scan reopens the directory, which replays what was durable.
// The outcome of a failed Apply is unknown: its writes may or may not be
// there after the reopen, as after a crash. Every Apply that succeeded
// with sync is there.
package pebble

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/ternmq/tern/broker/store"
)

// Options configure Open. The zero value is ready to use.
type Options struct {
	// Logger receives pebble's messages and events: failures at error
	// level, slow disks and write stalls at warn level, flushes and
	// compactions at debug level. Nil discards them. Pebble never writes
	// to stdout or stderr itself.
	Logger *slog.Logger
	// FS is the file system to use; nil means the operating system's.
	// Tests use it to inject faults.
	FS vfs.FS
	// MemTableSize is the size of a memtable, which is also how much of the
	// write-ahead log is replayed on open; 0 means 64 MiB.
	MemTableSize uint64
}

// formatVersion is the pebble on-disk format of a new store: the newest
// that pebble v2.1.7 knows. Raising it makes stores unreadable by older
// builds, so it moves only deliberately.
const formatVersion = pebble.FormatValueSeparation

// Store is a durable engine on a pebble database. It is safe for
// concurrent use.
type Store struct {
	dir  string
	opts Options
	log  *slog.Logger

	mu     sync.RWMutex // Apply and Scan hold it shared; reopening and Close exclusively
	db     *instance    // nil after Close, or after a failure until the next reopen
	down   error        // why db is nil
	closed bool

	bgMu     sync.Mutex     // guards bg.Add against bg.Wait
	bgClosed bool           // no more background closes
	bg       sync.WaitGroup // background closes of failed instances
}

// instance is one open pebble.DB and its fence.
type instance struct {
	db    *pebble.DB
	fence *fence
	// wedged: pebble panicked during a commit and may hold its commit
	// mutex, so closing it could hang. It is abandoned instead, and keeps
	// its lock on the directory until the process exits.
	wedged atomic.Bool
}

// Open opens the store in dir, creating it if needed. Pebble locks the
// directory: a second Open of the same directory, from this process or
// another, fails until the first Store is closed.
func Open(dir string, opts Options) (*Store, error) {
	s := &Store{dir: dir, opts: opts, log: opts.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.opts.FS == nil {
		s.opts.FS = vfs.Default
	}
	if s.opts.MemTableSize == 0 {
		s.opts.MemTableSize = 64 << 20
	}
	inst, err := s.open()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.db = inst
	s.mu.Unlock()
	return s, nil
}

// open opens a new instance of the database.
func (s *Store) open() (*instance, error) {
	inst := &instance{fence: &fence{}}
	inst.fence.onFailed = func() { s.retire(inst) }
	po := &pebble.Options{
		FS:                          &fenceFS{FS: s.opts.FS, f: inst.fence},
		Logger:                      logger{log: s.log, f: inst.fence},
		EventListener:               listener(s.log),
		MemTableSize:                s.opts.MemTableSize,
		MemTableStopWritesThreshold: 4,
		FormatMajorVersion:          formatVersion,
	}
	db, err := pebble.Open(s.dir, po)
	if err != nil {
		return nil, fmt.Errorf("pebble store: open %s: %w", s.dir, err)
	}
	inst.db = db
	return inst, nil
}

// retire closes inst in the background once its fence is up, so that a
// failed pebble stops working as soon as it can; the next Apply or Scan
// opens a new instance.
func (s *Store) retire(inst *instance) {
	s.bgMu.Lock()
	defer s.bgMu.Unlock()
	if s.bgClosed {
		return
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.db == inst {
			s.dropLocked()
		}
	}()
}

// dropLocked closes s.db after a failure.
func (s *Store) dropLocked() {
	inst := s.db
	s.db = nil
	s.down = inst.fence.failed()
	s.log.Error("store write failed; closing pebble, to reopen before the next write", "err", s.down)
	if err := inst.close(); err != nil {
		s.log.Warn("closing pebble after a failure", "err", err)
	}
}

// close closes the instance, unless it is wedged.
func (inst *instance) close() error {
	if inst.wedged.Load() {
		return fmt.Errorf("pebble store: abandoning a database that panicked; restart to reopen it")
	}
	return inst.db.Close()
}

// acquire returns a working instance with s.mu read-locked, reopening the
// database first if a failure closed it.
func (s *Store) acquire() (*instance, error) {
	for attempt := 0; ; attempt++ {
		s.mu.RLock()
		if s.closed {
			s.mu.RUnlock()
			return nil, store.ErrClosed
		}
		down := s.down
		if inst := s.db; inst != nil {
			if down = inst.fence.failed(); down == nil {
				return inst, nil
			}
		}
		s.mu.RUnlock()
		if attempt == 1 {
			return nil, fmt.Errorf("pebble store: failed again after reopening: %w", down)
		}
		if err := s.reopen(); err != nil {
			return nil, err
		}
	}
}

// reopen replaces a failed instance with a new one.
func (s *Store) reopen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	if s.db != nil {
		if s.db.fence.failed() == nil {
			return nil // reopened by another goroutine
		}
		s.dropLocked()
	}
	inst, err := s.open()
	if err != nil {
		return fmt.Errorf("pebble store: reopening after %w: %w", s.down, err)
	}
	s.log.Info("store reopened after a write failure", "dir", s.dir, "failure", s.down)
	s.db, s.down = inst, nil
	return nil
}

// Apply writes b atomically and in order; with sync it returns once the
// writes are durable. A batch that fails Validate changes nothing. An
// error other than from Validate or store.ErrClosed means the writes may
// or may not be there (see the package documentation); it wraps the
// error of the failed system call.
func (s *Store) Apply(b *store.Batch, sync bool) error {
	if err := b.Validate(); err != nil {
		return err
	}
	inst, err := s.acquire()
	if err != nil {
		return err
	}
	defer s.mu.RUnlock()
	pb := inst.db.NewBatch()
	for _, op := range b.Ops {
		var err error
		switch op.Kind {
		case store.OpSet:
			err = pb.Set(op.Key, op.Value, nil)
		case store.OpDelete:
			err = pb.Delete(op.Key, nil)
		case store.OpDeleteRange:
			err = pb.DeleteRange(op.Key, op.End, nil)
		}
		if err != nil {
			pb.Close()
			return fmt.Errorf("pebble store: %w", err)
		}
	}
	wo := pebble.NoSync
	if sync {
		wo = pebble.Sync
	}
	if err := inst.commit(pb, wo); err != nil {
		return err
	}
	// The fence is up before pebble signals a sync it failed.
	if err := inst.fence.failed(); err != nil {
		return fmt.Errorf("pebble store: write failed: %w", err)
	}
	return nil
}

// commit commits and closes pb, turning a panic into an error (and then
// leaving pb to the garbage collector).
func (inst *instance) commit(pb *pebble.Batch, wo *pebble.WriteOptions) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("pebble store: commit panicked: %v", r)
			if e, ok := r.(error); ok {
				err = fmt.Errorf("pebble store: commit panicked: %w", e)
			}
			inst.wedged.Store(true)
			inst.fence.fail(err)
		}
	}()
	err = pb.Commit(wo)
	pb.Close()
	if err != nil {
		inst.fence.fail(err)
		return fmt.Errorf("pebble store: write failed: %w", err)
	}
	return nil
}

// Scan calls fn for every key with prefix, in key order, until fn returns
// an error, which Scan returns. key and value are valid only during the
// call. fn must not call methods of s.
func (s *Store) Scan(prefix []byte, fn func(key, value []byte) error) error {
	inst, err := s.acquire()
	if err != nil {
		return err
	}
	defer s.mu.RUnlock()
	o := &pebble.IterOptions{LowerBound: prefix, UpperBound: store.PrefixEnd(prefix)}
	if len(prefix) == 0 {
		// Not an empty non-nil bound: with invariants on (as under -race),
		// pebble's seek reads bound[0].
		o.LowerBound = nil
	}
	it, err := inst.db.NewIter(o)
	if err != nil {
		return fmt.Errorf("pebble store: %w", err)
	}
	for it.First(); it.Valid(); it.Next() {
		v, err := it.ValueAndErr()
		if err == nil {
			err = fn(it.Key(), v)
		}
		if err != nil {
			it.Close()
			return err
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("pebble store: %w", err)
	}
	return nil
}

// DiskUsage returns the bytes the store's files take on disk, or 0 when
// the store is closed or down after a failure.
func (s *Store) DiskUsage() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return 0
	}
	return s.db.db.Metrics().DiskSpaceUsage()
}

// Close closes the store; later calls of its methods return
// store.ErrClosed. Close does not flush memtables: the write-ahead log
// holds everything, and Open replays it.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return store.ErrClosed
	}
	s.closed = true
	var err error
	if s.db != nil {
		// Flush the memtables, so that the next Open has no log to replay
		// (a restart after a clean stop is then quick); after a crash the
		// log is replayed instead.
		if !s.db.wedged.Load() && s.db.fence.failed() == nil {
			err = s.db.db.Flush()
		}
		err = errors.Join(err, s.db.close())
		s.db = nil
	}
	s.mu.Unlock()
	s.bgMu.Lock()
	s.bgClosed = true
	s.bgMu.Unlock()
	s.bg.Wait()
	if err != nil {
		return fmt.Errorf("pebble store: close: %w", err)
	}
	return nil
}
