package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The queued-memory scenario measures what one queued delivery costs the
// broker: --sessions persistent sessions subscribe at QoS 1 to one topic
// and disconnect; then --queued messages are published to it (each
// acknowledged), so the broker holds sessions × queued deliveries of
// queued distinct messages. The broker's memory is read --settle after
// the sessions went offline and --settle after the last PUBACK:
//
//	per delivery = (after − before − queued × payload) / (sessions × queued)
//
// from the RSS (--broker-pid) and, with --pprof-url, from the live heap
// (the HeapAlloc a Go broker's /debug/pprof/heap?gc=1&debug=1 reports
// after a garbage collection), which the collector's headroom does not
// blur. The sessions are ended afterwards.
func (r *run) queuedMemory(ctx context.Context) error {
	cfg := r.cfg
	r.rep.Sessions, r.rep.Queued, r.rep.Subscribers, r.rep.Publishers, r.rep.QoS = cfg.Sessions, cfg.Queued, cfg.Sessions, 1, 1
	topic := r.prefix + "m"
	if err := r.createSessions(ctx, cfg.Sessions, func(int) string { return topic }); err != nil {
		return fmt.Errorf("creating sessions: %w", err)
	}
	defer r.dropSessions(ctx, r.sessionIDs(cfg.Sessions))
	r.sleep(ctx, cfg.Settle)
	rss0, heap0, err := r.memory(ctx)
	if err != nil {
		return err
	}
	t0 := time.Now()
	if _, err := r.publishAll(ctx, []pubSpec{{topics: []string{topic}, count: int64(cfg.Queued)}}); err != nil {
		return err
	}
	r.rep.Seconds = round3(time.Since(t0).Seconds())
	r.sleep(ctx, cfg.Settle)
	rss1, heap1, err := r.memory(ctx)
	if err != nil {
		return err
	}
	r.rep.Sent = int64(cfg.Queued)
	r.rep.RSSBeforeKB, r.rep.RSSAfterKB = rss0, rss1
	r.rep.RSSPerQueued = perQueued((rss1-rss0)*1024, cfg)
	if heap1 > 0 {
		r.rep.HeapBeforeB, r.rep.HeapAfterB = heap0, heap1
		r.rep.HeapPerQueued = perQueued(heap1-heap0, cfg)
	}
	return nil
}

// perQueued is the growth less the message bodies, per queued delivery.
func perQueued(growth int64, cfg config) float64 {
	bodies := int64(cfg.Queued) * int64(cfg.Payload)
	return round1(float64(growth-bodies) / (float64(cfg.Sessions) * float64(cfg.Queued)))
}

// memory reads the broker's RSS (KiB, 0 without --broker-pid) and live
// heap (bytes, 0 without --pprof-url).
func (r *run) memory(ctx context.Context) (rss, heap int64, err error) {
	if r.cfg.BrokerPID > 0 {
		if rss, err = rssKB(r.cfg.BrokerPID); err != nil {
			return 0, 0, err
		}
	}
	if r.cfg.PprofURL != "" {
		if heap, err = heapAlloc(ctx, r.cfg.PprofURL); err != nil {
			return 0, 0, err
		}
	}
	if rss == 0 && heap == 0 {
		return 0, 0, errors.New("queued-memory needs --broker-pid or --pprof-url")
	}
	return rss, heap, nil
}

// heapAlloc asks a Go program's net/http/pprof at base (on loopback) for
// its heap profile after a garbage collection and returns HeapAlloc.
func heapAlloc(ctx context.Context, base string) (int64, error) {
	u, err := url.Parse(strings.TrimSuffix(base, "/"))
	if err != nil || u.Scheme != "http" || u.Port() == "" {
		return 0, fmt.Errorf("--pprof-url %q: want http://HOST:PORT", base)
	}
	ip, err := loopbackIP(ctx, u.Hostname())
	if err != nil {
		return 0, fmt.Errorf("--pprof-url %q: %w", base, err)
	}
	addr := "http://" + net.JoinHostPort(ip.String(), u.Port()) + u.Path + "/debug/pprof/heap?gc=1&debug=1"
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: nil}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, addr, nil)
	if err != nil {
		return 0, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s: %s", addr, resp.Status)
	}
	return parseHeapAlloc(resp.Body)
}

// parseHeapAlloc finds "# HeapAlloc = N" in a debug=1 heap profile.
func parseHeapAlloc(rd io.Reader) (int64, error) {
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "# HeapAlloc = "); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("heap profile without a HeapAlloc line")
}
