// Command tern runs the Tern MQTT broker.
//
// Usage:
//
//	tern [flags]
//
// Run tern -h for the flags. Every flag can also be set in a JSON file
// given with --config; flags on the command line win over the file.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ternmq/tern/broker"
)

// config is the broker's configuration, from flags and an optional JSON file.
type config struct {
	MQTT             string `json:"mqtt"`
	LogLevel         string `json:"log_level"`
	MaxKeepAlive     uint   `json:"max_keepalive"`
	MaxPacketSize    int    `json:"max_packet_size"`
	ConnectTimeout   string `json:"connect_timeout"`
	ReceiveMaximum   uint   `json:"receive_maximum"`
	MaxInflight      int    `json:"max_inflight"`
	MaxQueued        int    `json:"max_queued"`
	QueueQoS0        bool   `json:"queue_qos0"`
	MaxSessionExpiry uint   `json:"max_session_expiry"`
}

func defaults() config {
	return config{
		MQTT:           "127.0.0.1:1883",
		LogLevel:       "info",
		MaxPacketSize:  1 << 20,
		ConnectTimeout: "10s",
		ReceiveMaximum: 65535,
		MaxInflight:    1000,
		MaxQueued:      10000,
	}
}

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "tern:", err)
		os.Exit(1)
	}
}

// parse reads the config file named by --config, if any, and then the
// flags, which win over the file.
func parse(args []string, stderr io.Writer) (config, error) {
	cfg := defaults()
	if path := configArg(args); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return cfg, err
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cfg); err != nil {
			return cfg, fmt.Errorf("%s: %w", path, err)
		}
	}
	fs := flag.NewFlagSet("tern", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "tern is an MQTT 3.1.1 and 5.0 broker.\n\nUsage: tern [flags]\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nA JSON config file uses the flag names with '_' for '-', e.g.\n  {\"mqtt\": \"0.0.0.0:1883\", \"max_keepalive\": 120}\n")
	}
	fs.String("config", "", "read settings from this JSON `file` first; flags given on the command line win")
	fs.StringVar(&cfg.MQTT, "mqtt", cfg.MQTT, "listen for MQTT over TCP on this `address` (empty: off)")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "log `level`: debug, info, warn or error")
	fs.UintVar(&cfg.MaxKeepAlive, "max-keepalive", cfg.MaxKeepAlive, "cap client Keep Alive at this many `seconds`, announced to 5.0 clients as Server Keep Alive (0: no cap)")
	fs.IntVar(&cfg.MaxPacketSize, "max-packet-size", cfg.MaxPacketSize, "largest packet accepted from a client, in `bytes`")
	fs.StringVar(&cfg.ConnectTimeout, "connect-timeout", cfg.ConnectTimeout, "`time` a new connection has to send CONNECT")
	fs.UintVar(&cfg.ReceiveMaximum, "receive-maximum", cfg.ReceiveMaximum, "unacknowledged QoS 1/2 messages a 5.0 client may send at once")
	fs.IntVar(&cfg.MaxInflight, "max-inflight", cfg.MaxInflight, "unacknowledged QoS 1/2 messages sent to one client at once")
	fs.IntVar(&cfg.MaxQueued, "max-queued", cfg.MaxQueued, "messages queued per session before the oldest are dropped")
	fs.BoolVar(&cfg.QueueQoS0, "queue-qos0", cfg.QueueQoS0, "also queue QoS 0 messages for offline persistent sessions")
	fs.UintVar(&cfg.MaxSessionExpiry, "max-session-expiry", cfg.MaxSessionExpiry, "cap Session Expiry Interval at this many `seconds` (0: no cap)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return cfg, nil
}

// configArg finds the value of --config (or -config) in args.
func configArg(args []string) string {
	for i, a := range args {
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "config" {
			continue
		}
		if hasValue {
			return value
		}
		if i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

func (c config) options(log *slog.Logger) (broker.Options, error) {
	timeout, err := time.ParseDuration(c.ConnectTimeout)
	if err != nil {
		return broker.Options{}, fmt.Errorf("connect-timeout: %w", err)
	}
	if c.MaxKeepAlive > 65535 || c.ReceiveMaximum > 65535 || c.ReceiveMaximum == 0 {
		return broker.Options{}, errors.New("max-keepalive and receive-maximum must be at most 65535 (receive-maximum at least 1)")
	}
	return broker.Options{
		Logger:           log,
		ConnectTimeout:   timeout,
		MaxKeepAlive:     uint16(c.MaxKeepAlive),
		MaxPacketSize:    c.MaxPacketSize,
		ReceiveMaximum:   uint16(c.ReceiveMaximum),
		MaxInflight:      c.MaxInflight,
		MaxQueued:        c.MaxQueued,
		QueueQoS0:        c.QueueQoS0,
		MaxSessionExpiry: uint32(c.MaxSessionExpiry),
	}, nil
}

func run(args []string, stderr io.Writer) error {
	cfg, err := parse(args, stderr)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return fmt.Errorf("log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	opts, err := cfg.options(log)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	srv := broker.New(opts)
	errc := make(chan error, 1)
	if cfg.MQTT != "" {
		ln, err := net.Listen("tcp", cfg.MQTT)
		if err != nil {
			return err
		}
		log.Info("MQTT over TCP", "addr", ln.Addr().String(),
			"try", fmt.Sprintf("mosquitto_sub -h %s -p %d -t '#' -v", host(ln.Addr()), port(ln.Addr())))
		go func() { errc <- srv.Serve(ctx, ln) }()
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, broker.ErrServerClosed) {
			return err
		}
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

func host(a net.Addr) string {
	h, _, _ := net.SplitHostPort(a.String())
	return h
}

func port(a net.Addr) int {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.Port
	}
	return 0
}
