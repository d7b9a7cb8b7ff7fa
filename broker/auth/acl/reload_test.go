package acl

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ternmq/tern/broker"
)

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestReload: a valid new file replaces the rules; an invalid one is
// reported and the rules in force stay.
func TestReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acl")
	writeFile(t, path, "topic read a/#\n")
	a, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Authorize(anon, R, "a/x") || a.Authorize(anon, R, "b/x") || a.Len() != 1 {
		t.Fatal("first file not in force")
	}
	writeFile(t, path, "topic read b/#\ntopic write b/#\n")
	if err := a.Reload(); err != nil {
		t.Fatal(err)
	}
	if a.Authorize(anon, R, "a/x") || !a.Authorize(anon, R, "b/x") || a.Len() != 2 {
		t.Fatal("second file not in force")
	}
	writeFile(t, path, "topic read c/#\ntopic read c/#/d\n")
	var pe *ParseError
	if err := a.Reload(); !errors.As(err, &pe) || pe.Line != 2 {
		t.Fatalf("Reload of an invalid file: got %v, want a *ParseError on line 2", err)
	}
	if !a.Authorize(anon, R, "b/x") || a.Authorize(anon, R, "c/x") {
		t.Fatal("rules changed by an invalid file")
	}
	os.Remove(path)
	if err := a.Reload(); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Reload of a missing file: got %v", err)
	}
	if !a.Authorize(anon, R, "b/x") {
		t.Fatal("rules changed by a missing file")
	}
}

// TestReloadConcurrent: Authorize runs while the file changes (for
// -race), and the last file loaded is the one in force.
func TestReloadConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acl")
	files := []string{"topic read a/#\n", "user u\ntopic read a/#\n"}
	writeFile(t, path, files[0])
	a, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	u := broker.Client{ID: "x", Username: "u"}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				a.Authorize(anon, R, "a/b")
				a.Authorize(u, S, "a/#")
			}
		}()
	}
	for i := range 200 {
		writeFile(t, path, files[i%2])
		if err := a.Reload(); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
	if !a.Authorize(u, R, "a/b") || a.Authorize(anon, R, "a/b") {
		t.Error("the last file loaded is not in force")
	}
}
