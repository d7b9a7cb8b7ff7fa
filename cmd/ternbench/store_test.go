package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ternmq/tern/broker"
)

// brokerEnv makes the test binary a broker on the address it holds: the
// restart scenario starts and signals it like a real broker process.
const brokerEnv = "TERNBENCH_TEST_BROKER"

func TestMain(m *testing.M) {
	if addr := os.Getenv(brokerEnv); addr != "" {
		os.Exit(serveTestBroker(addr))
	}
	os.Exit(m.Run())
}

// serveTestBroker runs an in-memory broker on addr until SIGTERM.
func serveTestBroker(addr string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return 1
	}
	srv := broker.New(broker.Options{})
	go srv.Serve(ctx, ln)
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	return 0
}

func TestScheduleDue(t *testing.T) {
	for _, rate := range []float64{1, 3, 1000, 2500, 12500, 33333.3, 1e6} {
		s := schedule{rate: rate}
		if s.due(-time.Second) != 0 || s.due(0) != 1 {
			t.Errorf("rate %v: due(-1s) = %d, due(0) = %d; want 0 and 1", rate, s.due(-time.Second), s.due(0))
		}
		for _, k := range []int64{0, 1, 2, 7, 999, 123456} {
			at := s.at(k)
			if got := s.due(at); got != k+1 {
				t.Errorf("rate %v: due(at(%d) = %v) = %d, want %d", rate, k, at, got, k+1)
			}
			if k > 0 && s.due(at-1) != k {
				t.Errorf("rate %v: slot %d is due before %v", rate, k, at)
			}
		}
	}
}

func TestPlan(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		due, next, room, batch int64
		send, skip             int64
	}{
		{"nothing due", 10, 10, 5, 100, 0, 0},
		{"all due fit", 15, 10, 64, 100, 5, 0},
		{"batch binds: the rest waits", 300, 0, 1000, 100, 100, 0},
		{"window full: all skipped", 15, 10, 0, 100, 0, 5},
		{"window short: the rest skipped", 20, 10, 4, 100, 4, 6},
		{"negative room counts as full", 12, 10, -3, 100, 0, 2},
		{"window and batch both short", 500, 0, 50, 100, 50, 450},
		{"window exactly the batch", 300, 0, 100, 100, 100, 0},
	} {
		send, skip := plan(tc.due, tc.next, tc.room, tc.batch)
		if send != tc.send || skip != tc.skip {
			t.Errorf("%s: plan(%d, %d, %d, %d) = %d, %d; want %d, %d",
				tc.name, tc.due, tc.next, tc.room, tc.batch, send, skip, tc.send, tc.skip)
		}
	}
}

func TestParseHeapAlloc(t *testing.T) {
	prof := "heap profile: 1: 2 [3: 4] @ heap/1048576\n\n# runtime.MemStats\n# Alloc = 123\n# TotalAlloc = 999\n# HeapAlloc = 4567890\n# HeapSys = 1\n"
	if n, err := parseHeapAlloc(strings.NewReader(prof)); err != nil || n != 4567890 {
		t.Errorf("parseHeapAlloc = %d, %v; want 4567890", n, err)
	}
	if _, err := parseHeapAlloc(strings.NewReader("# Alloc = 1\n")); err == nil {
		t.Error("a profile without HeapAlloc was accepted")
	}
}

func TestPerQueued(t *testing.T) {
	cfg := defaultConfig()
	cfg.Sessions, cfg.Queued, cfg.Payload = 10, 100, 100
	// 1000 deliveries; the 100 bodies (10,000 bytes) are taken off first.
	if got := perQueued(10_000+64_000, cfg); got != 64 {
		t.Errorf("perQueued = %v, want 64", got)
	}
}

