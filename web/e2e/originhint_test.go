package e2e

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/wasm/uistate"
)

// TestOriginHintWorks follows the web client's cross-origin hint
// literally: a page served from 127.0.0.1:28080 that cannot reach a broker
// elsewhere is told to start it with --allow-origin HOST:PORT, and a
// broker given exactly that pattern accepts the page's WebSocket
// handshake (a pattern without the port, as the hint used to say, is
// refused with 403).
func TestOriginHintWorks(t *testing.T) {
	const page = "http://127.0.0.1:28080/"
	hints := uistate.Hints("ws://127.0.0.1:1883/mqtt", page, &uistate.Failure{Dial: true, Text: "failed"})
	re := regexp.MustCompile(`--allow-origin (\S+?)\)`)
	var pattern string
	for _, h := range hints {
		if m := re.FindStringSubmatch(h); m != nil {
			pattern = m[1]
		}
	}
	if pattern == "" {
		t.Fatalf("no --allow-origin in the hints %q", hints)
	}
	handshake := func(patterns ...string) int {
		srv := broker.New(broker.Options{})
		defer srv.Shutdown(t.Context())
		h := srv.WebSocketHandler(broker.WebSocketOptions{OriginPatterns: patterns})
		r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:1883/mqtt", nil)
		r.Header.Set("Connection", "Upgrade")
		r.Header.Set("Upgrade", "websocket")
		r.Header.Set("Sec-WebSocket-Version", "13")
		r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		r.Header.Set("Sec-WebSocket-Protocol", "mqtt")
		r.Header.Set("Origin", strings.TrimSuffix(page, "/"))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	if code := handshake(pattern); code == http.StatusForbidden {
		t.Errorf("--allow-origin %s, as the hint says: the handshake got %d", pattern, code)
	}
	if code := handshake("127.0.0.1"); code != http.StatusForbidden {
		t.Errorf("--allow-origin without the port: %d, want 403 (the test would prove nothing)", code)
	}
}
