package web

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"regexp"
	"strings"
)

// Policy is what the Content-Security-Policy of Secure allows beyond the
// broker's own origin.
type Policy struct {
	// InlineScripts are the CSP source expressions ('sha256-...') of the
	// inline scripts a page may run (see InlineScriptHashes).
	InlineScripts []string
	// Connect are further connect-src sources: the brokers the web client
	// may open WebSocket connections to besides its own origin, for
	// example "wss://broker.example.com:8081", or "ws:" and "wss:" for
	// any broker.
	Connect []string
}

// Secure wraps h so that every response carries the headers that keep
// other sites from framing or sniffing the broker's pages, and every HTML
// response a Content-Security-Policy that allows the broker's own origin
// and what p adds: scripts from it (and the WebAssembly they compile),
// connections to it (HTTP and WebSocket) and to p.Connect, images, styles,
// workers and the manifest. Inline scripts are refused unless their
// SHA-256 is in p.InlineScripts, so a page that the broker serves can
// carry a small inline script without opening the door to injected ones.
// Inline styles are allowed: the UI sets style attributes.
//
// Do not wrap the WebSocket endpoint: it hijacks the connection.
func Secure(h http.Handler, p Policy) http.Handler {
	script := "'self' 'wasm-unsafe-eval'"
	for _, s := range p.InlineScripts {
		script += " '" + s + "'"
	}
	var connect string
	for _, c := range p.Connect {
		connect += " " + c
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "SAMEORIGIN")
		hd.Set("Referrer-Policy", "same-origin")
		csp := "default-src 'self'; script-src " + script +
			"; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:" +
			"; connect-src 'self' ws://" + r.Host + " wss://" + r.Host + connect +
			"; worker-src 'self'; manifest-src 'self'; object-src 'none'" +
			"; base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
		h.ServeHTTP(&cspWriter{ResponseWriter: w, csp: csp}, r)
	})
}

// cspWriter adds the Content-Security-Policy to an HTML response when its
// header is written.
type cspWriter struct {
	http.ResponseWriter
	csp   string
	wrote bool
}

func (w *cspWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		if ct := w.Header().Get("Content-Type"); strings.HasPrefix(ct, "text/html") {
			w.Header().Set("Content-Security-Policy", w.csp)
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *cspWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", http.DetectContentType(b))
		}
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *cspWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

var inlineScript = regexp.MustCompile(`(?s)<script(?:\s[^>]*)?>(.*?)</script>`)

// InlineScriptHashes returns the CSP source expressions ('sha256-...') of
// the inline scripts of an HTML page, for Secure.
func InlineScriptHashes(page []byte) []string {
	var out []string
	for _, m := range inlineScript.FindAllSubmatch(page, -1) {
		if len(m[1]) == 0 {
			continue // <script src=...></script>
		}
		sum := sha256.Sum256(m[1])
		out = append(out, "sha256-"+base64.StdEncoding.EncodeToString(sum[:]))
	}
	return out
}
