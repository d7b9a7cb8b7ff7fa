//go:build unix

package passwd

import (
	"io/fs"
	"os"
	"syscall"
)

// keepOwner returns a function that gives a file fi's owner and group,
// or nil when they are already the caller's.
func keepOwner(fi fs.FileInfo) func(*os.File) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || (int(st.Uid) == os.Geteuid() && int(st.Gid) == os.Getegid()) {
		return nil
	}
	return func(f *os.File) error { return f.Chown(int(st.Uid), int(st.Gid)) }
}
