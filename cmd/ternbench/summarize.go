package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
)

// A comparison case: the --name compare.sh gives a run, what to show for
// it and the target from the performance issue.
type caseSpec struct {
	name  string
	title string
	rows  []rowSpec
}

type rowSpec struct {
	metric  string
	value   func(*Report) float64
	format  func(float64) string
	target  string
	noRatio bool // a ratio means nothing here (loss)
	// met decides the target from the median ratio tern/base and the
	// candidate's runs; nil: no target on this row.
	met func(ratio float64, cand []*Report) bool
}

var (
	fmtRate  = func(x float64) string { return human(x) }
	fmtPct   = func(x float64) string { return fmt.Sprintf("%.2f", x) }
	fmtMs    = func(x float64) string { return fmt.Sprintf("%.3f", x) }
	fmtBytes = func(x float64) string { return human(x) }

	msgPerSec = func(r *Report) float64 { return r.MsgPerSec }
	lossPct   = func(r *Report) float64 { return r.LossPct }
)

func noLoss(cand []*Report) bool {
	for _, r := range cand {
		if r.LossPct > 0 || r.Error != "" {
			return false
		}
	}
	return len(cand) > 0
}

func throughput(name, title string, ratio float64, target string) caseSpec {
	return caseSpec{name, title, []rowSpec{
		{"msg/s", msgPerSec, fmtRate, target, false, func(q float64, c []*Report) bool { return q >= ratio && noLoss(c) }},
		{"loss %", lossPct, fmtPct, "", true, nil},
	}}
}

func retainedCase(name, title string) caseSpec {
	return caseSpec{name, title, []rowSpec{
		{"ms", func(r *Report) float64 { return r.RetainedSeconds * 1000 }, fmtMs, "≤ 1× time, complete", false,
			func(q float64, c []*Report) bool {
				for _, r := range c {
					if !r.RetainedComplete {
						return false
					}
				}
				return q <= 1 && len(c) > 0
			}},
	}}
}

func allZero(v []float64) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

// rssPinged is the row of RSS per connection after every client has sent a
// PINGREQ (--ping), with a target of limit bytes (none when 0).
func rssPinged(target string, limit float64) rowSpec {
	row := rowSpec{"RSS bytes/conn after PINGREQ", func(r *Report) float64 { return r.RSSPerConnPinged }, fmtBytes, target, false, nil}
	if limit > 0 {
		row.met = func(_ float64, c []*Report) bool {
			return len(c) > 0 && median(values(c, func(r *Report) float64 { return r.RSSPerConnPinged })) <= limit
		}
	}
	return row
}

func latencyCase(name, title string) caseSpec {
	return caseSpec{name, title, []rowSpec{
		{"p50 ms", func(r *Report) float64 { return r.P50ms }, fmtMs, "≤ 1.2×", false, func(q float64, _ []*Report) bool { return q <= 1.2 }},
		{"p99 ms", func(r *Report) float64 { return r.P99ms }, fmtMs, "≤ 1.2×", false, func(q float64, _ []*Report) bool { return q <= 1.2 }},
	}}
}

func rssTarget(limit float64) func(float64, []*Report) bool {
	return func(_ float64, c []*Report) bool {
		return len(c) > 0 && median(values(c, func(r *Report) float64 { return r.RSSPerConn })) <= limit
	}
}

