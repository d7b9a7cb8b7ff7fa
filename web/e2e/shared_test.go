package e2e

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// publisher connects a Go client to the site's broker over WebSocket,
// disconnected when the test ends.
func (s *site) publisher(t *testing.T, id string) *client.Client {
	t.Helper()
	c, err := client.Connect(t.Context(), s.ws, client.Options{ClientID: id})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Disconnect(context.Background(), codec.NormalDisconnection) })
	return c
}

// TestSharedConnection opens the Messages page and the topic tree in one
// tab: they share one MQTT connection (one WebSocket handshake at /mqtt),
// the log shows the messages of its subscription, the tree all of them,
// and the broker delivers each message once (its Delivered counter grows
// by the number published, not twice that). The header pill shows the
// chat's connections apart once a room is joined.
func TestSharedConnection(t *testing.T) {
	testkit.Chromium(t)
	dir := clientBuild(t)
	s := newSite(t, dir)
	p := newPage(t, s)

	p.open("/")
	p.click("#conn-connect")
	p.waitJS("connected", `!!document.querySelector("#conn-status.state-ok")`, 15*time.Second)
	p.setValue("sub-filter", "shared/#")
	p.click("#sub-add")
	p.waitJS("subscribed", `!!document.querySelector('#sub-list li.sub-active[data-filter="shared/#"]')`, 15*time.Second)
	p.nav("/tree")
	p.waitJS("tree live", `document.getElementById("tt-state")?.textContent === "Live"`, 20*time.Second)
	if n := s.mqttConns.Load(); n != 1 {
		t.Fatalf("%d WebSocket connections for the Messages page and the tree, want 1", n)
	}

	pub := s.publisher(t, "shared-publisher")
	before := s.srv.Stats().Delivered.Load()
	const n = 20
	for i := range n {
		topic := "shared/a"
		if i%2 == 1 {
			topic = "other/b" // only the tree subscribes to this
		}
		if err := pub.Publish(p.ctx, &client.Message{Topic: topic, QoS: 1, Payload: []byte("m" + strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}
	p.waitJS("every message in the tree", `/ 20 messages/.test(document.getElementById("tt-counts").textContent)`, 15*time.Second)
	if d := s.srv.Stats().Delivered.Load() - before; d != n {
		t.Errorf("the broker delivered %d messages for %d published to the one page, want each once", d, n)
	}
	p.nav("/")
	p.waitJS("the log has its subscription's messages only",
		fmt.Sprintf(`document.querySelectorAll(".log-row").length === %d && %s && !(%s)`, n/2, logHas("m18", 1), logHas("m19", 1)), 10*time.Second)
	if n := s.mqttConns.Load(); n != 2 {
		t.Errorf("%d WebSocket connections after going back, want 2 (the page's and the Go publisher's)", n)
	}
	if got := p.text("conn-status-text"); got != "Connected" {
		t.Errorf("status %q", got)
	}

	// The chat has connections of its own, shown apart in the header.
	p.nav("/chat")
	p.waitJS("chat identity", `!document.getElementById("chat-join-btn").disabled`, 20*time.Second)
	p.setValue("chat-nick", "ann")
	p.setValue("chat-room", "lobby")
	p.click("#chat-join-btn")
	p.waitJS("chat pill", `document.getElementById("chat-status-text")?.textContent === "Chat Connected"`, 20*time.Second)
	if got := p.text("conn-status-text"); got != "Connected" {
		t.Errorf("status %q beside the chat's", got)
	}
}
