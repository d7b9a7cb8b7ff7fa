package ui

import (
	"strings"
	"testing"
	"time"

	"github.com/maxence-charriere/go-app/v9/pkg/app"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/wasm/uistate"
)

// render mounts the shell of a page natively (go-app's server tester)
// and returns its HTML.
func render(t *testing.T, h *Hub, path string) string {
	t.Helper()
	s := &Shell{Hub: h, Page: path}
	d := app.NewServerTester(s)
	defer d.Close()
	return app.HTMLString(s)
}

// TestPagesRender renders every page in the states that show the most:
// connected with messages, a selected message with 5.0 properties, a
// will, saved profiles, publish history; then failed with hints. The
// browser test checks the behaviour; this checks, natively and fast, that
// no state makes a page fail to render.
func TestPagesRender(t *testing.T) {
	h := NewHub(Env{PageURL: "http://localhost:8080/", MQTTPath: "/mqtt"})
	m := h.Model()
	if m.Form.URL != "ws://localhost:8080/mqtt" {
		t.Fatalf("default URL %q", m.Form.URL)
	}
	id, _ := m.Subs.Add(uistate.Subscription{Filter: "sensors/#", QoS: 1, NoLocal: true, RetainHandling: 2})
	m.StartConnecting(time.Now())
	props := codec.Properties{ContentType: "application/json", ResponseTopic: "r", CorrelationData: []byte{0xff, 1},
		MessageExpiryInterval: 9, SubscriptionIdentifiers: []int{3},
		UserProperties: []codec.UserProperty{{Key: "source", Value: "test"}}}
	props.Mark(codec.PropPayloadFormatIndicator)
	m.Apply(uistate.Update{
		Conn: []uistate.ConnEvent{{State: uistate.Connected, Server: &uistate.Server{Version: 5, ClientID: "x", AssignedID: true, ReasonString: "hi"}}},
		Messages: []uistate.Message{
			{Topic: "sensors/a", Payload: []byte(`{"v":1}`), QoS: 1, Retain: true, Dup: true, Sub: id, Props: &props, Time: time.Now()},
			{Topic: "sensors/b", Payload: []byte{0, 1, 2}, Sub: id},
		},
		Counts: map[int]uint64{id: 2},
	})
	m.Selected = m.Log.Newest(1).Seq
	m.Form.Will = &uistate.Will{Topic: "w"}
	m.Profiles.Save(uistate.DefaultProfile("http://localhost:8080/", ""))
	m.History.Add(uistate.Publish{Topic: "t", Payload: "p", UserProperties: []codec.UserProperty{{Key: "k"}}}, time.Now())
	m.Draft.UserProperties = []codec.UserProperty{{Key: "k", Value: "v"}}
	m.Notice = "hello"

	msgs := render(t, h, PathMessages)
	for _, want := range []string{`id="tern-app"`, `id="conn-disconnect"`, "sensors/#", `id="detail-props"`, "source",
		`&#34;v&#34;: 1`, `id="pub-history"`, `id="notice"`, "/mqtt", `aria-current="page"`, "Connected"} {
		if !strings.Contains(msgs, want) {
			t.Errorf("messages page lacks %s", want)
		}
	}
	conn := render(t, h, PathConnection)
	for _, want := range []string{`id="server-info"`, "assigned by the server", `id="will-topic"`, "This broker", `id="profiles-export"`} {
		if !strings.Contains(conn, want) {
			t.Errorf("connection page lacks %s", want)
		}
	}

	m.SetConn(uistate.ConnEvent{State: uistate.Failed, Failure: &uistate.Failure{Dial: true, Text: "boom"}})
	for _, path := range []string{PathMessages, PathConnection} {
		if html := render(t, h, path); !strings.Contains(html, `id="conn-hints"`) || !strings.Contains(html, "boom") {
			t.Errorf("%s: no hints after a failure", path)
		}
	}
	m.ClearLog()
	m.Form.Version = 4
	if html := render(t, h, PathMessages); !strings.Contains(html, "No messages yet") {
		t.Error("empty log text missing")
	}
}

// TestRoutes checks that every page is routed to a Shell sharing the hub.
func TestRoutes(t *testing.T) {
	h := NewHub(Env{})
	Register(h)
	for _, p := range Pages {
		if html := render(t, h, p.Path); !strings.Contains(html, p.Title) {
			t.Errorf("%s does not render its tab", p.Path)
		}
	}
}

// TestPagesMatchRoutes keeps ui.Pages and uistate.Routes, which the
// broker's web handler registers without linking this package, equal.
func TestPagesMatchRoutes(t *testing.T) {
	if len(Pages) != len(uistate.Routes) {
		t.Fatalf("ui.Pages has %d pages, uistate.Routes %d", len(Pages), len(uistate.Routes))
	}
	for i, p := range Pages {
		if r := uistate.Routes[i]; p.Path != r.Path || p.Title != r.Title {
			t.Errorf("page %d: ui.Pages has %s %q, uistate.Routes %s %q", i, p.Path, p.Title, r.Path, r.Title)
		}
	}
}
