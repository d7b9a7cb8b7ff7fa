package e2e

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ternmq/tern/internal/testkit"
)

// TestReloadRestores connects under a profile name, subscribes twice (one
// with QoS 1, Retain Handling 2 and a color of its own), reloads the
// page, and finds it connected again with the same profile and
// subscriptions, receiving their messages.
func TestReloadRestores(t *testing.T) {
	testkit.Chromium(t)
	dir := clientBuild(t)
	s := newSite(t, dir)
	p := newPage(t, s)

	p.open("/connection")
	p.setValue("conn-name", "plant line")
	p.click("#conn-connect")
	p.waitJS("connected", `!!document.querySelector("#conn-status.state-ok")`, 15*time.Second)
	p.nav("/")
	p.setValue("sub-filter", "plant/#")
	p.setValue("sub-qos", "1")
	p.setValue("sub-rh", "2")
	p.click("#sub-add")
	p.waitJS("first subscription", `!!document.querySelector('#sub-list li.sub-active[data-filter="plant/#"]')`, 15*time.Second)
	p.setValue("sub-qos", "0")
	p.setValue("sub-rh", "0")
	p.setValue("sub-filter", "office/+")
	p.click("#sub-add")
	p.waitJS("second subscription", `!!document.querySelector('#sub-list li.sub-active[data-filter="office/+"]')`, 15*time.Second)
	p.eval(`(() => { const e = document.querySelector('#sub-list li[data-filter="plant/#"] input.swatch');
		e.value = "#123456"; e.dispatchEvent(new Event("change", {bubbles: true})); })()`)
	p.waitJS("color", `document.querySelector('#sub-list li[data-filter="plant/#"]').style.getPropertyValue("--c") === "#123456"`, 5*time.Second)

	conns := s.mqttConns.Load()
	p.open("/") // reload
	p.waitJS("connected again", `!!document.querySelector("#conn-status.state-ok")`, 20*time.Second)
	if n := s.mqttConns.Load(); n != conns+1 {
		t.Errorf("%d WebSocket connections after the reload, want %d", n, conns+1)
	}
	p.waitJS("subscriptions back, in order, with their options and color", `(() => {
		const li = [...document.querySelectorAll("#sub-list li.sub-active")];
		return li.length === 2 && li[0].dataset.filter === "plant/#" && li[1].dataset.filter === "office/+" &&
			li[0].style.getPropertyValue("--c") === "#123456" &&
			li[0].querySelector(".badge").textContent.includes("Q1") && li[0].querySelector(".badge").textContent.includes("RH2");
	})()`, 20*time.Second)

	pub := s.publisher(t, "reload-publisher")
	publish(t, p, pub, "plant/line1/temp", "21.5 after the reload")
	p.waitJS("message received after the reload", logHas("21.5 after the reload", 1), 15*time.Second)

	p.nav("/connection")
	name, err := chromedp.Run(p.ctx, chromedp.Value(chromedp.ID("conn-name")))
	if err != nil || name != "plant line" {
		t.Errorf("profile name %q after the reload (%v)", name, err)
	}

	// Disconnecting is kept too: the next reload stays disconnected.
	p.click("#conn-disconnect")
	p.waitJS("disconnected", `document.getElementById("conn-status-text").textContent === "Disconnected"`, 10*time.Second)
	p.open("/connection")
	if got := p.text("conn-status-text"); got != "Disconnected" {
		t.Errorf("status %q after a reload of a disconnected page", got)
	}
}
