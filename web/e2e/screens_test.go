package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/internal/testkit"
	"github.com/ternmq/tern/wasm/chat"
)

// TestScreens fills every page with something to show and takes each in
// light and dark, wide (1400×900) and narrow (420 px):
// {messages,connection,tree,chat}-{wide,narrow}-{light,dark}.png. With
// TERN_SCREENSHOTS=dir (make screenshots) they go to dir.
func TestScreens(t *testing.T) {
	testkit.Chromium(t)
	dir := clientBuild(t)
	s := newSite(t, dir)
	pub := s.publisher(t, "screens-publisher")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	send := func(topic, payload string, retain bool) {
		t.Helper()
		if err := pub.Publish(ctx, &client.Message{Topic: topic, Payload: []byte(payload), QoS: 1, Retain: retain}); err != nil {
			t.Fatal(err)
		}
	}
	for topic, payload := range map[string]string{
		"plant/line1/temp": "21.5", "plant/line1/speed": `{"rpm":1200,"motor":{"amps":3.2}}`,
		"plant/line2/temp": "19.0", "office/door": "closed",
	} {
		send(topic, payload, true)
	}
	send("bin/blob", "\x00\x01\xff\xfe", true)

	p := newPage(t, s)
	p.shots = screenshotDir(t)
	p.do("wide", 10*time.Second, chromedp.EmulateViewport(1400, 900))
	p.open("/")
	p.click("#conn-connect")
	p.waitJS("connected", `!!document.querySelector("#conn-status.state-ok")`, 15*time.Second)
	p.nav("/tree") // from now on the tree gets the live values too
	p.waitJS("tree live", `document.getElementById("tt-state")?.textContent === "Live"`, 20*time.Second)
	p.nav("/")
	p.setValue("sub-filter", "plant/#")
	p.click("#sub-add")
	p.waitJS("subscribed", `!!document.querySelector('#sub-list li.sub-active[data-filter="plant/#"]')`, 15*time.Second)
	for i := range 6 {
		send("plant/line1/temp", fmt.Sprintf("%.1f", 21.5+float64(i)/2), false)
		send("plant/line1/speed", fmt.Sprintf(`{"rpm":%d,"motor":{"amps":%.1f}}`, 1200+40*i, 3.2+float64(i)/5), false)
	}
	p.waitJS("messages", logHas("1400", 1), 15*time.Second)
	p.eval(`[...document.querySelectorAll(".log-row")].find(r => r.textContent.includes("1400")).click()`)
	p.waitJS("detail", `(document.getElementById("detail-payload")?.textContent || "").includes("1400")`, 10*time.Second)

	p.nav("/tree")
	p.waitJS("tree", rowHas("plant/line1/temp", "24"), 15*time.Second)
	p.click(rowSel("plant/line1/speed"))
	p.click("#tt-chart-add")
	p.click(rowSel("plant/line1/temp"))
	p.click("#tt-chart-add")
	p.waitJS("chart", `document.querySelectorAll("#tt-legend .tt-series").length === 2`, 10*time.Second)

	p.nav("/chat")
	p.waitJS("chat identity", `!document.getElementById("chat-join-btn").disabled`, 20*time.Second)
	p.setValue("chat-nick", "ann")
	p.setValue("chat-room", "lobby")
	p.click("#chat-join-btn")
	p.waitJS("joined", `document.getElementById("chat-state")?.textContent === "connected"`, 20*time.Second)
	send(chat.MessagesTopic("lobby"), string(chat.NewMessage("bob", "Line 1 is back at 1,400 rpm.", time.Now()).Encode()), false)
	p.send("Thanks, the chart shows it too.")
	p.waitJS("chat", chatHas("ann", "Thanks, the chart shows it too."), 10*time.Second)

	for _, path := range []string{"/", "/connection", "/tree", "/chat"} {
		name := map[string]string{"/": "messages", "/connection": "connection", "/tree": "tree", "/chat": "chat"}[path]
		p.nav(path)
		for _, w := range []struct {
			name   string
			width  int64
			height int64
		}{{"wide", 1400, 900}, {"narrow", 420, 900}} {
			p.do(w.name, 10*time.Second, chromedp.EmulateViewport(w.width, w.height))
			p.waitJS("laid out", `document.readyState === "complete"`, 5*time.Second)
			for _, dark := range []bool{false, true} {
				shoot(t, p, name+"-"+w.name, dark)
			}
		}
		p.do("wide again", 10*time.Second, chromedp.EmulateViewport(1400, 900))
	}
	p.scheme(false)
}
