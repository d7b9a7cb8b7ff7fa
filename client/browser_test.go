//go:build !js

package client_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/internal/testkit"
	"github.com/ternmq/tern/internal/testkit/browserkit"

	"github.com/ternmq/tern/internal/testkit/brokerkit"
)

// browserPage loads wasm_exec.js and runs the test program.
const browserPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>tern client wasm test</title></head>
<body>
<p id="result">running</p>
<script src="/wasm_exec.js"></script>
<script>
const go = new Go();
WebAssembly.instantiateStreaming(fetch("/test.wasm"), go.importObject)
	.then((r) => go.run(r.instance))
	.catch((e) => {
		console.error("wasm failed to start: " + e);
		document.getElementById("result").textContent = "FAIL: wasm failed to start: " + e;
		const d = document.createElement("div"); d.id = "done"; document.body.appendChild(d);
	});
</script>
</body></html>`

// TestBrowser builds the client for GOOS=js GOARCH=wasm and runs it in
// headless Chromium against Tern over ws:// (client/internal/wasmtest):
// connect, subscribe, publish and receive at QoS 0, 1 and 2 with a 100 KiB
// payload (beyond the WebSocket library's 32 KiB default read limit), stay
// connected past 1.5 × Keep Alive on PINGREQ alone, report failed dials
// with the URL and hints, and disconnect cleanly. A screenshot of a failed
// run is saved in the test's temporary directory.
func TestBrowser(t *testing.T) {
	testkit.Chromium(t) // skip (or fail under CI) before building
	dir := t.TempDir()

	// Build the test program for the browser.
	wasm := filepath.Join(dir, "test.wasm")
	build := exec.Command(testkit.GoTool(), "build", "-o", wasm, "./internal/wasmtest")
	build.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the wasm test program: %v\n%s", err, out)
	}
	goroot, err := exec.Command(testkit.GoTool(), "env", "GOROOT").Output()
	if err != nil {
		t.Fatal(err)
	}
	wasmExec := filepath.Join(strings.TrimSpace(string(goroot)), "lib", "wasm", "wasm_exec.js") // Go 1.24+
	if _, err := os.Stat(wasmExec); err != nil {
		t.Fatalf("wasm_exec.js: %v", err)
	}

	// One HTTP server for the page, the program and the broker.
	srv := brokerkit.Start(t, nil, broker.WebSocketOptions{})
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, browserPage)
	})
	mux.HandleFunc("/favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/wasm_exec.js", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, wasmExec) })
	mux.HandleFunc("/test.wasm", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/wasm")
		http.ServeFile(w, r, wasm)
	})
	mux.Handle("/mqtt", srv.WebSocketHandler(broker.WebSocketOptions{}))
	hs := httptest.NewServer(mux)
	defer hs.Close()

	ctx := browserkit.Start(t)
	console := browserkit.Record(ctx)
	defer console.Stop()

	runCtx, cancelRun := context.WithTimeout(ctx, 90*time.Second)
	defer cancelRun()
	var result string
	err = chromedp.Do(runCtx,
		chromedp.Navigate(hs.URL+"/"),
		chromedp.WaitReady(chromedp.CSS("#done")),
	)
	if err == nil {
		result, err = chromedp.Run(runCtx, chromedp.Text(chromedp.CSS("#result")))
	}
	if testing.Verbose() {
		t.Logf("console:\n%s", console)
	}
	if err != nil || result != "PASS" {
		shot := browserkit.Screenshot(ctx, dir, "failure")
		t.Errorf("browser run: result %q, err %v\nscreenshot: %s\nconsole:\n%s", result, err, shot, console)
	}
}
