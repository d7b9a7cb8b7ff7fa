//go:build !wasm

package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
)

// The files of the JS API: the loader (tern.js, with elements.js,
// the custom elements) and its declarations, the Go runtime support it wraps (wasm_exec.js, copied from the Go release by
// `make wasm-exec`, checked by a test), and web/tern/dist, where
// `make jsapi` writes tern.wasm.br and tern.wasm.gz (only a README in a
// clean clone, so that this always compiles).
//
//go:embed tern/tern.js tern/elements.js tern/tern.d.ts tern/wasm_exec.js tern/dist
var ternFiles embed.FS

// Paths of the JS API's files.
const (
	JSAPILoaderPath    = "/tern.js"
	JSAPIWasmPath      = "/tern.wasm"
	JSAPITypesPath     = "/tern.d.ts"
	JSAPIDashboardPath = "/examples/dashboard"
)

// The lines of tern.js that the server replaces with wasm_exec.js and
// elements.js.
const (
	wasmExecMarker = "/*@@wasm_exec.js@@*/"
	elementsMarker = "/*@@elements.js@@*/"
)

// Names in a tern.wasm build directory (make jsapi writes the compressed
// ones into web/tern/dist).
const (
	JSAPIWasmFile   = "tern.wasm"
	JSAPIWasmBrotli = "tern.wasm.br"
	JSAPIWasmGzip   = "tern.wasm.gz"
)

// JSAPIOptions configures NewJSAPI.
type JSAPIOptions struct {
	// Dir is a directory holding tern.wasm.br and tern.wasm.gz, or a plain
	// tern.wasm, read once by NewJSAPI. Empty: the build embedded from
	// web/tern/dist.
	Dir string
	// Logger receives a line at start-up about the build.
	Logger *slog.Logger
	// Dashboard is the page served at /examples/dashboard: cmd/tern passes
	// the repository's index.html (tern.DashboardHTML), so that this
	// package does not import the root package. Nil: not served.
	Dashboard []byte
}

// JSAPI serves the JS API: a page of any origin the broker allows
// needs only <script src="http://broker:8080/tern.js">.
//
//	/tern.js             the loader (web/tern/tern.js with wasm_exec.js and elements.js inside)
//	/tern.wasm           the client (wasm/jsapi), brotli or gzip as accepted
//	/tern.d.ts           the TypeScript declarations of the API
//	/examples/dashboard  the example dashboard (index.html of the repository)
//
// The first three are sent with Access-Control-Allow-Origin: * (they are
// public, static and fetched without credentials), so that a page on
// another origin can fetch tern.wasm; whether that page may then connect
// is the broker's WebSocket origin check (--allow-origin). Every response
// has an ETag and Cache-Control: no-cache.
type JSAPI struct {
	loader, types, dashboard *jsapiFile
	wasm                     *jsapiFile // nil when tern.wasm is not built
	noWasm                   string     // why, when wasm is nil
}

// jsapiFile is one file in identity, brotli and gzip forms.
type jsapiFile struct {
	ctype string
	encoded
	cors bool
}

// NewJSAPI loads the files. It does not fail: without a tern.wasm build,
// /tern.wasm answers 404 with how to make one (tern.js reports it).
func NewJSAPI(o JSAPIOptions) *JSAPI {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &JSAPI{}
	js, err := ternLoader()
	if err != nil {
		panic("web: embedded tern.js: " + err.Error()) // a broken build
	}
	e.loader = newJSAPIFile("text/javascript; charset=utf-8", js, true)
	dts, _ := ternFiles.ReadFile("tern/tern.d.ts")
	e.types = newJSAPIFile("application/typescript; charset=utf-8", dts, true)
	if o.Dashboard != nil {
		e.dashboard = newJSAPIFile("text/html; charset=utf-8", o.Dashboard, false)
	}

	var fsys fs.FS
	src := "embedded web/tern/dist"
	if o.Dir != "" {
		fsys, src = os.DirFS(o.Dir), o.Dir
	} else {
		fsys, _ = fs.Sub(ternFiles, "tern/dist")
	}
	e.wasm, err = loadTernWasm(fsys)
	switch {
	case err == nil:
		log.Info("JS API", "loader", JSAPILoaderPath, "wasm_from", src, "size", e.wasm.size,
			"br", len(e.wasm.br), "gz", len(e.wasm.gz), "dashboard", JSAPIDashboardPath)
		if e.wasm.br == nil && e.wasm.gz == nil {
			log.Warn("tern.wasm is served uncompressed: make jsapi writes its brotli and gzip forms", "dir", src)
		}
	case errors.Is(err, fs.ErrNotExist):
		e.noWasm = "tern.wasm is not built: run make jsapi (it writes web/tern/dist), then build the broker again"
		log.Warn("JS API: tern.wasm not built; /tern.js will report it", "dir", src, "run", "make jsapi")
	default:
		e.noWasm = "tern.wasm build unusable: " + err.Error()
		log.Error("JS API: tern.wasm build unusable", "dir", src, "err", err)
	}
	return e
}

