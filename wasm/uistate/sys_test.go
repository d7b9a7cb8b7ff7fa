package uistate

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata")

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

// mosquittoSys is what Mosquitto 2.0 publishes first (retained) after a
// subscription to $SYS/#, a subset.
var mosquittoSys = [][2]string{
	{"$SYS/broker/version", "mosquitto version 2.0.11"},
	{"$SYS/broker/uptime", "3725 seconds"},
	{"$SYS/broker/clients/total", "3"},
	{"$SYS/broker/clients/connected", "2"},
	{"$SYS/broker/clients/disconnected", "1"},
	{"$SYS/broker/clients/maximum", "4"},
	{"$SYS/broker/messages/received", "100"},
	{"$SYS/broker/messages/sent", "40"},
	{"$SYS/broker/publish/messages/dropped", "0"},
	{"$SYS/broker/retained messages/count", "7"},
	{"$SYS/broker/store/messages/count", "9"},
	{"$SYS/broker/store/messages/bytes", "1536"},
	{"$SYS/broker/subscriptions/count", "5"},
	{"$SYS/broker/bytes/received", "2048"},
	{"$SYS/broker/bytes/sent", "1048576"},
	{"$SYS/broker/load/messages/received/1min", "12.5"},
}

func tileMap(s *Sys) map[string]Tile {
	m := map[string]Tile{}
	for _, tl := range s.Tiles() {
		m[tl.Key] = tl
	}
	return m
}

// TestSysTiles: Mosquitto's $SYS values become the page's tiles; a
// broker-specific drop topic by reason is listed under Dropped.
func TestSysTiles(t *testing.T) {
	var s Sys
	s.Subscribed(t0)
	for _, m := range mosquittoSys {
		s.Apply(m[0], []byte(m[1]), at(0.1))
	}
	s.Apply("$SYS/broker/publish/messages/dropped/queue_full", []byte("3"), at(0.1))
	s.Apply("$SYS/broker/load/publish/dropped/1min", []byte("0.5"), at(0.1))
	s.Apply("other/topic", []byte("x"), at(0.1))
	if st, _ := s.Status(); st != SysLive || s.Messages() != len(mosquittoSys)+2 {
		t.Fatalf("status %v after %d messages", st, s.Messages())
	}
	tiles := tileMap(&s)
	for key, want := range map[string]Tile{
		"version":       {Value: "mosquitto version 2.0.11"},
		"uptime":        {Value: "1h 2m 5s"},
		"clients":       {Value: "2", Detail: "total 3 · maximum 4 · disconnected 1"},
		"in":            {Value: "—", Detail: "total 100"},
		"out":           {Value: "—", Detail: "total 40"},
		"drops":         {Value: "0", Detail: "queue_full 3"},
		"retained":      {Value: "7"},
		"store":         {Value: "9", Detail: "bytes 1.5 KiB"},
		"subscriptions": {Value: "5"},
		"bytes":         {Value: "2.0 KiB / 1.0 MiB"},
	} {
		if got := tiles[key]; got.Value != want.Value || got.Detail != want.Detail {
			t.Errorf("tile %s = %q / %q, want %q / %q", key, got.Value, got.Detail, want.Value, want.Detail)
		}
	}
	if v, ok := s.Value("load/messages/received/1min"); !ok || v != "12.5" {
		t.Errorf("value of load/messages/received/1min: %q %v", v, ok)
	}
}

// TestSysRates: counters become rates per second; publish/messages/*
// wins over messages/*; a counter that stops changing falls to 0 after
// two of its intervals.
func TestSysRates(t *testing.T) {
	var s Sys
	s.Subscribed(t0)
	s.Apply("$SYS/broker/messages/received", []byte("100"), at(0))
	s.Apply("$SYS/broker/messages/received", []byte("150"), at(1))
	if got := tileMap(&s)["in"].Value; got != "50" {
		t.Fatalf("rate from messages/received: %q, want 50", got)
	}
	s.Apply("$SYS/broker/publish/messages/received", []byte("10"), at(1))
	s.Apply("$SYS/broker/publish/messages/received", []byte("30"), at(3))
	s.Apply("$SYS/broker/messages/received", []byte("1000"), at(3)) // ignored from now on
	if got := tileMap(&s)["in"].Value; got != "10" {
		t.Fatalf("rate from publish/messages/received: %q, want 10", got)
	}
	s.Apply("$SYS/broker/publish/messages/sent", []byte("0"), at(1))
	s.Apply("$SYS/broker/publish/messages/sent", []byte("5"), at(3))
	s.Tick(at(6)) // 3 s without a change: less than two intervals of 2 s
	if got := tileMap(&s)["out"].Value; got != "2.5" {
		t.Fatalf("out rate %q, want 2.5", got)
	}
	s.Tick(at(7))
	s.Tick(at(8))
	if got, n := tileMap(&s)["out"].Value, len(s.Rates()[1].Points()); got != "0" || n != 2 {
		t.Fatalf("out rate %q with %d points after 4 s without a change, want 0 once", got, n)
	}
	s.Apply("$SYS/broker/clients/connected", []byte("4"), at(8))
	if p := s.Clients()[0].Points(); len(p) != 1 || p[0].V != 4 {
		t.Errorf("clients series %v", p)
	}
}

