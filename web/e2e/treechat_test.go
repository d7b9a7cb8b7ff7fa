package e2e

// Browser tests of the topic tree and the chat (web client part 2). They
// share this package's client build, site and page helpers.

import (
	"github.com/ternmq/tern/internal/testkit"

	"context"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"
)

// tcp serves the site's broker on a loopback TCP port too, for
// mosquitto_pub, and returns the port.
func (s *site) tcp(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.srv.Serve(ctx, ln)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// mosquittoPub returns the path of mosquitto_pub, or skips the test (fails
// it under CI).
func mosquittoPub(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("mosquitto_pub"); err == nil {
		return p
	}
	if testkit.InCI() {
		t.Fatal("mosquitto_pub is not installed (CI=true): run make setup (apt-get install mosquitto-clients)")
	}
	t.Skip("mosquitto_pub is not installed: skipping (make setup installs it)")
	return ""
}

// cliPub runs mosquitto_pub against the broker's TCP port.
func cliPub(t *testing.T, port string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	args = append([]string{"-h", "127.0.0.1", "-p", port, "-V", "mqttv5"}, args...)
	if out, err := exec.CommandContext(ctx, mosquittoPub(t), args...).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub %q: %v\n%s", args, err, out)
	}
}

// retained returns the topics and payloads of the retained messages the
// broker holds under filter, read by a new Go client: they arrive right
// after the SUBACK, before a marker message the client then publishes to
// itself, so nothing waits on a timer.
func retained(t *testing.T, ws, filter string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := client.Connect(ctx, ws, client.Options{ClientID: "e2e-retained-check", CleanStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(context.Background(), codec.NormalDisconnection)
	marker := "e2e/marker/" + strconv.FormatInt(time.Now().UnixNano(), 10)
	msgs := make(chan *client.Message, 1024)
	handle := func(m *client.Message) { msgs <- m }
	if _, err := c.Subscribe(ctx, handle, codec.Subscription{Filter: filter}, codec.Subscription{Filter: marker}); err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(ctx, &client.Message{Topic: marker, Payload: []byte("end")}); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for {
		select {
		case m := <-msgs:
			if m.Topic == marker {
				return got
			}
			if m.Retain {
				got[m.Topic] = string(m.Payload)
			}
		case <-ctx.Done():
			t.Fatalf("reading the retained messages under %s: %v", filter, ctx.Err())
		}
	}
}

// rowSel is the CSS selector of the tree row of a topic.
func rowSel(topic string) string { return fmt.Sprintf(`.tt-row[data-topic=%q]`, topic) }

// rowHas is a predicate: the tree row of topic is rendered and contains s.
func rowHas(topic, s string) string {
	return fmt.Sprintf(`(document.querySelector(%q)?.textContent || "").includes(%q)`, rowSel(topic), s)
}

// connectTree opens the tree page, connects and waits for the tree to be
// live.
func connectTree(p *page) {
	p.t.Helper()
	p.open("/tree")
	p.click("#conn-connect")
	p.waitJS("tree live", `document.getElementById("tt-state")?.textContent === "Live"`, 20*time.Second)
}

// TestTopicTree: retained messages published by mosquitto_pub appear in
// the tree with their values; live updates, the diff, the publish form
// filled by a click, the chart with two topics, search and the keyboard;
// then clearing the retained messages under a node asks first, shows how
// many, and removes exactly those (checked with a Go client).
func TestTopicTree(t *testing.T) {
	testkit.Chromium(t)
	mosquittoPub(t)
	dir := clientBuild(t)
	s := newSite(t, dir)
	port := s.tcp(t)
	retainedSet := map[string]string{
		"plant/line1/temp":   "21.5",
		"plant/line1/speed":  `{"rpm":1200,"ok":true,"motor":{"amps":3.2}}`,
		"plant/line1/status": "running",
		"plant/line2/temp":   "19.0",
		"plant/line2/status": "stopped",
		"office/door":        "closed",
	}
	for topic, payload := range retainedSet {
		cliPub(t, port, "-r", "-q", "1", "-t", topic, "-m", payload)
	}
	p := newPage(t, s)
	p.shots = screenshotDir(t)
	connectTree(p)

	t.Run("retained messages appear", func(t *testing.T) {
		p.waitJS("all topics", `document.getElementById("tt-counts").textContent.startsWith("6 topics")`, 15*time.Second)
		p.click("#tt-expand")
		for topic, payload := range retainedSet {
			p.waitJS(topic+" in the tree", rowHas(topic, rowPreview(payload)), 15*time.Second)
			p.waitJS(topic+" marked retained", fmt.Sprintf(`!!document.querySelector(%q)`, rowSel(topic)+" .tt-retained"), 5*time.Second)
		}
		counts := p.text("tt-counts")
		if !strings.HasPrefix(counts, "6 topics") {
			t.Errorf("counts %q", counts)
		}
	})

	t.Run("live values, diff and the publish form", func(t *testing.T) {
		cliPub(t, port, "-r", "-q", "1", "-t", "plant/line1/temp", "-m", "22.25")
		p.waitJS("new value", rowHas("plant/line1/temp", "22.25"), 15*time.Second)
		p.click(rowSel("plant/line1/temp"))
		p.waitJS("detail", `document.getElementById("tt-detail-topic")?.textContent === "plant/line1/temp"`, 5*time.Second)
		p.waitJS("publish form filled", `document.getElementById("pub-topic").value === "plant/line1/temp" && document.getElementById("pub-payload").value === "22.25"`, 5*time.Second)
		diff := p.text("tt-diff")
		if !strings.Contains(diff, "- 21.5") || !strings.Contains(diff, "+ 22.25") {
			t.Errorf("diff %q", diff)
		}
		if h := p.text("tt-history"); !strings.Contains(h, "22.25") || !strings.Contains(h, "21.5") {
			t.Errorf("history %q", h)
		}
	})

	t.Run("several topics in one chart", func(t *testing.T) {
		p.click("#tt-chart-add")
		p.waitJS("first series", `document.querySelectorAll("#tt-legend .tt-series").length === 1`, 5*time.Second)
		p.click(rowSel("plant/line1/speed"))
		p.waitJS("speed detail", `document.getElementById("tt-detail-topic")?.textContent === "plant/line1/speed"`, 5*time.Second)
		opts := p.evalString(`[...document.querySelectorAll("#tt-chart-path option")].map(o => o.value).join(",")`)
		if opts != "rpm,ok,motor.amps" {
			t.Errorf("numeric paths %q, want rpm,ok,motor.amps", opts)
		}
		p.eval(`(() => { const s = document.getElementById("tt-chart-path"); s.value = "motor.amps"; s.dispatchEvent(new Event("change", {bubbles: true})); })()`)
		p.click("#tt-chart-add")
		p.waitJS("two series in one chart", `document.querySelectorAll("#tt-legend .tt-series").length === 2 &&
			document.querySelectorAll("#tt-chart-box svg polyline, #tt-chart-box svg circle").length === 2`, 5*time.Second)
		if l := p.text("tt-legend"); !strings.Contains(l, "plant/line1/speed · motor.amps = 3.2") || !strings.Contains(l, "plant/line1/temp = 22.25") {
			t.Errorf("legend %q", l)
		}
		for i := range 3 {
			cliPub(t, port, "-q", "1", "-t", "plant/line1/speed", "-m", fmt.Sprintf(`{"rpm":%d,"ok":true,"motor":{"amps":%d.5}}`, 1200+i, 3+i))
		}
		p.waitJS("points added", `document.querySelectorAll("#tt-chart-box svg polyline").length === 2`, 10*time.Second)
		// Two series on two axes: value labels left and right, each in its
		// series' color; "One axis" puts them back on one.
		p.waitJS("two axes", `new Set([...document.querySelectorAll("#tt-chart-box svg text[fill]")].map(e => e.getAttribute("fill") + e.getAttribute("text-anchor"))).size === 2`, 5*time.Second)
		p.click("#tt-chart-shared")
		p.waitJS("one axis", `document.querySelectorAll("#tt-chart-box svg text[fill]").length === 0`, 5*time.Second)
		p.click("#tt-chart-shared")
		// Paused, the chart takes no points.
		p.click("#tt-chart-pause")
		p.waitJS("paused", `document.getElementById("tt-chart-pause").textContent === "Resume"`, 5*time.Second)
		const points = `[...document.querySelectorAll("#tt-chart-box svg polyline")].map(p => p.getAttribute("points").split(" ").length).join(",")`
		before := p.evalString(points)
		cliPub(t, port, "-q", "1", "-t", "plant/line1/speed", "-m", `{"rpm":1300,"ok":true,"motor":{"amps":9.5}}`)
		p.waitJS("value in the tree", rowHas("plant/line1/speed", "1300"), 10*time.Second)
		if after := p.evalString(points); after != before {
			t.Errorf("a paused chart took a point: %s points, then %s", before, after)
		}
		p.click("#tt-chart-pause")
	})

	t.Run("search", func(t *testing.T) {
		p.setValue("tt-search", "line2")
		p.waitJS("search applied", `document.getElementById("tt-scroll").dataset.query === "line2"`, 5*time.Second)
		rows := p.evalString(`[...document.querySelectorAll(".tt-row")].map(r => r.dataset.topic).join(",")`)
		if rows != "plant,plant/line2,plant/line2/status,plant/line2/temp" {
			t.Errorf("rows %q", rows)
		}
		p.setValue("tt-search", "plant/+/temp")
		p.waitJS("filter search", `document.getElementById("tt-scroll").dataset.rows === "5"`, 5*time.Second)
		p.setValue("tt-search", "")
		p.waitJS("search cleared", `document.getElementById("tt-scroll").dataset.query === ""`, 5*time.Second)
	})

	t.Run("keyboard", func(t *testing.T) {
		p.click("#tt-collapse")
		p.waitJS("collapsed", `document.getElementById("tt-scroll").dataset.rows === "2"`, 5*time.Second)
		p.do("focus the tree", 5*time.Second, chromedp.Focus(chromedp.ID("tt-scroll")))
		keys := []struct{ key, detail, rows string }{
			{"Home", "office", "2"},
			{"ArrowDown", "plant", "2"},
			{"ArrowRight", "plant", "4"},       // expand
			{"ArrowRight", "plant/line1", "4"}, // first child
			{"ArrowRight", "plant/line1", "7"},
			{"ArrowLeft", "plant/line1", "4"}, // collapse
			{"ArrowLeft", "plant", "4"},       // parent
		}
		for _, k := range keys {
			p.do("key "+k.key, 5*time.Second, chromedp.KeyEvent(keyCode(k.key)))
			p.waitJS(k.key+" → "+k.detail, fmt.Sprintf(`document.getElementById("tt-detail-topic")?.textContent === %q && document.getElementById("tt-scroll").dataset.rows === %q`, k.detail, k.rows), 5*time.Second)
		}
		p.click("#tt-expand")
		p.click(rowSel("plant/line1/speed"))
	})

	t.Run("screenshots", func(t *testing.T) {
		p.waitJS("chart drawn", `document.querySelectorAll("#tt-chart-box svg polyline").length === 2`, 5*time.Second)
		// A taller window, so that the chart below the tree is in the picture.
		p.do("tall window", 10*time.Second, chromedp.EmulateViewport(1280, 1400))
		for _, dark := range []bool{false, true} {
			shoot(t, p, "tree", dark)
		}
		p.scheme(false)
		p.do("window back", 10*time.Second, chromedp.EmulateViewport(1280, 860))
	})

	t.Run("clear retained under a node", func(t *testing.T) {
		p.click(rowSel("plant/line1"))
		p.waitJS("clear button", `document.getElementById("tt-clear")?.textContent === "Clear retained (3)"`, 5*time.Second)
		p.click("#tt-clear")
		p.do("confirmation", 5*time.Second, chromedp.WaitVisible(chromedp.ID("tt-confirm")))
		p.do("tall window", 10*time.Second, chromedp.EmulateViewport(1280, 1400))
		shoot(t, p, "tree-clear", false)
		p.do("window back", 10*time.Second, chromedp.EmulateViewport(1280, 860))
		if n := p.text("tt-clear-count"); n != "3 topics" {
			t.Errorf("the dialog says %q", n)
		}
		list := p.text("tt-clear-list")
		for _, topic := range []string{"plant/line1/speed", "plant/line1/status", "plant/line1/temp"} {
			if !strings.Contains(list, topic) {
				t.Errorf("the dialog does not list %s: %q", topic, list)
			}
		}
		if got := retained(t, s.ws, "#"); len(got) != len(retainedSet) {
			t.Fatalf("retained before confirming: %v", got)
		}
		// Cancel first: nothing happens.
		p.click("#tt-clear-cancel")
		p.do("dialog closed", 5*time.Second, chromedp.WaitNotPresent(chromedp.ID("tt-confirm")))
		if got := retained(t, s.ws, "#"); len(got) != len(retainedSet) {
			t.Fatalf("retained after cancelling: %v", got)
		}
		p.click("#tt-clear")
		p.do("confirmation again", 5*time.Second, chromedp.WaitVisible(chromedp.ID("tt-clear-confirm")))
		p.click("#tt-clear-confirm")
		p.waitJS("cleared", `(document.getElementById("tt-result")?.textContent || "").startsWith("Cleared 3 retained messages under plant/line1")`, 15*time.Second)
		p.waitJS("gone from the tree", `!document.querySelector(`+strconv.Quote(rowSel("plant/line1"))+`) && !!document.querySelector(`+strconv.Quote(rowSel("plant/line2/temp"))+`)`, 10*time.Second)
		got := retained(t, s.ws, "#")
		want := map[string]string{"plant/line2/temp": "19.0", "plant/line2/status": "stopped", "office/door": "closed"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("retained after clearing: %v, want %v", got, want)
		}
	})
}

// rowPreview is how a row shows a short payload.
func rowPreview(payload string) string {
	if len(payload) > 20 {
		return payload[:20]
	}
	return payload
}

// keyCode maps a key name to what chromedp.KeyEvent sends.
func keyCode(name string) string {
	switch name {
	case "Home":
		return kb.Home
	case "End":
		return kb.End
	case "ArrowUp":
		return kb.ArrowUp
	case "ArrowDown":
		return kb.ArrowDown
	case "ArrowLeft":
		return kb.ArrowLeft
	case "ArrowRight":
		return kb.ArrowRight
	}
	return name
}

// evalString evaluates an expression that returns a string.
func (p *page) evalString(expr string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		p.fail("eval "+expr, err)
	}
	return s
}

// tab opens a new tab in the browser context of ctx (sharing its storage),
// with its own console log.
func (p *page) tab(ctx context.Context) (*page, context.CancelFunc) {
	p.t.Helper()
	tctx, cancel := chromedp.NewContext(ctx)
	q := &page{t: p.t, ctx: tctx, site: p.site, shots: p.shots}
	if err := chromedp.Do(tctx); err != nil {
		p.t.Fatalf("opening a tab: %v", err)
	}
	console := chromedp.Console(tctx)
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			p.log(fmt.Sprintf("tab console.%s: %s", m.Type, m.Text))
		}
	}()
	return q, cancel
}