// Register mounts the handler on its paths of mux.
func (e *JSAPI) Register(mux *http.ServeMux) {
	for _, p := range []string{JSAPILoaderPath, JSAPIWasmPath, JSAPITypesPath, JSAPIDashboardPath} {
		mux.Handle("GET "+p, e)
	}
}

// ServeHTTP serves the files; other paths are 404.
func (e *JSAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch r.URL.Path {
	case JSAPILoaderPath:
		e.loader.serve(w, r)
	case JSAPITypesPath:
		e.types.serve(w, r)
	case JSAPIDashboardPath:
		if e.dashboard == nil {
			http.NotFound(w, r)
			return
		}
		e.dashboard.serve(w, r)
	case JSAPIWasmPath:
		if e.wasm == nil {
			w.Header().Set("Access-Control-Allow-Origin", "*")
			http.Error(w, e.noWasm, http.StatusNotFound)
			return
		}
		e.wasm.serve(w, r)
	default:
		http.NotFound(w, r)
	}
}

// ternLoader returns tern.js with wasm_exec.js and elements.js in place of
// their markers.
func ternLoader() ([]byte, error) {
	js, err1 := ternFiles.ReadFile("tern/tern.js")
	exec, err2 := ternFiles.ReadFile("tern/wasm_exec.js")
	elements, err3 := ternFiles.ReadFile("tern/elements.js")
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, err
	}
	for _, part := range []struct {
		marker string
		data   []byte
	}{{wasmExecMarker, exec}, {elementsMarker, elements}} {
		if bytes.Count(js, []byte(part.marker)) != 1 {
			return nil, fmt.Errorf("tern.js must hold %s once", part.marker)
		}
		js = bytes.Replace(js, []byte(part.marker), part.data, 1)
	}
	return js, nil
}

func newJSAPIFile(ctype string, data []byte, cors bool) *jsapiFile {
	sum := sha256.Sum256(data)
	return &jsapiFile{ctype: ctype, cors: cors, encoded: encoded{
		identity: data, size: len(data),
		etag: `"` + hex.EncodeToString(sum[:8]) + `"`,
		lazy: true, // compressed on first use
	}}
}

// loadTernWasm reads a tern.wasm build: its compressed forms, its plain
// form, or both. Its error wraps fs.ErrNotExist when there is none.
func loadTernWasm(fsys fs.FS) (*jsapiFile, error) {
	f := &jsapiFile{ctype: "application/wasm", cors: true}
	var errs []error
	read := func(name string) []byte {
		b, err := fs.ReadFile(fsys, name)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
		return b
	}
	f.identity, f.br, f.gz = read(JSAPIWasmFile), read(JSAPIWasmBrotli), read(JSAPIWasmGzip)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	switch {
	case f.identity != nil:
		f.size = len(f.identity)
		sum := sha256.Sum256(f.identity)
		f.etag = `"` + hex.EncodeToString(sum[:8]) + `"`
	case f.gz != nil:
		n, err := gunzipSize(f.gz)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", JSAPIWasmGzip, err)
		}
		f.size = n
		sum := sha256.Sum256(f.gz)
		f.etag = `"gz` + hex.EncodeToString(sum[:8]) + `"`
	default:
		return nil, fmt.Errorf("no %s or %s: %w", JSAPIWasmFile, JSAPIWasmGzip, fs.ErrNotExist)
	}
	return f, nil
}

func gunzipSize(gz []byte) (int, error) {
	r, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(io.Discard, r)
	return int(n), err
}

func (f *jsapiFile) serve(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Type", f.ctype)
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Content-Type-Options", "nosniff")
	if f.cors {
		hd.Set("Access-Control-Allow-Origin", "*")
		hd.Set("Cross-Origin-Resource-Policy", "cross-origin")
	}
	f.encoded.write(w, r)
}
