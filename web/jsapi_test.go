//go:build !wasm

package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"

	tern "github.com/ternmq/tern"
)

// jsapiFakeWasm stands in for tern.wasm: the handler does not look inside.
var jsapiFakeWasm = bytes.Repeat([]byte("\x00asm\x01\x00\x00\x00 not really tern.wasm "), 3000)

// jsapiGet sends a request to h and returns the response and its body,
// decompressed.
func jsapiGet(t *testing.T, h http.Handler, method, path, acceptEncoding string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	resp := request(t, h, method, path, acceptEncoding, hdr...)
	if method == http.MethodHead || resp.StatusCode == http.StatusNotModified {
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	return resp, decoded(t, resp)
}

func jsapiMux(o JSAPIOptions) *http.ServeMux {
	mux := http.NewServeMux()
	if o.Dashboard == nil {
		o.Dashboard = tern.DashboardHTML
	}
	NewJSAPI(o).Register(mux)
	return mux
}

// writeCompressed writes the forms make jsapi writes.
func writeCompressed(t *testing.T, dir string, data []byte) {
	t.Helper()
	var br, gz bytes.Buffer
	bw := brotli.NewWriterLevel(&br, 5)
	bw.Write(data)
	bw.Close()
	gw := gzip.NewWriter(&gz)
	gw.Write(data)
	gw.Close()
	for name, b := range map[string][]byte{JSAPIWasmBrotli: br.Bytes(), JSAPIWasmGzip: gz.Bytes()} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestJSAPILoader(t *testing.T) {
	h := jsapiMux(JSAPIOptions{Dir: t.TempDir()})
	resp, js := jsapiGet(t, h, http.MethodGet, "/tern.js", "br, gzip")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") != "br" {
		t.Fatalf("/tern.js: %s, encoding %q", resp.Status, resp.Header.Get("Content-Encoding"))
	}
	for k, want := range map[string]string{
		"Content-Type":                 "text/javascript; charset=utf-8",
		"Access-Control-Allow-Origin":  "*",
		"Cross-Origin-Resource-Policy": "cross-origin",
		"Cache-Control":                "no-cache",
		"Vary":                         "Accept-Encoding",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("/tern.js %s: %q, want %q", k, got, want)
		}
	}
	s := string(js)
	if strings.Contains(s, "@@") || !strings.Contains(s, "globalThis.Go = class") || !strings.Contains(s, "class TernChart") {
		t.Error("/tern.js is not tern.js with wasm_exec.js and elements.js inside")
	}
	// The bundle is valid JavaScript.
	if node, err := exec.LookPath("node"); err == nil {
		f := filepath.Join(t.TempDir(), "tern.js")
		os.WriteFile(f, js, 0o644)
		if out, err := exec.Command(node, "--check", f).CombinedOutput(); err != nil {
			t.Errorf("node --check /tern.js: %v\n%s", err, out)
		}
	}
	// Revalidation.
	etag := resp.Header.Get("ETag")
	if resp, _ := jsapiGet(t, h, http.MethodGet, "/tern.js", "br", "If-None-Match", etag); resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %s, want 304", resp.Status)
	}
	// Without compression, and HEAD.
	resp, plain := jsapiGet(t, h, http.MethodGet, "/tern.js", "")
	if resp.Header.Get("Content-Encoding") != "" || !bytes.Equal(plain, js) {
		t.Error("identity /tern.js differs")
	}
	if resp, body := jsapiGet(t, h, http.MethodHead, "/tern.js", "gzip"); resp.StatusCode != http.StatusOK || len(body) != 0 || resp.Header.Get("Content-Length") == "" {
		t.Errorf("HEAD: %s, %d bytes, length %q", resp.Status, len(body), resp.Header.Get("Content-Length"))
	}

	resp, dts := jsapiGet(t, h, http.MethodGet, "/tern.d.ts", "gzip")
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(dts), "declare namespace Tern") || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("/tern.d.ts: %s, %d bytes", resp.Status, len(dts))
	}
	resp, page := jsapiGet(t, h, http.MethodGet, "/examples/dashboard", "br")
	if resp.StatusCode != http.StatusOK || !bytes.Equal(page, tern.DashboardHTML) || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("/examples/dashboard: %s, %d bytes", resp.Status, len(page))
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("the dashboard page is sent with CORS headers")
	}
	if resp, _ := jsapiGet(t, h, http.MethodPost, "/tern.js", ""); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /tern.js: %s", resp.Status)
	}
}

func TestJSAPIWasmNotBuilt(t *testing.T) {
	h := jsapiMux(JSAPIOptions{Dir: t.TempDir()})
	resp, body := jsapiGet(t, h, http.MethodGet, "/tern.wasm", "br")
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "make jsapi") {
		t.Errorf("/tern.wasm without a build: %s %q", resp.Status, body)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Error("the 404 has no CORS header: a page on another origin could not read why")
	}
}

func TestJSAPIWasmCompressed(t *testing.T) {
	dir := t.TempDir()
	writeCompressed(t, dir, jsapiFakeWasm)
	h := jsapiMux(JSAPIOptions{Dir: dir})
	for _, tc := range []struct{ accept, enc string }{
		{"gzip, deflate, br, zstd", "br"},
		{"gzip", "gzip"},
		{"br;q=0, gzip", "gzip"},
		{"", ""},
	} {
		resp, body := jsapiGet(t, h, http.MethodGet, "/tern.wasm", tc.accept)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") != tc.enc || !bytes.Equal(body, jsapiFakeWasm) {
			t.Errorf("Accept-Encoding %q: %s, encoding %q, %d bytes", tc.accept, resp.Status, resp.Header.Get("Content-Encoding"), len(body))
		}
		if resp.Header.Get("Content-Type") != "application/wasm" || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("Accept-Encoding %q: headers %v", tc.accept, resp.Header)
		}
	}
}

func TestJSAPIWasmPlain(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, JSAPIWasmFile), jsapiFakeWasm, 0o644); err != nil {
		t.Fatal(err)
	}
	h := jsapiMux(JSAPIOptions{Dir: dir})
	resp, body := jsapiGet(t, h, http.MethodGet, "/tern.wasm", "br, gzip")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") != "" || !bytes.Equal(body, jsapiFakeWasm) {
		t.Errorf("plain tern.wasm: %s, encoding %q, %d bytes", resp.Status, resp.Header.Get("Content-Encoding"), len(body))
	}
}

// TestJSAPIWasmExecCurrent checks that web/tern/wasm_exec.js is the one of
// the Go release in use: tern.wasm only runs with its own release's.
func TestJSAPIWasmExecCurrent(t *testing.T) {
	goroot := runtime.GOROOT()
	if out, err := exec.Command(filepath.Join(goroot, "bin", "go"), "env", "GOROOT").Output(); err == nil {
		goroot = strings.TrimSpace(string(out))
	}
	want, err := os.ReadFile(filepath.Join(goroot, "lib", "wasm", "wasm_exec.js"))
	if err != nil {
		t.Skipf("no wasm_exec.js in GOROOT %s: %v", goroot, err)
	}
	got, err := os.ReadFile(filepath.Join("tern", "wasm_exec.js"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("web/tern/wasm_exec.js is not the one of %s: run make wasm-exec", runtime.Version())
	}
}

func TestJSAPINotFound(t *testing.T) {
	e := NewJSAPI(JSAPIOptions{Dir: t.TempDir(), Dashboard: tern.DashboardHTML})
	if resp, _ := jsapiGet(t, e, http.MethodGet, "/tern.css", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/tern.css: %s", resp.Status)
	}
}
