package main

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

func TestPprofLoopbackOnly(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:6060", "example.com:6060", "nonsense"} {
		if stop, err := startPprof(addr, log); err == nil {
			stop()
			t.Errorf("startPprof(%q) accepted a non-loopback address", addr)
		}
	}
}

func TestPprofServes(t *testing.T) {
	var logs strings.Builder
	stop, err := startPprof("127.0.0.1:0", slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	// The bound address is in the log line.
	i := strings.Index(logs.String(), "addr=")
	if i < 0 {
		t.Fatalf("no address logged: %s", logs.String())
	}
	addr := strings.Fields(logs.String()[i+len("addr="):])[0]
	resp, err := http.Get("http://" + addr + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || len(b) == 0 {
		t.Errorf("GET /debug/pprof/cmdline: %s, %d bytes", resp.Status, len(b))
	}
}
