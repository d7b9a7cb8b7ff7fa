package livetree

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNumber(t *testing.T) {
	tests := []struct {
		payload, path string
		want          float64
		ok            bool
	}{
		{"21.5", "", 21.5, true},
		{" -7 \n", "", -7, true},
		{"1e3", "", 1000, true},
		{"true", "", 1, true},
		{"false", "", 0, true},
		{"on", "", 0, false},
		{"", "", 0, false},
		{"NaN", "", 0, false},
		{`{"temp":21.5}`, "", 0, false},
		{`{"temp":21.5}`, "temp", 21.5, true},
		{`{"a":{"b":[1,{"c":"42"}]}}`, "a.b.1.c", 42, true},
		{`{"a":{"b":[1,{"c":"42"}]}}`, "a.b[1].c", 42, true},
		{`{"a":{"b":[1,2]}}`, "a.b.0", 1, true},
		{`{"a":{"b":[1,2]}}`, "a.b.5", 0, false},
		{`{"a":{"b":[1,2]}}`, "a.x", 0, false},
		{`{"ok":true}`, "ok", 1, true},
		{`{"s":"hot"}`, "s", 0, false},
		{`[3,4]`, "1", 4, true},
		{`not json`, "a", 0, false},
	}
	for _, tt := range tests {
		got, ok := Number([]byte(tt.payload), tt.path)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Number(%q, %q) = %v, %v; want %v, %v", tt.payload, tt.path, got, ok, tt.want, tt.ok)
		}
	}
}

func TestNumericPaths(t *testing.T) {
	tests := []struct {
		payload string
		want    []string
	}{
		{"12", []string{""}},
		{"hello", nil},
		{`{"b":1,"a":{"x":"2","y":"z","on":false},"arr":[1,2,{"q":3}]}`, []string{"b", "a.x", "a.on", "arr.0", "arr.1", "arr.2.q"}},
		{`[1,2,3,4,5,6,7,8,9,10]`, []string{"0", "1", "2", "3", "4", "5", "6", "7"}},
		{`{"a":`, nil},
	}
	for _, tt := range tests {
		if got := NumericPaths([]byte(tt.payload), 10); !slices.Equal(got, tt.want) {
			t.Errorf("NumericPaths(%q) = %q, want %q", tt.payload, got, tt.want)
		}
	}
	if got := NumericPaths([]byte(`{"a":1,"b":2,"c":3}`), 2); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("limited: %q", got)
	}
}

func diffString(d []DiffLine) string {
	var b strings.Builder
	for _, l := range d {
		fmt.Fprintf(&b, "%c%s|", l.Op, l.Text)
	}
	return b.String()
}

func TestDiff(t *testing.T) {
	tests := []struct {
		old, new, want string
	}{
		{"a", "a", "=a|"},
		{"21.5", "22", "-21.5|+22|"},
		{"a\nb\nc", "a\nx\nc", "=a|-b|+x|=c|"},
		{"a\nb", "a\nb\nc", "=a|=b|+c|"},
		{`{"t":1,"h":2}`, `{"t":1,"h":3}`, "={|=  \"t\": 1,|-  \"h\": 2|+  \"h\": 3|=}|"},
		{"x\na\nb\ny", "x\nb\na\ny", "=x|-a|=b|+a|=y|"},
		{"", "new", "-|+new|"},
	}
	for _, tt := range tests {
		if got := diffString(Diff([]byte(tt.old), []byte(tt.new))); got != tt.want {
			t.Errorf("Diff(%q, %q) = %s, want %s", tt.old, tt.new, got, tt.want)
		}
	}
	// Large inputs fall back to removed-and-added without quadratic work.
	var a, b []string
	for i := range 2000 {
		a = append(a, fmt.Sprint("a", i))
		b = append(b, fmt.Sprint("b", i))
	}
	d := Diff([]byte(strings.Join(a, "\n")), []byte(strings.Join(b, "\n")))
	if len(d) != 4000 || d[0].Op != Del || d[3999].Op != Add {
		t.Errorf("large diff: %d lines", len(d))
	}
}

func TestChart(t *testing.T) {
	tr := New(Options{})
	for i := range 5 {
		tr.Apply(Message{Topic: "s/temp", Payload: fmt.Appendf(nil, `{"v":%d,"name":"x"}`, 20+i), Time: t0.Add(time.Duration(i) * time.Second)})
		tr.Apply(Message{Topic: "s/hum", Payload: fmt.Appendf(nil, "%d", 40-i), Time: t0.Add(time.Duration(i) * time.Second)})
	}
	tr.Apply(msg("s/text", "hello", false))
	var c Chart
	s, err := c.Add(tr.Get("s/temp"), "v")
	if err != nil || s.Len() != 5 {
		t.Fatalf("Add: %v, %v", s, err)
	}
	if _, err := c.Add(tr.Get("s/temp"), "v"); err != ErrCharted {
		t.Errorf("Add again: %v", err)
	}
	if _, err := c.Add(tr.Get("s/text"), ""); err != ErrNoNumber {
		t.Errorf("Add text: %v", err)
	}
	if _, err := c.Add(tr.Get("s/hum"), ""); err != nil {
		t.Fatal(err)
	}
	if s.Color == c.Series()[1].Color {
		t.Error("two series share a color")
	}
	added := c.Observe([]Message{
		{Topic: "s/temp", Payload: []byte(`{"v":30}`), Time: t0.Add(10 * time.Second)},
		{Topic: "s/other", Payload: []byte(`1`)},
		{Topic: "s/hum", Payload: []byte(`x`)},
	})
	if !added || s.Len() != 6 {
		t.Errorf("Observe: %v, %d points", added, s.Len())
	}
	if p, _ := s.Last(); p.V != 30 {
		t.Errorf("last point %v", p)
	}
	svg := c.SVG(600, 240, t0.Add(10*time.Second))
	for _, want := range []string{"<svg", `<polyline fill="none" stroke="` + s.Color, "<title>s/temp · v</title>", "<title>s/hum</title>", "03:04:15", "</svg>"} {
		if !strings.Contains(svg, want) {
			t.Errorf("SVG lacks %q:\n%s", want, svg)
		}
	}
	if strings.Contains(svg, "http://") && strings.Count(svg, "http://") != 1 { // only the xmlns
		t.Error("SVG refers to a URL")
	}
	if err := c.Remove("s/temp", "v"); err != nil || len(c.Series()) != 1 || c.Has("s/temp", "v") {
		t.Errorf("Remove: %v", err)
	}
	c.Clear()
	if !strings.Contains(c.SVG(300, 200, t0), "No numbers yet") {
		t.Error("empty chart")
	}
}

