package uistate

import (
	"strings"
	"testing"
	"time"
)

// TestPageStateRoundTrip keeps a page's state and restores it in a fresh
// page, as a reload does: the form, the subscriptions with their colors
// and options, the wish to be connected, the publish form and the filter.
func TestPageStateRoundTrip(t *testing.T) {
	m := NewModel("http://127.0.0.1:8080/", "/mqtt")
	m.Form.Name, m.Form.Username, m.Form.Password = "plant", "ann", "secret"
	m.Subs.Add(Subscription{Filter: "plant/#", QoS: 1, RetainHandling: 2, Color: "#123456"})
	m.Subs.Add(Subscription{Filter: "office/+", NoLocal: true, RetainAsPublished: true})
	m.Draft = Publish{Topic: "plant/cmd", Payload: "start", QoS: 2}
	m.Log.SetFilter(Filter{Topic: "plant/+/temp"})
	m.WantConnected = true
	data := m.PageState().Encode()
	if strings.Contains(string(data), "secret") {
		t.Errorf("the password is kept without SavePassword: %s", data)
	}
	if strings.Contains(string(data), m.TabClientID) {
		t.Errorf("the tab's random client id is kept: %s", data)
	}

	ps, err := DecodePageState(data)
	if err != nil {
		t.Fatal(err)
	}
	n := NewModel("http://127.0.0.1:8080/", "/mqtt")
	if !n.Restore(ps) {
		t.Error("a page that was connected does not connect again")
	}
	if n.Form.Name != "plant" || n.Form.Username != "ann" || n.Form.ClientID != n.TabClientID {
		t.Errorf("form %+v", n.Form)
	}
	got := n.Subs.List()
	if len(got) != 2 || got[0].Filter != "plant/#" || got[0].QoS != 1 || got[0].RetainHandling != 2 || got[0].Color != "#123456" ||
		got[1].Filter != "office/+" || !got[1].NoLocal || !got[1].RetainAsPublished || got[1].Color != m.Subs.List()[1].Color ||
		got[0].State != SubPending {
		t.Errorf("subscriptions %+v", got)
	}
	if n.Draft.Topic != "plant/cmd" || n.Draft.QoS != 2 || n.Log.Filter().Topic != "plant/+/temp" {
		t.Errorf("draft %+v, filter %+v", n.Draft, n.Log.Filter())
	}

	m.WantConnected = false
	if NewModel("http://127.0.0.1:8080/", "/mqtt").Restore(m.PageState()) {
		t.Error("a page that was disconnected connects after a reload")
	}
	if _, err := DecodePageState([]byte("{")); err == nil {
		t.Error("a broken state decodes")
	}
	if NewModel("", "").Restore(PageState{Form: Profile{URL: "http://x"}, Connect: true}) {
		t.Error("an invalid form connects")
	}
}

