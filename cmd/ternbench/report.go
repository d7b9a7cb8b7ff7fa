package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// Report is the result of one run, written as one JSON line. Fields that do
// not apply to a scenario are zero and omitted; -1 means "not measured"
// (the broker's CPU and memory need --broker-pid).
type Report struct {
	Time      string `json:"time"`
	Name      string `json:"name,omitempty"`   // --name: the case in a comparison
	Broker    string `json:"broker,omitempty"` // --broker: a label
	Scenario  string `json:"scenario"`
	Transport string `json:"transport"`
	MQTT      string `json:"mqtt"`
	QoS       int    `json:"qos"`
	Payload   int    `json:"payload_bytes"`

	Publishers  int  `json:"publishers,omitempty"`
	Subscribers int  `json:"subscribers,omitempty"`
	Window      int  `json:"window,omitempty"`
	Rate        int  `json:"rate,omitempty"`     // latency: per publisher; open-loop: all publishers together
	Inflight    int  `json:"inflight,omitempty"` // QoS 1/2: unacknowledged messages per publisher at most
	Persistent  bool `json:"persistent,omitempty"`

	Seconds   float64 `json:"seconds"`             // measurement window
	Sent      int64   `json:"sent,omitempty"`      // messages published
	Expected  int64   `json:"expected,omitempty"`  // deliveries expected
	Delivered int64   `json:"delivered,omitempty"` // deliveries counted
	Dups      int64   `json:"duplicates,omitempty"`
	MsgPerSec float64 `json:"msg_per_sec,omitempty"` // deliveries per second
	LossPct   float64 `json:"loss_pct"`
	Stalls    int     `json:"stalls,omitempty"` // windows written off as lost

	Acked       int64   `json:"acked,omitempty"`         // QoS 1/2: acknowledgements the publishers received
	AckedPerSec float64 `json:"acked_per_sec,omitempty"` // from the start until the last acknowledgement

	OfferedPerSec float64 `json:"offered_per_sec,omitempty"` // open loop: the schedule's rate
	Slots         int64   `json:"slots,omitempty"`           // open loop: messages scheduled
	Skipped       int64   `json:"skipped,omitempty"`         // open loop: slots skipped, the in-flight window full
	SkippedPct    float64 `json:"skipped_pct,omitempty"`

	P50ms  float64 `json:"p50_ms,omitempty"`
	P90ms  float64 `json:"p90_ms,omitempty"`
	P99ms  float64 `json:"p99_ms,omitempty"`
	P999ms float64 `json:"p999_ms,omitempty"`
	MaxMs  float64 `json:"max_ms,omitempty"`
	// LatHist: latency scenario, the messages per latency band, each
	// counting the latencies up to its bound in µs (latBands; the last
	// band has no bound).
	LatHist []int64 `json:"lat_hist,omitempty"`

	Conns         int     `json:"conns,omitempty"`
	ConnectPerSec float64 `json:"connect_per_sec,omitempty"`
	RSSBeforeKB   int64   `json:"broker_rss_before_kb,omitempty"`
	RSSAfterKB    int64   `json:"broker_rss_after_kb,omitempty"`
	RSSPerConn    float64 `json:"broker_rss_per_conn_bytes,omitempty"`
	// --ping: the broker's RSS after every client has sent a PINGREQ, and
	// its growth per connection from before the connections.
	RSSPingedKB      int64   `json:"broker_rss_after_ping_kb,omitempty"`
	RSSPerConnPinged float64 `json:"broker_rss_per_conn_after_ping_bytes,omitempty"`

	Users       int     `json:"users,omitempty"`      // connect-rate: distinct users (0: one)
	Connectors  int     `json:"connectors,omitempty"` // connect-rate: parallel connectors
	Logins      int64   `json:"logins,omitempty"`     // connect-rate: CONNACKs of the first pass (ConnectPerSec, P50ms.. are its)
	WarmLogins  int64   `json:"warm_logins,omitempty"`
	WarmSeconds float64 `json:"warm_seconds,omitempty"`
	WarmPerSec  float64 `json:"warm_connect_per_sec,omitempty"`
	WarmP50ms   float64 `json:"warm_p50_ms,omitempty"`
	WarmP99ms   float64 `json:"warm_p99_ms,omitempty"`

	BrokerUsPerLogin float64 `json:"broker_cpu_us_per_login,omitempty"` // connect-rate: the first pass's broker CPU time per login

	Retained         int     `json:"retained,omitempty"`
	RetainedSeconds  float64 `json:"retained_seconds,omitempty"`
	RetainedComplete bool    `json:"retained_complete,omitempty"`

	Sessions          int     `json:"sessions,omitempty"` // restart, queued-memory: offline persistent sessions
	Queued            int     `json:"queued,omitempty"`   // restart: per session; queued-memory: messages
	Kill              string  `json:"kill,omitempty"`     // restart: term or kill
	FillSeconds       float64 `json:"fill_seconds,omitempty"`
	FillPerSec        float64 `json:"fill_per_sec,omitempty"` // messages stored (acknowledged) per second
	ColdReadyMs       float64 `json:"cold_ready_ms,omitempty"`
	RSSFullKB         int64   `json:"broker_rss_full_kb,omitempty"` // before the stop
	ShutdownMs        float64 `json:"shutdown_ms,omitempty"`        // signal to exit
	ReadyMs           float64 `json:"ready_ms,omitempty"`           // process start to the first CONNACK, after the restart
	RSSReadyKB        int64   `json:"broker_rss_ready_kb,omitempty"`
	RSSSettledKB      int64   `json:"broker_rss_settled_kb,omitempty"` // --settle after the recovery check
	SessionPresent    bool    `json:"session_present,omitempty"`
	RecoveredQueued   int64   `json:"recovered_queued,omitempty"`   // of --queued, in session 0
	RecoveredRetained int64   `json:"recovered_retained,omitempty"` // of --retained

	HeapBeforeB   int64   `json:"broker_heap_before_bytes,omitempty"` // live heap (pprof, after a GC)
	HeapAfterB    int64   `json:"broker_heap_after_bytes,omitempty"`
	RSSPerQueued  float64 `json:"broker_rss_per_queued_bytes,omitempty"`
	HeapPerQueued float64 `json:"broker_heap_per_queued_bytes,omitempty"`

	GenCPU       float64 `json:"gen_cpu_pct"`    // % of one core
	BrokerCPU    float64 `json:"broker_cpu_pct"` // % of one core, -1 unknown
	BrokerUsPerM float64 `json:"broker_cpu_us_per_msg,omitempty"`

	Error string `json:"error,omitempty"`
}

