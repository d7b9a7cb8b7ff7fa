package uistate

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ternmq/tern/codec"
)

func TestDefaultURL(t *testing.T) {
	for _, c := range []struct{ page, path, want string }{
		{"http://localhost:8080/", "", "ws://localhost:8080/mqtt"},
		{"http://localhost:8080/connection?x=1", "/mqtt", "ws://localhost:8080/mqtt"},
		{"https://broker.example.com/", "/mqtt", "wss://broker.example.com:443/mqtt"},
		{"http://example.com/", "ws", "ws://example.com:80/ws"},
		{"http://[::1]:9000/", "", "ws://[::1]:9000/mqtt"},
		{"", "", "ws://localhost:8080/mqtt"},
	} {
		if got := DefaultURL(c.page, c.path); got != c.want {
			t.Errorf("DefaultURL(%q, %q) = %q, want %q", c.page, c.path, got, c.want)
		}
	}
}

func TestProfilesExportImport(t *testing.T) {
	var ps Profiles
	p := DefaultProfile("http://localhost:8080/", "/mqtt")
	p.Username, p.Password = "ada", "secret"
	p.Will = &Will{Topic: "status/ada", Payload: "gone", QoS: 1, Retain: true}
	if err := ps.Save(p); err != nil {
		t.Fatal(err)
	}
	q := p
	q.Name, q.Password, q.SavePassword, q.Version = "kept", "pw", true, 4
	if err := ps.Save(q); err != nil {
		t.Fatal(err)
	}
	if got, _ := ps.Get(p.Name); got.Password != "" {
		t.Error("a password was saved without SavePassword")
	}
	data, err := ps.Export()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "secret") || !strings.Contains(string(data), `"pw"`) {
		t.Errorf("export leaks or loses passwords:\n%s", data)
	}

	var ps2 Profiles
	n, err := ps2.Import(data)
	if err != nil || n != 2 {
		t.Fatalf("Import = %d, %v", n, err)
	}
	if !slices.EqualFunc(ps.List, ps2.List, func(a, b Profile) bool {
		return a.Name == b.Name && a.URL == b.URL && a.Version == b.Version && a.Password == b.Password &&
			(a.Will == nil) == (b.Will == nil) && (a.Will == nil || *a.Will == *b.Will)
	}) {
		t.Errorf("round trip:\n%+v\n%+v", ps.List, ps2.List)
	}

	// Importing replaces by name; a bare array is accepted.
	n, err = ps2.Import([]byte(`[{"name":"kept","url":"wss://x.example:443/mqtt"}]`))
	if err != nil || n != 1 || len(ps2.List) != 2 {
		t.Fatalf("array import: %d, %v, %d profiles", n, err, len(ps2.List))
	}
	if got, _ := ps2.Get("kept"); got.URL != "wss://x.example:443/mqtt" || got.Version != 5 {
		t.Errorf("replaced profile %+v", got)
	}

	for _, bad := range []string{
		`{"format":"other","profiles":[]}`,
		`not json`,
		`[]`,
		`[{"name":"a","url":"mqtt://host:1883"}]`,
		`[{"name":"","url":"ws://host/mqtt"}]`,
		`[{"name":"a","url":"ws://host/mqtt","version":3}]`,
		`[{"name":"a","url":"ws://host/mqtt","will":{"topic":"a/#"}}]`,
	} {
		before := len(ps2.List)
		if _, err := ps2.Import([]byte(bad)); err == nil {
			t.Errorf("Import(%s) succeeded", bad)
		}
		if len(ps2.List) != before {
			t.Errorf("a failed import changed the list")
		}
	}

	ps2.Delete("kept")
	if _, ok := ps2.Get("kept"); ok || len(ps2.List) != 1 {
		t.Error("Delete")
	}
}

