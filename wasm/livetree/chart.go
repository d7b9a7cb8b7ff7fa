package livetree

import (
	"encoding/csv"
	"errors"
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
	"time"
)

// Chart limits.
const (
	DefaultMaxPoints = 1000
	MaxSeries        = 8
)

// ChartColors are the series colors, in order; they read on light and dark
// backgrounds alike.
var ChartColors = []string{"#2f7fd8", "#e0702b", "#2ea06a", "#c64b8c", "#8a63d2", "#c9a227", "#1aa3a3", "#d24b4b"}

// Point is one sample of a series.
type Point struct {
	At int64 // Unix nanoseconds
	V  float64
}

// Series is the numbers read from one topic, with a path into JSON
// payloads ("" for payloads that are numbers).
type Series struct {
	Topic string
	Path  string
	Color string
	pts   []Point // a ring of at most max points
	head  int
	max   int
}

// Label names the series: its topic, and the path when there is one.
func (s *Series) Label() string {
	if s.Path == "" {
		return s.Topic
	}
	return s.Topic + " · " + s.Path
}

// Len returns the number of points kept.
func (s *Series) Len() int { return len(s.pts) }

// Points appends the points, oldest first, to dst.
func (s *Series) Points(dst []Point) []Point {
	dst = append(dst, s.pts[s.head:]...)
	return append(dst, s.pts[:s.head]...)
}

// Last returns the newest point.
func (s *Series) Last() (Point, bool) {
	if len(s.pts) == 0 {
		return Point{}, false
	}
	return s.pts[(s.head+len(s.pts)-1)%len(s.pts)], true
}

func (s *Series) add(p Point) {
	if len(s.pts) < s.max {
		s.pts = append(s.pts, p)
		return
	}
	s.pts[s.head] = p
	s.head = (s.head + 1) % len(s.pts)
}

// Chart is several numeric series shown on one time axis.
type Chart struct {
	// MaxPoints bounds the points kept per series (DefaultMaxPoints).
	MaxPoints int
	// Window is the longest time span shown (default 10 minutes).
	Window time.Duration
	// SharedAxis draws every series against one value axis. Otherwise each
	// series has an axis of its own, scaled to its values: the first
	// series' labels are on the left, the second's on the right (in their
	// colors), and the others' ranges are in their titles (AxisRange).
	SharedAxis bool
	// Paused stops Observe from adding points, so that the chart holds
	// still to be read or exported; values keep arriving in the tree.
	Paused bool

	series  []*Series
	byTopic map[string][]*Series
}

// Chart errors.
var (
	ErrNoNumber     = errors.New("no number at this path in the topic's values")
	ErrCharted      = errors.New("already in the chart")
	ErrChartFull    = fmt.Errorf("a chart shows at most %d series", MaxSeries)
	errNotInChart   = errors.New("not in the chart")
	defaultWindow   = 10 * time.Minute
	chartTimeFormat = "15:04:05"
)

// Add charts the numbers of n's values at path, starting with the values
// the node keeps. It fails when none of them holds a number there, when
// the series is already charted, or when the chart is full.
func (c *Chart) Add(n *Node, path string) (*Series, error) {
	if c.Has(n.Topic(), path) {
		return nil, ErrCharted
	}
	if len(c.series) >= MaxSeries {
		return nil, ErrChartFull
	}
	s := &Series{Topic: n.Topic(), Path: path, max: c.MaxPoints, Color: c.color()}
	if s.max <= 0 {
		s.max = DefaultMaxPoints
	}
	h := n.History(nil)
	for i := len(h) - 1; i >= 0; i-- {
		if v, ok := Number(h[i].Payload, path); ok {
			s.add(Point{h[i].At, v})
		}
	}
	if s.Len() == 0 {
		return nil, ErrNoNumber
	}
	if c.byTopic == nil {
		c.byTopic = make(map[string][]*Series)
	}
	c.series = append(c.series, s)
	c.byTopic[s.Topic] = append(c.byTopic[s.Topic], s)
	return s, nil
}

// color returns the first color no series uses.
func (c *Chart) color() string {
	for _, col := range ChartColors {
		used := false
		for _, s := range c.series {
			used = used || s.Color == col
		}
		if !used {
			return col
		}
	}
	return ChartColors[len(c.series)%len(ChartColors)]
}

// Has reports whether the series of topic and path is charted.
func (c *Chart) Has(topic, path string) bool {
	for _, s := range c.byTopic[topic] {
		if s.Path == path {
			return true
		}
	}
	return false
}