// joinChat opens the chat, and joins room as nick.
func joinChat(p *page, nick, room string) {
	p.t.Helper()
	p.open("/chat")
	p.waitJS("chat identity", `!document.getElementById("chat-join-btn").disabled`, 20*time.Second)
	p.setValue("chat-nick", nick)
	p.setValue("chat-room", room)
	p.click("#chat-join-btn")
	p.waitJS(nick+" in "+room, `document.getElementById("chat-state")?.textContent === "connected"`, 20*time.Second)
}

// online is a predicate: the room's online list holds exactly nicks.
func online(nicks ...string) string {
	slices.Sort(nicks)
	return fmt.Sprintf(`[...document.querySelectorAll("#chat-online .chat-nick")].map(e => e.textContent).join(",") === %q`, strings.Join(nicks, ","))
}

// chatHas is a predicate: a chat message from sender with text is shown.
func chatHas(from, text string) string {
	return fmt.Sprintf(`[...document.querySelectorAll("#chat-messages .chat-msg")].some(m =>
		m.querySelector(".chat-from")?.textContent === %q && m.querySelector(".chat-text")?.textContent === %q)`, from, text)
}

// send writes a message in the chat and sends it with Enter.
func (p *page) send(text string) {
	p.t.Helper()
	p.setValue("chat-text", text)
	p.do("send "+text, 10*time.Second, chromedp.Focus(chromedp.ID("chat-text")), chromedp.KeyEvent("\r"))
}