func TestModelClientID(t *testing.T) {
	a, b := NewModel("http://h:1/", ""), NewModel("http://h:1/", "")
	if a.TabClientID == b.TabClientID || len(a.TabClientID) > 23 {
		t.Errorf("tab client ids %q and %q", a.TabClientID, b.TabClientID)
	}
	for _, r := range a.TabClientID {
		if !('a' <= r && r <= 'z' || '0' <= r && r <= '9') {
			t.Errorf("client id %q has %q", a.TabClientID, r)
		}
	}
	if a.ClientID() != a.TabClientID {
		t.Error("the form starts with the tab's id")
	}
	if err := a.SaveForm(); err != nil {
		t.Fatal(err)
	}
	if p, _ := a.Profiles.Get(a.Form.Name); p.ClientID != "" {
		t.Error("the tab's random id must not be saved in a profile")
	}
	b.LoadProfile(a.Profiles.List[0])
	if b.Form.ClientID != b.TabClientID {
		t.Error("a profile without a client id must get the loading tab's id")
	}
	a.Form.ClientID = "fixed"
	a.SaveForm()
	if p, _ := a.Profiles.Get(a.Form.Name); p.ClientID != "fixed" {
		t.Error("an explicit client id must be saved")
	}
}

func TestSubscriptions(t *testing.T) {
	var ss Subscriptions
	id1, err := ss.Add(Subscription{Filter: "a/#", QoS: 1})
	if err != nil {
		t.Fatal(err)
	}
	id2, _ := ss.Add(Subscription{Filter: "a/+/c", Color: "#000000"})
	id3, _ := ss.Add(Subscription{Filter: "$share/g/a/b/c"})
	if _, err := ss.Add(Subscription{Filter: "a/#"}); !errors.Is(err, ErrDuplicateFilter) {
		t.Errorf("duplicate: %v", err)
	}
	if _, err := ss.Add(Subscription{Filter: "a/#/b"}); err == nil {
		t.Error("invalid filter accepted")
	}
	if _, err := ss.Add(Subscription{Filter: "x", RetainHandling: 3}); err == nil {
		t.Error("retain handling 3 accepted")
	}
	if ss.Color(id1) != Palette[0] || ss.Color(id2) != "#000000" || ss.Color(id3) != Palette[1] {
		t.Errorf("colors %q %q %q", ss.Color(id1), ss.Color(id2), ss.Color(id3))
	}
	ss.Remove(id1)
	id4, _ := ss.Add(Subscription{Filter: "d"})
	if ss.Color(id4) != Palette[0] || id4 != 4 {
		t.Errorf("freed color not reused: id %d color %q", id4, ss.Color(id4))
	}

	ss.SetResult(id2, codec.GrantedQoS1, nil)
	ss.SetResult(id3, codec.NotAuthorized, nil)
	ss.SetResult(id4, 0, errors.New("boom"))
	if s := ss.Get(id2); s.State != SubActive || s.Granted != 1 {
		t.Errorf("granted: %+v", s)
	}
	if s := ss.Get(id3); s.State != SubFailed || s.Err != "Not authorized" {
		t.Errorf("refused: %+v", s)
	}
	if s := ss.Get(id4); s.State != SubFailed || s.Err != "boom" {
		t.Errorf("failed: %+v", s)
	}

	ss.AddCounts(map[int]uint64{id2: 3, id3: 1, 99: 5})
	ss.AddCounts(map[int]uint64{id2: 2})
	if ss.Get(id2).Count != 5 || ss.Get(id3).Count != 1 {
		t.Error("counts")
	}
	var got []string
	for _, s := range ss.Matching("a/b/c") {
		got = append(got, s.Filter)
	}
	if want := []string{"a/+/c", "$share/g/a/b/c"}; !slices.Equal(got, want) {
		t.Errorf("Matching = %v, want %v", got, want)
	}
	if c := ss.Get(id3).Codec(); c.Filter != "$share/g/a/b/c" {
		t.Errorf("Codec() = %+v", c)
	}
}

func TestHistory(t *testing.T) {
	var h History
	h.Max = 3
	t0 := time.Unix(100, 0)
	for i, topic := range []string{"a", "b", "a", "c", "d"} {
		h.Add(Publish{Topic: topic, Payload: "x"}, t0.Add(time.Duration(i)*time.Second))
	}
	var got []string
	for _, p := range h.List {
		got = append(got, p.Topic)
	}
	if want := []string{"d", "c", "a"}; !slices.Equal(got, want) {
		t.Errorf("history %v, want %v", got, want)
	}
	// Different properties make a different entry.
	h.Add(Publish{Topic: "d", Payload: "x", UserProperties: []codec.UserProperty{{Key: "k", Value: "v"}}}, t0)
	if len(h.List) != 3 || h.List[0].UserProperties == nil || h.List[1].Topic != "d" {
		t.Errorf("history with properties: %+v", h.List)
	}
	h.Remove(0)
	if len(h.List) != 2 {
		t.Error("Remove")
	}
}

