package main

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestSecurityHeaders: the web client at / and the example dashboard are
// served with a Content-Security-Policy limited to the broker's own
// origin (its WebSocket included) and the --web-connect sources, no
// framing by other sites and no MIME sniffing; the dashboard's inline
// script is allowed by its hash only.
func TestSecurityHeaders(t *testing.T) {
	d := startDaemon(t, config{HTTP: "127.0.0.1:0", WebConnect: []string{"wss://broker.example.com:8081"}})
	host := d.addrs["http"]
	for _, path := range []string{"/", "/examples/dashboard"} {
		resp, err := http.Get("http://" + host + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		if resp.StatusCode != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, h.Get("Content-Type"))
		}
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "connect-src 'self' ws://" + host + " wss://" + host + " wss://broker.example.com:8081;",
			"frame-ancestors 'self'", "object-src 'none'", "script-src 'self' 'wasm-unsafe-eval'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: Content-Security-Policy %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline';") && strings.Contains(csp, "script-src 'unsafe-inline'") {
			t.Errorf("%s: inline scripts allowed: %q", path, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "SAMEORIGIN" {
			t.Errorf("%s: X-Content-Type-Options %q, X-Frame-Options %q", path, h.Get("X-Content-Type-Options"), h.Get("X-Frame-Options"))
		}
		if path == "/examples/dashboard" && !strings.Contains(csp, "'sha256-") {
			t.Errorf("%s: the dashboard's inline script has no hash in %q", path, csp)
		}
	}
}

// TestWebConnectFlag: the web client may dial any ws:// or wss:// broker
// by default (it is an MQTT client: its Connection form takes any URL);
// --web-connect narrows that, "self" to its own origin only, and a source
// that is not one CSP source expression is refused at start.
func TestWebConnectFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"ws:", "wss:"}},
		{[]string{"--web-connect", "self"}, nil},
		{[]string{"--web-connect", "wss://a.example.com:8081, wss://*.example.org"}, []string{"wss://a.example.com:8081", "wss://*.example.org"}},
	} {
		cfg, err := parse(tc.args, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(cfg.WebConnect, tc.want) {
			t.Errorf("%q: web connect %q, want %q", tc.args, cfg.WebConnect, tc.want)
		}
	}
	for _, bad := range []string{"wss://a.example.com; script-src *", "javascript:", "*", "wss:/a", "wss://a b"} {
		if err := checkConnectSources([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if err := checkConnectSources([]string{"ws:", "wss:", "https://x.example.com"}); err != nil {
		t.Error(err)
	}
}
