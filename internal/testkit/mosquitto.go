package testkit

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// FreePort returns a TCP port of 127.0.0.1 that was free a moment ago,
// for a program that must be told its port (mosquitto).
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// StartMosquitto runs Debian's mosquitto with the configuration conf
// (its listener lines and whatever the test needs), adding persistence
// off, logging to stderr and, so that a broker started as root can read
// the test's private files, the current user. It returns once mosquitto
// logs that it is running, and stops it by its PID when the test ends,
// showing its log if the test failed. Without mosquitto the test skips,
// or fails under CI=true (Missing).
func StartMosquitto(t testing.TB, conf string) {
	t.Helper()
	bin := mosquittoBinary(t)
	if me, err := user.Current(); err == nil {
		conf += "\nuser " + me.Username
	}
	conf += "\npersistence false\nlog_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
	path := filepath.Join(t.TempDir(), "mosquitto.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	startMosquitto(t, bin, path)
}

// StartMosquittoFile runs Debian's mosquitto with the configuration file
// at path as it is (which must log notices to stderr, and name a user
// that can read its files when the test runs as root), like
// StartMosquitto otherwise.
func StartMosquittoFile(t testing.TB, path string) {
	t.Helper()
	startMosquitto(t, mosquittoBinary(t), path)
}

func startMosquitto(t testing.TB, bin, path string) {
	t.Helper()
	cmd := exec.Command(bin, "-c", path)
	out, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting mosquitto: %v", err)
	}
	ready := make(chan bool, 1)
	logDone := make(chan struct{})
	var (
		mu  sync.Mutex
		log strings.Builder
	)
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(out)
		sent := false
		for sc.Scan() {
			mu.Lock()
			log.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if !sent && strings.Contains(sc.Text(), " running") {
				ready <- true
				sent = true
			}
		}
		if !sent {
			ready <- false
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-logDone
		cmd.Wait()
		if t.Failed() {
			mu.Lock()
			t.Logf("mosquitto log:\n%s", log.String())
			mu.Unlock()
		}
	})
	if !WaitFor(t, (<-chan bool)(ready), "mosquitto to start") {
		<-logDone
		t.Fatalf("mosquitto exited at start:\n%s", log.String())
	}
}

// mosquittoBinary finds the broker, which Debian installs in /usr/sbin.
func mosquittoBinary(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/mosquitto"); err == nil {
		return "/usr/sbin/mosquitto"
	}
	return RequireTool(t, "mosquitto", "mosquitto")
}
