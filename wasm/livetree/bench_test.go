package livetree

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkInsert50k builds a tree of 50,000 topics (with their
// intermediate levels) from retained messages, as when a page subscribes
// to "#" on a broker holding that many retained messages.
func BenchmarkInsert50k(b *testing.B) {
	msgs := make([]Message, 50_000)
	for i := range msgs {
		msgs[i] = Message{Topic: benchTopic(i), Payload: []byte(`{"temp":21.5,"ok":true}`), Retain: true, Time: t0}
	}
	b.ReportAllocs()
	for b.Loop() {
		tr := New(Options{})
		tr.Apply(msgs...)
		if tr.Len() != 50_000 {
			b.Fatal(tr.Len())
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/50_000, "ns/topic")
}

// BenchmarkUpdate5000 applies one second of the target load, 5,000
// messages over a tree of 50,000 topics, in batches of 375 (one per 75 ms,
// as the MQTT service hands them over), and computes the rows after each
// batch as the UI does. ns/op is the cost of one second's worth.
func BenchmarkUpdate5000(b *testing.B) {
	tr := New(Options{})
	for i := range 50_000 {
		tr.Apply(Message{Topic: benchTopic(i), Payload: []byte("0"), Retain: true, Time: t0})
	}
	tr.ExpandAll(tr.Get("site3"))
	msgs := make([]Message, 5000)
	for i := range msgs {
		msgs[i] = Message{Topic: benchTopic(i * 13 % 50_000), Payload: fmt.Appendf(nil, `{"temp":%d}`, i), Time: t0}
	}
	b.ReportAllocs()
	for b.Loop() {
		for j := 0; j < len(msgs); j += 375 {
			tr.Apply(msgs[j:min(j+375, len(msgs))]...)
			tr.Rows()
		}
	}
	perMsg := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / 5000
	b.ReportMetric(perMsg, "ns/msg")
	b.ReportMetric(1e9/perMsg, "msg/s")
}

// BenchmarkRowsExpanded50k flattens a fully expanded tree of 50,000 topics
// after a change of shape (the worst case for a render).
func BenchmarkRowsExpanded50k(b *testing.B) {
	tr := New(Options{})
	for i := range 50_000 {
		tr.Apply(Message{Topic: benchTopic(i), Payload: []byte("0"), Time: t0})
	}
	tr.ExpandAll(nil)
	b.ReportAllocs()
	for b.Loop() {
		tr.version++ // force a recomputation
		if len(tr.Rows()) != tr.Nodes() {
			b.Fatal(len(tr.Rows()))
		}
	}
}

// BenchmarkSearch50k runs a substring search over 50,000 topics.
func BenchmarkSearch50k(b *testing.B) {
	tr := New(Options{})
	for i := range 50_000 {
		tr.Apply(Message{Topic: benchTopic(i), Payload: []byte("0"), Time: t0})
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tr.SetQuery(fmt.Sprint("SENSOR4", i%10))
		tr.Rows()
	}
}

// BenchmarkChartSVG draws 8 series of 1,000 points.
func BenchmarkChartSVG(b *testing.B) {
	tr := New(Options{})
	var c Chart
	for s := range MaxSeries {
		topic := fmt.Sprint("c/", s)
		tr.Apply(msg(topic, "1", false))
		c.Add(tr.Get(topic), "")
		for i := range DefaultMaxPoints {
			c.Observe([]Message{{Topic: topic, Payload: fmt.Append(nil, i%50+s), Time: t0.Add(time.Duration(i) * 100 * time.Millisecond)}})
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		c.SVG(800, 300, t0.Add(100*time.Second))
	}
}
