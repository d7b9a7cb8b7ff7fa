// Command tern runs the Tern MQTT broker.
//
// Usage:
//
//	tern [flags]
//	tern gencert [-dir DIR] [-host list]
//	tern passwd [-c | -D | -U] [-b] [-I iterations] [-H hash] FILE [USER [PASSWORD]]
//
// Run tern -h for the flags. Every flag can also be set in a JSON file
// given with --config; flags on the command line win over the file.
//
// tern listens for MQTT over TCP (--mqtt), MQTT over TLS (--mqtts, with
// --tls-cert and --tls-key), and on one HTTP port (--http) for MQTT over
// WebSocket at /mqtt, /healthz, and the web client at /; with a
// certificate that port speaks HTTPS and secure WebSocket. tern gencert
// writes a development CA and a certificate for localhost.
//
// tern keeps persistent sessions, their queued and in-flight messages and
// retained messages in a durable store in the directory given by --data
// (default tern-data in the working directory, created on first start);
// a QoS 1 or 2 message is acknowledged only once it is synced to disk.
// --in-memory (or --data "") runs without a disk.
//
// --cluster joins a cluster of tern nodes over NATS with JetStream: each
// node embeds a nats-server routed to the others (--cluster-node,
// --cluster-listen, --cluster-routes; JetStream's files in cluster/ under
// --data; the routes secured with --cluster-user and --cluster-password
// and mutual TLS, --cluster-tls-cert, --cluster-tls-key, --cluster-tls-ca)
// or connects to an existing NATS cluster (--cluster-nats-url). Without
// --cluster nothing of NATS runs. See cluster.go.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/broker/bridge"
	"github.com/ternmq/tern/broker/cluster"
	"github.com/ternmq/tern/codec"
)

// config is the broker's configuration, from flags and an optional JSON file.
type config struct {
	MQTT             string   `json:"mqtt"`
	MQTTS            string   `json:"mqtts"`
	HTTP             string   `json:"http"`
	AllowOrigins     []string `json:"allow_origins"`
	WebConnect       []string `json:"web_connect"`
	TLSCert          string   `json:"tls_cert"`
	TLSKey           string   `json:"tls_key"`
	TLSClientCA      string   `json:"tls_client_ca"`
	LogLevel         string   `json:"log_level"`
	LogFormat        string   `json:"log_format"` // text or json
	Pprof            string   `json:"pprof"`      // profiling, see pprof.go
	MaxKeepAlive     uint     `json:"max_keepalive"`
	MaxPacketSize    int      `json:"max_packet_size"`
	ConnectTimeout   string   `json:"connect_timeout"`
	ReceiveMaximum   uint     `json:"receive_maximum"`
	MaxInflight      int      `json:"max_inflight"`
	MaxQueued        int      `json:"max_queued"`
	QueueQoS0        bool     `json:"queue_qos0"`
	MaxSessionExpiry uint     `json:"max_session_expiry"`
	PasswordFile     string   `json:"password_file"`   // Mosquitto-format password file
	ACLFile          string   `json:"acl_file"`        // Mosquitto-format ACL file
	AllowAnonymous   bool     `json:"allow_anonymous"` // clients without a username may connect
	Data             string   `json:"data"`            // durable store directory; "" runs in memory
	InMemory         bool     `json:"in_memory"`       // run in memory whatever Data says
	MaxConnections   int      `json:"max_connections"` // 0: no limit

	// What the broker supports, as Mosquitto's max_qos and retain_available;
	// nil (the zero value) supports everything.
	MaxQoS          *int  `json:"max_qos"`          // 0, 1 or 2 (nil: 2)
	RetainAvailable *bool `json:"retain_available"` // false turns retained messages off (nil: true)

	// Set from --mosquitto-conf (mosquitto.go), not from flags or JSON.
	HTTPPlain     bool     `json:"-"` // the HTTP port stays plain when a certificate is set
	mosquittoNote []string // options of the file that have no effect, for the one warning
	mosquittoFile string
	SysInterval   string   `json:"sys_interval"` // $SYS publishing interval; "0" turns it off
	SysPresence   bool     `json:"sys_presence"` // $SYS/broker/clients/<id>/{connected,disconnected} events
	Admins        []string `json:"admins"`       // users of the password file allowed to use the admin API
	MetricsAuth   bool     `json:"metrics_auth"` // /metrics needs basic credentials of the password file

	Bridges []bridge.Config `json:"bridges"` // bridges to other brokers, config file only (see README)

	clusterOptions // --cluster and the cluster-* options (cluster.go)
}

