package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
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
