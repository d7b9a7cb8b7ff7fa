package e2e

import (
	"github.com/ternmq/tern/internal/testkit"

	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/wasm/livetree"
)

// The browser load test's load: 5,000 messages a second for 10 seconds,
// over 1,000 topics, sent in bursts every 10 ms.
const (
	loadRate     = 5000
	loadDuration = 10 * time.Second
	loadTopics   = 1000
	loadTick     = 10 * time.Millisecond
)

// treeStats is what window.ternTreeStats() returns, and the page's
// JavaScript heap.
type treeStats struct {
	livetree.Stats
	JSHeap float64
}

func (p *page) treeStats() treeStats {
	p.t.Helper()
	var st treeStats
	if err := json.Unmarshal([]byte(p.evalString(`window.ternTreeStats()`)), &st); err != nil {
		p.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	st.JSHeap, _ = chromedp.Run(ctx, chromedp.Evaluate[float64](`performance.memory ? performance.memory.usedJSHeapSize : 0`))
	return st
}

func (s treeStats) String() string {
	return fmt.Sprintf("%d topics, %d messages, %d dropped; Go heap %.1f MiB in use (%.1f MiB held from the browser, %.1f MiB heap spans); JS heap %.1f MiB; history %d values, %.1f MiB",
		s.Topics, s.Messages, s.Dropped, mib(s.HeapAlloc), mib(s.Sys), mib(s.HeapSys), s.JSHeap/(1<<20), s.HistoryValues, float64(s.HistoryBytes)/(1<<20))
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// roundTrip is run in the page: it types a query into the tree's search
// field and resolves with the milliseconds until the tree shows it and the
// next frame is drawn (or -1 after 10 s).
const roundTrip = `(async (q) => {
	const input = document.getElementById("tt-search");
	const list = document.getElementById("tt-scroll");
	const t0 = performance.now();
	const shown = new Promise(resolve => {
		const mo = new MutationObserver(() => {
			if (list.dataset.query === q) { mo.disconnect(); resolve(true); }
		});
		mo.observe(list, {attributes: true, attributeFilter: ["data-query"]});
	});
	input.value = q;
	input.dispatchEvent(new Event("input", {bubbles: true}));
	const ok = await Promise.race([shown, new Promise(r => setTimeout(() => r(false), 10000))]);
	if (!ok) return -1;
	await new Promise(r => requestAnimationFrame(() => r()));
	return performance.now() - t0;
})(%q)`

// TestTreeLoad sends 5,000 messages a second for 10 seconds into a page
// with the topic tree open (expanded, a topic selected), measures the
// round trip from typing in the tree's search to the tree showing the
// result while the load runs, and checks that the page keeps up and that
// its memory stays bounded.
func TestTreeLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("short: skipping the browser load test")
	}
	testkit.Chromium(t)
	dir := clientBuild(t)
	s := newSite(t, dir)
	p := newPage(t, s)
	connectTree(p)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pub, err := client.Connect(ctx, s.ws, client.Options{ClientID: "e2e-load"})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Disconnect(context.Background(), codec.NormalDisconnection)
	topic := func(i int) string { return fmt.Sprintf("load/line%d/dev%02d/temp", i%10, i/10%100) }

	// One message per topic first, to open the tree on them.
	for i := range loadTopics {
		if err := pub.Publish(ctx, &client.Message{Topic: topic(i), Payload: []byte(`{"temp":20}`)}); err != nil {
			t.Fatal(err)
		}
	}
	p.waitJS("topics in the tree", fmt.Sprintf(`document.getElementById("tt-counts").textContent.startsWith("%d topics")`, loadTopics), 30*time.Second)
	p.click("#tt-expand")
	p.click(rowSel("load/line0/dev00/temp"))
	before := p.treeStats()
	t.Logf("before the load: %v", before)

	// Round 1: 1,000 topics, whose histories fill up and then stay put.
	r1 := runLoad(t, p, pub, topic, before)
	// Bounded memory: each topic keeps a bounded history, so the heap in
	// use after a collection stops growing once the histories are full.
	if r1.after.HeapAlloc > 128<<20 {
		t.Errorf("Go heap %.1f MiB after the load", mib(r1.after.HeapAlloc))
	}
	if r1.mid.HeapAlloc > 0 && r1.after.HeapAlloc > r1.mid.HeapAlloc+r1.mid.HeapAlloc/2+(8<<20) {
		t.Errorf("Go heap grew from %.1f MiB halfway to %.1f MiB at the end", mib(r1.mid.HeapAlloc), mib(r1.after.HeapAlloc))
	}

	// Round 2: every message on a new topic, so that the tree grows to
	// 51,000 topics while the search runs over all of them.
	big := func(i int) string { return fmt.Sprintf("big/site%d/line%02d/dev%02d", i%10, i/10%100, i/1000) }
	r2 := runLoad(t, p, pub, big, r1.after)
	if want := loadTopics + loadRate*int(loadDuration/time.Second); r2.after.Topics < want*99/100 {
		t.Errorf("%d topics in the tree, want %d", r2.after.Topics, want)
	}
	if r2.after.HeapAlloc > 256<<20 {
		t.Errorf("Go heap %.1f MiB with 51,000 topics", mib(r2.after.HeapAlloc))
	}
}

