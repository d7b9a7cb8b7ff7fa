package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit/brokerkit"
)

// testBroker is an in-process Tern on loopback: MQTT over TCP and over
// WebSocket at /mqtt.
type testBroker struct {
	tcp, ws string
	srv     *broker.Server
}

func startBroker(t *testing.T) *testBroker {
	t.Helper()
	b := brokerkit.Start(t, nil, broker.WebSocketOptions{})
	return &testBroker{tcp: "tcp://" + b.Addr, ws: b.WS, srv: b.Server}
}

// quick returns a configuration for a short, bounded run against url.
func quick(url, scenario string) config {
	cfg := defaultConfig()
	cfg.Target = url
	cfg.Scenario = scenario
	cfg.Duration = 300 * time.Millisecond
	cfg.Pubs, cfg.Subs, cfg.Pairs = 3, 3, 3
	cfg.Conns = 50
	cfg.Retained = 300
	cfg.Settle = 50 * time.Millisecond
	cfg.Drain = 5 * time.Second
	cfg.Stall = 5 * time.Second
	cfg.BrokerPID = os.Getpid()
	return cfg
}

func mustRun(t *testing.T, cfg config) *Report {
	t.Helper()
	start := time.Now()
	rep, err := runScenario(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Error != "" {
		t.Fatalf("run failed: %s", rep.Error)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("run took %v; it should be bounded by its duration and drain", d)
	}
	return rep
}

// checkFlow checks the invariants of a throughput report from a broker
// that must not lose anything at these rates.
func checkFlow(t *testing.T, rep *Report, fanout int) {
	t.Helper()
	if rep.Sent <= 0 {
		t.Fatalf("nothing sent: %+v", rep)
	}
	if rep.Expected != rep.Sent*int64(fanout) {
		t.Errorf("expected %d deliveries for %d sent with fan-out %d", rep.Expected, rep.Sent, fanout)
	}
	if rep.Delivered != rep.Expected || rep.LossPct != 0 {
		t.Errorf("delivered %d of %d (loss %.3f %%), want all", rep.Delivered, rep.Expected, rep.LossPct)
	}
	if rep.MsgPerSec <= 0 || rep.Seconds <= 0 {
		t.Errorf("rate %v over %vs, want > 0", rep.MsgPerSec, rep.Seconds)
	}
	if !(rep.P50ms > 0 && rep.P50ms <= rep.P90ms && rep.P90ms <= rep.P99ms && rep.P99ms <= rep.MaxMs) {
		t.Errorf("latency quantiles out of order: p50 %v p90 %v p99 %v max %v", rep.P50ms, rep.P90ms, rep.P99ms, rep.MaxMs)
	}
	if rep.GenCPU <= 0 || rep.BrokerCPU <= 0 {
		t.Errorf("cpu: generator %v %%, broker %v %%, want > 0", rep.GenCPU, rep.BrokerCPU)
	}
	if rep.Dups != 0 {
		t.Errorf("%d duplicates", rep.Dups)
	}
}

func TestFlowScenarios(t *testing.T) {
	b := startBroker(t)
	for _, tc := range []struct {
		name     string
		url      string
		scenario string
		qos      int
		mqtt     string
		pubs     int
		fanout   int
	}{
		{"fan-in/tcp/qos0/3.1.1", b.tcp, "fan-in", 0, "3.1.1", 3, 1},
		{"fan-in/tcp/qos1/5", b.tcp, "fan-in", 1, "5", 3, 1},
		{"fan-in/tcp/qos2/3.1.1", b.tcp, "fan-in", 2, "3.1.1", 3, 1},
		{"fan-in/ws/qos0/5", b.ws, "fan-in", 0, "5", 3, 1},
		{"fan-in/ws/qos1/3.1.1", b.ws, "fan-in", 1, "3.1.1", 3, 1},
		{"fan-out/tcp/qos0", b.tcp, "fan-out", 0, "3.1.1", 1, 3},
		{"fan-out/tcp/qos2/5", b.tcp, "fan-out", 2, "5", 1, 3},
		{"pairs/tcp/qos0", b.tcp, "pairs", 0, "3.1.1", 3, 1},
		{"pairs/ws/qos1", b.ws, "pairs", 1, "5", 3, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := quick(tc.url, tc.scenario)
			cfg.QoS, cfg.MQTT = tc.qos, tc.mqtt
			rep := mustRun(t, cfg)
			checkFlow(t, rep, tc.fanout)
			if rep.Publishers != tc.pubs {
				t.Errorf("publishers = %d, want %d", rep.Publishers, tc.pubs)
			}
			wantTransport := "tcp"
			if strings.HasPrefix(tc.url, "ws:") {
				wantTransport = "ws"
			}
			if rep.Transport != wantTransport || rep.QoS != tc.qos {
				t.Errorf("report says %s QoS %d", rep.Transport, rep.QoS)
			}
		})
	}
}