// TestSysNone: a broker that publishes nothing under $SYS is reported
// after SysWait, not before; a late message makes it live; a refusal and
// a disconnection are reported as such.
func TestSysNone(t *testing.T) {
	var s Sys
	if st, _ := s.Status(); st != SysOff {
		t.Fatalf("zero Sys: %v", st)
	}
	s.Apply("$SYS/broker/version", []byte("x"), t0) // not subscribed: ignored
	s.Subscribed(t0)
	s.Tick(t0.Add(SysWait - time.Millisecond))
	if st, _ := s.Status(); st != SysWaiting {
		t.Fatalf("before SysWait: %v", st)
	}
	s.Tick(t0.Add(SysWait))
	if st, _ := s.Status(); st != SysNone {
		t.Fatalf("after SysWait: %v", st)
	}
	s.Apply("$SYS/broker/version", []byte("late"), t0.Add(SysWait+time.Second))
	if st, _ := s.Status(); st != SysLive {
		t.Fatalf("after a late message: %v", st)
	}
	s.Refused("Not authorized")
	if st, why := s.Status(); st != SysRefused || why != "Not authorized" {
		t.Fatalf("refused: %v %q", st, why)
	}
	s.Stop()
	if st, _ := s.Status(); st != SysOff || tileMap(&s)["version"].Value != "late" {
		t.Fatalf("stopped: %v, values kept %v", st, tileMap(&s)["version"])
	}
}

// TestSysSeriesBounded: a series keeps the last SysPoints points.
func TestSysSeriesBounded(t *testing.T) {
	var s Sys
	s.Subscribed(t0)
	for i := range SysPoints + 50 {
		s.Apply("$SYS/broker/clients/connected", []byte("1"), at(float64(i)))
	}
	p := s.Clients()[0].Points()
	if len(p) != SysPoints || p[0].At != at(50).UnixNano() {
		t.Fatalf("%d points from %v", len(p), time.Unix(0, p[0].At))
	}
}

func TestUptimeAndBytes(t *testing.T) {
	for in, want := range map[string]string{"0 seconds": "0s", "59": "59s", "61 seconds": "1m 1s", "90061 seconds": "1d 1h 1m", "soon": "soon"} {
		if got := Uptime(in); got != want {
			t.Errorf("Uptime(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"0": "0 B", "1023": "1023 B", "1024": "1.0 KiB", "5368709120": "5.0 GiB", "n/a": "n/a"} {
		if got := Bytes(in); got != want {
			t.Errorf("Bytes(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSysChartGolden compares the chart of two rate series with
// testdata/sys-chart.svg.
func TestSysChartGolden(t *testing.T) {
	var s Sys
	s.Subscribed(t0)
	for i, v := range []string{"0", "10", "40", "40", "100"} {
		s.Apply("$SYS/broker/publish/messages/received", []byte(v), at(float64(i)))
		s.Apply("$SYS/broker/publish/messages/sent", []byte(v+"0"), at(float64(i)))
	}
	got := SysChartSVG("PUBLISH per second", s.Rates(), 320, 120)
	if empty := SysChartSVG("x", s.Clients(), 320, 120); !strings.Contains(empty, "No values yet") {
		t.Errorf("empty chart: %s", empty)
	}
	s.Apply("$SYS/broker/clients/connected", []byte("2"), at(4))
	if one := SysChartSVG("x", s.Clients(), 320, 120); !strings.Contains(one, "<circle") {
		t.Errorf("one point is not drawn as a dot: %s", one)
	}
	path := filepath.Join("testdata", "sys-chart.svg")
	if *updateGolden {
		os.MkdirAll("testdata", 0o755)
		os.WriteFile(path, []byte(got), 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("chart differs from %s (go test -update):\n%s", path, got)
	}
}
