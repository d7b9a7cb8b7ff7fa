package main

import (
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
	"github.com/ternmq/tern/internal/testkit/brokerkit"
)

// wantFamilies are the families /metrics must have, with their types
// (issue 15, item 2).
var wantFamilies = map[string]dto.MetricType{
	"tern_connections":                              dto.MetricType_GAUGE,
	"tern_connections_max":                          dto.MetricType_GAUGE,
	"tern_connections_accepted_total":               dto.MetricType_COUNTER,
	"tern_sessions":                                 dto.MetricType_GAUGE,
	"tern_sessions_online_max":                      dto.MetricType_GAUGE,
	"tern_sessions_expired_total":                   dto.MetricType_COUNTER,
	"tern_connect_attempts_total":                   dto.MetricType_COUNTER,
	"tern_connack_refused_total":                    dto.MetricType_COUNTER,
	"tern_authentication_failures_total":            dto.MetricType_COUNTER,
	"tern_authorization_denied_total":               dto.MetricType_COUNTER,
	"tern_disconnects_total":                        dto.MetricType_COUNTER,
	"tern_publish_received_total":                   dto.MetricType_COUNTER,
	"tern_publish_sent_total":                       dto.MetricType_COUNTER,
	"tern_publish_received_bytes_total":             dto.MetricType_COUNTER,
	"tern_publish_sent_bytes_total":                 dto.MetricType_COUNTER,
	"tern_packets_received_total":                   dto.MetricType_COUNTER,
	"tern_packets_sent_total":                       dto.MetricType_COUNTER,
	"tern_received_bytes_total":                     dto.MetricType_COUNTER,
	"tern_sent_bytes_total":                         dto.MetricType_COUNTER,
	"tern_messages_dropped_total":                   dto.MetricType_COUNTER,
	"tern_subscriptions":                            dto.MetricType_GAUGE,
	"tern_shared_subscriptions":                     dto.MetricType_GAUGE,
	"tern_retained_messages":                        dto.MetricType_GAUGE,
	"tern_retained_bytes":                           dto.MetricType_GAUGE,
	"tern_queued_messages":                          dto.MetricType_GAUGE,
	"tern_inflight_messages":                        dto.MetricType_GAUGE,
	"tern_session_takeovers_total":                  dto.MetricType_COUNTER,
	"tern_store_commit_duration_seconds":            dto.MetricType_HISTOGRAM,
	"tern_store_size_bytes":                         dto.MetricType_GAUGE,
	"tern_store_errors_total":                       dto.MetricType_COUNTER,
	"tern_tls_certificate_expiry_timestamp_seconds": dto.MetricType_GAUGE,
	"tern_uptime_seconds":                           dto.MetricType_GAUGE,
	"go_goroutines":                                 dto.MetricType_GAUGE,
	"go_memstats_alloc_bytes":                       dto.MetricType_GAUGE,
	"process_cpu_seconds_total":                     dto.MetricType_COUNTER,
	"process_open_fds":                              dto.MetricType_GAUGE,
}