func (r *Report) setLatency(h *histogram) {
	if h.n == 0 {
		return
	}
	ms := func(ns int64) float64 { return math.Round(float64(ns)/1e3) / 1e3 }
	r.P50ms, r.P90ms, r.P99ms, r.MaxMs = ms(h.quantile(.50)), ms(h.quantile(.90)), ms(h.quantile(.99)), ms(h.max)
	r.P999ms = ms(h.quantile(.999))
	if r.Scenario == "latency" {
		r.LatHist = h.bands(latBands)
	}
}

// latBands are the upper bounds (µs) of the latency scenario's histogram
// bands (Report.LatHist); a last band counts everything above.
var latBands = []int64{50, 75, 100, 150, 200, 300, 500, 1000, 2000, 5000}

func writeJSON(w io.Writer, r *Report) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// writeTable prints the report for people.
func writeTable(w io.Writer, r *Report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, a...)...) }
	title := r.Scenario
	if r.Broker != "" {
		title = r.Broker + " " + title
	}
	row("run", "%s over %s, MQTT %s, QoS %d, %d-byte payloads", title, r.Transport, r.MQTT, r.QoS, r.Payload)
	if r.Publishers > 0 || r.Subscribers > 0 {
		row("clients", "%d publishers, %d subscribers", r.Publishers, r.Subscribers)
	}
	if r.Expected > 0 {
		row("delivered", "%d of %d (%d sent) in %.2fs", r.Delivered, r.Expected, r.Sent, r.Seconds)
		row("throughput", "%s msg/s", human(r.MsgPerSec))
		row("loss", "%.3f %%", r.LossPct)
		if r.Dups > 0 {
			row("duplicates", "%d", r.Dups)
		}
		if r.Acked > 0 {
			row("acknowledged", "%d at %s msg/s", r.Acked, human(r.AckedPerSec))
		}
		if r.OfferedPerSec > 0 {
			row("offered", "%s msg/s: %d slots, %d skipped (%.3f %%, in-flight window of %d full)", human(r.OfferedPerSec), r.Slots, r.Skipped, r.SkippedPct, r.Inflight)
		}
		if r.Stalls > 0 {
			row("stalls", "%d (a window of messages was written off as lost)", r.Stalls)
		}
	}
	if r.Scenario == "connect-rate" {
		who := "one user"
		if r.Users > 0 {
			who = fmt.Sprintf("%d users, each logging in for the first time", r.Users)
		}
		row("logins", "%d CONNECT->CONNACK in %.2fs by %d connectors: %s/s (%s)", r.Logins, r.Seconds, r.Connectors, human(r.ConnectPerSec), who)
		if r.BrokerUsPerLogin > 0 {
			row("broker cpu", "%.1f µs per login", r.BrokerUsPerLogin)
		}
	}
	if r.P50ms > 0 || r.MaxMs > 0 {
		row("latency", "p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f ms", r.P50ms, r.P90ms, r.P99ms, r.P999ms, r.MaxMs)
	}
	if len(r.LatHist) == len(latBands)+1 {
		var b strings.Builder
		for i, n := range r.LatHist {
			if i < len(latBands) {
				fmt.Fprintf(&b, "≤%dµs %d  ", latBands[i], n)
			} else {
				fmt.Fprintf(&b, ">%dµs %d", latBands[i-1], n)
			}
		}
		row("latency bands", "%s", b.String())
	}
	if r.WarmLogins > 0 {
		row("repeat logins", "%d in %.2fs: %s/s, p50 %.3f ms  p99 %.3f ms", r.WarmLogins, r.WarmSeconds, human(r.WarmPerSec), r.WarmP50ms, r.WarmP99ms)
	}
	if r.Conns > 0 {
		row("connections", "%d, connected at %s/s", r.Conns, human(r.ConnectPerSec))
		if r.RSSAfterKB > 0 {
			row("broker RSS", "%d KiB -> %d KiB: %.0f bytes per connection", r.RSSBeforeKB, r.RSSAfterKB, r.RSSPerConn)
		}
		if r.RSSPingedKB > 0 {
			row("after a PINGREQ each", "%d KiB: %.0f bytes per connection", r.RSSPingedKB, r.RSSPerConnPinged)
		}
	}
	if r.Retained > 0 && r.Scenario == "retained" {
		row("retained", "%d messages to a new subscriber in %.4fs (complete: %t)", r.Retained, r.RetainedSeconds, r.RetainedComplete)
	}
	writeStore(row, r)
	cpu := fmt.Sprintf("generator %.0f %%", r.GenCPU)
	if r.BrokerCPU >= 0 {
		cpu += fmt.Sprintf(", broker %.0f %%", r.BrokerCPU)
		if r.BrokerUsPerM > 0 {
			cpu += fmt.Sprintf(" (%.2f µs per delivered message)", r.BrokerUsPerM)
		}
	}
	row("cpu", "%s of one core", cpu)
	if r.Error != "" {
		row("error", "%s", r.Error)
	}
	tw.Flush()
}