func TestCountBound(t *testing.T) {
	b := startBroker(t)
	cfg := quick(b.tcp, "fan-in")
	cfg.Duration = time.Minute // the count ends the run long before
	cfg.Count = 500
	rep := mustRun(t, cfg)
	if rep.Sent != 500*int64(cfg.Pubs) {
		t.Errorf("sent %d, want %d", rep.Sent, 500*cfg.Pubs)
	}
	checkFlow(t, rep, 1)
}

func TestOpenLoop(t *testing.T) {
	b := startBroker(t)
	cfg := quick(b.tcp, "pairs")
	cfg.Window = 0
	cfg.Count = 2000
	rep := mustRun(t, cfg)
	if rep.Sent != 2000*int64(cfg.Pairs) || rep.Delivered > rep.Expected {
		t.Errorf("sent %d, delivered %d of %d", rep.Sent, rep.Delivered, rep.Expected)
	}
}

func TestLatency(t *testing.T) {
	b := startBroker(t)
	cfg := quick(b.tcp, "latency")
	cfg.Rate = 200
	cfg.Duration = 500 * time.Millisecond
	cfg.LatLog = filepath.Join(t.TempDir(), "lat.txt")
	rep := mustRun(t, cfg)
	checkFlow(t, rep, 1)
	// --latency-log: one line per message, its send time and latency.
	b2, err := os.ReadFile(cfg.LatLog)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b2)), "\n")
	if int64(len(lines)) != rep.Delivered {
		t.Errorf("--latency-log has %d lines, want %d (delivered)", len(lines), rep.Delivered)
	}
	var sent, lat int64
	if _, err := fmt.Sscan(lines[0], &sent, &lat); err != nil || lat <= 0 || time.Since(time.Unix(0, sent)) > time.Minute {
		t.Errorf("--latency-log line %q: send %d, latency %d, err %v", lines[0], sent, lat, err)
	}
	var total int64
	for _, n := range rep.LatHist {
		total += n
	}
	if total != rep.Delivered || rep.P999ms < rep.P99ms {
		t.Errorf("latency bands %v (sum %d, delivered %d), p99 %v, p99.9 %v", rep.LatHist, total, rep.Delivered, rep.P99ms, rep.P999ms)
	}
	// 200 msg/s for 0.5 s: about 100 messages, never a burst beyond the rate.
	if rep.Sent < 50 || rep.Sent > 102 {
		t.Errorf("sent %d messages at 200/s in 0.5 s", rep.Sent)
	}
	if rep.Rate != 200 || rep.Publishers != 1 || rep.Subscribers != 1 {
		t.Errorf("report: %+v", rep)
	}
}

func TestConnections(t *testing.T) {
	b := startBroker(t)
	for _, url := range []string{b.tcp, b.ws} {
		cfg := quick(url, "connections")
		rep := mustRun(t, cfg)
		if rep.Conns != 50 || rep.ConnectPerSec <= 0 {
			t.Errorf("%s: %d connections at %v/s", url, rep.Conns, rep.ConnectPerSec)
		}
		if rep.RSSBeforeKB <= 0 || rep.RSSAfterKB <= 0 {
			t.Errorf("%s: RSS %d -> %d KiB, want both measured", url, rep.RSSBeforeKB, rep.RSSAfterKB)
		}
	}
}

