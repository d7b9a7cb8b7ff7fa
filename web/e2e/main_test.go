// Package e2e tests the web client end to end: the broker (package
// broker) serves MQTT over WebSocket at /mqtt and the client (package web)
// at /, on one httptest server, as cmd/tern does; Debian's chromium,
// driven by chromedp, loads the page; Go clients (package client) talk to
// the same broker. It also tests the web client's MQTT service natively
// against the broker.
//
// The browser tests build the web client themselves (GOOS=js GOARCH=wasm,
// once per test binary, about a minute on two cores from a cold cache),
// and skip when chromium is missing, except under CI=true, where that is
// a failure. With TERN_SCREENSHOTS=dir the screenshots are written to dir
// (make screenshots writes docs/screenshots).
package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/broker/adminhttp"
	"github.com/ternmq/tern/web"
	"github.com/ternmq/tern/web/wasmbuild"
)

// buildDir holds the client build shared by the tests of this binary.
var buildDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tern-e2e-build-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildOnce   sync.Once
	buildErr    error
	buildResult wasmbuild.Result
	buildOut    string
)

// clientBuild builds and compresses the web client once per test binary
// and returns the directory holding it.
func clientBuild(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := wasmbuild.ModuleRoot(".")
		if err != nil {
			buildErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
		defer cancel()
		raw := filepath.Join(buildDir, "app.wasm")
		t0 := time.Now()
		if buildErr = wasmbuild.Build(ctx, root, wasmbuild.App, raw); buildErr != nil {
			return
		}
		buildResult.BuildTime = time.Since(t0)
		wasm, err := os.ReadFile(raw)
		if buildErr = err; err != nil {
			return
		}
		// After make wasm, web/dist holds this very build (the build is
		// reproducible): use it rather than compressing again.
		dist := filepath.Join(root, "web", "dist")
		if info, ok := wasmbuild.UpToDate(wasm, dist, "app.wasm"); ok {
			buildResult.Info, buildOut = info, dist
			return
		}
		out := filepath.Join(buildDir, "dist")
		t1 := time.Now()
		buildResult.Info, buildErr = wasmbuild.Precompress(ctx, root, raw, out)
		buildResult.CompressTime = time.Since(t1)
		buildOut = out
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	t.Logf("web client from %s: %v", buildOut, buildResult)
	return buildOut
}

// counter counts the bytes the web handler sends, by path: the status
// line, the headers and the body, as they go on the wire (compressed).
type counter struct {
	mu     sync.Mutex
	total  int64
	byPath map[string]int64
	reqs   int
}

func (c *counter) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &countingWriter{ResponseWriter: w}
		h.ServeHTTP(cw, r)
		cw.header(200)
		c.mu.Lock()
		if c.byPath == nil {
			c.byPath = make(map[string]int64)
		}
		c.total += cw.n
		c.byPath[r.URL.Path] += cw.n
		c.reqs++
		c.mu.Unlock()
	})
}

// snapshot returns the total and a line per path, biggest first.
func (c *counter) snapshot() (int64, int, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	paths := make([]string, 0, len(c.byPath))
	for p := range c.byPath {
		paths = append(paths, p)
	}
	sort.Slice(paths, func(i, j int) bool { return c.byPath[paths[i]] > c.byPath[paths[j]] })
	var b strings.Builder
	for _, p := range paths {
		fmt.Fprintf(&b, "\n  %9d  %s", c.byPath[p], p)
	}
	return c.total, c.reqs, b.String()
}

type countingWriter struct {
	http.ResponseWriter
	n      int64
	status bool
}

func (w *countingWriter) header(code int) {
	if w.status {
		return
	}
	w.status = true
	// "HTTP/1.1 200 OK\r\n", each "Key: value\r\n", then "\r\n".
	w.n += int64(len("HTTP/1.1 200 OK\r\n\r\n") + len("Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n"))
	for k, vs := range w.Header() {
		for _, v := range vs {
			w.n += int64(len(k) + len(v) + 4)
		}
	}
}

func (w *countingWriter) WriteHeader(code int) {
	w.header(code)
	w.ResponseWriter.WriteHeader(code)
}

func (w *countingWriter) Write(b []byte) (int, error) {
	w.header(200)
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// site is a broker and the web client on one HTTP server, as tern runs
// them: MQTT over WebSocket at /mqtt, the client at /.
type site struct {
	srv   *broker.Server
	ts    *httptest.Server
	bytes *counter
	ws    string // ws://host:port/mqtt
	// mqttConns counts the WebSocket handshakes asked for at /mqtt.
	mqttConns atomic.Int64
}

// logWriter sends log lines to t.Log until the test ends.
type logWriter struct {
	t    *testing.T
	done atomic.Bool
}

func (w *logWriter) Write(p []byte) (int, error) {
	if !w.done.Load() {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func newSite(t *testing.T, clientDir string) *site {
	t.Helper()
	return newSiteWith(t, clientDir, siteOptions{})
}

// siteOptions change the site newSiteWith starts.
type siteOptions struct {
	// Authenticator is the broker's (nil: anyone may connect).
	Authenticator broker.Authenticator
	// Listener, when set, wraps the HTTP server's listener.
	Listener func(net.Listener) net.Listener
	// MQTT, when set, serves /mqtt instead of the site's broker (a proxy
	// to another broker, which the page then reaches on its own origin).
	MQTT http.Handler
	// SysInterval is the broker's $SYS interval (0: no $SYS).
	SysInterval time.Duration
	// Authorizer is the broker's (nil: everything allowed).
	Authorizer broker.Authorizer
	// Admins, with an Authenticator, serves the admin API
	// (broker/adminhttp) at /api/v1/ for these users, as cmd/tern does.
	Admins []string
}

func newSiteWith(t *testing.T, clientDir string, so siteOptions) *site {
	t.Helper()
	lw := &logWriter{t: t}
	t.Cleanup(func() { lw.done.Store(true) })
	var out io.Writer = io.Discard
	if testing.Verbose() {
		out = lw
	}
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv := broker.New(broker.Options{Logger: log, Authenticator: so.Authenticator, Authorizer: so.Authorizer, SysInterval: so.SysInterval})
	s := &site{srv: srv, bytes: &counter{}}
	mux := http.NewServeMux()
	if so.Admins != nil && so.Authenticator != nil {
		adminhttp.Register(mux, adminhttp.Options{Server: srv, Users: so.Authenticator, Logger: log,
			IsAdmin: func(u string) bool { return slices.Contains(so.Admins, u) }})
	}
	if so.MQTT != nil {
		mux.Handle("/mqtt", so.MQTT)
	} else {
		wsh := srv.WebSocketHandler(broker.WebSocketOptions{})
		mux.Handle("/mqtt", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.mqttConns.Add(1)
			wsh.ServeHTTP(w, r)
		}))
	}
	// Under the headers cmd/tern sends, so the UI is tested with its CSP.
	mux.Handle("/", web.Secure(s.bytes.wrap(web.Handler(web.Options{Dir: clientDir, Logger: log})), web.Policy{}))
	s.ts = httptest.NewUnstartedServer(mux)
	if so.Listener != nil {
		s.ts.Listener = so.Listener(s.ts.Listener)
	}
	s.ts.Start()
	s.ws = "ws" + strings.TrimPrefix(s.ts.URL, "http") + "/mqtt"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		s.ts.Close()
	})
	return s
}

// failureDir is where screenshots of failed browser tests go.
func failureDir() string { return filepath.Join(os.TempDir(), "tern-e2e-failures") }