// cases are the targets of the performance issue, in its order.
var cases = []caseSpec{
	throughput("fanin-tcp", "QoS 0 fan-in 8→1, TCP", 1.2, "≥ 1.2×, 0 % loss"),
	throughput("fanin-ws", "QoS 0 fan-in 8→1, WebSocket", 1.2, "≥ 1.2×, 0 % loss"),
	throughput("fanout", "QoS 0 fan-out 1→16, TCP", 1.5, "≥ 1.5×, 0 % loss"),
	throughput("pairs", "QoS 0 pairs ×16, TCP", 1.2, "≥ 1.2×, 0 % loss"),
	{"fanin-qos1", "QoS 1 fan-in 8→1, TCP", []rowSpec{
		{"msg/s", msgPerSec, fmtRate, "≥ 2×, lossless", false, func(q float64, c []*Report) bool { return q >= 2 && noLoss(c) }},
		{"loss %", lossPct, fmtPct, "", true, nil},
	}},
	latencyCase("latency", "latency at 1,000 msg/s, TCP"),
	latencyCase("latency-ws", "latency at 1,000 msg/s, WebSocket"),
	{"conns-tcp", "K idle connections, TCP", []rowSpec{
		{"RSS bytes/conn", func(r *Report) float64 { return r.RSSPerConn }, fmtBytes, "≤ 3 KiB", false, rssTarget(3 << 10)},
		rssPinged("≤ 3 KiB", 3<<10),
		{"connects/s", func(r *Report) float64 { return r.ConnectPerSec }, fmtRate, "≥ 1×", false, func(q float64, _ []*Report) bool { return q >= 1 }},
	}},
	{"conns-tls", "K idle connections, TLS", []rowSpec{
		{"RSS bytes/conn", func(r *Report) float64 { return r.RSSPerConn }, fmtBytes, "", false, nil},
		rssPinged("", 0),
		{"connects/s", func(r *Report) float64 { return r.ConnectPerSec }, fmtRate, "", false, nil},
	}},
	{"conns-ws", "K idle connections, WebSocket", []rowSpec{
		{"RSS bytes/conn", func(r *Report) float64 { return r.RSSPerConn }, fmtBytes, "≤ 6 KiB", false, rssTarget(6 << 10)},
		rssPinged("", 0),
		{"connects/s", func(r *Report) float64 { return r.ConnectPerSec }, fmtRate, "", false, nil},
	}},
	retainedCase("retained-tcp", "R retained → new # subscriber, TCP"),
	retainedCase("retained-ws", "R retained → new # subscriber, WebSocket"),
}

func summarizeCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ternbench summarize", flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("base", "mosquitto", "`label` of the reference broker (--broker of its runs)")
	cand := fs.String("cand", "tern", "`label` of the broker compared with it")
	both := fs.Bool("both", false, "only the cases with runs of both brokers")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "ternbench summarize reads JSON-line reports (ternbench --json) and prints a markdown table:\n"+
			"per case (--name) and broker (--broker) the median and the spread (min–max) of each metric,\n"+
			"the ratio cand/base of the medians, and the target of the performance issue.\n\n"+
			"Usage:\n  ternbench summarize [flags] FILE...\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return flag.ErrHelp
	}
	var reps []*Report
	for _, path := range fs.Args() {
		rs, err := readReports(path)
		if err != nil {
			return err
		}
		reps = append(reps, rs...)
	}
	if *both {
		reps = withBoth(reps, *base, *cand)
	}
	summarize(stdout, reps, *base, *cand)
	return nil
}

func readReports(path string) ([]*Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var reps []*Report
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		b := strings.TrimSpace(sc.Text())
		if b == "" {
			continue
		}
		r := new(Report)
		if err := json.Unmarshal([]byte(b), r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		reps = append(reps, r)
	}
	return reps, sc.Err()
}

