package e2e

import (
	"context"
	"fmt"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/internal/testkit"
	"github.com/ternmq/tern/wasm/uistate"
)

// tileHas is a predicate: the Broker page's tile key contains s.
func tileHas(key, s string) string {
	return fmt.Sprintf(`(document.getElementById(%q)?.textContent || "").includes(%q)`, "sys-tile-"+key, s)
}

// openBroker opens the Broker page and connects.
func openBroker(p *page) {
	p.t.Helper()
	p.open("/broker")
	p.click("#conn-connect")
	p.waitJS("connected", `document.getElementById("conn-status-text")?.textContent === "Connected"`, 20*time.Second)
}

// TestBrokerPage drives the Broker page against a real Mosquitto (with
// sys_interval 1), whose $SYS values appear in the tiles and charts, and
// against Tern with $SYS on (tiles move under load), and against a broker
// that publishes no $SYS (Tern with SysInterval 0), where the page says so. Screenshots of the page with Mosquitto's figures, in
// light and dark.
func TestBrokerPage(t *testing.T) {
	testkit.Chromium(t)
	dir := clientBuild(t)

	t.Run("mosquitto", func(t *testing.T) {
		// Debian's Mosquitto 2.0.11 exits when its only listeners are
		// WebSocket ones ("Unable to start any listening sockets"): a
		// TCP listener comes first.
		port := testkit.FreePort(t)
		testkit.StartMosquitto(t, fmt.Sprintf("listener %d 127.0.0.1\nlistener %d 127.0.0.1\nprotocol websockets\nallow_anonymous true\nsys_interval 1",
			testkit.FreePort(t), port))
		// The page reaches Mosquitto on its own origin (its CSP allows
		// no other): /mqtt is a reverse proxy to Mosquitto's WebSocket
		// listener.
		target, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", port))
		s := newSiteWith(t, dir, siteOptions{MQTT: httputil.NewSingleHostReverseProxy(target)})
		p := newPage(t, s)
		p.shots = screenshotDir(t)
		openBroker(p)
		sysLive(p, "mosquitto version 2.")

		// Load through Mosquitto: the PUBLISH rate appears in its tile and
		// chart.
		load(t, p, fmt.Sprintf("ws://127.0.0.1:%d/mqtt", port))
		p.waitJS("a rate in", `/^[0-9.]+$/.test(document.querySelector("#sys-tile-in .sys-value")?.textContent) && document.querySelector("#sys-tile-in .sys-value").textContent !== "0"`, 20*time.Second)
		p.waitJS("rate chart drawn, in and out", `[...document.querySelectorAll("#sys-chart-rates polyline")].filter(l => l.getAttribute("points").split(" ").length >= 3).length === 2`, 15*time.Second)
		p.waitJS("no notice", `!document.getElementById("sys-notice")`, 5*time.Second)
		for _, dark := range []bool{false, true} {
			shoot(t, p, "broker", dark)
		}
		p.scheme(false)
	})

	t.Run("tern", func(t *testing.T) {
		s := newSiteWith(t, dir, siteOptions{SysInterval: time.Second})
		p := newPage(t, s)
		openBroker(p)
		sysLive(p, "tern version ")
		load(t, p, s.ws)
		p.waitJS("a rate in", `/^[0-9.]+$/.test(document.querySelector("#sys-tile-in .sys-value")?.textContent) && document.querySelector("#sys-tile-in .sys-value").textContent !== "0"`, 20*time.Second)
		p.waitJS("no notice", `!document.getElementById("sys-notice")`, 5*time.Second)
	})

	t.Run("no $SYS", func(t *testing.T) {
		s := newSite(t, dir)
		p := newPage(t, s)
		openBroker(p)
		p.waitJS("waiting first", `document.getElementById("sys-state")?.textContent.startsWith("Waiting")`, 10*time.Second)
		p.waitJS("no $SYS", `document.getElementById("sys-state")?.textContent === "No $SYS"`, uistate.SysWait+15*time.Second)
		if got := p.text("sys-notice"); !strings.Contains(got, "This broker publishes no $SYS topics") {
			t.Errorf("notice %q", got)
		}
		if got := p.text("sys-tile-version"); !strings.Contains(got, "—") {
			t.Errorf("version tile %q without $SYS", got)
		}
	})
}

// sysLive waits until the Broker page is live with the broker's $SYS:
// the version tile starts with version, the uptime, clients, retained and
// subscriptions tiles have values, and the uptime moves (the broker runs
// with a $SYS interval of 1 s).
func sysLive(p *page, version string) {
	p.t.Helper()
	p.waitJS("$SYS live", `document.getElementById("sys-state")?.textContent === "Live"`, 15*time.Second)
	p.waitJS("version tile", tileHas("version", version), 10*time.Second)
	for _, key := range []string{"uptime", "clients", "retained", "subscriptions"} {
		p.waitJS(key+" tile has a value", fmt.Sprintf(`!document.querySelector("#sys-tile-%s .sys-value")?.textContent.includes("—")`, key), 10*time.Second)
	}
	up := p.evalString(`document.querySelector("#sys-tile-uptime .sys-value").textContent`)
	p.waitJS("uptime moves", fmt.Sprintf(`document.querySelector("#sys-tile-uptime .sys-value").textContent !== %q`, up), 10*time.Second)
}

// load publishes QoS 0 messages through the broker at url every 50 ms
// until the test ends, so that its $SYS counters move.
func load(t *testing.T, p *page, url string) {
	t.Helper()
	c, err := client.Connect(p.ctx, url, client.Options{ClientID: "e2e-sys-load"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		c.Disconnect(context.Background(), 0)
	})
	wg.Go(func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if c.Publish(ctx, &client.Message{Topic: "load/x", Payload: []byte(fmt.Sprint(i))}) != nil {
					return
				}
			}
		}
	})
}
