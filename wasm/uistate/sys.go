package uistate

import (
	"fmt"
	"html"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The Broker page reads a broker's $SYS topics with Mosquitto's names
// (mosquitto(8), "Broker Status"), so it works against Mosquitto and any
// broker that publishes the same names, Tern included. Sys is its state:
// the last value of every $SYS topic, tiles made of the ones an operator
// looks at first, and rate series computed from the counters.

// SysFilter is what the Broker page subscribes to.
const SysFilter = "$SYS/#"

// SysWait is how long the Broker page waits for a first $SYS message
// before it says the broker publishes none. Mosquitto's retained $SYS
// values arrive at once; a broker that publishes them unretained does so
// every sys_interval, 10 s by default.
const SysWait = 11 * time.Second

// SysPoints is the number of points kept per chart series.
const SysPoints = 300

// SysStatus is what the Broker page knows about the broker's $SYS.
type SysStatus int

// The statuses.
const (
	SysOff     SysStatus = iota // not subscribed (not connected)
	SysWaiting                  // subscribed, nothing yet
	SysLive                     // $SYS messages arrive
	SysNone                     // nothing within SysWait: the broker publishes no $SYS
	SysRefused                  // the broker refused the subscription
)

// String returns the status as the page shows it.
func (s SysStatus) String() string {
	return [...]string{"Not connected", "Waiting for $SYS…", "Live", "No $SYS", "Refused"}[s]
}

// Tile is one figure of the Broker page.
type Tile struct {
	Key    string // stable id: "version", "uptime", "clients", ...
	Label  string
	Value  string
	Detail string // a second line, "" for none
}

// Point is one sample of a series: Unix nanoseconds and a value.
type Point struct {
	At int64
	V  float64
}

// SysSeries is one line of a Broker page chart.
type SysSeries struct {
	Label string
	Color string
	pts   []Point // the last SysPoints points, oldest first
}

// Points returns the series' points, oldest first; the slice is the
// series' own and valid until the next change.
func (s *SysSeries) Points() []Point { return s.pts }

func (s *SysSeries) add(p Point) {
	if n := len(s.pts); n > 0 && s.pts[n-1].At >= p.At {
		s.pts[n-1] = p // same instant: the latest wins
		return
	}
	if len(s.pts) == SysPoints {
		copy(s.pts, s.pts[1:])
		s.pts = s.pts[:len(s.pts)-1]
	}
	s.pts = append(s.pts, p)
}

// counter follows one cumulative $SYS counter to compute its rate.
type counter struct {
	v, prevV   float64
	at, prevAt time.Time
	zeroed     bool // a zero rate was added since the last change
}

// Sys is the Broker page's state. Its methods are called on one
// goroutine (the UI's); the zero value is ready and Off.
type Sys struct {
	status   SysStatus
	since    time.Time // when the subscription was made
	last     time.Time // the last $SYS message
	messages int
	refusal  string
	values   map[string]string // by topic below "$SYS/broker/" (or the whole topic)
	counters map[string]*counter
	rates    [2]SysSeries // PUBLISH in, out per second
	clients  SysSeries    // connected clients
}

// Subscribed starts a new watch at now: values and series are cleared.
func (s *Sys) Subscribed(now time.Time) {
	*s = Sys{status: SysWaiting, since: now}
	s.rates[0] = SysSeries{Label: "in", Color: "#2f7fd8"}
	s.rates[1] = SysSeries{Label: "out", Color: "#e0702b"}
	s.clients = SysSeries{Label: "connected", Color: "#2ea06a"}
}

// Refused records that the broker refused the $SYS subscription.
func (s *Sys) Refused(why string) { s.status, s.refusal = SysRefused, why }

// Stop records that the page no longer watches (disconnected); the last
// values stay on screen.
func (s *Sys) Stop() { s.status = SysOff }

// Status returns the status and, when refused, why.
func (s *Sys) Status() (SysStatus, string) { return s.status, s.refusal }

// Messages returns the number of $SYS messages seen since Subscribed.
func (s *Sys) Messages() int { return s.messages }

// Last returns when the last $SYS message arrived (zero if none).
func (s *Sys) Last() time.Time { return s.last }

// Value returns the last payload of a $SYS topic, named below
// "$SYS/broker/" ("version") or in full.
func (s *Sys) Value(name string) (string, bool) {
	v, ok := s.values[strings.TrimPrefix(name, sysBroker)]
	return v, ok
}

const sysBroker = "$SYS/broker/"

// Apply records one message; topics outside $SYS/ are ignored.
func (s *Sys) Apply(topic string, payload []byte, now time.Time) {
	if !strings.HasPrefix(topic, "$SYS/") || s.status == SysOff || s.status == SysRefused {
		return
	}
	if s.values == nil {
		s.values, s.counters = map[string]string{}, map[string]*counter{}
	}
	name := strings.TrimPrefix(topic, sysBroker)
	v := strings.TrimSpace(string(payload))
	s.values[name] = v
	s.messages++
	s.last, s.status = now, SysLive
	switch {
	case name == rateIn[0] || name == rateIn[1]:
		s.count(name, v, now, 0)
	case name == rateOut[0] || name == rateOut[1]:
		s.count(name, v, now, 1)
	case name == "clients/connected" || name == "clients/active" && s.values["clients/connected"] == "":
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			s.clients.add(Point{now.UnixNano(), f})
		}
	}
}