// TestProfileKeepsSubscriptions saves the form as a profile with the
// page's subscriptions, exports and imports it, and loads it in a fresh
// page.
func TestProfileKeepsSubscriptions(t *testing.T) {
	m := NewModel("http://127.0.0.1:8080/", "/mqtt")
	m.Form.Name = "plant"
	m.Subs.Add(Subscription{Filter: "plant/#", QoS: 2, Color: "#abcdef"})
	if err := m.SaveForm(); err != nil {
		t.Fatal(err)
	}
	data, err := m.Profiles.Export()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"subscriptions"`) || !strings.Contains(string(data), `"plant/#"`) {
		t.Errorf("export lacks the subscriptions: %s", data)
	}
	n := NewModel("http://127.0.0.1:8080/", "/mqtt")
	if c, err := n.Profiles.Import(data); c != 1 || err != nil {
		t.Fatalf("import: %d, %v", c, err)
	}
	p, _ := n.Profiles.Get("plant")
	if !n.LoadProfile(p) {
		t.Fatal("loading the profile did not restore its subscriptions")
	}
	if got := n.Subs.List(); len(got) != 1 || got[0].Filter != "plant/#" || got[0].QoS != 2 || got[0].Color != "#abcdef" {
		t.Errorf("subscriptions %+v", got)
	}
	if n.Form.Subscriptions != nil {
		t.Error("the form carries the profile's subscriptions")
	}
	// A connected page keeps its own.
	n.Conn.State = Connected
	n.Subs.Load(nil)
	if n.LoadProfile(p) || n.Subs.Len() != 0 {
		t.Error("loading a profile while connected replaced the subscriptions")
	}
}

func TestSubscriptionsLoadSkipsBad(t *testing.T) {
	var ss Subscriptions
	err := ss.Load([]SavedSub{{Filter: "a/#"}, {Filter: "a/#/b"}, {Filter: "a/#"}, {Filter: "c", QoS: 1}})
	if err == nil || ss.Len() != 2 || ss.List()[1].Filter != "c" {
		t.Errorf("loaded %+v, err %v", ss.List(), err)
	}
}

// TestLogSummary: a full log that drops its oldest rows is working as
// meant and says so; only messages lost in a batch or a pause count as
// dropped.
func TestLogSummary(t *testing.T) {
	m := NewModel("", "")
	m.Log = NewLog(3)
	for range 5 {
		m.Log.Append(Message{Topic: "t"})
	}
	if got, want := m.LogSummary(3), "3 shown · 5 received (the newest 3 kept)"; got != want {
		t.Errorf("full log: %q, want %q", got, want)
	}
	m.Dropped = 2
	if got := m.LogSummary(1); got != "1 shown of 3 · 5 received (the newest 3 kept) · 2 dropped" {
		t.Errorf("with a lost batch: %q", got)
	}
	n := NewModel("", "")
	n.Log.Append(Message{Topic: "t"})
	if got := n.LogSummary(1); got != "1 shown · 1 received" {
		t.Errorf("one message: %q", got)
	}
}

func TestFlags(t *testing.T) {
	m := Message{QoS: 1, Retain: true, Dup: true}
	if m.Flags() != "Q1 R D" || m.FlagsTitle() != "QoS 1, retained, duplicate (sent again)" {
		t.Errorf("flags %q, title %q", m.Flags(), m.FlagsTitle())
	}
	for _, f := range []string{"Q0", "R ", "D ", "P "} {
		if !strings.Contains(FlagsLegend, f) {
			t.Errorf("the legend does not explain %q", f)
		}
	}
}

// TestExport exports the log's visible messages, filter applied, as JSON
// lines and as CSV, a binary payload in base64.
func TestExport(t *testing.T) {
	l := NewLog(10)
	at := time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	l.Append(
		Message{Time: at, Topic: "a/1", Payload: []byte(`say "hi", ok`), QoS: 1, Retain: true},
		Message{Time: at, Topic: "b/1", Payload: []byte("skip")},
		Message{Time: at, Topic: "a/2", Payload: []byte{0xff, 0x00}},
	)
	l.SetFilter(Filter{Topic: "a/+"})
	want := `{"time":"2026-01-02T03:04:05.006Z","topic":"a/1","qos":1,"retain":true,"payload":"say \"hi\", ok"}
{"time":"2026-01-02T03:04:05.006Z","topic":"a/2","qos":0,"payload":"/wA=","encoding":"base64"}
`
	if got := string(l.ExportJSONLines()); got != want {
		t.Errorf("JSON lines:\n%s\nwant:\n%s", got, want)
	}
	want = `time,topic,qos,retain,dup,payload,encoding
2026-01-02T03:04:05.006Z,a/1,1,true,false,"say ""hi"", ok",
2026-01-02T03:04:05.006Z,a/2,0,false,false,/wA=,base64
`
	if got := string(l.ExportCSV()); got != want {
		t.Errorf("CSV:\n%s\nwant:\n%s", got, want)
	}
}

// FuzzRestore feeds stored page states, as a user's browser might hold
// them after an edit by hand or an older version, to DecodePageState and
// Restore: nothing panics, and a state restored and kept again decodes to
// the same subscriptions.
func FuzzRestore(f *testing.F) {
	m := NewModel("http://127.0.0.1:8080/", "/mqtt")
	m.Subs.Add(Subscription{Filter: "a/#", QoS: 1, Color: "#123456"})
	m.WantConnected = true
	f.Add(m.PageState().Encode())
	f.Add([]byte(`{"form":{"url":"ws://x/mqtt","version":5},"subs":[{"filter":"a/#/b"},{"filter":"#","qos":9}],"connect":true}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := DecodePageState(data)
		if err != nil {
			return
		}
		n := NewModel("http://127.0.0.1:8080/", "/mqtt")
		n.Restore(ps)
		again, err := DecodePageState(n.PageState().Encode())
		if err != nil {
			t.Fatalf("a kept state does not decode: %v", err)
		}
		if len(again.Subs) != n.Subs.Len() {
			t.Fatalf("%d subscriptions kept, %d in the page", len(again.Subs), n.Subs.Len())
		}
	})
}