// Remove takes a series out of the chart.
func (c *Chart) Remove(topic, path string) error {
	for i, s := range c.series {
		if s.Topic == topic && s.Path == path {
			c.series = append(c.series[:i], c.series[i+1:]...)
			list := c.byTopic[topic]
			for j, x := range list {
				if x == s {
					list = append(list[:j], list[j+1:]...)
					break
				}
			}
			if len(list) == 0 {
				delete(c.byTopic, topic)
			} else {
				c.byTopic[topic] = list
			}
			return nil
		}
	}
	return errNotInChart
}

// Clear removes every series.
func (c *Chart) Clear() {
	c.series, c.byTopic = nil, nil
}

// Series returns the series in the order they were added.
func (c *Chart) Series() []*Series { return c.series }

// Observe adds the numbers of messages on charted topics, and reports
// whether it added any.
func (c *Chart) Observe(msgs []Message) bool {
	if len(c.byTopic) == 0 || c.Paused {
		return false
	}
	added := false
	for i := range msgs {
		m := &msgs[i]
		for _, s := range c.byTopic[m.Topic] {
			if v, ok := Number(m.Payload, s.Path); ok {
				at := m.Time.UnixNano()
				if m.Time.IsZero() {
					at = time.Now().UnixNano()
				}
				s.add(Point{at, v})
				added = true
			}
		}
	}
	return added
}

// Chart drawing margins, in SVG units.
const (
	padLeft   = 56
	padRight  = 10
	padTop    = 10
	padBottom = 24
)

// axis is a value range with its tick step.
type axis struct{ lo, hi, step float64 }

// window returns the time span drawn: it ends at the newest point and
// spans at most Window (at least 2 s); ok is false without points.
func (c *Chart) window() (t0, t1 int64, ok bool) {
	w := c.Window
	if w <= 0 {
		w = defaultWindow
	}
	t1, t0 = math.MinInt64, math.MaxInt64
	for _, s := range c.series {
		if p, ok := s.Last(); ok && p.At > t1 {
			t1 = p.At
		}
	}
	var pts []Point
	for _, s := range c.series {
		for _, p := range s.Points(pts[:0]) {
			if p.At >= t1-int64(w) {
				t0 = min(t0, p.At)
			}
		}
	}
	if t0 == math.MaxInt64 {
		return 0, 0, false
	}
	return min(t0, t1-int64(2*time.Second)), t1, true
}

// axes returns the value axis of each series over [t0, t1]: one shared,
// or one each.
func (c *Chart) axes(t0 int64) []axis {
	out := make([]axis, len(c.series))
	lo, hi := math.Inf(1), math.Inf(-1)
	var pts []Point
	for i, s := range c.series {
		slo, shi := math.Inf(1), math.Inf(-1)
		for _, p := range s.Points(pts[:0]) {
			if p.At >= t0 {
				slo, shi = math.Min(slo, p.V), math.Max(shi, p.V)
			}
		}
		if math.IsInf(slo, 1) { // nothing in the window
			slo, shi = 0, 1
		}
		out[i].lo, out[i].hi = slo, shi
		lo, hi = math.Min(lo, slo), math.Max(hi, shi)
	}
	for i := range out {
		if c.SharedAxis || len(out) == 1 {
			out[i].lo, out[i].hi = lo, hi
		}
		out[i].lo, out[i].hi, out[i].step = niceRange(out[i].lo, out[i].hi, 4)
	}
	return out
}

// AxisRange returns the value range series i is drawn against, for a
// legend; ok is false without points.
func (c *Chart) AxisRange(i int) (lo, hi float64, ok bool) {
	t0, _, ok := c.window()
	if !ok || i < 0 || i >= len(c.series) {
		return 0, 0, false
	}
	a := c.axes(t0)[i]
	return a.lo, a.hi, true
}