// TestChat: two browser contexts chat in one room and see each other's
// messages and presence; a message sent with mosquitto_pub in the
// documented format appears; a tab that closes is shown as gone; a
// message sent while a member was away reaches it when it comes back.
func TestChat(t *testing.T) {
	testkit.Chromium(t)
	mosquittoPub(t)
	dir := clientBuild(t)
	s := newSite(t, dir)
	port := s.tcp(t)

	alice := newPage(t, s)
	alice.shots = screenshotDir(t)
	// Bob's browser context (storage and locks of its own) in the same
	// browser; the first tab only holds it open, so that Bob's tab can
	// close and another open in the same context.
	bctx, cancelB := chromedp.NewContext(alice.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancelB)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatal(err)
	}
	bob, closeBob := alice.tab(bctx)

	joinChat(alice, "alice", "lobby")
	joinChat(bob, "bob", "lobby")

	t.Run("presence", func(t *testing.T) {
		alice.waitJS("alice sees bob", online("alice", "bob"), 15*time.Second)
		bob.waitJS("bob sees alice", online("alice", "bob"), 15*time.Second)
		alice.waitJS("bob joined notice", `document.getElementById("chat-messages").textContent.includes("bob joined")`, 5*time.Second)
	})

	t.Run("messages both ways", func(t *testing.T) {
		alice.send("hi bob")
		bob.waitJS("bob gets it", chatHas("alice", "hi bob"), 15*time.Second)
		bob.send("hello alice, all good?")
		alice.waitJS("alice gets it", chatHas("bob", "hello alice, all good?"), 15*time.Second)
		alice.waitJS("own message confirmed", `!document.querySelector("#chat-messages .chat-msg.pending")`, 10*time.Second)
	})

	t.Run("mosquitto_pub in the documented format", func(t *testing.T) {
		cliPub(t, port, "-q", "1", "-t", "chat/lobby/messages", "-m", `{"from":"sensor-7","text":"temperature is 21.5 °C"}`)
		alice.waitJS("alice sees the device", chatHas("sensor-7", "temperature is 21.5 °C"), 15*time.Second)
		bob.waitJS("bob sees the device", chatHas("sensor-7", "temperature is 21.5 °C"), 15*time.Second)
		cliPub(t, port, "-q", "1", "-t", "chat/lobby/messages", "-m", "plain text works too")
		alice.waitJS("plain text", chatHas("anonymous", "plain text works too"), 15*time.Second)
		// Under a username: shown with it as the verified sender.
		cliPub(t, port, "-q", "1", "-t", "chat/lobby/messages/sensor-7", "-m", `{"from":"Sensor","text":"verified"}`)
		alice.waitJS("verified sender", chatHas("Sensor", "verified")+` && [...document.querySelectorAll("#chat-messages .chat-user")].some(e => e.textContent === "✓ sensor-7")`, 15*time.Second)
		// A device announces itself with a retained presence.
		cliPub(t, port, "-r", "-q", "1", "-t", "chat/lobby/presence/sensor-7", "-m", `{"nick":"sensor-7"}`)
		alice.waitJS("device online", online("alice", "bob", "sensor-7"), 15*time.Second)
		cliPub(t, port, "-r", "-q", "1", "-t", "chat/lobby/presence/sensor-7", "-n")
		alice.waitJS("device gone", online("alice", "bob"), 15*time.Second)
	})

	t.Run("screenshots", func(t *testing.T) {
		for _, dark := range []bool{false, true} {
			shoot(t, alice, "chat", dark)
		}
		alice.scheme(false)
	})

	t.Run("a closed tab is shown as gone", func(t *testing.T) {
		closeBob()
		alice.waitJS("bob gone", online("alice")+` && [...document.querySelectorAll("#chat-gone .chat-nick")].some(e => e.textContent === "bob")`, 20*time.Second)
		alice.waitJS("bob left notice", `document.getElementById("chat-messages").textContent.includes("bob left")`, 5*time.Second)
	})

	t.Run("messages sent while away arrive on return", func(t *testing.T) {
		alice.send("while you were away")
		alice.waitJS("sent", chatHas("alice", "while you were away")+` && !document.querySelector("#chat-messages .chat-msg.pending")`, 10*time.Second)
		bob2, closeBob2 := alice.tab(bctx)
		defer closeBob2()
		bob2.open("/chat")
		// The page rejoins the saved rooms with the same sessions.
		bob2.waitJS("bob is back in the lobby", `document.getElementById("chat-state")?.textContent === "connected"`, 20*time.Second)
		bob2.waitJS("the message sent while away", chatHas("alice", "while you were away"), 20*time.Second)
		alice.waitJS("alice sees bob again", online("alice", "bob"), 15*time.Second)
		if nick := bob2.evalString(`document.getElementById("chat-nick").value`); nick != "bob" {
			t.Errorf("nickname %q after return", nick)
		}
	})
}
