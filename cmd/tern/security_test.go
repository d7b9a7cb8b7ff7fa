package main

import (
	"log/slog"
	"strings"
	"testing"
)

// TestAnonymousOnlyOnLoopback: without a password file, tern refuses to
// start on an address other than loopback and says what to add; on
// loopback, or with --allow-anonymous, it starts.
func TestAnonymousOnlyOnLoopback(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		_, err := openSecurity(config{MQTT: addr}, log)
		if err == nil || !strings.Contains(err.Error(), "--password-file") || !strings.Contains(err.Error(), "--allow-anonymous") {
			t.Errorf("--mqtt %s without credentials: %v, want a refusal naming --password-file and --allow-anonymous", addr, err)
		}
	}
	for _, cfg := range []config{
		{MQTT: "127.0.0.1:0", HTTP: "[::1]:0", MQTTS: "localhost:0"},
		{MQTT: "0.0.0.0:0", AllowAnonymous: true},
	} {
		if _, err := openSecurity(cfg, log); err != nil {
			t.Errorf("%+v: %v", cfg, err)
		}
	}
}
