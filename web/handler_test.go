package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"

	"github.com/ternmq/tern/web/wasmbuild"
)

// fakeWasm stands in for a client build: the handler does not look inside.
var fakeWasm = bytes.Repeat([]byte("\x00asm\x01\x00\x00\x00 not really a web client "), 500)

// get sends a GET for path to h, accepting acceptEncoding, with the
// header fields hdr (name, value, ...), and returns the response.
func get(t *testing.T, h http.Handler, path, acceptEncoding string, hdr ...string) *http.Response {
	t.Helper()
	return request(t, h, http.MethodGet, path, acceptEncoding, hdr...)
}

func request(t *testing.T, h http.Handler, method, path, acceptEncoding string, hdr ...string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	if acceptEncoding != "" {
		r.Header.Set("Accept-Encoding", acceptEncoding)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

// decoded returns the body of resp, decompressed.
func decoded(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	var r io.Reader = resp.Body
	switch resp.Header.Get("Content-Encoding") {
	case "br":
		r = brotli.NewReader(r)
	case "gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHandlerWithoutBuild(t *testing.T) {
	h := Handler(Options{Dir: t.TempDir()})
	for _, path := range []string{"/", "/connection"} {
		resp := get(t, h, path, "")
		body := string(decoded(t, resp))
		if resp.StatusCode != 200 || !strings.Contains(body, "make wasm") || !strings.Contains(body, "/mqtt") {
			t.Errorf("%s: %d %q", path, resp.StatusCode, body)
		}
	}
	for path, want := range map[string]int{"/nope": 404, "/web/app.wasm": 404, "/web/tern.css": 200, "/web/nope.css": 404} {
		if resp := get(t, h, path, ""); resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", path, resp.StatusCode, want)
		}
	}
}

func TestHandlerServesBuild(t *testing.T) {
	dir := t.TempDir()
	info, err := wasmbuild.Compress(fakeWasm, dir, "app.wasm")
	if err != nil {
		t.Fatal(err)
	}
	h := Handler(Options{Dir: dir, MQTTPath: "/ws"})

	for _, c := range []struct{ accept, enc string }{{"gzip, deflate, br, zstd", "br"}, {"gzip", "gzip"}, {"br;q=0, gzip", "gzip"}, {"", ""}} {
		resp := get(t, h, "/web/app.wasm", c.accept)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != c.enc ||
			resp.Header.Get("Content-Type") != "application/wasm" ||
			resp.Header.Get(WasmLengthHeader) != strconv.Itoa(len(fakeWasm)) {
			t.Errorf("Accept-Encoding %q: %d %v", c.accept, resp.StatusCode, resp.Header)
		}
		if c.enc == "br" && resp.ContentLength != int64(info.Brotli) {
			t.Errorf("br length %d, want %d", resp.ContentLength, info.Brotli)
		}
		if !bytes.Equal(decoded(t, resp), fakeWasm) {
			t.Errorf("Accept-Encoding %q: wrong body", c.accept)
		}
		if c.enc != "" && !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
			t.Error("no Vary: Accept-Encoding")
		}
		etag := resp.Header.Get("ETag")
		if again := get(t, h, "/web/app.wasm", c.accept, "If-None-Match", etag); again.StatusCode != http.StatusNotModified {
			t.Errorf("revalidation with %s: %d", etag, again.StatusCode)
		}
	}
	if !strings.Contains(get(t, h, "/web/app.wasm", "br").Header.Get("ETag"), info.SHA256[:16]) {
		t.Error("the wasm ETag is not its hash")
	}

	// The page, go-app's resources and the static files, compressed, with
	// nothing from another host.
	// A resource from another host would be loaded through an attribute,
	// a manifest or CSS url(), or the service worker's list.
	external := regexp.MustCompile(`(?:src|href|url|"src"|ResourcesToCache)\s*[=:(]\s*["']?(?:https?:)?//`)
	for _, path := range []string{"/", "/connection", "/app.js", "/wasm_exec.js", "/app-worker.js", "/manifest.webmanifest", "/app.css", "/web/tern.css", "/web/icon.svg"} {
		resp := get(t, h, path, "br")
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", path, resp.StatusCode)
			continue
		}
		body := decoded(t, resp)
		if len(body) > 512 && resp.Header.Get("Content-Encoding") != "br" {
			t.Errorf("%s not compressed: %v", path, resp.Header)
		}
		for _, m := range external.FindAll(body, -1) {
			t.Errorf("%s loads from another host: %q", path, context(body, m))
		}
		if path == "/app-worker.js" && regexp.MustCompile(`"(?:https?:)?//`).Match(body) {
			t.Errorf("the service worker caches a resource from another host")
		}
		if strings.Contains(string(body), "githubusercontent") {
			t.Errorf("%s refers to go-app's default icons", path)
		}
	}
	page := string(decoded(t, get(t, h, "/", "gzip")))
	for _, want := range []string{`href="/web/tern.css"`, `src="/app.js"`, "/web/icon-192.png", `id="tern-app"`, "Loading Tern"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	appJS := string(decoded(t, get(t, h, "/app.js", "")))
	for _, want := range []string{`"TERN_MQTT_PATH":"/ws"`, WasmLengthHeader, `"GOAPP_VERSION":"` + h.(*handler).version + `"`} {
		if !strings.Contains(appJS, want) {
			t.Errorf("app.js lacks %s", want)
		}
	}
	worker := string(decoded(t, get(t, h, "/app-worker.js", "")))
	for _, want := range []string{`"/web/app.wasm"`, `"/connection"`, `"/web/icon.svg"`, `"/web/tern.css"`} {
		if !strings.Contains(worker, want) {
			t.Errorf("the service worker does not cache %s", want)
		}
	}
	if resp := get(t, h, "/robots.txt", ""); resp.StatusCode != 200 || !strings.Contains(string(decoded(t, resp)), "Disallow: /") {
		t.Errorf("robots.txt: %d", resp.StatusCode)
	}
	if resp := get(t, h, "/nope", "br"); resp.StatusCode != 404 {
		t.Errorf("/nope: %d", resp.StatusCode)
	}
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", w.Code)
	}
}