func TestRetained(t *testing.T) {
	b := startBroker(t)
	for _, url := range []string{b.tcp, b.ws} {
		cfg := quick(url, "retained")
		rep := mustRun(t, cfg)
		if !rep.RetainedComplete || rep.Delivered != 300 || rep.RetainedSeconds <= 0 {
			t.Errorf("%s: %d of 300 retained in %vs (complete %t)", url, rep.Delivered, rep.RetainedSeconds, rep.RetainedComplete)
		}
		// The run clears what it stored; give the broker the time to read
		// the clearing PUBLISH packets.
		// The store has no event for this, so poll it with a deadline.
		tick := time.NewTicker(10 * time.Millisecond)
		for deadline := time.After(5 * time.Second); b.srv.RetainedCount() != 0; {
			select {
			case <-tick.C:
				continue
			case <-deadline:
			}
			break
		}
		tick.Stop()
		if n := b.srv.RetainedCount(); n != 0 {
			t.Errorf("%s: %d retained messages left behind", url, n)
		}
	}
}

func TestRefusesNonLoopback(t *testing.T) {
	ctx := context.Background()
	for _, u := range []string{
		"tcp://192.0.2.1:1883",
		"203.0.113.7:1883",
		"tcp://0.0.0.0:1883",
		"ws://[2001:db8::1]:8080/mqtt",
		"tcp://[::]:1883",
	} {
		if _, err := parseTarget(ctx, u, ""); !errors.Is(err, errNotLoopback) {
			t.Errorf("parseTarget(%q) = %v, want errNotLoopback", u, err)
		}
	}
	for _, u := range []string{"tcp://127.0.0.1:1883", "127.0.0.2:1", "ws://[::1]:8080/mqtt", "mqtt://localhost:1883"} {
		if _, err := parseTarget(ctx, u, ""); err != nil {
			t.Errorf("parseTarget(%q) = %v, want ok", u, err)
		}
	}
	for _, u := range []string{"wss://127.0.0.1:443/mqtt", "ssl://127.0.0.1:8883", "tcp://127.0.0.1"} {
		if _, err := parseTarget(ctx, u, ""); err == nil {
			t.Errorf("parseTarget(%q) accepted", u)
		}
	}
	// The command refuses before connecting anywhere.
	var out, errOut bytes.Buffer
	if code := realMain([]string{"--url", "192.0.2.1:1883", "--duration", "1s"}, &out, &errOut); code == 0 ||
		!strings.Contains(errOut.String(), "loopback") {
		t.Errorf("exit %d, stderr %q", code, errOut.String())
	}
}

func TestFlagChecks(t *testing.T) {
	for _, args := range [][]string{
		{"--qos", "3"},
		{"--payload", "10"},
		{"--scenario", "nope"},
		{"--mqtt-version", "3.1"},
		{"--duration", "0", "--count", "0"},
		{"--scenario", "fan-in", "--latency-log", "x"},
	} {
		var out, errOut bytes.Buffer
		if code := realMain(args, &out, &errOut); code == 0 {
			t.Errorf("%v: exit 0", args)
		}
	}
}

// The hot loops allocate nothing per message.
func TestNoAllocsPerMessage(t *testing.T) {
	c := &client{v: codec.V5}
	p := newPublisher(0, c, []string{"a/b", "a/c"}, 1, false, 64)
	pkt := codec.Publish{QoS: 1, Topic: "a/b", Payload: make([]byte, 64), PacketID: 1}
	buf := make([]byte, 0, 64<<10)
	var seq int64
	if n := testing.AllocsPerRun(100, func() {
		buf, seq = p.batch(buf[:0], &pkt, seq, 100, 12345)
	}); n != 0 {
		t.Errorf("encoding a batch: %v allocations", n)
	}

	s := newSubscriber(0, &client{v: codec.V5}, []*publisher{p}, "")
	in := codec.Publish{QoS: 2, Topic: "a/b", PacketID: 9, Payload: pkt.Payload}
	var out []byte
	s.hist.record(1) // the histogram's buckets are made once
	if n := testing.AllocsPerRun(100, func() {
		out = s.ack(out[:0], &in)
		_, _, ts, _ := readHeader(in.Payload)
		s.hist.record(ts)
	}); n != 0 {
		t.Errorf("handling a received message: %v allocations", n)
	}
}