func defaults() config {
	return config{
		MQTT:           "127.0.0.1:1883",
		MQTTS:          "127.0.0.1:8883",
		HTTP:           "127.0.0.1:8080",
		LogLevel:       "info",
		LogFormat:      "text",
		MaxPacketSize:  1 << 20,
		ConnectTimeout: "10s",
		ReceiveMaximum: 65535,
		MaxInflight:    1000,
		MaxQueued:      10000,
		Data:           "tern-data",
		WebConnect:     []string{"ws:", "wss:"},
		SysInterval:    "10s",
	}
}

func main() {
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == "gencert":
		err = gencert(os.Args[2:], os.Stdout, os.Stderr)
	case len(os.Args) > 1 && os.Args[1] == "passwd":
		err = passwdMain(os.Args[2:], os.Stdin, os.Stdout, os.Stderr)
	default:
		err = run(os.Args[1:], os.Stderr)
	}
	if err != nil {
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
	mconf := flagArg(args, "mosquitto-conf")
	if mconf != "" {
		if flagArg(args, "config") != "" {
			return cfg, errors.New("--config and --mosquitto-conf cannot be used together")
		}
		if err := cfg.applyMosquitto(mconf); err != nil {
			return cfg, err
		}
	}
	if path := flagArg(args, "config"); path != "" {
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
		fmt.Fprintf(stderr, "tern is an MQTT 3.1.1 and 5.0 broker.\n\nUsage:\n  tern [flags]\n  tern gencert [-dir DIR] [-host list]   write a development CA and certificate (tern gencert -h)\n  tern passwd [-c|-D|-U] [-b] FILE USER  edit a Mosquitto-format password file (tern passwd -h)\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nA JSON config file uses the flag names with '_' for '-', e.g.\n  {\"mqtt\": \"0.0.0.0:1883\", \"max_keepalive\": 120, \"allow_origins\": [\"dash.example.com\"]}\n")
	}
	fs.String("config", "", "read settings from this JSON `file` first; flags given on the command line win")
	fs.String("mosquitto-conf", "", "read listeners and settings from this mosquitto.conf `file` first (see README); flags given on the command line win")
	fs.StringVar(&cfg.MQTT, "mqtt", cfg.MQTT, "listen for MQTT over TCP on this `address` (empty: off)")
	fs.StringVar(&cfg.MQTTS, "mqtts", cfg.MQTTS, "listen for MQTT over TLS on this `address` when --tls-cert and --tls-key are set (empty: off)")
	fs.StringVar(&cfg.HTTP, "http", cfg.HTTP, "serve HTTP on this `address`: MQTT over WebSocket at /mqtt, /healthz, the web client at /; HTTPS and secure WebSocket with --tls-cert (empty: off)")
	fileOrigins := true // the first --allow-origin replaces the config file's list
	fs.Func("allow-origin", "also accept WebSocket handshakes from web pages of this `origin` host pattern (repeatable or comma-separated, e.g. dash.example.com, *.example.com, https://*.example.org); same-origin pages are always accepted", func(v string) error {
		if fileOrigins {
			cfg.AllowOrigins, fileOrigins = nil, false
		}
		for o := range strings.SplitSeq(v, ",") {
			if o = strings.TrimSpace(o); o != "" {
				cfg.AllowOrigins = append(cfg.AllowOrigins, o)
			}
		}
		return nil
	})
	fileConnect := true // the first --web-connect replaces the default
	fs.Func("web-connect", "let the web client open WebSocket connections to this `source` besides its own origin (Content-Security-Policy connect-src; repeatable or comma-separated, e.g. wss://broker.example.com:8081; default ws: and wss:, any broker; self: its own origin only)", func(v string) error {
		if fileConnect {
			cfg.WebConnect, fileConnect = nil, false
		}
		for c := range strings.SplitSeq(v, ",") {
			if c = strings.TrimSpace(c); c != "" && c != "self" {
				cfg.WebConnect = append(cfg.WebConnect, c)
			}
		}
		return nil
	})
	fs.StringVar(&cfg.TLSCert, "tls-cert", cfg.TLSCert, "PEM certificate `file` (chain) for --mqtts and HTTPS; needs --tls-key")
	fs.StringVar(&cfg.TLSKey, "tls-key", cfg.TLSKey, "PEM private key `file` for --tls-cert")
	fs.StringVar(&cfg.TLSClientCA, "tls-client-ca", cfg.TLSClientCA, "require TLS clients (--mqtts and HTTPS) to present a certificate signed by a CA in this PEM `file`")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "log `level`: debug, info, warn or error")
	fs.StringVar(&cfg.LogFormat, "log-format", cfg.LogFormat, "log `format`: text (key=value) or json (one object a line)")
	fs.IntVar(&cfg.MaxConnections, "max-connections", cfg.MaxConnections, "refuse a CONNECT while this many clients are connected (0: no limit)")
	fs.StringVar(&cfg.Pprof, "pprof", cfg.Pprof, "serve net/http/pprof on this loopback `address` for profiling (empty: off)")
	fs.UintVar(&cfg.MaxKeepAlive, "max-keepalive", cfg.MaxKeepAlive, "cap client Keep Alive at this many `seconds`, announced to 5.0 clients as Server Keep Alive (0: no cap)")
	fs.IntVar(&cfg.MaxPacketSize, "max-packet-size", cfg.MaxPacketSize, "largest packet accepted from a client, in `bytes`")
	fs.StringVar(&cfg.ConnectTimeout, "connect-timeout", cfg.ConnectTimeout, "`time` a new connection has to send CONNECT")
	fs.UintVar(&cfg.ReceiveMaximum, "receive-maximum", cfg.ReceiveMaximum, "unacknowledged QoS 1/2 messages a 5.0 client may send at once")
	fs.IntVar(&cfg.MaxInflight, "max-inflight", cfg.MaxInflight, "unacknowledged QoS 1/2 messages sent to one client at once")
	fs.IntVar(&cfg.MaxQueued, "max-queued", cfg.MaxQueued, "messages queued per session before the oldest are dropped")
	fs.BoolVar(&cfg.QueueQoS0, "queue-qos0", cfg.QueueQoS0, "also queue QoS 0 messages for offline persistent sessions")
	fs.StringVar(&cfg.PasswordFile, "password-file", cfg.PasswordFile, "accept only the users of this Mosquitto-format password `file` (write one with: tern passwd -c FILE USER); reloaded on SIGHUP")
	fs.StringVar(&cfg.ACLFile, "acl-file", cfg.ACLFile, "restrict what each client may publish, subscribe to and receive with this Mosquitto-format ACL `file`; reloaded on SIGHUP")
	fs.BoolVar(&cfg.AllowAnonymous, "allow-anonymous", cfg.AllowAnonymous, "let clients without a username connect; without a password file anonymous access is on only while every listener is on a loopback address")
	fs.StringVar(&cfg.Data, "data", cfg.Data, "keep sessions, queued and retained messages in this `directory` (created on first start); \"\" runs in memory")
	fs.BoolVar(&cfg.InMemory, "in-memory", cfg.InMemory, "run without a disk: everything is lost when tern stops (same as --data \"\")")
	fs.Func("max-qos", "highest `QoS` (0, 1 or 2) the broker supports, as Mosquitto's max_qos: announced to 5.0 clients as Maximum QoS; subscriptions are granted at most this; a client publishing above it, or with a will above it, is disconnected (default 2)", func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("%q is not 0, 1 or 2", v)
		}
		cfg.MaxQoS = &n
		return nil
	})
	fs.BoolFunc("retain-available", "support retained messages; with --retain-available=false (Mosquitto's retain_available false) 5.0 clients are told Retain Available 0, and a client publishing a retained message, or with a retained will, is disconnected (default true)", func(v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		cfg.RetainAvailable = &b
		return nil
	})
	fs.UintVar(&cfg.MaxSessionExpiry, "max-session-expiry", cfg.MaxSessionExpiry, "cap Session Expiry Interval at this many `seconds` (0: no cap)")
	fs.StringVar(&cfg.SysInterval, "sys-interval", cfg.SysInterval, "publish the broker's state on $SYS/broker/... (Mosquitto's names) every `interval`, each value only when it changed (0: off)")
	fs.BoolVar(&cfg.SysPresence, "sys-presence", cfg.SysPresence, "also publish $SYS/broker/clients/<id>/connected and .../disconnected (JSON) as clients come and go")
	fileAdmins := true // the first --admin replaces the config file's list
	fs.Func("admin", "let this `user` of the password file use the admin API at /api/v1/ (repeatable; an ACL can also grant it with: topic write $CONTROL/tern/admin)", func(v string) error {
		if fileAdmins {
			cfg.Admins, fileAdmins = nil, false
		}
		cfg.Admins = append(cfg.Admins, v)
		return nil
	})
	fs.BoolVar(&cfg.MetricsAuth, "metrics-auth", cfg.MetricsAuth, "require HTTP basic credentials of a user of the password file for /metrics")
	cfg.clusterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return cfg, nil
}

