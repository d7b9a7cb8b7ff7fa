package ui

import (
	"strings"
	"testing"
	"time"

	"github.com/ternmq/tern/wasm/chat"
	"github.com/ternmq/tern/wasm/livetree"
	"github.com/ternmq/tern/wasm/uistate"
)

// TestPart2PagesRender renders the topic tree and the chat natively, in
// states that show the most (a selected topic with a diff and
// properties, a chart, the clearing dialog; a room with messages, notices,
// members online and gone), and checks that they are tabs of the shell.
// The browser tests check the behaviour.
func TestPart2PagesRender(t *testing.T) {
	h := NewHub(Env{PageURL: "http://localhost:8080/", MQTTPath: "/mqtt"})

	// Before any state: both render.
	for _, path := range []string{PathTree, PathChat} {
		html := render(t, h, path)
		if !strings.Contains(html, `href="`+path+`"`) {
			t.Errorf("%s is not a tab", path)
		}
	}

	tr := h.tree
	h.m.Conn.State = uistate.Connected
	now := time.Now()
	tr.t.Apply(
		livetree.Message{Topic: "plant/line1/temp", Payload: []byte("21.5"), Retain: true, Time: now},
		livetree.Message{Topic: "plant/line1/temp", Payload: []byte("22"), Retain: true, Time: now},
		livetree.Message{Topic: "plant/line1/speed", Payload: []byte(`{"rpm":1200}`), Time: now},
		livetree.Message{Topic: "office/door", Payload: []byte("closed"), Retain: true, Time: now},
	)
	tr.t.ExpandAll(nil)
	n := tr.t.Get("plant/line1/temp")
	tr.t.Select(n)
	if _, err := tr.chart.Add(n, ""); err != nil {
		t.Fatal(err)
	}
	tr.clear = tr.t.NewClearJob(tr.t.Get("plant"))
	html := render(t, h, PathTree)
	for _, want := range []string{`id="tt-scroll"`, `data-topic="plant/line1/temp"`, `id="tt-detail-topic"`,
		`id="tt-diff"`, "- 21.5", "+ 22", `id="tt-history"`, "<svg", "polyline", `id="tt-legend"`,
		`id="tt-confirm"`, "1 topic", `id="tt-clear-confirm"`, `role="tree"`, `aria-expanded`, `id="pub-form"`} {
		if !strings.Contains(html, want) {
			t.Errorf("tree page lacks %s", want)
		}
	}
	tr.t.SetQuery("door")
	if html := render(t, h, PathTree); !strings.Contains(html, `data-query="door"`) || !strings.Contains(html, `data-rows="2"`) || !strings.Contains(html, `data-topic="office/door"`) {
		t.Error("the search is not applied")
	}

	c := h.chat
	c.base = "tctest"
	st := c.st
	st.Nick = "alice"
	st.Join("lobby")
	c.rooms["lobby"] = &roomConn{state: uistate.Connected}
	st.Receive("chat/lobby/presence/a", chat.Presence{Nick: "alice"}.Encode(), true, now)
	st.Receive("chat/lobby/presence/b", chat.Presence{Nick: "bob"}.Encode(), false, now)
	st.Receive("chat/lobby/messages", chat.NewMessage("bob", "hi <there>", now).Encode(), false, now)
	st.Receive("chat/lobby/messages/carol", chat.NewMessage("carol", "verified", now).Encode(), false, now)
	st.Sent("lobby", "", chat.NewMessage("alice", "hello", now))
	st.Receive("chat/lobby/presence/b", nil, false, now)
	st.Receive("chat/kitchen/presence/c", []byte("carol"), true, now)
	html = render(t, h, PathChat)
	for _, want := range []string{`id="chat-messages"`, "hi &lt;there&gt;", "chat-msg mine pending", "bob joined", "bob left",
		`id="chat-online"`, `id="chat-gone"`, `data-room="kitchen"`, "#lobby", `id="chat-text"`, "Session tctest", "not signed in",
		`class="chat-user small"`, "✓ carol"} {
		if !strings.Contains(html, want) {
			t.Errorf("chat page lacks %s", want)
		}
	}
}
