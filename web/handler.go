//go:build !wasm

package web

import (
	"bytes"
	"compress/gzip"
	"errors"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/maxence-charriere/go-app/v9/pkg/app"

	"github.com/ternmq/tern/wasm/uistate"
)

// WasmLengthHeader carries the uncompressed size of app.wasm, so that the
// loading progress is right although the file is sent compressed
// (app.Handler.WasmContentLengthHeader).
const WasmLengthHeader = "X-Wasm-Content-Length"

// Options configures Handler.
type Options struct {
	// Dir is a directory holding a client build (what `make wasm` writes
	// into web/dist, or a plain app.wasm). Empty: the build embedded in
	// the binary.
	Dir string
	// MQTTPath is where the same server serves MQTT over WebSocket; the
	// page dials ws(s)://<its host>/<MQTTPath> by default. Default "/mqtt".
	MQTTPath string
	// Logger receives a line at start-up about the client build.
	Logger *slog.Logger
}

// handler serves the client.
type handler struct {
	goapp    http.Handler
	wasm     *asset // nil when the client is not built
	statics  map[string]*asset
	version  string
	mqttPath string
	noBuild  string // the reason there is no client, when wasm is nil
}

// Handler returns the handler of the web client; mount it at "/". It
// serves the pages of the client's routes (other paths are 404), the
// client itself, go-app's resources and the files under /web/. It never
// fails: without a client build it serves a page that says how to make
// one.
func Handler(o Options) http.Handler {
	if o.MQTTPath == "" {
		o.MQTTPath = uistate.DefaultMQTTPath
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &handler{mqttPath: o.MQTTPath}
	var err error
	if h.statics, err = loadStatic(); err != nil {
		panic("web: embedded assets: " + err.Error()) // a broken build
	}
	src := "embedded web/dist"
	if o.Dir != "" {
		src = o.Dir
		h.wasm, err = loadWasm(os.DirFS(o.Dir))
	} else {
		h.wasm, err = loadEmbedded()
	}
	switch {
	case err == nil:
		log.Info("web client", "from", src, "size", h.wasm.size, "br", len(h.wasm.br), "gz", len(h.wasm.gz))
	case errors.Is(err, errNoBuild):
		h.noBuild = "no client build in " + src
		log.Warn("web client not built: / shows how to build it", "dir", src, "run", "make wasm")
	default:
		h.noBuild = err.Error()
		log.Error("web client build unusable", "dir", src, "err", err)
	}
	h.version = version(h.wasm, h.statics, o.MQTTPath)

	// The server answers the same routes as the browser with a
	// placeholder (see placeholder.go), so that the broker does not link
	// the UI. go-app has the service worker cache the pages' resources;
	// add the SVG icon (used by the header) and the other routes, so that
	// they open offline too.
	registerPlaceholders(o.MQTTPath)
	cacheable := []string{"/web/icon.svg"}
	for _, p := range uistate.Routes {
		if p.Path != "/" {
			cacheable = append(cacheable, p.Path)
		}
	}
	h.goapp = &app.Handler{
		Name:        "Tern MQTT web client",
		ShortName:   "Tern",
		Title:       "Tern — MQTT web client",
		Description: "Connect, subscribe, publish and watch MQTT messages from the browser.",
		Icon: app.Icon{
			Default:    "/web/icon-192.png",
			Large:      "/web/icon-512.png",
			SVG:        "/web/icon.svg",
			AppleTouch: "/web/icon-192.png",
		},
		BackgroundColor:         "#11151c",
		ThemeColor:              "#1d5fbf",
		LoadingLabel:            "Loading Tern… {progress}%",
		Styles:                  []string{"/web/tern.css", "/web/tern-tree-chat.css", "/web/tern-broker.css"}, // then: topic tree and chat; the Broker page
		CacheableResources:      cacheable,
		Env:                     app.Environment{"TERN_MQTT_PATH": o.MQTTPath},
		Version:                 h.version,
		WasmContentLengthHeader: WasmLengthHeader,
		AutoUpdateInterval:      30 * time.Minute,
		Resources:               resources{},
	}
	return h
}

// resources places go-app's files at the root and the static ones under
// /web/; this handler serves /web/ itself.
type resources struct{}

func (resources) Package() string { return "" }
func (resources) Static() string  { return "" }
func (resources) AppWASM() string { return "/web/app.wasm" }

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	switch {
	case p == "/web/app.wasm" || p == "/app.wasm" || p == "/goapp.wasm":
		if h.wasm == nil {
			http.Error(w, "the web client is not built: run make wasm", http.StatusNotFound)
			return
		}
		h.serveAsset(w, r, h.wasm)
	case strings.HasPrefix(p, "/web/"):
		if a := h.statics[p]; a != nil {
			h.serveAsset(w, r, a)
			return
		}
		http.NotFound(w, r)
	case p == "/robots.txt":
		// A broker's console is not for search engines; answered here so
		// that go-app does not fetch it from itself.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "User-agent: *\nDisallow: /\n")
	case p == "/sitemap.xml" || p == "/ads.txt":
		http.NotFound(w, r)
	case h.wasm == nil:
		h.serveNoBuild(w, r)
	default:
		h.serveGoApp(w, r)
	}
}

