package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// TestMaxQoSConfig: --max-qos and --retain-available, the JSON keys
// max_qos and retain_available, and a mosquitto.conf's max_qos (per
// listener: the lowest applies, with a note when they differ) and
// retain_available become broker.Options.MaxQoS and DisableRetain; the
// flags win; nothing set keeps QoS 2 and retained messages; a QoS above 2
// is refused.
func TestMaxQoSConfig(t *testing.T) {
	for _, tc := range []struct {
		name     string
		flags    []string
		json     string // a --config file, when not empty
		mosq     string // a --mosquitto-conf file, when not empty
		maxQoS   int    // -1: nil (QoS 2)
		noRetain bool
		note     string // in the notes of the mosquitto.conf
		err      string // refused, with this in the error
	}{
		{name: "defaults", maxQoS: -1},
		{name: "flags", flags: []string{"--max-qos", "1", "--retain-available=false"}, maxQoS: 1, noRetain: true},
		{name: "flag max 0", flags: []string{"--max-qos=0"}, maxQoS: 0},
		{name: "flag max 2 announces nothing", flags: []string{"--max-qos", "2"}, maxQoS: -1},
		{name: "flag retain on", flags: []string{"--retain-available"}, maxQoS: -1},
		{name: "flag above 2", flags: []string{"--max-qos", "3"}, err: "max-qos 3: must be 0, 1 or 2"},
		{name: "flag not a number", flags: []string{"--max-qos", "one"}, err: `"one" is not 0, 1 or 2`},
		{name: "json", json: `{"max_qos": 0, "retain_available": false}`, maxQoS: 0, noRetain: true},
		{name: "json, flags win", json: `{"max_qos": 0, "retain_available": false}`, flags: []string{"--max-qos", "2", "--retain-available=true"}, maxQoS: -1},
		{name: "json above 2", json: `{"max_qos": 5}`, err: "max-qos 5"},
		{name: "mosquitto.conf", mosq: "max_qos 1\nretain_available false\nallow_anonymous true\n", maxQoS: 1, noRetain: true},
		{name: "mosquitto.conf retain_available true", mosq: "retain_available true\n", maxQoS: -1},
		{name: "mosquitto.conf, flags win", mosq: "max_qos 0\nretain_available false\nallow_anonymous true\n", flags: []string{"--max-qos", "1", "--retain-available"}, maxQoS: 1},
		{name: "mosquitto.conf listeners agree", mosq: "listener 1883\nmax_qos 1\nlistener 9001\nprotocol websockets\nmaximum_qos 1\nallow_anonymous true\n", maxQoS: 1},
		{name: "mosquitto.conf listeners differ", mosq: "listener 1883\nmax_qos 1\nlistener 9001\nprotocol websockets\nallow_anonymous true\n", maxQoS: 1,
			note: "mosquitto.conf:2): max_qos is per listener, and the listeners differ; Tern applies the lowest, 1, to every listener"},
		{name: "mosquitto.conf Unix socket listener not counted", mosq: "listener 1883\nlistener 0 /run/m.sock\nmax_qos 0\nallow_anonymous true\n", maxQoS: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			args := tc.flags
			if tc.json != "" {
				path := filepath.Join(dir, "tern.json")
				if err := os.WriteFile(path, []byte(tc.json), 0o600); err != nil {
					t.Fatal(err)
				}
				args = append([]string{"--config", path}, args...)
			}
			if tc.mosq != "" {
				path := filepath.Join(dir, "mosquitto.conf")
				if err := os.WriteFile(path, []byte(tc.mosq), 0o600); err != nil {
					t.Fatal(err)
				}
				args = append([]string{"--mosquitto-conf", path}, args...)
			}
			cfg, err := parse(args, io.Discard)
			if err == nil {
				_, err = cfg.options(nil)
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			opts, _ := cfg.options(nil)
			got := -1
			if opts.MaxQoS != nil {
				got = int(*opts.MaxQoS)
			}
			if got != tc.maxQoS || opts.DisableRetain != tc.noRetain {
				t.Errorf("MaxQoS %d DisableRetain %v, want %d %v (-1: nil)", got, opts.DisableRetain, tc.maxQoS, tc.noRetain)
			}
			notes := strings.Join(cfg.mosquittoNote, "; ")
			if tc.note != "" && !strings.Contains(notes, "max_qos ("+filepath.Join(dir, tc.note)) {
				t.Errorf("notes %q, want %q", notes, tc.note)
			}
			if tc.note == "" && strings.Contains(notes, "max_qos") {
				t.Errorf("notes %q, want none about max_qos", notes)
			}
		})
	}
}

// TestMaxQoSHelp: -h documents both flags.
func TestMaxQoSHelp(t *testing.T) {
	var out bytes.Buffer
	parse([]string{"-h"}, &out)
	for _, name := range []string{"-max-qos QoS", "-retain-available", "(default 2)", "(default true)"} {
		if !strings.Contains(out.String(), name) {
			t.Errorf("-h does not say %q", name)
		}
	}
}

// TestMaxQoSDaemon: tern started with --max-qos 1 --retain-available=false
// announces both in a 5.0 CONNACK.
func TestMaxQoSDaemon(t *testing.T) {
	cfg, err := parse([]string{"--mqtt", "127.0.0.1:0", "--mqtts", "", "--http", "", "--in-memory", "--sys-interval", "0",
		"--max-qos", "1", "--retain-available=false"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, cfg)
	c := testkit.Dial(t, d.addrs["mqtt"], codec.V5)
	defer c.Close()
	ack := c.Connect(t, &codec.Connect{ClientID: "mq", CleanStart: true})
	p := ack.Properties
	if !p.Has(codec.PropMaximumQoS) || p.MaximumQoS != 1 || !p.Has(codec.PropRetainAvailable) || p.RetainAvailable != 0 {
		t.Errorf("CONNACK Maximum QoS %d (present %v), Retain Available %d (present %v); want 1 and 0",
			p.MaximumQoS, p.Has(codec.PropMaximumQoS), p.RetainAvailable, p.Has(codec.PropRetainAvailable))
	}
}
