package main

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/ternmq/tern/broker"
)

// HTTP server limits. WebSocket connections leave the http.Server when
// they are upgraded (the deadlines below are cleared then); from there on
// the broker's CONNECT deadline and keep-alive watch them.
const (
	httpReadHeaderTimeout = 10 * time.Second // slow or silent peers, TLS handshake included
	httpIdleTimeout       = 2 * time.Minute
	httpMaxHeaderBytes    = 64 << 10
)

// newHTTPServer returns the server for --http: MQTT over WebSocket at
// /mqtt, a health check at /healthz, and the web client at /. With tlsCfg
// it is meant to be started with ServeTLS.
func newHTTPServer(srv *broker.Server, cfg config, log *slog.Logger, tlsCfg *tls.Config) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("/mqtt", srv.WebSocketHandler(broker.WebSocketOptions{OriginPatterns: cfg.AllowOrigins}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, "ok")
	})
	// The web client will be served from here (the web/ package); until
	// then / is a short page that says where MQTT over WebSocket is, and
	// every other path is 404.
	mux.HandleFunc("GET /{$}", placeholderPage)
	hs := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: httpReadHeaderTimeout,
		IdleTimeout:       httpIdleTimeout,
		MaxHeaderBytes:    httpMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.With("listener", "http").Handler(), slog.LevelWarn),
	}
	if tlsCfg != nil {
		hs.TLSConfig = tlsCfg.Clone()
	}
	return hs
}

const placeholderHTML = `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>Tern MQTT broker</title>
<h1>Tern MQTT broker</h1>
<p>The web client is not part of this build yet.</p>
<p>MQTT over WebSocket: <code>/mqtt</code> on this host and port (subprotocol <code>mqtt</code>).
Health check: <a href="/healthz"><code>/healthz</code></a>.</p>
</html>
`

func placeholderPage(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, placeholderHTML)
}

// wsURL turns an http:// or https:// base URL into ws:// or wss://.
func wsURL(base string) string {
	if rest, ok := strings.CutPrefix(base, "https://"); ok {
		return "wss://" + rest
	}
	return "ws://" + strings.TrimPrefix(base, "http://")
}
