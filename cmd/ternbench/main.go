// Command ternbench is Tern's load generator. It drives an MQTT broker on
// the loopback interface (any other address is refused) over TCP or
// WebSocket, with MQTT 3.1.1 or 5.0 and QoS 0, 1 or 2, and reports what
// the broker delivered, the loss, the latency and the CPU time of both
// sides over the same window.
//
// Usage:
//
//	ternbench [flags]                      run one scenario
//	ternbench --scenario restart [flags] -- BROKER [ARGS...]
//	ternbench summarize [flags] FILE...    turn JSON-line reports into a comparison table
//
// Scenarios (--scenario):
//
//	fan-in       P publishers -> 1 subscriber on a wildcard (--publishers, default 8)
//	fan-out      1 publisher -> S subscribers (--subscribers, default 16)
//	pairs        N publisher->subscriber pairs (--pairs, default 16)
//	latency      1 publisher -> 1 subscriber at a fixed --rate (default 1000 msg/s)
//	connections  K idle connections (--conns): connect rate and broker RSS per connection
//	retained     R retained messages (--retained), then the time until a new
//	             subscriber to --filter (default #) has them all
//	open-loop    P publishers -> 1 subscriber, sending on a fixed schedule of
//	             --rate messages per second in total (see openloop.go)
//	restart      starts the broker given after --, fills it with --sessions
//	             offline persistent sessions of --queued messages each and
//	             --retained retained messages, stops it (--kill term|kill),
//	             starts it again and measures the time to the first CONNACK
//	             and the RSS after recovery (see restart.go)
//	queued-memory --sessions offline persistent sessions on one topic, then
//	             --queued messages to it: broker memory per queued delivery
//	             (RSS, and the live heap with --pprof-url; see queued.go)
//	connect-rate --connectors clients (default 8) each connect, wait for the
//	             CONNACK, disconnect and start again: CONNECTs per second
//	             and CONNECT->CONNACK latency; with --users, as distinct
//	             users, first each once, then again for --warm (see login.go)
//
// Every client sends --username and --password in its CONNECT when they
// are given.
//
// Subscribers keep their session with --persistent (clean session 0, or
// a 5.0 Session Expiry Interval), and --inflight bounds each publisher's
// unacknowledged QoS 1/2 messages (a closed loop on PUBACK with --window 0).
//
// Every run is bounded by --duration and, per publisher, --count. Each
// publisher may run at most --window messages ahead of its slowest
// subscriber (0: open loop, as fast as the broker reads). The broker's CPU
// time and memory are read from /proc/PID when --broker-pid is given.
//
// The hot loops use the codec directly: a publisher encodes a batch of
// PUBLISH packets into one buffer and writes it with one call; each
// connection has one reader goroutine, which writes its acknowledgements
// once per read batch. Nothing is allocated per message.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	var err error
	if len(args) > 0 && args[0] == "summarize" {
		err = summarizeCmd(args[1:], stdout, stderr)
	} else {
		err = benchCmd(args, stdout, stderr)
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 2
	}
	fmt.Fprintln(stderr, "ternbench:", err)
	return 1
}

