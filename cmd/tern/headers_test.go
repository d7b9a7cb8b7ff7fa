package main

import (
	"net/http"
	"strings"
	"testing"
)

// TestSecurityHeaders: the web client at / and the example dashboard are
// served with a Content-Security-Policy limited to the broker's own
// origin (its WebSocket included), no framing by other sites and no MIME
// sniffing; the dashboard's inline script is allowed by its hash only.
func TestSecurityHeaders(t *testing.T) {
	d := startDaemon(t, config{HTTP: "127.0.0.1:0"})
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
		for _, want := range []string{"default-src 'self'", "connect-src 'self' ws://" + host + " wss://" + host,
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