// The counters charted as rates, preferred first: PUBLISH packets, and
// Mosquitto's count of every packet for brokers without the first.
var (
	rateIn  = [2]string{"publish/messages/received", "messages/received"}
	rateOut = [2]string{"publish/messages/sent", "messages/sent"}
)

// count follows a counter and adds its rate to series i. The second name
// is charted only while the broker publishes no value for the first.
func (s *Sys) count(name, v string, now time.Time, i int) {
	names := [2][2]string{rateIn, rateOut}[i]
	if name == names[1] && s.values[names[0]] != "" {
		return
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return
	}
	c := s.counters[name]
	if c == nil {
		s.counters[name] = &counter{v: f, at: now}
		return
	}
	c.prevV, c.prevAt, c.v, c.at, c.zeroed = c.v, c.at, f, now, false
	if dt := now.Sub(c.prevAt).Seconds(); dt > 0 && f >= c.prevV {
		s.rates[i].add(Point{now.UnixNano(), (f - c.prevV) / dt})
	}
}

// Tick moves time on: after SysWait without any message the broker has no
// $SYS, and a counter that has not changed for two of its intervals
// (brokers publish only values that changed) is charted at rate 0.
func (s *Sys) Tick(now time.Time) {
	if s.status == SysWaiting && now.Sub(s.since) >= SysWait {
		s.status = SysNone
	}
	for name, c := range s.counters {
		i := 0
		if name == rateOut[0] || name == rateOut[1] {
			i = 1
		}
		if c.prevAt.IsZero() || c.zeroed {
			continue
		}
		if interval := c.at.Sub(c.prevAt); interval > 0 && now.Sub(c.at) >= 2*interval {
			s.rates[i].add(Point{now.UnixNano(), 0})
			c.zeroed = true
		}
	}
}

// Rates returns the PUBLISH rates in and out, per second.
func (s *Sys) Rates() []*SysSeries { return []*SysSeries{&s.rates[0], &s.rates[1]} }

// Clients returns the connected clients over time.
func (s *Sys) Clients() []*SysSeries { return []*SysSeries{&s.clients} }

// Tiles returns the figures of the page, in order; a tile whose topics
// the broker does not publish says "—".
func (s *Sys) Tiles() []Tile {
	get := func(names ...string) string {
		for _, n := range names {
			if v, ok := s.values[n]; ok && v != "" {
				return v
			}
		}
		return ""
	}
	or := func(v string) string {
		if v == "" {
			return "—"
		}
		return v
	}
	tiles := []Tile{
		{Key: "version", Label: "Version", Value: or(get("version"))},
		{Key: "uptime", Label: "Uptime", Value: or(Uptime(get("uptime")))},
		{Key: "clients", Label: "Clients connected", Value: or(get("clients/connected", "clients/active")),
			Detail: joinDetail("total", get("clients/total"), "maximum", get("clients/maximum"), "disconnected", get("clients/disconnected", "clients/inactive"))},
		{Key: "in", Label: "PUBLISH in /s", Value: or(s.rate(0)), Detail: joinDetail("total", get(rateIn[0], rateIn[1]))},
		{Key: "out", Label: "PUBLISH out /s", Value: or(s.rate(1)), Detail: joinDetail("total", get(rateOut[0], rateOut[1]))},
		{Key: "drops", Label: "Dropped", Value: or(get("publish/messages/dropped")), Detail: s.dropDetail()},
		{Key: "retained", Label: "Retained messages", Value: or(get("retained messages/count"))},
		{Key: "store", Label: "Stored messages", Value: or(get("store/messages/count", "messages/stored")),
			Detail: joinDetail("bytes", Bytes(get("store/messages/bytes")))},
		{Key: "subscriptions", Label: "Subscriptions", Value: or(get("subscriptions/count")),
			Detail: joinDetail("shared", get("shared_subscriptions/count"))},
		{Key: "bytes", Label: "Bytes in / out", Value: or(joinNonEmpty(" / ", Bytes(get("bytes/received")), Bytes(get("bytes/sent"))))},
	}
	return tiles
}

// rate returns the last rate of series i, formatted.
func (s *Sys) rate(i int) string {
	p := s.rates[i].pts
	if len(p) == 0 {
		return ""
	}
	return strconv.FormatFloat(math.Round(p[len(p)-1].V*10)/10, 'f', -1, 64)
}

