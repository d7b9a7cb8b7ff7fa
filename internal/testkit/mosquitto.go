package testkit

import (
	"bufio"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// FreePort returns a TCP port of 127.0.0.1 that was free a moment ago,
// for a program that must be told its port before it listens (mosquitto,
// a cluster node's route port). It is chosen below the kernel's ephemeral
// range (ip_local_port_range), where a port is only ever taken by a
// listener that asks for it: a port from 127.0.0.1:0 comes from that
// range, and until the program binds it, any outgoing connection of a
// test running beside this one may be given it as its local port.
func FreePort(t testing.TB) int {
	t.Helper()
	if lo := ephemeralLow(); lo > freePortMin+1000 {
		for range 100 {
			p := freePortMin + rand.IntN(lo-freePortMin)
			if ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p))); err == nil {
				ln.Close()
				return p
			}
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// freePortMin is the lowest port FreePort chooses (well above the
// well-known and most registered services).
const freePortMin = 10000

// ephemeralLow returns the first port of the kernel's ephemeral range
// (0: unknown).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	lo, _ := strconv.Atoi(f[0])
	return lo
}

// Mosquitto is a mosquitto process started by StartMosquitto.
type Mosquitto struct {
	bin, conf string

	mu      sync.Mutex
	cmd     *exec.Cmd
	logDone chan struct{}
	log     strings.Builder // every run's log
}

// StartMosquitto runs Debian's mosquitto with the configuration conf
// (its listener lines and whatever the test needs), adding logging to
// stderr, persistence off unless conf has a persistence line, and, so
// that a broker started as root can read the test's private files, the
// current user. It returns once mosquitto logs that it is running, and
// stops it by its PID when the test ends, showing its log if the test
// failed. Without mosquitto the test skips, or fails under CI=true
// (Missing).
func StartMosquitto(t testing.TB, conf string) *Mosquitto {
	t.Helper()
	bin := mosquittoBinary(t)
	if me, err := user.Current(); err == nil {
		conf += "\nuser " + me.Username
	}
	if !strings.Contains(conf, "persistence ") {
		conf += "\npersistence false"
	}
	conf += "\nlog_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
	path := filepath.Join(t.TempDir(), "mosquitto.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return startMosquitto(t, bin, path)
}

// StartMosquittoFile runs Debian's mosquitto with the configuration file
// at path as it is (which must log notices to stderr, and name a user
// that can read its files when the test runs as root), like
// StartMosquitto otherwise.
func StartMosquittoFile(t testing.TB, path string) *Mosquitto {
	t.Helper()
	return startMosquitto(t, mosquittoBinary(t), path)
}

func startMosquitto(t testing.TB, bin, conf string) *Mosquitto {
	t.Helper()
	m := &Mosquitto{bin: bin, conf: conf}
	t.Cleanup(func() {
		m.Kill(t)
		if t.Failed() {
			m.mu.Lock()
			t.Logf("mosquitto log:\n%s", m.log.String())
			m.mu.Unlock()
		}
	})
	m.Start(t)
	return m
}

// Start starts mosquitto again, with the same configuration, after Stop
// or Kill; it returns once mosquitto logs that it is running.
func (m *Mosquitto) Start(t testing.TB) {
	t.Helper()
	cmd := exec.Command(m.bin, "-c", m.conf)
	out, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting mosquitto: %v", err)
	}
	ready := make(chan bool, 1)
	logDone := make(chan struct{})
	m.mu.Lock()
	m.cmd, m.logDone = cmd, logDone
	m.mu.Unlock()
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(out)
		sent := false
		for sc.Scan() {
			m.mu.Lock()
			m.log.WriteString(sc.Text() + "\n")
			m.mu.Unlock()
			if !sent && strings.Contains(sc.Text(), " running") {
				ready <- true
				sent = true
			}
		}
		if !sent {
			ready <- false
		}
	}()
	if !WaitFor(t, (<-chan bool)(ready), "mosquitto to start") {
		<-logDone
		m.mu.Lock()
		defer m.mu.Unlock()
		t.Fatalf("mosquitto exited at start:\n%s", m.log.String())
	}
}

// Stop ends mosquitto with SIGTERM, sent to its PID, and waits for it to
// exit: it closes its connections and, with persistence on, writes its
// database.
func (m *Mosquitto) Stop(t testing.TB) { t.Helper(); m.end(syscall.SIGTERM) }

// Kill ends mosquitto with SIGKILL, sent to its PID, and waits for it.
func (m *Mosquitto) Kill(t testing.TB) { t.Helper(); m.end(syscall.SIGKILL) }

func (m *Mosquitto) end(sig os.Signal) {
	m.mu.Lock()
	cmd, logDone := m.cmd, m.logDone
	m.cmd = nil
	m.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(sig)
	<-logDone
	cmd.Wait()
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
