package uistate

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"
)

func msg(topic, payload string) Message {
	return Message{Topic: topic, Payload: []byte(payload), Time: time.Unix(0, 0)}
}

// viewTopics lists the topics in the view, oldest first.
func viewTopics(l *Log) []string {
	var out []string
	for i := range l.ViewLen() {
		out = append(out, l.ViewAt(i).Topic)
	}
	return out
}

func TestLogAppendAndEvict(t *testing.T) {
	l := NewLog(3)
	for i := 1; i <= 5; i++ {
		l.Append(msg("t/"+strconv.Itoa(i), "x"))
	}
	if got, want := viewTopics(l), []string{"t/3", "t/4", "t/5"}; !slices.Equal(got, want) {
		t.Fatalf("view %v, want %v", got, want)
	}
	if l.Len() != 3 || l.Received() != 5 || l.Evicted() != 2 || l.Added() != 5 {
		t.Errorf("Len %d Received %d Evicted %d Added %d, want 3 5 2 5", l.Len(), l.Received(), l.Evicted(), l.Added())
	}
	if m := l.Newest(0); m == nil || m.Topic != "t/5" || m.Seq != 5 {
		t.Errorf("Newest(0) = %+v, want t/5 with Seq 5", m)
	}
	if l.Get(2) != nil || l.Get(3) == nil || l.Get(6) != nil {
		t.Error("Get must find exactly the Seqs 3..5")
	}
	if i := l.IndexOf(5); i != 0 {
		t.Errorf("IndexOf(5) = %d, want 0 (newest first)", i)
	}
	if i := l.IndexOf(3); i != 2 {
		t.Errorf("IndexOf(3) = %d, want 2", i)
	}
	if l.ViewAt(-1) != nil || l.ViewAt(3) != nil {
		t.Error("ViewAt out of range must be nil")
	}
}

func TestLogFilterAppliesToNewMessages(t *testing.T) {
	l := NewLog(4)
	l.Append(msg("home/kitchen/temp", "21.5"), msg("home/hall/temp", "19"), msg("office/temp", `{"t":20}`))
	l.SetFilter(Filter{Topic: "home/+/temp"})
	if got, want := viewTopics(l), []string{"home/kitchen/temp", "home/hall/temp"}; !slices.Equal(got, want) {
		t.Fatalf("wildcard view %v, want %v", got, want)
	}
	added := l.Added()
	// New messages are filtered as they arrive; the ring (4) evicts the
	// oldest, which leaves the view too.
	l.Append(msg("home/attic/temp", "30"), msg("garden/temp", "12"), msg("home/cellar/temp", "9"))
	if got, want := viewTopics(l), []string{"home/attic/temp", "home/cellar/temp"}; !slices.Equal(got, want) {
		t.Fatalf("view after appends %v, want %v", got, want)
	}
	if d := l.Added() - added; d != 2 {
		t.Errorf("Added grew by %d, want 2", d)
	}
	if i := l.IndexOf(l.Newest(1).Seq); i != 1 {
		t.Errorf("IndexOf(second newest) = %d, want 1", i)
	}
	if i := l.IndexOf(5); i != -1 { // garden/temp: held but filtered out
		t.Errorf("IndexOf(filtered out) = %d, want -1", i)
	}

	l.SetFilter(Filter{Topic: "temp", Text: "3"})
	if got, want := viewTopics(l), []string{"home/attic/temp"}; !slices.Equal(got, want) {
		t.Errorf("substring+text view %v, want %v", got, want)
	}
	l.SetFilter(Filter{})
	if l.ViewLen() != 4 {
		t.Errorf("zero filter shows %d, want all 4", l.ViewLen())
	}
}

func TestLogFilterText(t *testing.T) {
	l := NewLog(10)
	l.Append(msg("a", `{"Alarm":true}`), msg("b", "ok"), msg("c", "ALARM raised"), msg("d", "alar"))
	l.SetFilter(Filter{Text: "alarm"})
	if got, want := viewTopics(l), []string{"a", "c"}; !slices.Equal(got, want) {
		t.Errorf("case-insensitive text view %v, want %v", got, want)
	}
	// An invalid wildcard filter is a plain substring.
	l.SetFilter(Filter{Topic: "a/#/b"})
	if l.ViewLen() != 0 {
		t.Errorf("substring a/#/b matched %d messages", l.ViewLen())
	}
}

func TestLogLongFilteredRun(t *testing.T) {
	// The view's backing array must stay bounded while the ring turns over
	// many times with a filter set.
	l := NewLog(100)
	l.SetFilter(Filter{Topic: "even"})
	for i := range 100_000 {
		topic := "odd"
		if i%2 == 0 {
			topic = "even"
		}
		l.Append(msg(topic, ""))
	}
	if l.ViewLen() != 50 {
		t.Fatalf("ViewLen %d, want 50", l.ViewLen())
	}
	if c := cap(l.view); c > 400 {
		t.Errorf("view capacity grew to %d for a ring of 100", c)
	}
	for i := range l.ViewLen() {
		if l.ViewAt(i).Topic != "even" {
			t.Fatalf("row %d is %q", i, l.ViewAt(i).Topic)
		}
	}
}