// human formats n with thousands separators.
func human(n float64) string {
	s := fmt.Sprintf("%.0f", n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// writeStore prints the rows of the restart and queued-memory scenarios.
func writeStore(row func(k, format string, a ...any), r *Report) {
	if r.ReadyMs > 0 || r.ColdReadyMs > 0 {
		row("filled", "%d sessions × %d queued + %d retained in %.2fs (%s msg/s); RSS %d KiB", r.Sessions, r.Queued, r.Retained, r.FillSeconds, human(r.FillPerSec), r.RSSFullKB)
		row("stopped", "SIG%s, exited in %.1f ms", strings.ToUpper(r.Kill), r.ShutdownMs)
		row("ready", "first CONNACK %.1f ms after the start (empty broker: %.1f ms)", r.ReadyMs, r.ColdReadyMs)
		row("broker RSS", "%d KiB at the CONNACK, %d KiB after the check", r.RSSReadyKB, r.RSSSettledKB)
		row("recovered", "session 0: %d of %d queued (session present: %t); retained %d of %d", r.RecoveredQueued, r.Queued, r.SessionPresent, r.RecoveredRetained, r.Retained)
	}
	if r.RSSPerQueued != 0 || r.HeapPerQueued != 0 {
		row("queued", "%d sessions × %d messages of %d bytes", r.Sessions, r.Queued, r.Payload)
		row("broker RSS", "%d KiB -> %d KiB: %.1f bytes per queued delivery", r.RSSBeforeKB, r.RSSAfterKB, r.RSSPerQueued)
		if r.HeapAfterB > 0 {
			row("broker heap", "%d -> %d bytes: %.1f bytes per queued delivery", r.HeapBeforeB, r.HeapAfterB, r.HeapPerQueued)
		}
	}
}
