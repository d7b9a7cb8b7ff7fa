package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// startPprof serves the net/http/pprof handlers on addr, which must be a
// loopback address: profiles expose the broker's internals and must not
// be reachable from other machines. It is off unless --pprof is set, and
// uses its own mux and listener, apart from the broker's HTTP port.
//
//	tern --pprof 127.0.0.1:6060
//	go tool pprof 'http://127.0.0.1:6060/debug/pprof/profile?seconds=10'
func startPprof(addr string, log *slog.Logger) (stop func(), err error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("pprof: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, errors.New("pprof: the address must be on loopback (127.0.0.1, ::1 or localhost)")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Info("pprof", "addr", ln.Addr().String(), "try", "go tool pprof http://"+ln.Addr().String()+"/debug/pprof/profile?seconds=10")
	go srv.Serve(ln)
	return func() { srv.Close() }, nil
}
