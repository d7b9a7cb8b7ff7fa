//go:build !js

// The tests of the JS API run the real thing: this program built
// for GOOS=js GOARCH=wasm (once per test binary, by TestMain), served with
// tern.js by the web package's handler beside a broker's /mqtt, in Debian's
// chromium driven by chromedp. Without chromium the browser tests skip,
// except under CI=true, where that is a failure.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	tern "github.com/ternmq/tern"
	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/broker/auth/passwd"
	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit/browserkit"
	"github.com/ternmq/tern/internal/testkit/userkit"
	"github.com/ternmq/tern/web"
	"github.com/ternmq/tern/web/wasmbuild"
)

// wasmDir holds tern.wasm, built by TestMain; buildErr says why not.
var (
	wasmDir  string
	buildErr error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tern-jsapi-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	wasmDir = dir
	buildErr = buildWasm(filepath.Join(dir, web.JSAPIWasmFile))
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildWasm builds this program for the browser as make jsapi does.
func buildWasm(out string) error {
	root, err := wasmbuild.ModuleRoot(".")
	if err != nil {
		return err
	}
	return wasmbuild.Build(context.Background(), root, wasmbuild.JSAPI, out)
}

func needWasm(t *testing.T) {
	t.Helper()
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

// testPage is the page of the API tests: tern.js from the broker, nothing
// else.
const testPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tern.js test</title>
<script src="/tern.js"></script></head>
<body><div id="box"></div></body></html>`

// refusedUser is refused by the test broker with Bad User Name or Password.
const refusedUser = "mallory"

// brokerMaxPacket is the test broker's Maximum Packet Size.
const brokerMaxPacket = 256 << 10

// env is a broker with its HTTP site (origin A: /mqtt, the JS API,
// the dashboard and the test page), a second origin serving index.html
// that the broker allows (B), and a third that it does not (C).
type env struct {
	srv      *broker.Server
	tcp      string // host:port of MQTT over TCP, for Go clients
	site     *httptest.Server
	allowed  *httptest.Server
	foreign  *httptest.Server
	ws       string // ws://<site>/mqtt
	jsapiLog *logBuffer
	// plainPasswords are the CONNECT passwords the broker was given.
	plainPasswords passwords
}

// scramUser logs in with SCRAM-SHA-256 only; the others need no password.
const scramUser, scramPassword = "sam", "Sc4am-test-pass"

// testAuth refuses refusedUser, accepts SCRAM-SHA-256 logins of
// scramUser, and everyone else without a password.
type testAuth struct {
	scram *passwd.File
	seen  *passwords
}

type passwords struct {
	mu   sync.Mutex
	list []string
}

func (p *passwords) all() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.list...)
}

func (a *testAuth) Authenticate(_ context.Context, l *broker.Login) codec.ReasonCode {
	if l.Connect.Password != nil {
		a.seen.mu.Lock()
		a.seen.list = append(a.seen.list, string(l.Connect.Password))
		a.seen.mu.Unlock()
	}
	if l.Connect.Username == refusedUser || l.Connect.Username == scramUser {
		return codec.BadUserNameOrPassword
	}
	return codec.Success
}

func (a *testAuth) AuthMethods() []string { return a.scram.AuthMethods() }

func (a *testAuth) BeginAuth(ctx context.Context, l *broker.Login, method string) broker.AuthExchange {
	return a.scram.BeginAuth(ctx, l, method)
}

// scramUsers is a password file with scramUser's SCRAM-SHA-256 entry.
func scramUsers(t *testing.T) *passwd.File {
	t.Helper()
	return userkit.PasswordFile(t, passwd.HashOptions{Algorithm: passwd.SCRAMSHA256, Iterations: 4096}, scramUser, scramPassword)
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{jsapiLog: &logBuffer{}}
	dashboard := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(tern.DashboardHTML)
	})
	e.allowed = httptest.NewServer(dashboard)
	e.foreign = httptest.NewServer(dashboard)

	e.srv = broker.New(broker.Options{
		MaxPacketSize: brokerMaxPacket,
		Authenticator: &testAuth{scram: scramUsers(t), seen: &e.plainPasswords},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.tcp = ln.Addr().String()
	served := make(chan struct{})
	go func() {
		defer close(served)
		e.srv.Serve(context.Background(), ln)
	}()

	mux := http.NewServeMux()
	mux.Handle("/mqtt", e.srv.WebSocketHandler(broker.WebSocketOptions{
		OriginPatterns: []string{strings.TrimPrefix(e.allowed.URL, "http://")},
	}))
	web.NewJSAPI(web.JSAPIOptions{Dir: wasmDir, Logger: slog.New(slog.NewTextHandler(e.jsapiLog, nil)), Dashboard: tern.DashboardHTML}).Register(mux)
	mux.HandleFunc("GET /test", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, testPage)
	})
	mux.HandleFunc("/favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	e.site = httptest.NewServer(mux)
	e.ws = "ws://" + strings.TrimPrefix(e.site.URL, "http://") + "/mqtt"

	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.srv.Shutdown(ctx); err != nil {
			t.Errorf("broker shutdown: %v", err)
		}
		e.site.Close()
		e.allowed.Close()
		e.foreign.Close()
		<-served
	})
	return e
}

// goClient connects a Go client to the broker over TCP.
func (e *env) goClient(t *testing.T, id string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Connect(ctx, "mqtt://"+e.tcp, client.Options{ClientID: id})
	if err != nil {
		t.Fatalf("Go client %s: %v", id, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c.Disconnect(ctx, codec.NormalDisconnection)
	})
	return c
}

// publish sends a message from a Go client.
func publish(t *testing.T, c *client.Client, topic, payload string, qos codec.QoS, retain bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Publish(ctx, &client.Message{Topic: topic, Payload: []byte(payload), QoS: qos, Retain: retain}); err != nil {
		t.Fatalf("Go client publish %s: %v", topic, err)
	}
}

type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// browser is one chromium shared by the subtests; each gets a tab.
type browser struct {
	ctx context.Context
	dir string
}

func startBrowser(t *testing.T) *browser {
	t.Helper()
	// gc() for the leak test's FinalizationRegistry check.
	ctx := browserkit.Start(t, chromedp.Flag("js-flags", "--expose-gc"))
	return &browser{ctx: ctx, dir: t.TempDir()}
}

// tab is one page of the browser, with its console kept for failure
// reports and a screenshot taken when its test fails.
type tab struct {
	t       *testing.T
	ctx     context.Context
	console *browserkit.Console
}

func (b *browser) tab(t *testing.T) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		t.Fatalf("new tab: %v", err)
	}
	p := &tab{t: t, ctx: ctx, console: browserkit.Record(ctx)}
	t.Cleanup(func() {
		if testing.Verbose() && !t.Failed() && p.console.Len() > 0 {
			t.Logf("console:\n%s", p.console)
		}
		p.console.Stop()
		cancel()
	})
	browserkit.OnFailure(t, ctx, b.dir, p.console)
	return p
}

// screenshot saves a screenshot as name.png into $TERN_JSAPI_SCREENSHOTS,
// when that is set.
func (p *tab) screenshot(name string) {
	p.t.Helper()
	dir := os.Getenv("TERN_JSAPI_SCREENSHOTS")
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	}
	if err != nil {
		p.t.Errorf("screenshot %s: %v", name, err)
	}
}

// open navigates to url and waits for the page's scripts.
func (p *tab) open(url string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("body"))); err != nil {
		p.t.Fatalf("open %s: %v", url, err)
	}
}

// result is what a test script returns: the checks that failed and notes.
type result struct {
	Fails []string        `json:"fails"`
	Logs  []string        `json:"logs"`
	Data  json.RawMessage `json:"data"`
}

// harness is installed before each script: T.check, T.eq, T.queue, ...
const harness = `
window.T = {
  fails: [], logs: [], data: null,
  check(cond, msg) { if (!cond) this.fails.push(msg); return cond; },
  eq(got, want, msg) {
    const g = JSON.stringify(got), w = JSON.stringify(want);
    if (g !== w) this.fails.push(msg + ': got ' + g + ', want ' + w);
  },
  log(...a) { this.logs.push(a.map((x) => typeof x === 'string' ? x : JSON.stringify(x)).join(' ')); },
  deadline(p, ms, what) {
    let timer;
    return Promise.race([p, new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('timed out waiting for ' + what)), ms); })])
      .finally(() => clearTimeout(timer));
  },
  // queue is a message callback whose messages next() awaits.
  queue() {
    const items = [], waiters = [];
    const q = (topic, payload, packet) => {
      const m = {topic, payload, packet};
      const w = waiters.shift();
      if (w) { w(m); } else { items.push(m); }
    };
    q.next = (what) => T.deadline(items.length ? Promise.resolve(items.shift()) : new Promise((r) => waiters.push(r)), 10000, what || 'a message');
    q.pending = () => items.length;
    return q;
  },
  // event resolves with the next event of a client.
  event(c, name) { return T.deadline(new Promise((r) => c.once(name, (...a) => r(a))), 10000, 'event ' + name); },
  async rejects(p, msg) {
    try { await p; this.fails.push(msg + ': resolved, want a rejection'); return {}; }
    catch (e) { if (!(e instanceof Tern.TernError)) { this.fails.push(msg + ': rejected with ' + e + ', want a TernError'); } return e; }
  },
  result() { return {fails: this.fails, logs: this.logs, data: this.data}; },
};
`

// run evaluates script (the body of an async function that may use T and
// the constants WS, TCP) and reports its failed checks as test errors.
func (p *tab) run(e *env, script string) result {
	p.t.Helper()
	src := harness + fmt.Sprintf("\n(async () => {\nconst WS = %q;\n%s\nreturn T.result();\n})()", e.ws, script)
	ctx, cancel := context.WithTimeout(p.ctx, 90*time.Second)
	defer cancel()
	r, err := chromedp.Run(ctx, chromedp.Evaluate[result](src, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("script: %v", err)
	}
	for _, l := range r.Logs {
		p.t.Log(l)
	}
	for _, f := range r.Fails {
		p.t.Error(f)
	}
	return r
}

// eval evaluates an expression, awaiting a promise.
func eval[T any](p *tab, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("eval %s: %v", expr, err)
	}
	return v
}

// waitJS waits until the predicate is true in the page.
func (p *tab) waitJS(what, predicate string, timeout time.Duration) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, timeout+5*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](predicate, chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(timeout))); err != nil {
		state := ""
		if s, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 2000) : ''`)); err == nil {
			state = s
		}
		p.t.Fatalf("waiting for %s (%s): %v\npage text:\n%s", what, predicate, err, state)
	}
}