func TestChartBounds(t *testing.T) {
	tr := New(Options{})
	c := Chart{MaxPoints: 10}
	for i := range MaxSeries + 1 {
		tr.Apply(msg(fmt.Sprint("n/", i), "1", false))
		_, err := c.Add(tr.Get(fmt.Sprint("n/", i)), "")
		if (i < MaxSeries) != (err == nil) {
			t.Errorf("series %d: %v", i, err)
		}
	}
	s := c.Series()[0]
	for i := range 100 {
		c.Observe([]Message{{Topic: s.Topic, Payload: fmt.Append(nil, i), Time: t0.Add(time.Duration(i))}})
	}
	pts := s.Points(nil)
	if len(pts) != 10 || pts[0].V != 90 || pts[9].V != 99 {
		t.Errorf("points %v", pts)
	}
}

func TestNiceRange(t *testing.T) {
	tests := []struct{ lo, hi, wlo, whi, step float64 }{
		{0, 10, 0, 10, 5},
		{21.3, 22.9, 21, 23, 0.5},
		{5, 5, 4, 6, 0.5},
		{-3, 97, -50, 100, 50},
	}
	for _, tt := range tests {
		lo, hi, step := niceRange(tt.lo, tt.hi, 4)
		if lo != tt.wlo || hi != tt.whi || step != tt.step {
			t.Errorf("niceRange(%v, %v) = %v, %v, %v", tt.lo, tt.hi, lo, hi, step)
		}
	}
}

func TestPretty(t *testing.T) {
	if got := Pretty([]byte(` {"a":[1,2]} `)); got != "{\n  \"a\": [\n    1,\n    2\n  ]\n}" {
		t.Errorf("Pretty = %q", got)
	}
	if got := Pretty([]byte("bad\xffutf8")); got != "bad\uFFFDutf8" {
		t.Errorf("Pretty = %q", got)
	}
}

// TestChartAxesPauseCSV: two series of very different scales each get an
// axis of their own (labels left and right, in their colors); a retained
// value is the first point of a new series; a paused chart takes no
// points; the CSV holds the points drawn.
func TestChartAxesPauseCSV(t *testing.T) {
	tr := New(Options{})
	tr.Apply(Message{Topic: "p/temp", Payload: []byte("21.5"), Retain: true, Time: t0})
	tr.Apply(Message{Topic: "p/rpm", Payload: []byte("1200"), Retain: true, Time: t0})
	var c Chart
	temp, err := c.Add(tr.Get("p/temp"), "")
	if err != nil || temp.Len() != 1 {
		t.Fatalf("the retained value is not the first point: %v, %v", temp, err)
	}
	rpm, _ := c.Add(tr.Get("p/rpm"), "")
	c.Observe([]Message{
		{Topic: "p/temp", Payload: []byte("22.5"), Time: t0.Add(time.Second)},
		{Topic: "p/rpm", Payload: []byte("1500"), Time: t0.Add(time.Second)},
	})
	lo, hi, ok := c.AxisRange(0)
	if !ok || lo > 21.5 || hi < 22.5 || hi > 30 {
		t.Errorf("temp axis %v..%v", lo, hi)
	}
	lo, hi, _ = c.AxisRange(1)
	if lo > 1200 || hi < 1500 || lo < 1000 {
		t.Errorf("rpm axis %v..%v", lo, hi)
	}
	svg := c.SVG(600, 240, t0)
	for _, want := range []string{`text-anchor="end" dominant-baseline="middle" fill="` + temp.Color, `text-anchor="start" dominant-baseline="middle" fill="` + rpm.Color} {
		if !strings.Contains(svg, want) {
			t.Errorf("SVG lacks %q (an axis per series):\n%s", want, svg)
		}
	}
	c.SharedAxis = true
	if lo, hi, _ := c.AxisRange(0); hi < 1500 || lo > 21.5 {
		t.Errorf("shared axis %v..%v", lo, hi)
	}
	c.SharedAxis = false

	c.Paused = true
	if c.Observe([]Message{{Topic: "p/temp", Payload: []byte("23"), Time: t0.Add(2 * time.Second)}}) || temp.Len() != 2 {
		t.Error("a paused chart took a point")
	}
	c.Paused = false

	want := "time,series,value\n" +
		"2025-01-02T03:04:05Z,p/temp,21.5\n2025-01-02T03:04:06Z,p/temp,22.5\n" +
		"2025-01-02T03:04:05Z,p/rpm,1200\n2025-01-02T03:04:06Z,p/rpm,1500\n"
	if got := string(c.CSV()); got != want {
		t.Errorf("CSV:\n%s\nwant:\n%s", got, want)
	}
}