func TestHistogram(t *testing.T) {
	var h histogram
	for v := int64(1); v <= 100_000; v++ {
		h.record(v * 1000) // 1 µs .. 100 ms
	}
	for _, tc := range []struct {
		q    float64
		want int64
	}{{0.5, 50_000_000}, {0.9, 90_000_000}, {0.99, 99_000_000}} {
		got := h.quantile(tc.q)
		if d := float64(got-tc.want) / float64(tc.want); d < -0.01 || d > 0.01 {
			t.Errorf("q%.2f = %d, want %d ± 1 %%", tc.q, got, tc.want)
		}
	}
	if h.max != 100_000_000 || h.quantile(1) > h.max {
		t.Errorf("max %d, q1 %d", h.max, h.quantile(1))
	}
	for v := int64(0); v < 1<<20; v = v*3/2 + 1 {
		if b := bucketOf(v); bucketLow(b) > v || bucketLow(b+1) <= v {
			t.Fatalf("value %d in bucket %d [%d, %d)", v, b, bucketLow(b), bucketLow(b+1))
		}
	}
}

func TestSummarize(t *testing.T) {
	var reps []*Report
	for _, v := range []float64{100, 120, 110} {
		reps = append(reps,
			&Report{Name: "fanin-tcp", Broker: "mosquitto", MsgPerSec: v, Expected: 1, BrokerCPU: 90, BrokerUsPerM: 8},
			&Report{Name: "fanin-tcp", Broker: "tern", MsgPerSec: 3 * v, Expected: 1, BrokerCPU: 150, BrokerUsPerM: 2},
			&Report{Name: "conns-tcp", Broker: "mosquitto", Conns: 10000, RSSPerConn: 500, ConnectPerSec: 1000, BrokerCPU: -1},
			&Report{Name: "conns-tcp", Broker: "tern", Conns: 10000, RSSPerConn: 5000, ConnectPerSec: 900, BrokerCPU: -1},
		)
	}
	var out bytes.Buffer
	summarize(&out, reps, "mosquitto", "tern")
	s := out.String()
	for _, want := range []string{
		"| QoS 0 fan-in 8→1, TCP | msg/s | 110 (100–120) | 330 (300–360) | 3.00× | ≥ 1.2×, 0 % loss | **yes** |",
		"| 10,000 idle connections, TCP | RSS bytes/conn | 500 (500–500) | 5,000 (5,000–5,000) | 10.00× | ≤ 3 KiB | no |",
		"|  | connects/s | 1,000 (1,000–1,000) | 900 (900–900) | 0.90× | ≥ 1× | no |",
		"| QoS 0 fan-in 8→1, TCP | 90 % | 150 % | 8.00 µs | 2.00 µs |",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
}

func TestHistogramBands(t *testing.T) {
	var h histogram
	for _, us := range []int64{10, 50, 51, 100, 400, 999, 1500, 6000, 90_000} {
		h.record(us * 1000)
	}
	for _, tc := range []struct {
		bounds []int64
		want   []int64
	}{
		{[]int64{50, 100, 1000}, []int64{2, 2, 2, 3}},
		{latBands, []int64{2, 1, 1, 0, 0, 0, 1, 1, 1, 0, 2}},
		{nil, []int64{9}},
	} {
		got := h.bands(tc.bounds)
		if !slices.Equal(got, tc.want) {
			t.Errorf("bands(%v) = %v, want %v", tc.bounds, got, tc.want)
		}
	}
	var r Report
	r.Scenario = "latency"
	r.setLatency(&h)
	if len(r.LatHist) != len(latBands)+1 || !(r.P99ms <= r.P999ms && r.P999ms <= r.MaxMs) {
		t.Errorf("latency report: bands %v, p99 %v p99.9 %v max %v", r.LatHist, r.P99ms, r.P999ms, r.MaxMs)
	}
}
