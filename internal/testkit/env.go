package testkit

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// InCI reports whether the tests run under CI (CI=true, as .ci/run sets
// it, or CI=1): there a missing real component is a failure, not a skip.
func InCI() bool {
	ci := os.Getenv("CI")
	return ci == "true" || ci == "1"
}

// RequireTool returns the path of the program name. When it is missing
// the test is skipped with a message naming the Debian package that
// provides it (scripts/setup.sh installs it), or fails under CI.
func RequireTool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	Missing(t, name+" is not installed", "apt-get install "+debianPackage)
	return ""
}

// Chromium returns the path of Debian's chromium (or another Chromium
// found on PATH), skipping the test when there is none, or failing it
// under CI.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	Missing(t, "chromium is not installed", "apt-get install chromium")
	return ""
}

// Missing reports a real component the test needs and cannot find: it
// skips the test with what is missing and how to install it, or fails it
// under CI, where make setup must have installed everything.
func Missing(t testing.TB, what, install string) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s, required under CI=true: make setup installs it (%s)", what, install)
	}
	t.Skipf("%s: skipping (make setup installs it: %s)", what, install)
}

// GoTool returns the go command of the toolchain that runs the tests, or
// "go" from PATH.
func GoTool() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Server is what ServeLoopback runs: the broker's *Server, or anything
// shaped like it.
type Server interface {
	Serve(ctx context.Context, ln net.Listener) error
	Shutdown(ctx context.Context) error
}

// ServeLoopback serves srv on a free port of 127.0.0.1 and returns the
// listener's host:port. When the test ends it shuts srv down (within
// Timeout) and waits for Serve to return.
func ServeLoopback(t testing.TB, srv Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ServeListener(t, srv, ln)
	return ln.Addr().String()
}

// ServeListener serves srv on ln (a TLS listener around a loopback one,
// say); when the test ends it shuts srv down (within Timeout) and waits
// for Serve to return. Shutting srv down earlier is allowed.
func ServeListener(t testing.TB, srv Server, ln net.Listener) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(context.Background(), ln)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), Timeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		<-done
	})
}
