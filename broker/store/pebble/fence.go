package pebble

import (
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// A fence turns the first failed write of one pebble.DB into a crash, as
// far as the disk can tell: from then on nothing that DB does reaches the
// disk, and the Store closes it and reopens the directory, which replays
// what was durable before the failure.
//
// Pebble treats write errors as fatal: with its default logger it exits
// the process. An error writing or syncing the WAL sticks to its
// LogWriter; Batch.Commit calls Logger.Fatalf and, if that returns,
// reports success; the next commit panics while holding the commit
// pipeline's mutex (so that DB.Close then hangs); and a memtable rotation
// that closes the failed WAL panics between releasing DB.mu and a deferred
// unlock of it, a runtime fatal error that no recover catches. A MANIFEST
// write error calls Logger.Fatalf and, if that returns, carries on after
// a half-written record.
//
// So pebble never sees an error on a WAL or a directory: the fence
// records it and reports success, and the Store checks the fence after
// every commit (the fence is up before pebble signals the sync). Other
// files (tables, MANIFEST, OPTIONS, markers) get their first error. After
// the first failure every write, sync, create, rename and removal of any
// file is dropped and reported as done: pebble carries on in memory (a
// flush "succeeds", which also ends a write stall that a failed flush
// would make permanent) until the Store closes it, and cannot change what
// a reopen reads.
type fence struct {
	err      atomic.Pointer[error] // the first failure
	onFailed func()                // called once, by the first failure; must not block
}

// fail records err, if it is the first failure.
func (f *fence) fail(err error) {
	if f.err.CompareAndSwap(nil, &err) && f.onFailed != nil {
		f.onFailed()
	}
}

// failed returns the first failure, or nil.
func (f *fence) failed() error {
	if p := f.err.Load(); p != nil {
		return *p
	}
	return nil
}

// isWAL reports whether name is a write-ahead log ("000012.log", or
// "000012-001.log" for a failover log).
func isWAL(name string) bool { return strings.HasSuffix(name, ".log") }

// fenceFS is the vfs.FS a pebble.DB of a Store runs on.
type fenceFS struct {
	vfs.FS // reads pass through
	f      *fence
}

// wrap guards a file opened for writing: lie says errors are reported
// only to the fence (WAL files and directories).
func (fs *fenceFS) wrap(file vfs.File, lie bool) vfs.File {
	return &fenceFile{File: file, f: fs.f, lie: lie}
}

// create runs an operation that opens name for writing.
func (fs *fenceFS) create(name string, lie bool, open func() (vfs.File, error)) (vfs.File, error) {
	if fs.f.failed() != nil {
		return discard{}, nil
	}
	file, err := open()
	if err != nil {
		fs.f.fail(err)
		if lie {
			return discard{}, nil
		}
		return nil, err
	}
	return fs.wrap(file, lie), nil
}

// change runs an operation that changes the namespace; a failure fences.
func (fs *fenceFS) change(op func() error) error {
	if fs.f.failed() != nil {
		return nil
	}
	if err := op(); err != nil {
		fs.f.fail(err)
		return err
	}
	return nil
}

// Create opens a new file for writing.
func (fs *fenceFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	return fs.create(name, isWAL(name), func() (vfs.File, error) { return fs.FS.Create(name, c) })
}

// OpenReadWrite opens a file for reading and writing.
func (fs *fenceFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	return fs.create(name, isWAL(name), func() (vfs.File, error) { return fs.FS.OpenReadWrite(name, c, opts...) })
}

// ReuseForWrite renames a recycled WAL and opens it for writing.
func (fs *fenceFS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	return fs.create(newname, isWAL(newname), func() (vfs.File, error) { return fs.FS.ReuseForWrite(oldname, newname, c) })
}

// OpenDir opens a directory, to sync it.
func (fs *fenceFS) OpenDir(name string) (vfs.File, error) {
	d, err := fs.FS.OpenDir(name)
	if err != nil {
		return nil, err
	}
	return fs.wrap(d, true), nil
}

// Link adds a hard link.
func (fs *fenceFS) Link(oldname, newname string) error {
	return fs.change(func() error { return fs.FS.Link(oldname, newname) })
}

// Rename renames a file.
func (fs *fenceFS) Rename(oldname, newname string) error {
	return fs.change(func() error { return fs.FS.Rename(oldname, newname) })
}

// MkdirAll creates a directory and its parents.
func (fs *fenceFS) MkdirAll(dir string, perm os.FileMode) error {
	return fs.change(func() error { return fs.FS.MkdirAll(dir, perm) })
}

// Remove removes a file, unless a write has failed. A failed removal
// does not fence: pebble removes files that may already be gone.
func (fs *fenceFS) Remove(name string) error {
	if fs.f.failed() != nil {
		return nil
	}
	return fs.FS.Remove(name)
}

// RemoveAll removes a directory tree, unless a write has failed.
func (fs *fenceFS) RemoveAll(name string) error {
	if fs.f.failed() != nil {
		return nil
	}
	return fs.FS.RemoveAll(name)
}

// Unwrap returns the file system below.
func (fs *fenceFS) Unwrap() vfs.FS { return fs.FS }

// fenceFile is a file opened for writing through a fenceFS.
type fenceFile struct {
	vfs.File // reads pass through
	f        *fence
	lie      bool
}

// guard runs a write: dropped after a failure, and fencing if it fails.
func (x *fenceFile) guard(op func() error) error {
	if x.f.failed() != nil {
		return nil
	}
	if err := op(); err != nil {
		x.f.fail(err)
		if x.lie {
			return nil
		}
		return err
	}
	return nil
}

// Write writes p.
func (x *fenceFile) Write(p []byte) (int, error) {
	n := 0
	err := x.guard(func() (err error) { n, err = x.File.Write(p); return err })
	if err == nil {
		return len(p), nil
	}
	return n, err
}

// WriteAt writes p at off.
func (x *fenceFile) WriteAt(p []byte, off int64) (int, error) {
	n := 0
	err := x.guard(func() (err error) { n, err = x.File.WriteAt(p, off); return err })
	if err == nil {
		return len(p), nil
	}
	return n, err
}

// Preallocate reserves space.
func (x *fenceFile) Preallocate(off, n int64) error {
	return x.guard(func() error { return x.File.Preallocate(off, n) })
}

// Sync makes the file durable.
func (x *fenceFile) Sync() error { return x.guard(x.File.Sync) }

// SyncData makes the file's data durable.
func (x *fenceFile) SyncData() error { return x.guard(x.File.SyncData) }

// SyncTo makes the first length bytes durable.
func (x *fenceFile) SyncTo(length int64) (full bool, err error) {
	err = x.guard(func() (err error) { full, err = x.File.SyncTo(length); return err })
	return full, err
}

// Close closes the file, always; an error fences.
func (x *fenceFile) Close() error {
	if err := x.File.Close(); err != nil {
		x.f.fail(err)
		if !x.lie {
			return err
		}
	}
	return nil
}

// discard stands for a WAL that could not be created after (or because
// of) a failure: it accepts and drops everything.
type discard struct{}

func (discard) Close() error                           { return nil }
func (discard) Read([]byte) (int, error)               { return 0, errDiscarded }
func (discard) ReadAt([]byte, int64) (int, error)      { return 0, errDiscarded }
func (discard) Write(p []byte) (int, error)            { return len(p), nil }
func (discard) WriteAt(p []byte, _ int64) (int, error) { return len(p), nil }
func (discard) Preallocate(int64, int64) error         { return nil }
func (discard) Stat() (vfs.FileInfo, error)            { return emptyInfo{}, nil }
func (discard) Sync() error                            { return nil }
func (discard) SyncTo(int64) (bool, error)             { return false, nil }
func (discard) SyncData() error                        { return nil }
func (discard) Prefetch(int64, int64) error            { return nil }
func (discard) Fd() uintptr                            { return vfs.InvalidFd }

var errDiscarded = errors.New("pebble store: reading a log written after a failure")

// emptyInfo describes a discard file.
type emptyInfo struct{}

func (emptyInfo) Name() string           { return "discarded.log" }
func (emptyInfo) Size() int64            { return 0 }
func (emptyInfo) Mode() os.FileMode      { return 0o600 }
func (emptyInfo) ModTime() time.Time     { return time.Time{} }
func (emptyInfo) IsDir() bool            { return false }
func (emptyInfo) Sys() any               { return nil }
func (emptyInfo) DeviceID() vfs.DeviceID { return vfs.DeviceID{} }