// Drops returns the drops by reason: every $SYS topic below a "dropped"
// or "drops" level other than Mosquitto's total and its load averages,
// by the rest of its name.
func (s *Sys) Drops() [][2]string {
	var out [][2]string
	for name, v := range s.values {
		if strings.HasPrefix(name, "load/") { // averages, not counts
			continue
		}
		for _, level := range []string{"/dropped/", "/drops/", "drops/"} {
			if i := strings.Index(name, level); i >= 0 && (level != "drops/" || i == 0) {
				out = append(out, [2]string{name[i+len(level):], v})
				break
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

func (s *Sys) dropDetail() string {
	var parts []string
	for _, d := range s.Drops() {
		parts = append(parts, d[0]+" "+d[1])
	}
	return strings.Join(parts, " · ")
}

// joinDetail joins "name value" pairs whose value is not empty.
func joinDetail(kv ...string) string {
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			parts = append(parts, kv[i]+" "+kv[i+1])
		}
	}
	return strings.Join(parts, " · ")
}

func joinNonEmpty(sep string, vs ...string) string {
	for _, v := range vs {
		if v == "" {
			return ""
		}
	}
	return strings.Join(vs, sep)
}

// Uptime formats Mosquitto's "12345 seconds" (or a bare number) as
// "3h 25m 45s"; anything else is returned as it is.
func Uptime(v string) string {
	n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " seconds"), 10, 64)
	if err != nil || n < 0 {
		return v
	}
	d, h, m, sec := n/86400, n/3600%24, n/60%60, n%60
	switch {
	case d > 0:
		return fmt.Sprintf("%dd %dh %dm", d, h, m)
	case h > 0:
		return fmt.Sprintf("%dh %dm %ds", h, m, sec)
	case m > 0:
		return fmt.Sprintf("%dm %ds", m, sec)
	}
	return fmt.Sprintf("%ds", sec)
}

// Bytes formats a byte count with a binary unit ("1.5 MiB"); anything
// that is not a number is returned as it is.
func Bytes(v string) string {
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || n < 0 {
		return v
	}
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for n >= 1024 && i < len(units)-1 {
		n /= 1024
		i++
	}
	if i == 0 {
		return strconv.FormatFloat(n, 'f', -1, 64) + " B"
	}
	return strconv.FormatFloat(n, 'f', 1, 64) + " " + units[i]
}

// SysChartSVG draws series as one small line chart, width by height
// pixels, with the value range from zero to the largest value (labelled)
// and the time of the newest point at the right. No point: an empty
// chart that says so.
func SysChartSVG(title string, series []*SysSeries, width, height int) string {
	const padL, padR, padT, padB = 44, 8, 8, 18
	width, height = max(width, padL+padR+40), max(height, padT+padB+30)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="tt-chart-svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">`,
		width, height, width, height, html.EscapeString(title))
	t0, t1, hi := int64(math.MaxInt64), int64(math.MinInt64), 0.0
	for _, s := range series {
		for _, p := range s.pts {
			t0, t1, hi = min(t0, p.At), max(t1, p.At), math.Max(hi, p.V)
		}
	}
	if t1 == math.MinInt64 {
		b.WriteString(`<text class="tt-chart-empty" x="50%" y="50%" text-anchor="middle">No values yet</text></svg>`)
		return b.String()
	}
	if t1-t0 < int64(10*time.Second) {
		t0 = t1 - int64(10*time.Second)
	}
	if hi <= 0 {
		hi = 1
	}
	pw, ph := float64(width-padL-padR), float64(height-padT-padB)
	x := func(at int64) float64 { return padL + pw*float64(at-t0)/float64(t1-t0) }
	y := func(v float64) float64 { return padT + ph*(1-v/hi) }
	b.WriteString(`<g class="tt-chart-grid">`)
	for _, v := range []float64{0, hi} {
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`, padL, width-padR, y(v), y(v))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`, padL-6, y(v), html.EscapeString(shortNumber(v)))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="start">−%s</text>`, padL, height-4, time.Duration(t1-t0).Round(time.Second))
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">now</text>`, width-padR, height-4)
	b.WriteString(`</g>`)
	for _, s := range series {
		if len(s.pts) == 0 {
			continue
		}
		if len(s.pts) == 1 { // a line needs two points
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`, x(s.pts[0].At), y(s.pts[0].V), s.Color)
			continue
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="`, s.Color)
		for i, p := range s.pts {
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%.1f,%.1f", x(p.At), y(p.V))
		}
		b.WriteString(`"/>`)
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// SysNumber formats a value of a series for a legend: at most one
// decimal.
func SysNumber(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) }

// shortNumber formats a chart label: 950, 1.2k, 3.4M.
func shortNumber(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 1, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', 1, 64) + "k"
	}
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
}
