package e2e

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/coder/websocket"

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
	// handshake opens a real WebSocket connection to a broker with the
	// origin patterns, as the page would (its Origin header), and returns
	// the HTTP status of the answer: 101 when the connection was made.
	handshake := func(patterns ...string) int {
		srv := broker.New(broker.Options{})
		defer srv.Shutdown(t.Context())
		ts := httptest.NewServer(srv.WebSocketHandler(broker.WebSocketOptions{OriginPatterns: patterns}))
		defer ts.Close()
		c, resp, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(ts.URL, "http")+"/mqtt", &websocket.DialOptions{
			Subprotocols: []string{"mqtt"},
			HTTPHeader:   http.Header{"Origin": {strings.TrimSuffix(page, "/")}},
		})
		if err == nil {
			c.Close(websocket.StatusNormalClosure, "")
		}
		if resp == nil {
			t.Fatalf("no answer to the handshake: %v", err)
		}
		return resp.StatusCode
	}
	if code := handshake(pattern); code != http.StatusSwitchingProtocols {
		t.Errorf("--allow-origin %s, as the hint says: the handshake got %d, want 101", pattern, code)
	}
	if code := handshake("127.0.0.1"); code != http.StatusForbidden {
		t.Errorf("--allow-origin without the port: %d, want 403 (the test would prove nothing)", code)
	}
}