// flagArg finds the value of --flag (or -flag) in args.
func flagArg(args []string, flag string) string {
	for i, a := range args {
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != flag {
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

// dataDir is the durable store's directory, "" in memory.
func (c config) dataDir() string {
	if c.InMemory {
		return ""
	}
	return c.Data
}

func (c config) options(log *slog.Logger) (broker.Options, error) {
	timeout, err := time.ParseDuration(c.ConnectTimeout)
	if err != nil {
		return broker.Options{}, fmt.Errorf("connect-timeout: %w", err)
	}
	sysInterval, err := time.ParseDuration(c.SysInterval)
	if c.SysInterval == "0" || c.SysInterval == "" {
		sysInterval, err = 0, nil
	}
	if err != nil || sysInterval < 0 {
		return broker.Options{}, fmt.Errorf("sys-interval: %q is not a duration such as 10s (0: off)", c.SysInterval)
	}
	if c.MaxKeepAlive > 65535 || c.ReceiveMaximum > 65535 || c.ReceiveMaximum == 0 {
		return broker.Options{}, errors.New("max-keepalive and receive-maximum must be at most 65535 (receive-maximum at least 1)")
	}
	if c.MaxPacketSize < 1 || c.MaxPacketSize > codec.MaxPacketSize {
		return broker.Options{}, fmt.Errorf("max-packet-size %d: must be between 1 and %d bytes, the largest packet MQTT can encode", c.MaxPacketSize, codec.MaxPacketSize)
	}
	var maxQoS *codec.QoS // nil: QoS 2, nothing announced
	if q := c.MaxQoS; q != nil {
		if *q < 0 || *q > 2 {
			return broker.Options{}, fmt.Errorf("max-qos %d: must be 0, 1 or 2", *q)
		}
		if *q < 2 {
			maxQoS = new(codec.QoS(*q))
		}
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
		MaxConnections:   c.MaxConnections,
		SysInterval:      sysInterval,
		SysPresence:      c.SysPresence,

		MaxQoS:        maxQoS,
		DisableRetain: c.RetainAvailable != nil && !*c.RetainAvailable,
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
	log, err := newLogger(stderr, cfg.LogFormat, level)
	if err != nil {
		return err
	}
	cfg.warnMosquitto(log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if cfg.Pprof != "" {
		stopPprof, err := startPprof(cfg.Pprof, log)
		if err != nil {
			return err
		}
		defer stopPprof()
	}
	d, err := start(ctx, cfg, log)
	if err != nil {
		return err
	}
	d.reparse = func() (config, error) { return parse(args, io.Discard) }
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var runErr error
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case runErr = <-d.errc:
			log.Error("listener failed", "err", runErr)
			break wait
		case <-hup:
			d.reload(ctx, log)
		}
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(runErr, d.shutdown(shutdownCtx))
}

// daemon is a running broker with its listeners.
type daemon struct {
	srv        *broker.Server
	closeStore func() error
	tls        *tlsFiles         // nil without TLS; reloaded on SIGHUP
	sec        *security         // password and ACL files, reloaded on SIGHUP
	http       *http.Server      // nil without --http
	addrs      map[string]string // bound address by listener: "mqtt", "mqtts", "http"
	errc       chan error        // a listener that stopped on its own
	done       chan struct{}     // closed when every listener goroutine has returned
	stop       chan struct{}     // closed when shutdown begins: the releaser ends
	stopOnce   sync.Once
	bridges    func()        // stops the bridges and waits for them
	node       *cluster.Node // nil without --cluster; closed after the broker

	// reparse reads the configuration again on SIGHUP (limits.go).
	reparse func() (config, error)
}

// start binds every configured listener (all or none) and serves them.
func start(ctx context.Context, cfg config, log *slog.Logger) (*daemon, error) {
	opts, err := cfg.options(log)
	if err != nil {
		return nil, err
	}
	sec, err := openSecurity(cfg, log)
	if err != nil {
		return nil, err
	}
	sec.apply(&opts)
	if err := checkBridges(cfg.Bridges); err != nil {
		return nil, err
	}
	if _, _, err := cfg.clusterConfig(cfg.dataDir()); err != nil {
		return nil, err
	}
	if err := broker.CheckOriginPatterns(cfg.AllowOrigins); err != nil {
		return nil, fmt.Errorf("allow-origin: %w", err)
	}
	if err := checkConnectSources(cfg.WebConnect); err != nil {
		return nil, fmt.Errorf("web-connect: %w", err)
	}
	files, err := cfg.tlsFiles()
	if err != nil {
		return nil, err
	}
	var tlsCfg *tls.Config
	if files != nil {
		tlsCfg = files.config()
	}
	if cfg.MQTT == "" && cfg.HTTP == "" && (tlsCfg == nil || cfg.MQTTS == "") {
		return nil, errors.New("no listener: set --mqtt, --http or --mqtts")
	}

	var lns []net.Listener
	// The MQTT listeners accept without Go's TCP keep-alive, which would
	// cost every new connection four socket options: a client that asks
	// for no MQTT keep-alive needs it, and gets it from the listening
	// socket (listen_linux.go) or from the broker (broker/conn.go).
	mqttListen, httpListen := net.ListenConfig{KeepAlive: -1, Control: broker.ListenControl}, net.ListenConfig{}
	listen := func(addr string, lc net.ListenConfig) (net.Listener, error) {
		ln, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, err
		}
		lns = append(lns, ln)
		return ln, nil
	}
	var mqttLn, mqttsLn, httpLn net.Listener
	if cfg.MQTT != "" {
		if mqttLn, err = listen(cfg.MQTT, mqttListen); err != nil {
			return nil, err
		}
	}
	if cfg.MQTTS != "" && tlsCfg != nil {
		if mqttsLn, err = listen(cfg.MQTTS, mqttListen); err != nil {
			return nil, err
		}
	}
	if cfg.HTTP != "" {
		if httpLn, err = listen(cfg.HTTP, httpListen); err != nil {
			return nil, err
		}
	}

	st, closeStore, err := openStore(cfg, log)
	var node *cluster.Node
	if err == nil {
		node, err = startCluster(ctx, cfg, log)
		if err != nil {
			closeStore()
		}
	}
	if err == nil {
		opts.Store = st
		if node != nil {
			opts.Cluster = node
		}
		var srv *broker.Server
		// Reading a large store allocates millions of objects that all stay
		// live: collect less often meanwhile (measured: 1,000,000 queued
		// and 100,000 retained messages recover in 2.0 s instead of 3.3 s).
		gc := debug.SetGCPercent(400)
		srv, err = broker.Open(ctx, opts)
		debug.SetGCPercent(gc)
		if err == nil && node != nil {
			node.Attach(srv)
		}
		var stopBridges func()
		if err == nil {
			stopBridges, err = startBridges(cfg.Bridges, srv, node, log)
		}
		if err == nil {
			d := serveAll(ctx, cfg, log, srv, closeStore, tlsCfg, files, sec, mqttLn, mqttsLn, httpLn)
			d.bridges = stopBridges
			d.node = node
			return d, nil
		}
		if node != nil {
			node.Close()
		}
		closeStore()
	}
	for _, l := range lns {
		l.Close()
	}
	return nil, err
}

// serveAll serves the bound listeners with srv.
func serveAll(ctx context.Context, cfg config, log *slog.Logger, srv *broker.Server, closeStore func() error,
	tlsCfg *tls.Config, files *tlsFiles, sec *security, mqttLn, mqttsLn, httpLn net.Listener) *daemon {
	d := &daemon{srv: srv, closeStore: closeStore, tls: files, sec: sec, addrs: map[string]string{}, errc: make(chan error, 3), done: make(chan struct{}), stop: make(chan struct{})}
	var running sync.WaitGroup
	serve := func(name string, f func() error) {
		running.Go(func() {
			if err := f(); err != nil && !errors.Is(err, broker.ErrServerClosed) && !errors.Is(err, http.ErrServerClosed) {
				d.errc <- fmt.Errorf("%s: %w", name, err)
			}
		})
	}
	if mqttLn != nil {
		d.addrs["mqtt"] = mqttLn.Addr().String()
		log.Info("MQTT over TCP", "addr", mqttLn.Addr().String(),
			"try", fmt.Sprintf("mosquitto_sub -h %s -p %d -t '#' -v", host(mqttLn.Addr()), port(mqttLn.Addr())))
		serve("mqtt", func() error { return srv.Serve(ctx, mqttLn) })
	}
	if mqttsLn != nil {
		d.addrs["mqtts"] = mqttsLn.Addr().String()
		log.Info("MQTT over TLS", "addr", mqttsLn.Addr().String(), "client_certificates", cfg.TLSClientCA != "",
			"try", fmt.Sprintf("mosquitto_sub --cafile ca.pem -h %s -p %d -t '#' -v", host(mqttsLn.Addr()), port(mqttsLn.Addr())))
		serve("mqtts", func() error { return srv.Serve(ctx, tls.NewListener(mqttsLn, tlsCfg)) })
	}
	if httpLn != nil {
		httpTLS := tlsCfg
		if cfg.HTTPPlain { // a plain WebSocket listener of a mosquitto.conf
			httpTLS = nil
		}
		d.addrs["http"] = httpLn.Addr().String()
		d.http = newHTTPServer(srv, cfg, log, httpTLS, files, sec)
		scheme := "http"
		if httpTLS != nil {
			scheme = "https"
		}
		base := fmt.Sprintf("%s://%s", scheme, httpLn.Addr().String())
		log.Info("HTTP", "addr", httpLn.Addr().String(), "websocket", wsURL(base)+"/mqtt", "health", base+"/healthz",
			"allowed_origins", strings.Join(cfg.AllowOrigins, ","))
		serve("http", func() error {
			if httpTLS != nil {
				return d.http.ServeTLS(httpLn, "", "")
			}
			return d.http.Serve(httpLn)
		})
	}
	running.Go(func() { releaseMemory(ctx, srv, log, d.stop) }) // memrelease.go
	go func() {
		running.Wait()
		close(d.done)
	}()
	return d
}

// reload re-reads the files that can change while tern runs (SIGHUP): the
// password file, the ACL file, the TLS certificate, key and client CA, and
// the limits of the configuration that can change safely (limits.go). A
// file that fails to load is reported and the old contents stay in force.
// Then connected clients whose credentials no longer pass are
// disconnected, and subscriptions the new rules refuse are removed.
func (d *daemon) reload(ctx context.Context, log *slog.Logger) {
	log.Info("reloading")
	if d.sec != nil {
		d.sec.reload(log)
	}
	if d.tls != nil {
		if err := d.tls.load(); err != nil {
			log.Error("TLS files not reloaded; the old certificate stays", "err", err)
		} else {
			log.Info("TLS certificate reloaded", "cert", d.tls.cert)
		}
	}
	d.reloadLimits(log)
	disconnected, unsubscribed := d.srv.Reauthorize(ctx)
	log.Info("reloaded", "disconnected", disconnected, "unsubscribed", unsubscribed)
}

// shutdown stops the HTTP server (new requests and handshakes), then the
// broker, which disconnects every client whatever its transport, and
// waits for the listeners to return.
func (d *daemon) shutdown(ctx context.Context) error {
	d.stopOnce.Do(func() { close(d.stop) })
	var errs []error
	if d.bridges != nil {
		d.bridges() // each bridge ends its own local session first
	}
	if d.http != nil {
		errs = append(errs, d.http.Shutdown(ctx))
	}
	errs = append(errs, d.srv.Shutdown(ctx))
	select {
	case <-d.done:
	case <-ctx.Done():
		errs = append(errs, ctx.Err())
	}
	if d.node != nil {
		d.node.Close() // after the broker: its last hooks have run
	}
	errs = append(errs, d.closeStore())
	return errors.Join(errs...)
}

// newLogger returns the logger for --log-format: slog's text handler
// (key=value) or its JSON handler (one object a line).
func newLogger(w io.Writer, format string, level slog.Level) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: level}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log-format %q: want text or json", format)
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