// scrape fetches and parses /metrics with the Prometheus text parser.
func scrape(t *testing.T, c *http.Client, url, user string) map[string]*dto.MetricFamily {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if user != "" {
		req.SetBasicAuth(user, user)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// value returns the value of the sample of family name whose labels
// include the given name=value pairs (all samples summed when none).
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
	sum := 0.0
	for _, m := range f.Metric {
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.Label {
				found = found || lp.GetName() == labels[i] && lp.GetValue() == labels[i+1]
			}
			match = match && found
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

// TestMetrics: /metrics (behind basic auth) has every family of item 2
// with the right type, and under a scripted load the counters move:
// PUBLISH by QoS, bytes, refused CONNECTs by reason, authentication and
// authorization failures, take-overs, disconnects by reason, store
// commits, and drops for no subscribers, a full queue, expiry, a client's
// Maximum Packet Size and a full outbound buffer.
func TestMetrics(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "passwd")
	writeUsers(t, users, "alice", "bob")
	certs := devCerts(t)
	cfg := config{MQTT: "127.0.0.1:0", HTTP: "127.0.0.1:0", PasswordFile: users, Data: filepath.Join(dir, "data"),
		TLSCert: filepath.Join(certs, serverCertFile), TLSKey: filepath.Join(certs, serverKeyFile),
		MetricsAuth: true, SysInterval: "0", MaxQueued: 50}
	d := startDaemonLog(t, withDefaults(cfg), testLogger())
	d.srv.Metrics() // the broker answers before the first scrape
	addr := d.addrs["mqtt"]
	client := httpClient(t, &tls.Config{RootCAs: caPool(t, certs)})
	url := "https://" + d.addrs["http"] + "/metrics"

	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /metrics without credentials: %s, want 401", resp.Status)
	}
	before := scrape(t, client, url, "alice")
	for name, typ := range wantFamilies {
		f := before[name]
		switch {
		case f == nil:
			t.Errorf("family %s missing", name)
		case f.GetType() != typ:
			t.Errorf("family %s is a %v, want %v", name, f.GetType(), typ)
		}
	}

	scriptedLoad(t, addr, d.srv)

	after := scrape(t, client, url, "alice")
	grew := func(name string, min float64, labels ...string) {
		t.Helper()
		if delta := value(after, name, labels...) - value(before, name, labels...); delta < min {
			t.Errorf("%s%v grew by %v, want at least %v", name, labels, delta, min)
		}
	}
	grew("tern_publish_received_total", 20, "qos", "1")
	grew("tern_publish_received_total", 1, "qos", "0")
	grew("tern_publish_sent_total", 1, "qos", "1")
	grew("tern_received_bytes_total", 1000)
	grew("tern_sent_bytes_total", 1000)
	grew("tern_connect_attempts_total", 8)
	grew("tern_connack_refused_total", 2, "reason", "bad_user_name_or_password")
	grew("tern_authentication_failures_total", 2)
	grew("tern_authorization_denied_total", 1, "access", "write")
	grew("tern_session_takeovers_total", 1)
	grew("tern_disconnects_total", 1, "reason", "session_taken_over")
	grew("tern_disconnects_total", 1, "reason", "client")
	grew("tern_disconnects_total", 2, "reason", "connect_refused")
	grew("tern_messages_dropped_total", 1, "reason", "no_subscribers")
	grew("tern_messages_dropped_total", 1, "reason", "queue_full")
	grew("tern_messages_dropped_total", 1, "reason", "expired")
	grew("tern_messages_dropped_total", 1, "reason", "too_large")
	grew("tern_messages_dropped_total", 1, "reason", "outbound_buffer_full")
	grew("tern_store_commit_duration_seconds", 1)
	if v := value(after, "tern_sessions", "state", "offline"); v < 2 {
		t.Errorf("offline sessions %v, want at least 2", v)
	}
	if v := value(after, "tern_subscriptions"); v < 2 {
		t.Errorf("subscriptions %v, want at least 2", v)
	}
	if v := value(after, "tern_store_size_bytes"); v <= 0 {
		t.Errorf("store size %v", v)
	}
	if v := value(after, "tern_tls_certificate_expiry_timestamp_seconds"); v < 1e9 {
		t.Errorf("certificate expiry %v", v)
	}
}

// scriptedLoad runs the load of TestMetrics against the broker at addr.
func scriptedLoad(t *testing.T, addr string, srv *broker.Server) {
	login := func(id, user string) *codec.Connect {
		return &codec.Connect{Version: codec.V5, ClientID: id, CleanStart: true, Username: user, Password: []byte(user)}
	}
	// Two refused CONNECTs, 5.0 and 3.1.1 (0x86, 0x04).
	for _, v := range []codec.Version{codec.V5, codec.V311} {
		p := testkit.Dial(t, addr, v)
		p.Send(t, &codec.Connect{Version: v, ClientID: "mallory", CleanStart: true, Username: "alice", Password: []byte("wrong")})
		if ack := testkit.Expect[*codec.Connack](t, p); ack.ReasonCode == codec.Success {
			t.Fatal("wrong password accepted")
		}
		p.ExpectClosed(t)
	}
	// Two offline persistent sessions: one whose queue (--max-queued 50)
	// overflows, one whose message expires while it waits.
	persistent := func(id, filter string) *codec.Connect {
		c := login(id, "bob")
		c.CleanStart, c.Properties.SessionExpiryInterval = false, 3600
		c.Properties.Mark(codec.PropSessionExpiryInterval)
		if filter != "" {
			off := testkit.Dial(t, addr, codec.V5)
			off.Connect(t, c)
			off.Subscribe(t, 1, filter)
			off.Disconnect(t)
			// Messages published from here on must find the session
			// offline, not in flight on a connection that is closing.
			testkit.WaitFor(t, brokerkit.Offline(t, srv, id), id+" offline")
		}
		return c
	}
	persistent("offline", "q/#")
	persistent("offline2", "e/#")

	pub := testkit.Dial(t, addr, codec.V5)
	pub.Connect(t, login("pub", "alice"))
	pub.Publish(t, 0, "nobody/listens", "x")
	exp := &codec.Publish{QoS: 1, Topic: "e/expiring", Payload: []byte("short-lived")}
	exp.Properties.MessageExpiryInterval = 0
	exp.Properties.Mark(codec.PropMessageExpiryInterval)
	pub.PublishWith(t, exp)
	for range 20 {
		pub.Publish(t, 1, "q/data", strings.Repeat("d", 100))
	}
	// $SYS is the broker's: denied.
	pub.Send(t, &codec.Publish{QoS: 1, PacketID: 99, Topic: "$SYS/x", Payload: []byte("no")})
	if a := pub.ExpectAck(t, codec.PUBACK); a.ReasonCode != codec.NotAuthorized {
		t.Errorf("PUBACK %v for $SYS, want 0x87", a.ReasonCode)
	}

	// The queue of 50 overflows (queue_full).
	for range 40 {
		pub.Publish(t, 1, "q/flood", "f")
	}
	// The expired message is dropped when its session comes back
	// (expired); the next one is delivered.
	pub.Publish(t, 1, "e/after", "fresh")
	back := testkit.Dial(t, addr, codec.V5)
	back.Connect(t, persistent("offline2", ""))
	back.ExpectMessage(t, "e/after", "fresh")
	back.Disconnect(t)

	// Too large for a client's Maximum Packet Size.
	small := testkit.Dial(t, addr, codec.V5)
	c := login("small", "bob")
	c.Properties.MaximumPacketSize = 64
	small.Connect(t, c)
	small.Subscribe(t, 0, "big")
	pub.Publish(t, 0, "big", strings.Repeat("b", 200))
	pub.Publish(t, 0, "big", "ok")
	small.ExpectMessage(t, "big", "ok")

	// A subscriber that never reads: QoS 0 messages beyond its outbound
	// buffer (4 MiB) and the socket buffers are dropped.
	stuck, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	b, _ := login("stuck", "bob").Append(nil, codec.V5)
	b, _ = (&codec.Subscribe{PacketID: 1, Subscriptions: []codec.Subscription{{Filter: "flood"}}}).Append(b, codec.V5)
	stuck.Write(b)
	sr := codec.NewReader(stuck, 0)
	sr.SetVersion(codec.V5)
	for range 2 { // CONNACK, SUBACK; then it reads no more
		if _, err := sr.ReadPacket(); err != nil {
			t.Fatal(err)
		}
	}
	big := strings.Repeat("z", 256<<10)
	watch := testkit.Dial(t, addr, codec.V5)
	watch.Connect(t, login("watch", "alice"))
	watch.Subscribe(t, 0, "flood-done")
	for range 160 { // 40 MiB
		pub.Publish(t, 0, "flood", big)
	}
	pub.Publish(t, 0, "flood-done", "")
	watch.ExpectMessage(t, "flood-done", "")

	// Take-over, then a normal DISCONNECT.
	a := testkit.Dial(t, addr, codec.V5)
	a.Connect(t, login("twin", "alice"))
	b2 := testkit.Dial(t, addr, codec.V5)
	b2.Connect(t, login("twin", "alice"))
	if dc := testkit.Expect[*codec.Disconnect](t, a); dc.ReasonCode != codec.SessionTakenOver {
		t.Errorf("DISCONNECT %v, want 0x8E", dc.ReasonCode)
	}
	b2.Disconnect(t)
	pub.Disconnect(t)
}

// withDefaults fills in the settings cfg leaves empty from defaults().
func withDefaults(cfg config) config {
	def := defaults()
	if cfg.ConnectTimeout == "" {
		cfg.ConnectTimeout = def.ConnectTimeout
	}
	if cfg.ReceiveMaximum == 0 {
		cfg.ReceiveMaximum = def.ReceiveMaximum
	}
	if cfg.MaxPacketSize == 0 {
		cfg.MaxPacketSize = def.MaxPacketSize
	}
	if cfg.MaxInflight == 0 {
		cfg.MaxInflight = def.MaxInflight
	}
	if cfg.MaxQueued == 0 {
		cfg.MaxQueued = def.MaxQueued
	}
	return cfg
}

// testLogger logs to stderr under -v, and nowhere otherwise.
func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}