func TestPublishProperties(t *testing.T) {
	p := Publish{Topic: "t", ContentType: "application/json", ResponseTopic: "r/1", CorrelationData: "42",
		MessageExpiry: 60, PayloadUTF8: true, UserProperties: []codec.UserProperty{{Key: "a", Value: "1"}, {}}}
	if err := p.Validate(); err == nil {
		t.Error("a user property without a name must be refused")
	}
	p.UserProperties = p.UserProperties[:1]
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	pr := p.Properties()
	if pr.ContentType != "application/json" || pr.ResponseTopic != "r/1" || string(pr.CorrelationData) != "42" ||
		pr.MessageExpiryInterval != 60 || pr.PayloadFormatIndicator != 1 || len(pr.UserProperties) != 1 {
		t.Errorf("Properties() = %+v", pr)
	}
	m := Message{Topic: "t", Payload: []byte("{}"), QoS: 1, Props: &pr}
	if back := FromMessage(&m); !back.same(&Publish{Topic: "t", Payload: "{}", QoS: 1, ContentType: "application/json",
		ResponseTopic: "r/1", CorrelationData: "42", MessageExpiry: 60, PayloadUTF8: true, UserProperties: p.UserProperties}) {
		t.Errorf("FromMessage = %+v", back)
	}
	for _, bad := range []Publish{{Topic: ""}, {Topic: "a/+"}, {Topic: "a", QoS: 3}, {Topic: "a", ResponseTopic: "#"}} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestHints(t *testing.T) {
	const page = "http://localhost:8080/"
	has := func(h []string, s string) bool {
		return slices.ContainsFunc(h, func(x string) bool { return strings.Contains(x, s) })
	}
	dial := &Failure{Dial: true, Text: "failed"}

	h := Hints("ws://localhost:8080/nope", page, dial)
	for _, want := range []string{"ws://localhost:8080/nope", `path “/nope”`, `subprotocol "mqtt"`, "origin"} {
		if !has(h, want) {
			t.Errorf("dial hints lack %q: %q", want, h)
		}
	}
	if h := Hints("ws://localhost:8080", page, dial); !has(h, "no path") {
		t.Errorf("no-path hint missing: %q", h)
	}
	if h := Hints("ws://other.example:8080/mqtt", page, dial); !has(h, "--allow-origin localhost:8080)") {
		t.Errorf("cross-origin hint missing: %q", h)
	}
	if h := Hints("ws://secure.example/mqtt", "https://secure.example/", dial); !has(h, "use wss://") {
		t.Errorf("mixed-content hint missing: %q", h)
	}
	if h := Hints("ws://localhost:8080/mqtt", page, &Failure{Code: codec.BadUserNameOrPassword}); len(h) != 1 || !has(h, "user name or password") {
		t.Errorf("bad password hints: %q", h)
	}
	if h := Hints("ws://localhost:8080/mqtt", page, &Failure{Code: codec.ServerMoved, ServerReference: "other:1883"}); !has(h, "other:1883") {
		t.Errorf("server moved hints: %q", h)
	}
	if h := Hints("ws://localhost:8080/mqtt", page, &Failure{Timeout: true}); !has(h, "did not answer in time") {
		t.Errorf("timeout hints: %q", h)
	}
	if h := Hints("::", page, dial); !has(h, "not valid") {
		t.Errorf("bad URL hints: %q", h)
	}
	if Hints("ws://x/mqtt", page, nil) != nil {
		t.Error("no failure, no hints")
	}
}

func TestModelApply(t *testing.T) {
	m := NewModel("http://localhost:8080/", "/mqtt")
	id, _ := m.Subs.Add(Subscription{Filter: "#"})
	m.StartConnecting(time.Now())
	if m.Conn.State != Connecting || m.Conn.URL != "ws://localhost:8080/mqtt" || m.Conn.ClientID != m.TabClientID {
		t.Fatalf("connecting: %+v", m.Conn)
	}
	ch := m.Apply(Update{
		Conn:     []ConnEvent{{State: Connected, Server: &Server{Version: 5}}},
		Messages: []Message{msg("a", "1"), msg("b", "2")},
		Counts:   map[int]uint64{id: 2},
	})
	if ch != ChangedConn|ChangedSubs|ChangedLog {
		t.Errorf("changed %b", ch)
	}
	if m.Conn.State != Connected || m.Log.Len() != 2 || m.Subs.Get(id).Count != 2 {
		t.Errorf("after apply: %v, %d messages, count %d", m.Conn.State, m.Log.Len(), m.Subs.Get(id).Count)
	}
	m.Subs.SetResult(id, 0, nil)
	m.Apply(Update{Conn: []ConnEvent{{State: Reconnecting, Failure: &Failure{Text: "lost"}}}})
	if m.Conn.State != Reconnecting || m.Subs.Get(id).State != SubActive || len(m.Conn.Hints) != 0 {
		t.Errorf("reconnecting: %+v, subscription %v", m.Conn, m.Subs.Get(id).State)
	}
	m.Apply(Update{Conn: []ConnEvent{{State: Connected}}})
	if m.Conn.Reconnects != 1 || m.Conn.Failure != nil {
		t.Errorf("reconnected: %+v", m.Conn)
	}
	m.Apply(Update{Conn: []ConnEvent{{State: Failed, Failure: &Failure{Dial: true}}}})
	if len(m.Conn.Hints) == 0 {
		t.Error("failure without hints")
	}
	m.Selected = m.Log.Newest(0).Seq
	if m.SelectedMessage() == nil {
		t.Error("selected message")
	}
	m.ClearLog()
	if m.Log.Len() != 0 || m.Selected != 0 || m.Subs.Get(id).Count != 0 {
		t.Error("ClearLog")
	}
	if (&Update{}).Empty() != true || (&Update{Dropped: 1}).Empty() {
		t.Error("Empty")
	}
	if ThemeSystem.Next() != ThemeLight || ThemeLight.Next() != ThemeDark || ThemeDark.Next() != ThemeSystem {
		t.Error("theme cycle")
	}
}

func TestProfileSCRAM(t *testing.T) {
	p := DefaultProfile("http://localhost:8080/", "")
	p.Name, p.Username, p.Password, p.Auth = "s", "ann", "secret", AuthSCRAM
	if !p.SCRAM() {
		t.Fatal("SCRAM() = false")
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		change func(*Profile)
		want   string
	}{
		{func(p *Profile) { p.Version = 4 }, "MQTT 5.0"},
		{func(p *Profile) { p.Username = "" }, "user name"},
		{func(p *Profile) { p.Auth = "plain" }, "authentication"},
	} {
		q := p
		c.change(&q)
		if err := q.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate = %v, want %q", err, c.want)
		}
	}
	// The method is saved and exported with the profile; the password only
	// when asked.
	var ps Profiles
	if err := ps.Save(p); err != nil {
		t.Fatal(err)
	}
	data, err := ps.Export()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"auth": "scram-sha-256"`) || strings.Contains(string(data), "secret") {
		t.Errorf("export: %s", data)
	}
	var ps2 Profiles
	if _, err := ps2.Import(data); err != nil {
		t.Fatal(err)
	}
	if got, _ := ps2.Get("s"); !got.SCRAM() || got.Password != "" {
		t.Errorf("imported %+v", got)
	}
	if _, err := ps2.Import([]byte(`[{"name":"x","url":"ws://h/mqtt","version":4,"username":"u","auth":"scram-sha-256"}]`)); err == nil {
		t.Error("a 3.1.1 SCRAM profile was imported")
	}
	// A password profile does not mention the method.
	p.Auth = AuthPassword
	ps.Save(p)
	if data, _ := ps.Export(); strings.Contains(string(data), `"auth"`) {
		t.Errorf("password profile export: %s", data)
	}
}

func TestSCRAMHints(t *testing.T) {
	const page = "http://localhost:8080/"
	h := Hints("ws://localhost:8080/mqtt", page, &Failure{Code: codec.BadAuthenticationMethod})
	if len(h) != 1 || !strings.Contains(h[0], "Password") {
		t.Errorf("bad method: %q", h)
	}
	h = Hints("ws://localhost:8080/mqtt", page, &Failure{ServerNotAuthenticated: true, Text: "x"})
	if len(h) != 1 || !strings.Contains(h[0], "proving") {
		t.Errorf("server not authenticated: %q", h)
	}
}