func TestStoreFlags(t *testing.T) {
	cfg, _, err := parseFlags([]string{"--scenario", "restart", "--kill", "kill", "--sessions", "5", "--", "/bin/broker", "-c", "x.conf"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.BrokerCmd, " ") != "/bin/broker -c x.conf" || cfg.Kill != "kill" || cfg.Sessions != 5 {
		t.Errorf("parsed %+v", cfg)
	}
	for _, args := range [][]string{
		{"--scenario", "restart"},                     // no broker command
		{"--scenario", "fan-in", "--", "/bin/broker"}, // a command for another scenario
		{"--scenario", "restart", "--kill", "hup", "--", "/bin/broker"},
		{"--scenario", "open-loop", "--rate", "0"},
		{"--scenario", "queued-memory", "--sessions", "0"},
		{"--inflight", "-1"},
	} {
		if _, _, err := parseFlags(args, &bytes.Buffer{}); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
}

func TestOpenLoopScenario(t *testing.T) {
	b := startBroker(t)
	for _, url := range []string{b.tcp, b.ws} {
		cfg := quick(url, "open-loop")
		cfg.QoS, cfg.Rate, cfg.Inflight = 1, 3000, 16
		rep := mustRun(t, cfg)
		if rep.Slots <= 0 || rep.Sent+rep.Skipped != rep.Slots {
			t.Errorf("%s: %d slots, %d sent, %d skipped", url, rep.Slots, rep.Sent, rep.Skipped)
		}
		if rep.Delivered != rep.Sent || rep.Acked != rep.Sent || rep.OfferedPerSec != 3000 || rep.Inflight != 16 {
			t.Errorf("%s: report %+v", url, rep)
		}
	}
}

func TestPersistentFanIn(t *testing.T) {
	b := startBroker(t)
	for _, mqtt := range []string{"3.1.1", "5"} {
		cfg := quick(b.tcp, "fan-in")
		cfg.QoS, cfg.MQTT, cfg.Window, cfg.Inflight, cfg.Persistent = 1, mqtt, 0, 8, true
		rep := mustRun(t, cfg)
		if rep.Acked != rep.Sent || rep.AckedPerSec <= 0 || !rep.Persistent || rep.Inflight != 8 {
			t.Errorf("%s: %d acked of %d sent at %v/s, report %+v", mqtt, rep.Acked, rep.Sent, rep.AckedPerSec, rep)
		}
	}
}

func TestQueuedMemory(t *testing.T) {
	b := startBroker(t)
	cfg := quick(b.tcp, "queued-memory")
	cfg.Sessions, cfg.Queued, cfg.Payload = 40, 5, 100
	rep := mustRun(t, cfg)
	if rep.Sessions != 40 || rep.Queued != 5 || rep.RSSAfterKB <= 0 {
		t.Errorf("report %+v", rep)
	}
}

func TestRestartScenario(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	t.Setenv(brokerEnv, addr)
	for _, kill := range []string{"term", "kill"} {
		cfg := quick("tcp://"+addr, "restart")
		cfg.Sessions, cfg.Queued, cfg.Retained, cfg.Kill = 4, 10, 20, kill
		cfg.Drain = 300 * time.Millisecond
		cfg.BrokerCmd = []string{os.Args[0], "-test.run=^$"}
		rep := mustRun(t, cfg)
		if rep.ReadyMs <= 0 || rep.ColdReadyMs <= 0 || rep.FillPerSec <= 0 || rep.RSSReadyKB <= 0 || rep.Kill != kill {
			t.Errorf("%s: report %+v", kill, rep)
		}
		// The test broker keeps nothing across a restart.
		if rep.RecoveredQueued != 0 || rep.RecoveredRetained != 0 || rep.SessionPresent {
			t.Errorf("%s: recovered %d queued, %d retained from an in-memory broker", kill, rep.RecoveredQueued, rep.RecoveredRetained)
		}
	}
}

func TestSummarizeBoth(t *testing.T) {
	reps := []*Report{
		{Name: "a", Broker: "x"}, {Name: "a", Broker: "y"},
		{Name: "b", Broker: "x"}, {Name: "c", Broker: "y"}, {Name: "c", Broker: "z"},
	}
	got := withBoth(reps, "x", "y")
	if len(got) != 2 || got[0].Name != "a" || got[1].Name != "a" {
		t.Errorf("withBoth kept %d reports: %+v", len(got), got)
	}
}