// loadResult is what one round of load measured.
type loadResult struct {
	mid, after treeStats
	rtts       []float64
}

// runLoad sends loadRate messages a second for loadDuration to topic(n)
// for the n-th message, measures input-to-render round trips while it
// runs, waits for every message to be in the tree, and logs the figures.
func runLoad(t *testing.T, p *page, pub *client.Client, topic func(int) string, before treeStats) loadResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// The load, paced by a ticker (not waiting for any event): each tick
	// sends what the rate asks for by then, so a late tick catches up.
	var sent atomic.Int64
	total := loadRate * int(loadDuration/time.Second)
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		tick := time.NewTicker(loadTick)
		defer tick.Stop()
		n := 0
		for range tick.C {
			due := min(total, int(time.Since(start).Seconds()*loadRate))
			for n < due {
				payload := fmt.Appendf(nil, `{"temp":%d.%d,"seq":%d}`, 15+n%20, n%10, n)
				if err := pub.Publish(ctx, &client.Message{Topic: topic(n), Payload: payload}); err != nil {
					done <- err
					return
				}
				n++
				sent.Add(1)
			}
			if n >= total {
				done <- nil
				return
			}
		}
	}()

	// Round trips while the load runs.
	var r loadResult
	var loadErr error
	for i := 0; ; i++ {
		select {
		case loadErr = <-done:
		default:
		}
		if loadErr != nil || sent.Load() >= int64(total) {
			break
		}
		q := "dev" + strconv.Itoa(10+i%80)
		ms := p.evalFloat(fmt.Sprintf(roundTrip, q), chromedp.EvalAwaitPromise)
		if ms < 0 {
			t.Fatalf("the tree did not show the search %q within 10 s", q)
		}
		r.rtts = append(r.rtts, ms)
		if r.mid.Messages == 0 && time.Since(start) > loadDuration/2 {
			r.mid = p.treeStats()
		}
	}
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	sendTime := time.Since(start)
	// A QoS 1 marker follows the load on the same subscription: when the
	// tree has it, it has had every message the broker delivered.
	marker := fmt.Sprintf("loadmark/%d", before.Messages)
	if err := pub.Publish(ctx, &client.Message{Topic: marker, QoS: 1, Payload: []byte("end")}); err != nil {
		t.Fatal(err)
	}
	p.waitJS("the load in the tree", fmt.Sprintf(`JSON.parse(window.ternTreeStats(%q)).has`, marker), 60*time.Second)
	drained := time.Since(start)
	r.after = p.treeStats()
	got := r.after.Messages - before.Messages - 1 // not the marker
	p.setValue("tt-search", "")

	rtts := slices.Clone(r.rtts)
	slices.Sort(rtts)
	pct := func(q float64) float64 { return rtts[min(len(rtts)-1, int(q*float64(len(rtts))))] }
	t.Logf("load: %d messages in %v (%.0f msg/s) to %s…; %d in the tree %v after the start",
		sent.Load(), sendTime.Round(time.Millisecond), float64(sent.Load())/sendTime.Seconds(), topic(0),
		got, drained.Round(time.Millisecond))
	if len(rtts) > 0 {
		t.Logf("input-to-render round trip (search typed → tree shown → next frame), %d samples during the load: min %.0f ms, median %.0f ms, p95 %.0f ms, max %.0f ms",
			len(rtts), rtts[0], pct(0.5), pct(0.95), rtts[len(rtts)-1])
	}
	t.Logf("memory: before  %v", before)
	t.Logf("memory: halfway %v", r.mid)
	t.Logf("memory: after   %v", r.after)

	if len(rtts) < 5 {
		t.Fatalf("only %d round trips in %v: the page hardly answered", len(rtts), sendTime)
	}
	// With a few dozen samples p95 is the slowest one, which a garbage
	// collection or another test sharing the CPU decides (1.5 s was seen
	// under make test with the crash tests running beside it): the p95 is
	// reported above, and only a page whose typical answer takes a second
	// fails.
	if p50 := pct(0.5); p50 > 1000 {
		t.Errorf("median input-to-render round trip %.0f ms under load, want under 1 s", p50)
	}
	if got < uint64(total)*99/100 {
		t.Errorf("the tree got %d of %d messages (%d dropped by the page)", got, total, r.after.Dropped-before.Dropped)
	}
	return r
}

// evalFloat evaluates an expression that returns a number.
func (p *page) evalFloat(expr string, opts ...chromedp.EvaluateOption) float64 {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[float64](expr, opts...))
	if err != nil {
		p.fail("eval", err)
	}
	return v
}
