package pebble

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// A fence turns the first failed write of one pebble.DB into a crash, as
// far as the disk can tell: from then on nothing that DB does reaches the
// disk, and the Store reopens the directory, which replays what was
// written before the failure.
//
// Pebble treats write errors as fatal: with its default logger it exits
// the process. A WAL write or sync error sticks to its LogWriter; the next
// commit on that WAL panics while holding the commit pipeline's mutex (so
// DB.Close then hangs), and a memtable rotation that closes the failed WAL
// panics inside a deferred unlock of a mutex it has already released,
// which is an unrecoverable runtime fatal error. A MANIFEST write error
// calls Logger.Fatalf and, if that returns, carries on after a half
// written record. So a fence never lets pebble see an error on the WAL or
// a directory: it records the error and reports success, and it drops
// every later write to a WAL or directory. The Store checks the fence
// after each commit, so a commit whose WAL write or sync failed returns
// the recorded error even though pebble thinks it succeeded. Other files
// (tables, MANIFEST, OPTIONS, markers) get their errors, and once the
// fence is up every change to them fails too, so that pebble, which may
// carry on in the background until the Store closes it, cannot change
// what a reopen reads.
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

// stopped is the error of a write refused after a failure.
func stopped(err error) error {
	return fmt.Errorf("pebble store: writing stopped after an earlier failure: %w", err)
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
	if err := fs.f.failed(); err != nil {
		if lie {
			return discard{}, nil
		}
		return nil, stopped(err)
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
	if err := fs.f.failed(); err != nil {
		return stopped(err)
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
	if err := fs.f.failed(); err != nil {
		return stopped(err)
	}
	return fs.FS.Remove(name)
}

// RemoveAll removes a directory tree, unless a write has failed.
func (fs *fenceFS) RemoveAll(name string) error {
	if err := fs.f.failed(); err != nil {
		return stopped(err)
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

// guard runs a write: refused (or dropped, if lie) after a failure, and
// fencing if it fails.
func (x *fenceFile) guard(op func() error) error {
	if err := x.f.failed(); err != nil {
		if x.lie {
			return nil
		}
		return stopped(err)
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
