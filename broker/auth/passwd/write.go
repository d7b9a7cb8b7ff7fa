package passwd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFile replaces the password file at path with data without ever
// leaving a half-written file: it writes a temporary file in the same
// directory, syncs it, renames it over path and syncs the directory. A
// symlink at path is followed (the link stays; its target is replaced).
// An existing file keeps its permission bits and, on Unix, its owner and
// group (it is an error if they cannot be kept, so that running as root
// does not leave a file the broker's user cannot read); a new file gets
// mode 0600.
func WriteFile(path string, data []byte) (err error) {
	target, mode, owner, err := replaceTarget(path)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(mode); err != nil {
		return err
	}
	if owner != nil {
		if err := owner(tmp); err != nil {
			return fmt.Errorf("keeping the owner of %s: %w", target, err)
		}
	}
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return err
	}
	return syncDir(filepath.Dir(target))
}

// replaceTarget resolves path to the file to replace, with the mode and
// owner the replacement must have.
func replaceTarget(path string) (target string, mode fs.FileMode, owner func(*os.File) error, err error) {
	target, err = filepath.EvalSymlinks(path)
	if errors.Is(err, fs.ErrNotExist) {
		if l, lerr := os.Readlink(path); lerr == nil { // a dangling link: create its target
			if !filepath.IsAbs(l) {
				l = filepath.Join(filepath.Dir(path), l)
			}
			return l, 0o600, nil, nil
		}
		return path, 0o600, nil, nil
	}
	if err != nil {
		return "", 0, nil, err
	}
	fi, err := os.Stat(target)
	if err != nil {
		return "", 0, nil, err
	}
	if !fi.Mode().IsRegular() {
		return "", 0, nil, fmt.Errorf("%s is not a regular file", target)
	}
	return target, fi.Mode().Perm(), keepOwner(fi), nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, fs.ErrInvalid) {
		return err
	}
	return nil
}