func context(body, m []byte) string {
	i := bytes.Index(body, m)
	return string(body[max(0, i-40):min(len(body), i+60)])
}

// TestHandlerRawWasm serves a directory with only app.wasm, as a plain
// go build leaves it: gzip is made at start-up.
func TestHandlerRawWasm(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.wasm"), fakeWasm, 0o644); err != nil {
		t.Fatal(err)
	}
	h := Handler(Options{Dir: dir})
	for _, accept := range []string{"br, gzip", ""} {
		resp := get(t, h, "/web/app.wasm", accept)
		want := "gzip"
		if accept == "" {
			want = ""
		}
		if resp.Header.Get("Content-Encoding") != want || !bytes.Equal(decoded(t, resp), fakeWasm) {
			t.Errorf("Accept-Encoding %q: %v", accept, resp.Header)
		}
	}
}

// TestVersionFollowsBuild checks that a new client build changes the
// version, so that the service worker installs it.
func TestVersionFollowsBuild(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	if _, err := wasmbuild.Compress(fakeWasm, a, "app.wasm"); err != nil {
		t.Fatal(err)
	}
	if _, err := wasmbuild.Compress(append(fakeWasm, 1), b, "app.wasm"); err != nil {
		t.Fatal(err)
	}
	va, vb := Handler(Options{Dir: a}).(*handler).version, Handler(Options{Dir: b}).(*handler).version
	if va == vb || Handler(Options{Dir: a}).(*handler).version != va {
		t.Errorf("versions %s and %s", va, vb)
	}
	if _, ok := wasmbuild.UpToDate(fakeWasm, a, "app.wasm"); !ok {
		t.Error("UpToDate false for the same build")
	}
	if _, ok := wasmbuild.UpToDate(fakeWasm, b, "app.wasm"); ok {
		t.Error("UpToDate true for another build")
	}
}

func TestEncoding(t *testing.T) {
	for accept, want := range map[string]string{
		"":                  "",
		"gzip":              "gzip",
		"br":                "br",
		"gzip;q=1.0, br":    "br",
		"BR;q=0":            "",
		"identity, deflate": "",
		"br;q=0.5, gzip":    "br",
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Accept-Encoding", accept)
		if got := encoding(r); got != want {
			t.Errorf("encoding(%q) = %q, want %q", accept, got, want)
		}
	}
}

// TestHandlerEmbedded serves the build embedded from web/dist: the client
// after make wasm, the page that says how to build it in a clean clone.
func TestHandlerEmbedded(t *testing.T) {
	h := Handler(Options{})
	resp := get(t, h, "/", "gzip")
	body := string(decoded(t, resp))
	if resp.StatusCode != 200 || !strings.Contains(body, "/mqtt") {
		t.Errorf("/: %d %q", resp.StatusCode, body)
	}
	built := h.(*handler).wasm != nil
	if code := get(t, h, "/web/app.wasm", "br").StatusCode; built != (code == 200) {
		t.Errorf("app.wasm: %d with built=%v", code, built)
	}
	t.Logf("embedded client build: %v", built)
}
