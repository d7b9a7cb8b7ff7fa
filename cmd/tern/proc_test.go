package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ternmq/tern/internal/testkit"
)

// This file runs the real tern binary as a child process, for the tests
// that must kill it (kill -9) and restart it on the same data directory.

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// ternBinary builds cmd/tern once per test run and returns its path.
func ternBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "tern-bin-")
		if buildErr != nil {
			return
		}
		out, err := exec.Command(testkit.GoTool(), "build", "-o", filepath.Join(buildDir, "tern"), ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(buildDir, "tern")
}

// ternProc is a running tern.
type ternProc struct {
	cmd  *exec.Cmd
	addr string // MQTT over TCP
	logs *lockedBuffer
	done chan struct{} // closed when the process has exited
}

// startTern runs tern on the data directory with its MQTT listener on a
// free loopback port, and returns once it accepts connections (it logs
// its listener only after reading its store back). The process is killed
// when the test ends if it still runs.
func startTern(t *testing.T, data string, args ...string) *ternProc {
	t.Helper()
	all := append([]string{"--data", data, "--mqtt", "127.0.0.1:0", "--mqtts", "", "--http", ""}, args...)
	cmd := exec.Command(ternBinary(t), all...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &ternProc{cmd: cmd, logs: new(lockedBuffer), done: make(chan struct{})}
	addrc := make(chan string, 1)
	go p.readLogs(stderr, addrc)
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.kill)
	select {
	case p.addr = <-addrc:
	case <-p.done:
		t.Fatalf("tern exited before listening:\n%s", p.logs)
	case <-time.After(time.Minute):
		p.kill()
		t.Fatalf("tern did not listen within a minute:\n%s", p.logs)
	}
	return p
}

// readLogs copies tern's log into p.logs and sends the MQTT address when
// it is logged.
func (p *ternProc) readLogs(r io.Reader, addrc chan<- string) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		p.logs.WriteString(line + "\n")
		if !strings.Contains(line, `msg="MQTT over TCP"`) {
			continue
		}
		for f := range strings.FieldsSeq(line) {
			if a, ok := strings.CutPrefix(f, "addr="); ok {
				addrc <- a
			}
		}
	}
}

// kill ends the process with SIGKILL, as a crash would, and waits for it.
func (p *ternProc) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// stop ends the process with SIGTERM (a clean shutdown) and waits for it.
func (p *ternProc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		p.kill()
		t.Fatalf("tern did not stop within a minute:\n%s", p.logs)
	}
}

// lockedBuffer is a strings.Builder safe for concurrent use.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) WriteString(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(s)
}

func (l *lockedBuffer) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(b)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