// serveAsset sends a, compressed when the client accepts it. Browsers
// revalidate with the ETag (Cache-Control: no-cache); the service worker
// keeps its own copy for offline use.
func (h *handler) serveAsset(w http.ResponseWriter, r *http.Request, a *asset) {
	hd := w.Header()
	hd.Set("Content-Type", a.ctype)
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Content-Type-Options", "nosniff")
	if a.ctype == "application/wasm" {
		hd.Set(WasmLengthHeader, strconv.Itoa(a.size))
	}
	a.encoded.write(w, r)
}

// serveGoApp serves a page or a go-app resource, compressing it when the
// client accepts it (go-app itself never compresses). They are small, so
// they are buffered whole; brotli at quality 5 takes well under a
// millisecond for them.
func (h *handler) serveGoApp(w http.ResponseWriter, r *http.Request) {
	enc := encoding(r)
	if enc == "" {
		h.goapp.ServeHTTP(w, r)
		return
	}
	rec := &recorder{header: make(http.Header), status: http.StatusOK}
	h.goapp.ServeHTTP(rec, r)
	hd := w.Header()
	for k, v := range rec.header {
		hd[k] = v
	}
	body := rec.body.Bytes()
	if rec.status == http.StatusOK && len(body) > 512 && compressible(hd.Get("Content-Type")) {
		if enc == "br" {
			body = encodeBrotli(body, 5)
		} else {
			body = encodeGzip(body, gzip.DefaultCompression)
		}
		hd.Set("Content-Encoding", enc)
		hd.Add("Vary", "Accept-Encoding")
		if etag := hd.Get("ETag"); etag != "" {
			hd.Set("ETag", strings.TrimSuffix(etag, `"`)+"-"+enc+`"`)
		}
	}
	if rec.status != http.StatusNotModified {
		hd.Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(rec.status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// recorder buffers a response of the go-app handler.
type recorder struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.body.Write(b)
}

var noBuildPage = template.Must(template.New("nobuild").Parse(`<!doctype html>
<html lang="en">
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tern — web client not built</title>
<link rel="icon" href="/web/icon.svg">
<link rel="stylesheet" href="/web/tern.css">
<main class="card" style="max-width:720px;margin:40px auto">
<h2>Tern MQTT broker</h2>
<p>The web client is not part of this build ({{.Reason}}).</p>
<p>Build it with <code>make wasm</code> (or <code>make run</code>), then start the broker again;
or pass a directory holding a build to the web handler.</p>
<p>MQTT over WebSocket is served at <code>{{.Path}}</code> on this host and port (subprotocol <code>mqtt</code>).</p>
</main>
</html>
`))

// serveNoBuild answers the client's pages when there is no client build.
func (h *handler) serveNoBuild(w http.ResponseWriter, r *http.Request) {
	known := false
	for _, p := range uistate.Routes {
		known = known || p.Path == r.URL.Path
	}
	if !known {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	noBuildPage.Execute(w, struct{ Reason, Path string }{h.noBuild, h.mqttPath})
}