// summarize writes the comparison table for the cases found in reps.
func summarize(w io.Writer, reps []*Report, base, cand string) {
	by := map[string]map[string][]*Report{}
	var names []string
	for _, r := range reps {
		if by[r.Name] == nil {
			by[r.Name] = map[string][]*Report{}
			names = append(names, r.Name)
		}
		by[r.Name][r.Broker] = append(by[r.Name][r.Broker], r)
	}
	specs := slices.Clone(cases)
	for _, n := range names { // cases without a built-in spec
		if !slices.ContainsFunc(specs, func(c caseSpec) bool { return c.name == n }) {
			specs = append(specs, specFor(n))
		}
	}
	fmt.Fprintf(w, "| case | metric | %s median (min–max) | %s median (min–max) | %s/%s | target | met |\n", base, cand, cand, base)
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- |")
	var cpuRows []string
	for _, c := range specs {
		b, k := by[c.name][base], by[c.name][cand]
		if len(b) == 0 && len(k) == 0 {
			continue
		}
		title0 := sized(c.title, append(slices.Clone(b), k...))
		for i, row := range c.rows {
			title := ""
			if i == 0 {
				title = title0
			}
			bv, kv := values(b, row.value), values(k, row.value)
			if i > 0 && allZero(bv) && allZero(kv) {
				continue // a metric these runs did not measure (--ping)
			}
			ratio := ratioOf(median(kv), median(bv))
			rs, met := "–", ""
			if !row.noRatio && len(bv) > 0 && len(kv) > 0 && median(bv) != 0 {
				rs = fmt.Sprintf("%.2f×", ratio)
			}
			if row.met != nil && len(kv) > 0 {
				met = "no"
				if row.met(ratio, k) {
					met = "**yes**"
				}
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", title, row.metric, spread(bv, row.format), spread(kv, row.format), rs, row.target, met)
		}
		if hasCPU(b) || hasCPU(k) {
			cpuRows = append(cpuRows, fmt.Sprintf("| %s | %s | %s | %s | %s |", title0,
				cpuCell(b, func(r *Report) float64 { return r.BrokerCPU }, "%.0f %%"),
				cpuCell(k, func(r *Report) float64 { return r.BrokerCPU }, "%.0f %%"),
				cpuCell(b, func(r *Report) float64 { return r.BrokerUsPerM }, "%.2f µs"),
				cpuCell(k, func(r *Report) float64 { return r.BrokerUsPerM }, "%.2f µs")))
		}
	}
	var errs []string
	for _, r := range reps {
		if r.Error != "" {
			errs = append(errs, fmt.Sprintf("- %s %s: %s", r.Broker, r.Name, r.Error))
		}
	}
	if len(cpuRows) > 0 {
		fmt.Fprintf(w, "\nBroker CPU over the measurement window (median; %% of one core) and per delivered message:\n\n")
		fmt.Fprintf(w, "| case | %s CPU | %s CPU | %s per msg | %s per msg |\n| --- | --- | --- | --- | --- |\n", base, cand, base, cand)
		for _, r := range cpuRows {
			fmt.Fprintln(w, r)
		}
	}
	if len(errs) > 0 {
		fmt.Fprintf(w, "\nRuns that reported an error:\n\n%s\n", strings.Join(errs, "\n"))
	}
}

// sized puts the number of connections (K) or retained messages (R) of
// the runs into a case title.
func sized(title string, rs []*Report) string {
	if len(rs) == 0 {
		return title
	}
	switch {
	case strings.HasPrefix(title, "K "):
		return human(float64(rs[0].Conns)) + title[1:]
	case strings.HasPrefix(title, "R "):
		return human(float64(rs[0].Retained)) + title[1:]
	case strings.HasSuffix(title, ", U"):
		return fmt.Sprintf("%s%s users, %d connectors", strings.TrimSuffix(title, "U"), human(float64(rs[0].Users)), rs[0].Connectors)
	case strings.HasSuffix(title, ", S"):
		return strings.TrimSuffix(title, "S") + sessionsText(rs[0])
	}
	return title
}

// hasCPU reports whether the runs measured the broker's CPU over a
// stream of messages (not over a few milliseconds of retained messages or
// idle connections, where clock ticks make it meaningless).
func hasCPU(rs []*Report) bool {
	for _, r := range rs {
		if r.BrokerCPU >= 0 && r.Expected > 0 && r.Retained == 0 {
			return true
		}
	}
	return false
}

func cpuCell(rs []*Report, f func(*Report) float64, format string) string {
	var v []float64
	for _, r := range rs {
		if x := f(r); x > 0 {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return "–"
	}
	return fmt.Sprintf(format, median(v))
}

func values(rs []*Report, f func(*Report) float64) []float64 {
	v := make([]float64, 0, len(rs))
	for _, r := range rs {
		if x := f(r); !math.IsNaN(x) && (r.Error == "" || x != 0) { // NaN: not measured
			v = append(v, f(r))
		}
	}
	return v
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ratioOf(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func spread(v []float64, format func(float64) string) string {
	if len(v) == 0 {
		return "–"
	}
	return fmt.Sprintf("%s (%s–%s)", format(median(v)), format(slices.Min(v)), format(slices.Max(v)))
}

// sessionsText describes the sessions of a restart or queued-memory run.
func sessionsText(r *Report) string {
	if r.Scenario == "restart" {
		return fmt.Sprintf("%s sessions × %s queued + %s retained", human(float64(r.Sessions)), human(float64(r.Queued)), human(float64(r.Retained)))
	}
	return fmt.Sprintf("%s offline sessions × %s messages", human(float64(r.Sessions)), human(float64(r.Queued)))
}

// withBoth keeps the reports of the cases that have runs of both brokers.
func withBoth(reps []*Report, base, cand string) []*Report {
	has := map[string]map[string]bool{}
	for _, r := range reps {
		if has[r.Name] == nil {
			has[r.Name] = map[string]bool{}
		}
		has[r.Name][r.Broker] = true
	}
	var out []*Report
	for _, r := range reps {
		if has[r.Name][base] && has[r.Name][cand] {
			out = append(out, r)
		}
	}
	return out
}
