package e2e

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/internal/testkit"
)

// rect returns the bounding box of the element with the given id.
func (p *page) rect(id string) (r struct{ Left, Top, Right, Bottom float64 }) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	got, err := chromedp.Run(ctx, chromedp.Evaluate[struct{ Left, Top, Right, Bottom float64 }](fmt.Sprintf(
		`(() => { const r = document.getElementById(%q).getBoundingClientRect(); return {left: r.left, top: r.top, right: r.right, bottom: r.bottom}; })()`, id)))
	if err != nil {
		p.fail("rect of #"+id, err)
	}
	return got
}

// TestLayoutAndInput checks the rough edges a new user meets: at 420 px
// the Subscribe card comes before an empty log; a lone retained topic
// three levels deep is in the tree without a click, counted as "1 topic";
// a binary value shows as hex, and in base64 when the format says so;
// a sentence typed at full speed keeps every space; the "Published to…"
// notice does not move the page; the row flags are explained; and at
// 1400×900 the message detail is beside the log, in view.
func TestLayoutAndInput(t *testing.T) {
	testkit.Chromium(t)
	dir := clientBuild(t)
	s := newSite(t, dir)
	pub := s.publisher(t, "fixes-publisher")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pub.Publish(ctx, &client.Message{Topic: "plant/line1/temp", Payload: []byte("21.5"), QoS: 1, Retain: true}); err != nil {
		t.Fatal(err)
	}

	p := newPage(t, s)
	p.do("phone width", 10*time.Second, chromedp.EmulateViewport(420, 860))
	p.open("/")
	if subs, log := p.rect("subs"), p.rect("log"); subs.Top >= log.Top {
		t.Errorf("at 420 px the Subscribe card (top %v) comes after the empty log (top %v)", subs.Top, log.Top)
	}

	p.do("wide window", 10*time.Second, chromedp.EmulateViewport(1400, 900))
	p.click("#conn-connect")
	p.waitJS("connected", `!!document.querySelector("#conn-status.state-ok")`, 15*time.Second)

	t.Run("lone topic open", func(t *testing.T) {
		p := p.in(t)
		p.nav("/tree")
		p.waitJS("plant/line1/temp shown without a click", rowHas("plant/line1/temp", "21.5"), 15*time.Second)
		if got := p.text("tt-counts"); got[:len("1 topic ·")] != "1 topic ·" {
			t.Errorf("counts %q, want 1 topic", got)
		}
		p.waitJS("node counts in the singular", rowHas("plant", "1 topic · 1 msg"), 5*time.Second)

		// A binary value shows as hex bytes, not as garbled text.
		ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
		defer cancel()
		if err := pub.Publish(ctx, &client.Message{Topic: "bin/blob", Payload: []byte{0x00, 0x01, 0xff, 0xfe, 0x80}, QoS: 1, Retain: true}); err != nil {
			t.Fatal(err)
		}
		p.waitJS("binary value as hex", rowHas("bin/blob", "00 01 ff fe 80"), 15*time.Second)
		// The one format switch applies to the tree too.
		p.click(rowSel("bin/blob"))
		p.waitJS("value in the detail", `(document.getElementById("tt-detail-value")?.textContent || "").includes("00 01 ff fe 80")`, 10*time.Second)
		p.setValue("tt-format", "base64")
		p.waitJS("row in base64", rowHas("bin/blob", "AAH//oA="), 10*time.Second)
		p.setValue("tt-format", "auto")
		p.nav("/")
	})

	t.Run("typing keeps spaces", func(t *testing.T) {
		p := p.in(t)
		p.setValue("sub-filter", "typed/#")
		p.click("#sub-add")
		p.waitJS("subscribed", `!!document.querySelector('#sub-list li.sub-active[data-filter="typed/#"]')`, 15*time.Second)
		p.setValue("pub-topic", "typed/sentence")
		p.setValue("pub-payload", "")
		const sentence = "the quick brown fox jumps over the lazy dog and then some more words"
		p.do("type", 30*time.Second, chromedp.SendKeys(chromedp.ID("pub-payload"), sentence))
		p.waitJS("the field holds the sentence", fmt.Sprintf(`document.getElementById("pub-payload").value === %q`, sentence), 5*time.Second)
		top := p.rect("main").Top
		p.click("#pub-send")
		p.waitJS("published notice", `(document.getElementById("notice")?.textContent || "").includes("Published to")`, 15*time.Second)
		if after := p.rect("main").Top; after != top {
			t.Errorf("the notice moved the page from %v to %v", top, after)
		}
		p.waitJS("the sentence in the log, every space kept", logHas(sentence, 1), 15*time.Second)
	})

	t.Run("flags explained", func(t *testing.T) {
		p := p.in(t)
		p.waitJS("legend", `document.getElementById("log-legend").textContent.includes("R retained")`, 5*time.Second)
		p.waitJS("tooltip", `[...document.querySelectorAll(".log-flags")].some(e => e.title.startsWith("QoS 0"))`, 5*time.Second)
	})

	t.Run("detail beside the log at 1400x900", func(t *testing.T) {
		p := p.in(t)
		for i := range 40 {
			publish(t, p, pub, "typed/many", "message "+strconv.Itoa(i))
		}
		p.waitJS("rows", logHas("message 39", 1), 15*time.Second)
		p.eval(`[...document.querySelectorAll(".log-row")].find(r => r.textContent.includes("message 39")).click()`)
		p.waitJS("detail", `(document.getElementById("detail")?.textContent || "").includes("message 39")`, 10*time.Second)
		d, l := p.rect("detail"), p.rect("log")
		if d.Left < l.Right {
			t.Errorf("detail at x %v, not right of the log (which ends at %v)", d.Left, l.Right)
		}
		if d.Top < 0 || d.Top > 900 || d.Right > 1400 {
			t.Errorf("detail %+v is not in the 1400×900 viewport", d)
		}
		if p.shots != "" {
			shoot(t, p, "wide", false)
		}
	})
}
