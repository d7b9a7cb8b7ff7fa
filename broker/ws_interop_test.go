package broker

// Interop over WebSocket with MQTT.js, the npm "mqtt" package pinned in
// test/js/package.json, run by Node: the browser world's reference
// client. scripts/setup.sh installs it (npm ci) for make test.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

const mqttJSVersion = "5.16.0"

// requireMQTTJS returns the node program and the test/js directory, or
// skips the test (fails it under CI=true) when either is missing.
func requireMQTTJS(t *testing.T) (node, dir string) {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "test", "js"))
	if err != nil {
		t.Fatal(err)
	}
	missing := func(why string) { testkit.Missing(t, why, "apt-get install nodejs npm; npm ci in test/js") }
	node, err = exec.LookPath("node")
	if err != nil {
		missing("node is not installed (apt-get install nodejs npm)")
	}
	b, err := os.ReadFile(filepath.Join(dir, "node_modules", "mqtt", "package.json"))
	if err != nil {
		missing("test/js/node_modules/mqtt is not installed")
	}
	var pkg struct{ Version string }
	if err := json.Unmarshal(b, &pkg); err != nil || pkg.Version != mqttJSVersion {
		t.Fatalf("test/js/node_modules has mqtt %q, want %s: run npm ci in test/js (%v)", pkg.Version, mqttJSVersion, err)
	}
	return node, dir
}

// TestMQTTJSOverWebSocket runs test/js/interop.js with MQTT.js over
// ws:// for 3.1.1 and 5.0: QoS 0, 1 and 2, retained messages, wills (sent
// on a network failure, discarded on DISCONNECT), and for 5.0 user
// properties, content type, response topic, correlation data, message
// expiry, payload format and No Local. MQTT.js offers the subprotocol
// "mqtt" [MQTT-6.0.0-3] and sends binary frames [MQTT-6.0.0-1]. Afterwards
// a Go client over TCP sees the retained message MQTT.js left, with its
// properties.
func TestMQTTJSOverWebSocket(t *testing.T) {
	node, dir := requireMQTTJS(t)
	ts := startWSServer(t, nil, WebSocketOptions{})
	for _, v := range []codec.Version{codec.V311, codec.V5} {
		t.Run(v.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, "interop.js", ts.URL, fmt.Sprint(int(v)))
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("node interop.js %s %d: %v\n%s", ts.URL, v, err, out)
			}
			want := []string{"ok qos0", "ok qos1", "ok qos2", "ok retained", "ok will", "ok will-discarded"}
			if v == codec.V5 {
				want = append(want, "ok properties", "ok request-response", "ok no-local")
			}
			want = append(want, "done")
			lines := map[string]bool{}
			for l := range strings.Lines(string(out)) {
				lines[strings.TrimSpace(l)] = true
			}
			for _, w := range want {
				if !lines[w] {
					t.Errorf("MQTT.js %s: no line %q in the output:\n%s", v, w, out)
				}
			}

			c := testkit.Dial(t, ts.Addr, codec.V5)
			c.Connect(t, &codec.Connect{ClientID: "go-after-js", CleanStart: true})
			topic := fmt.Sprintf("js/v%d/retained", v)
			c.Subscribe(t, 1, topic)
			p := testkit.Expect[*codec.Publish](t, c)
			if p.Topic != topic || string(p.Payload) != "kept" || !p.Retain {
				t.Fatalf("retained after MQTT.js: %s", testkit.Describe(p))
			}
			if v == codec.V5 {
				up := p.Properties.UserProperties
				if len(up) != 1 || up[0] != (codec.UserProperty{Key: "origin", Value: "mqtt.js"}) || p.Properties.ContentType != "text/plain" {
					t.Errorf("retained message properties %+v, want origin=mqtt.js and text/plain", p.Properties)
				}
			}
			c.Ack(t, p)
			c.Disconnect(t)
		})
	}
}