func parseFlags(args []string, stderr io.Writer) (config, string, error) {
	cfg := defaultConfig()
	var jsonOut string
	fs := flag.NewFlagSet("ternbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "ternbench drives an MQTT broker on loopback and reports throughput, loss, latency, CPU and memory.\n\n"+
			"Usage:\n  ternbench [flags]\n  ternbench summarize [-o FILE] FILE...   (see ternbench summarize -h)\n\nFlags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.Target, "url", cfg.Target, "broker `address`: tcp://HOST:PORT (or HOST:PORT) or ws://HOST:PORT/mqtt; HOST must be loopback")
	fs.StringVar(&cfg.Scenario, "scenario", cfg.Scenario, "fan-in, fan-out, pairs, latency, connections, retained, open-loop, restart, queued-memory or connect-rate")
	fs.IntVar(&cfg.QoS, "qos", cfg.QoS, "QoS of publications and subscriptions (0, 1, 2)")
	fs.StringVar(&cfg.MQTT, "mqtt-version", cfg.MQTT, "protocol `version`: 3.1.1 or 5")
	fs.IntVar(&cfg.Payload, "payload", cfg.Payload, "payload size in `bytes` (at least 18)")
	fs.IntVar(&cfg.Pubs, "publishers", cfg.Pubs, "fan-in: number of publishers")
	fs.IntVar(&cfg.Subs, "subscribers", cfg.Subs, "fan-out: number of subscribers")
	fs.IntVar(&cfg.Pairs, "pairs", cfg.Pairs, "pairs: number of publisher->subscriber pairs")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "how long publishers send")
	fs.Int64Var(&cfg.Count, "count", cfg.Count, "messages per publisher at most (0: until --duration)")
	fs.Float64Var(&cfg.Rate, "rate", cfg.Rate, "latency: messages per second; open-loop: messages per second offered by all publishers together")
	fs.IntVar(&cfg.Window, "window", cfg.Window, "messages a publisher may be ahead of its slowest subscriber (0: open loop)")
	fs.IntVar(&cfg.Conns, "conns", cfg.Conns, "connections: number of idle connections")
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "connections: parallel dialers")
	fs.DurationVar(&cfg.Settle, "settle", cfg.Settle, "connections: wait this long before reading the broker's RSS")
	fs.BoolVar(&cfg.Ping, "ping", cfg.Ping, "connections: then every client sends one PINGREQ and reads the PINGRESP, and the RSS is read again after --settle")
	fs.StringVar(&cfg.CAFile, "cafile", cfg.CAFile, "mqtts:// targets: PEM `file` of the CA that signed the broker's certificate")
	fs.IntVar(&cfg.Retained, "retained", cfg.Retained, "retained: number of retained messages")
	fs.StringVar(&cfg.Filter, "filter", cfg.Filter, "retained: the new subscriber's topic filter")
	fs.IntVar(&cfg.BrokerPID, "broker-pid", cfg.BrokerPID, "broker process `id`, for its CPU time and RSS from /proc (0: not measured)")
	fs.StringVar(&cfg.Broker, "broker", cfg.Broker, "label for the broker in reports (e.g. tern, mosquitto)")
	fs.StringVar(&cfg.Name, "name", cfg.Name, "label for this case in reports (used by summarize)")
	fs.DurationVar(&cfg.Drain, "drain", cfg.Drain, "after publishing, wait at most this long for messages still on their way")
	fs.DurationVar(&cfg.Stall, "stall", cfg.Stall, "give up on a window of messages (count them lost) after this long without progress")
	fs.IntVar(&cfg.Inflight, "inflight", cfg.Inflight, "QoS 1/2: unacknowledged messages per publisher at most (0: the broker's Receive Maximum)")
	fs.BoolVar(&cfg.Persistent, "persistent", cfg.Persistent, "subscribers keep their session: clean session 0 (3.1.1) or Session Expiry Interval 0xFFFFFFFF (5.0)")
	fs.IntVar(&cfg.Sessions, "sessions", cfg.Sessions, "restart, queued-memory: offline persistent sessions")
	fs.IntVar(&cfg.Queued, "queued", cfg.Queued, "restart: QoS 1 messages queued per session; queued-memory: messages published to the sessions' topic")
	fs.StringVar(&cfg.Kill, "kill", cfg.Kill, "restart: stop the broker with SIGTERM (term) or SIGKILL (kill)")
	fs.StringVar(&cfg.PprofURL, "pprof-url", cfg.PprofURL, "queued-memory: the broker's net/http/pprof `base URL` on loopback (e.g. http://127.0.0.1:6060), for its live heap")
	fs.DurationVar(&cfg.Ready, "ready", cfg.Ready, "restart: how long the broker may take to answer a CONNECT")
	fs.StringVar(&cfg.Username, "username", cfg.Username, "user `name` in every CONNECT (connect-rate with --users: the prefix of the user names)")
	fs.StringVar(&cfg.Password, "password", cfg.Password, "`password` in every CONNECT (visible in ps: for test brokers only)")
	fs.IntVar(&cfg.Users, "users", cfg.Users, "connect-rate: log in as the users --username0 .. --username(N-1), each connector its own share (0: always --username)")
	fs.IntVar(&cfg.Connectors, "connectors", cfg.Connectors, "connect-rate: clients connecting in parallel")
	fs.DurationVar(&cfg.Warm, "warm", cfg.Warm, "connect-rate with --users: after the first pass over the users, log them in again for this long (0: no second pass)")
	fs.StringVar(&cfg.LatLog, "latency-log", cfg.LatLog, "latency: write one line per message to this `file`: its send time (Unix ns, the publisher's clock) and its latency (ns)")
	fs.StringVar(&jsonOut, "json", "", "append the report as one JSON line to this `file` (- for stdout, instead of the table)")
	if err := fs.Parse(args); err != nil {
		return cfg, "", err
	}
	cfg.BrokerCmd = fs.Args()
	return cfg, jsonOut, cfg.check()
}

func benchCmd(args []string, stdout, stderr io.Writer) error {
	cfg, jsonOut, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := runScenario(ctx, cfg)
	if err != nil {
		return err
	}
	switch jsonOut {
	case "-":
		if err := writeJSON(stdout, rep); err != nil {
			return err
		}
	case "":
		writeTable(stdout, rep)
	default:
		writeTable(stdout, rep)
		f, err := os.OpenFile(jsonOut, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		werr := writeJSON(f, rep)
		if err := errors.Join(werr, f.Close()); err != nil {
			return err
		}
	}
	if rep.Error != "" {
		return errors.New(rep.Error)
	}
	return nil
}
