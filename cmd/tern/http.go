package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	tern "github.com/ternmq/tern"
	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/web"
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
// /mqtt, a health check at /healthz, Prometheus metrics at /metrics, the
// admin API at /api/v1/, and the web client at /. With tlsCfg
// it is meant to be started with ServeTLS.
func newHTTPServer(srv *broker.Server, cfg config, log *slog.Logger, tlsCfg *tls.Config, files *tlsFiles, sec *security) *http.Server {
	mux := http.NewServeMux()
	// /metrics and the admin API (metrics.go, admin.go).
	mux.Handle("GET /metrics", metricsHandler(srv, files, sec, cfg.MetricsAuth, log.With("listener", "http")))
	(&adminAPI{srv: srv, sec: sec, admins: adminSet(cfg.Admins), log: log.With("component", "admin")}).register(mux)
	mux.Handle("/mqtt", srv.WebSocketHandler(broker.WebSocketOptions{OriginPatterns: cfg.AllowOrigins}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, "ok")
	})
	// The web client (package web) at / and its other routes, with its
	// assets; every other path is 404.
	mux.Handle("/", web.Handler(web.Options{MQTTPath: "/mqtt", Logger: log.With("listener", "http")}))
	// The JS API (web/jsapi.go): /tern.js, /tern.wasm, /tern.d.ts
	// and the example dashboard at /examples/dashboard.
	web.NewJSAPI(web.JSAPIOptions{Logger: log.With("listener", "http"), Dashboard: tern.DashboardHTML}).Register(mux)
	// Security headers on everything but the WebSocket endpoint, which
	// hijacks its connection.
	secure := web.Secure(mux, web.Policy{InlineScripts: web.InlineScriptHashes(tern.DashboardHTML), Connect: cfg.WebConnect})
	top := http.NewServeMux()
	top.Handle("/mqtt", mux)
	top.Handle("/", secure)
	hs := &http.Server{
		Handler:           top,
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

// wsURL turns an http:// or https:// base URL into ws:// or wss://.
func wsURL(base string) string {
	if rest, ok := strings.CutPrefix(base, "https://"); ok {
		return "wss://" + rest
	}
	return "ws://" + strings.TrimPrefix(base, "http://")
}

// checkConnectSources refuses a --web-connect source that would not be
// one CSP source expression: a scheme ("wss:") or a scheme and host
// ("wss://broker.example.com:8081", "wss://*.example.com"), nothing that
// could end the directive or the header.
func checkConnectSources(sources []string) error {
	for _, c := range sources {
		scheme, rest, _ := strings.Cut(c, ":")
		if !slices.Contains([]string{"ws", "wss", "http", "https"}, scheme) {
			return fmt.Errorf("%q: want ws:, wss:, or a URL such as wss://broker.example.com:8081", c)
		}
		if rest != "" && (!strings.HasPrefix(rest, "//") || strings.ContainsAny(rest, " \t;,'\"\r\n")) {
			return fmt.Errorf("%q: want a scheme and host, such as wss://broker.example.com:8081", c)
		}
	}
	return nil
}
