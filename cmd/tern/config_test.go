package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestConfigFileAndFlags(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tern.json")
	if err := os.WriteFile(path, []byte(`{"mqtt": "127.0.0.1:0", "max_keepalive": 120, "max_queued": 5}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := parse([]string{"--config", path, "--max-queued", "7"}, new(bytes.Buffer))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MQTT != "127.0.0.1:0" || cfg.MaxKeepAlive != 120 {
		t.Errorf("file settings not applied: %+v", cfg)
	}
	if cfg.MaxQueued != 7 {
		t.Errorf("max_queued = %d, want the command line's 7 over the file's 5", cfg.MaxQueued)
	}
	if cfg.MaxPacketSize != 1<<20 {
		t.Errorf("unset settings lost their defaults: %+v", cfg)
	}
}

func TestConfigRejectsUnknownKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tern.json")
	os.WriteFile(path, []byte(`{"mqt": "x"}`), 0o600)
	if _, err := parse([]string{"-config=" + path}, new(bytes.Buffer)); err == nil {
		t.Fatal("a misspelt key was accepted")
	}
}

func TestHelpListsFlags(t *testing.T) {
	var out bytes.Buffer
	_, err := parse([]string{"-h"}, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
	for _, name := range []string{"-mqtt", "-config", "-log-level", "-max-keepalive", "-max-packet-size"} {
		if !strings.Contains(out.String(), name) {
			t.Errorf("-h does not document %s", name)
		}
	}
}

// TestConfigMaxPacketSizeRange: a --max-packet-size the protocol cannot
// carry (above 268,435,460 bytes: a 4-byte Remaining Length of
// 268,435,455 plus the fixed header) is refused with a message, not
// silently replaced by the default; the largest one is accepted.
func TestConfigMaxPacketSizeRange(t *testing.T) {
	for _, tt := range []struct {
		size int
		ok   bool
	}{
		{268435460, true},
		{6 << 20, true},
		{268435461, false},
		{1 << 30, false},
		{0, false},
		{-1, false},
	} {
		cfg, err := parse([]string{"--max-packet-size", strconv.Itoa(tt.size)}, new(bytes.Buffer))
		if err != nil {
			t.Fatal(err)
		}
		opts, err := cfg.options(nil)
		switch {
		case tt.ok && err != nil:
			t.Errorf("--max-packet-size %d refused: %v", tt.size, err)
		case tt.ok && opts.MaxPacketSize != tt.size:
			t.Errorf("--max-packet-size %d became %d", tt.size, opts.MaxPacketSize)
		case !tt.ok && (err == nil || !strings.Contains(err.Error(), "max-packet-size")):
			t.Errorf("--max-packet-size %d: err = %v, want a refusal naming the flag", tt.size, err)
		}
	}
}