// SVG draws the chart as an SVG document of the given size: a grid with
// value and time ticks and one line per series in its color, each series
// on its own axis unless SharedAxis (see there). Times are shown in now's
// location. It draws only what it computes itself: no external resources.
func (c *Chart) SVG(width, height int, now time.Time) string {
	width, height = max(width, padLeft+padRight+40), max(height, padTop+padBottom+40)
	right := padRight
	if !c.SharedAxis && len(c.series) > 1 {
		right = padLeft // room for the second axis
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="tt-chart-svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">`,
		width, height, width, height, html.EscapeString(c.ariaLabel()))
	t0, t1, ok := c.window()
	if !ok {
		b.WriteString(`<text class="tt-chart-empty" x="50%" y="50%" text-anchor="middle">No numbers yet</text></svg>`)
		return b.String()
	}
	axes := c.axes(t0)
	pw, ph := float64(width-padLeft-right), float64(height-padTop-padBottom)
	x := func(at int64) float64 { return padLeft + pw*float64(at-t0)/float64(t1-t0) }
	y := func(a axis, v float64) float64 { return padTop + ph*(1-(v-a.lo)/(a.hi-a.lo)) }

	// Value grid and labels: the first axis left, the second right.
	b.WriteString(`<g class="tt-chart-grid">`)
	a := axes[0]
	for v := a.lo; v <= a.hi+a.step/2; v += a.step {
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`, padLeft, width-right, y(a, v), y(a, v))
	}
	for i := range min(len(axes), 2) {
		if i == 1 && (c.SharedAxis || len(axes) < 2) {
			break
		}
		c.tickLabels(&b, i, axes[i], y, [2]int{padLeft - 6, width - right + 6}[i], [2]string{"end", "start"}[i])
	}
	// Time labels: start, middle, end.
	for i, at := range []int64{t0, t0 + (t1-t0)/2, t1} {
		anchor := [...]string{"start", "middle", "end"}[i]
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="%s">%s</text>`,
			x(at), height-6, anchor, time.Unix(0, at).In(now.Location()).Format(chartTimeFormat))
	}
	b.WriteString(`</g>`)
	for i, s := range c.series {
		a := axes[i]
		c.line(&b, s, t0, x, func(v float64) float64 { return y(a, v) })
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// tickLabels writes the value labels of axis a (series i) at x; with
// several axes they take the series' color.
func (c *Chart) tickLabels(b *strings.Builder, i int, a axis, y func(axis, float64) float64, x int, anchor string) {
	fill := ""
	if !c.SharedAxis && len(c.series) > 1 {
		fill = ` fill="` + c.series[i].Color + `"`
	}
	for v := a.lo; v <= a.hi+a.step/2; v += a.step {
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="%s" dominant-baseline="middle"%s>%s</text>`,
			x, y(a, v), anchor, fill, formatTick(v, a.step))
	}
}

// line draws a series from t0 on: a polyline, or a dot for one point.
func (c *Chart) line(b *strings.Builder, s *Series, t0 int64, x func(int64) float64, y func(float64) float64) {
	pts := s.Points(nil)
	first := 0
	for first < len(pts) && pts[first].At < t0 {
		first++
	}
	pts = pts[first:]
	if len(pts) == 0 {
		return
	}
	label := html.EscapeString(s.Label())
	if len(pts) == 1 {
		fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s</title></circle>`,
			x(pts[0].At), y(pts[0].V), s.Color, label)
		return
	}
	fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="1.75" stroke-linejoin="round" points="`, s.Color)
	for i, p := range pts {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(b, "%.1f,%.1f", x(p.At), y(p.V))
	}
	fmt.Fprintf(b, `"><title>%s</title></polyline>`, label)
}

// CSV returns the points of the series in the window drawn, oldest first,
// as CSV with a header: time (RFC 3339, UTC), series (topic · path),
// value.
func (c *Chart) CSV() []byte {
	var b strings.Builder
	w := csv.NewWriter(&b)
	w.Write([]string{"time", "series", "value"})
	t0, _, ok := c.window()
	if ok {
		var pts []Point
		for _, s := range c.series {
			for _, p := range s.Points(pts[:0]) {
				if p.At >= t0 {
					w.Write([]string{time.Unix(0, p.At).UTC().Format(time.RFC3339Nano), s.Label(),
						strconv.FormatFloat(p.V, 'g', -1, 64)})
				}
			}
		}
	}
	w.Flush()
	return []byte(b.String())
}

func (c *Chart) ariaLabel() string {
	if len(c.series) == 0 {
		return "Empty chart"
	}
	labels := make([]string, len(c.series))
	for i, s := range c.series {
		labels[i] = s.Label()
	}
	return "Chart of " + strings.Join(labels, ", ")
}

// niceRange widens [lo, hi] to multiples of a round step (1, 2 or 5 times
// a power of ten) giving about n intervals.
func niceRange(lo, hi float64, n int) (float64, float64, float64) {
	if hi-lo < 1e-12 {
		d := math.Max(math.Abs(lo)*0.1, 1)
		lo, hi = lo-d, hi+d
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	return math.Floor(lo/step) * step, math.Ceil(hi/step) * step, step
}

// formatTick formats a value label with as many decimals as the step needs.
func formatTick(v, step float64) string {
	dec := 0
	if step < 1 {
		dec = int(math.Ceil(-math.Log10(step)))
	}
	if math.Abs(v) < step/2 {
		v = 0
	}
	return strconv.FormatFloat(v, 'f', dec, 64)
}