func TestLogPause(t *testing.T) {
	l := NewLog(3)
	l.Append(msg("a", ""))
	l.Pause()
	l.Append(msg("b", ""), msg("c", ""))
	if l.ViewLen() != 1 || l.Held() != 2 || !l.Paused() {
		t.Fatalf("paused: ViewLen %d Held %d", l.ViewLen(), l.Held())
	}
	if l.Received() != 3 {
		t.Errorf("Received %d while paused, want 3", l.Received())
	}
	// Held messages are bounded by the capacity too: the oldest go.
	l.Append(msg("d", ""), msg("e", ""))
	if l.Held() != 3 || l.Evicted() != 1 {
		t.Errorf("Held %d Evicted %d, want 3 and 1", l.Held(), l.Evicted())
	}
	l.Append(msg("f", ""), msg("g", ""), msg("h", ""), msg("i", ""))
	if l.Held() != 3 || l.Evicted() != 5 {
		t.Errorf("after a batch larger than the log: Held %d Evicted %d, want 3 and 5", l.Held(), l.Evicted())
	}
	l.Resume()
	if got, want := viewTopics(l), []string{"g", "h", "i"}; !slices.Equal(got, want) || l.Paused() || l.Held() != 0 {
		t.Errorf("after Resume view %v paused %v held %d, want %v", got, l.Paused(), l.Held(), want)
	}
	if l.Received() != 9 {
		t.Errorf("Received %d, want 9", l.Received())
	}
}

func TestLogClear(t *testing.T) {
	l := NewLog(3)
	l.SetFilter(Filter{Topic: "a"})
	l.Append(msg("a", ""), msg("b", ""))
	l.Clear()
	if l.Len() != 0 || l.ViewLen() != 0 || l.Newest(0) != nil || l.Get(1) != nil {
		t.Fatal("Clear left messages")
	}
	l.Append(msg("a", ""))
	if m := l.Newest(0); m == nil || m.Seq != 3 {
		t.Errorf("after Clear the next message is %+v, want Seq 3", m)
	}
}

func TestContainsFold(t *testing.T) {
	for _, c := range []struct {
		s, needle string
		want      bool
	}{
		{"Hello World", "world", true},
		{"Hello", "hello!", false},
		{"", "a", false},
		{"abc", "", true},
		{"aaab", "aab", true},
		{"ÄRGER", "rger", true},
	} {
		if got := containsFold([]byte(c.s), []byte(c.needle)); got != c.want {
			t.Errorf("containsFold(%q, %q) = %v", c.s, c.needle, got)
		}
	}
}

// fullLog returns a log holding n messages on a few hundred topics with
// JSON payloads, as a busy dashboard would see.
func fullLog(n int) *Log {
	l := NewLog(n)
	for i := range n {
		l.Append(Message{
			Topic:   fmt.Sprintf("site/%d/device/%d/temperature", i%7, i%300),
			Payload: fmt.Appendf(nil, `{"value":%d.%d,"unit":"C","status":"ok","seq":%d}`, 15+i%20, i%10, i),
		})
	}
	return l
}

// BenchmarkLogAppend appends one batch of 375 messages: what the page
// receives in one 75 ms interval at 5,000 messages per second. The log is
// full, so every message also evicts one. ns/op is the UI-goroutine time
// per batch; msgs/s is the rate the log alone could take.
func BenchmarkLogAppend(b *testing.B) {
	for _, filtered := range []bool{false, true} {
		b.Run(fmt.Sprintf("filtered=%v", filtered), func(b *testing.B) {
			l := fullLog(DefaultLogCapacity)
			if filtered {
				l.SetFilter(Filter{Topic: "site/+/device/+/temperature", Text: "ok"})
			}
			batch := make([]Message, 375)
			for i := range batch {
				batch[i] = Message{Topic: fmt.Sprintf("site/1/device/%d/temperature", i), Payload: []byte(`{"value":20.5,"status":"ok"}`)}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				l.Append(batch...)
			}
			b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkLogFilter sets a filter on a full log of 10,000 messages.
func BenchmarkLogFilter(b *testing.B) {
	l := fullLog(DefaultLogCapacity)
	for _, c := range []struct {
		name string
		f    Filter
	}{
		{"topic-substring", Filter{Topic: "device/42/"}},
		{"topic-wildcard", Filter{Topic: "site/3/device/+/temperature"}},
		{"payload-text", Filter{Text: `"VALUE":17.`}},
		{"both", Filter{Topic: "site/+/device/#", Text: "seq\":99"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				l.SetFilter(c.f)
			}
			b.ReportMetric(float64(l.ViewLen()), "matches")
		})
	}
}
