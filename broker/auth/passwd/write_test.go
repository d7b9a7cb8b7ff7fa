//go:build unix

package passwd

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	read := func(p string) string {
		t.Helper()
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	mode := func(p string) os.FileMode {
		t.Helper()
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}

	// A new file is 0600 whatever the umask.
	p := filepath.Join(dir, "new")
	if err := WriteFile(p, []byte("a\n")); err != nil {
		t.Fatal(err)
	}
	if read(p) != "a\n" || mode(p) != 0o600 {
		t.Errorf("new file: %q %v", read(p), mode(p))
	}
	// An existing file keeps its mode.
	os.Chmod(p, 0o640)
	if err := WriteFile(p, []byte("b\n")); err != nil {
		t.Fatal(err)
	}
	if read(p) != "b\n" || mode(p) != 0o640 {
		t.Errorf("rewritten file: %q %v", read(p), mode(p))
	}
	// A symlink stays a symlink; a dangling one gets its target created.
	link := filepath.Join(dir, "link")
	os.Symlink("new", link)
	dangling := filepath.Join(dir, "dangling")
	os.Symlink("target", dangling)
	for _, l := range []string{link, dangling} {
		if err := WriteFile(l, []byte("c\n")); err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Lstat(l); fi.Mode()&os.ModeSymlink == 0 || read(l) != "c\n" {
			t.Errorf("%s: symlink replaced or not written", l)
		}
	}
	// A directory is not a password file.
	if err := WriteFile(dir, []byte("x")); err == nil {
		t.Error("WriteFile over a directory succeeded")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 4 {
		t.Errorf("%d directory entries, want 4 (no temporary files left)", len(ents))
	}
}

// TestWriteFileKeepsOwner runs as root only: a file owned by another user
// (the broker's, say) must stay theirs when root edits it.
func TestWriteFileKeepsOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	p := filepath.Join(t.TempDir(), "owned")
	os.WriteFile(p, []byte("a\n"), 0o600)
	if err := os.Chown(p, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("b\n")); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(p)
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 65534 || st.Gid != 65534 {
		t.Errorf("owner %d:%d after the rewrite, want 65534:65534", st.Uid, st.Gid)
	}
}
