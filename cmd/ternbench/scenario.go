package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/ternmq/tern/codec"
)

// runScenario runs one scenario against the target and returns its report.
// A report with Error set is still returned when the run started.
func runScenario(ctx context.Context, cfg config) (*Report, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	t, err := parseTarget(ctx, cfg.Target, cfg.CAFile)
	if err != nil {
		return nil, err
	}
	t.credentials(cfg.Username, cfg.Password)
	v, _ := cfg.version()
	rep := &Report{
		Time:      time.Now().UTC().Format(time.RFC3339),
		Name:      cfg.Name,
		Broker:    cfg.Broker,
		Scenario:  cfg.Scenario,
		Transport: t.transport(),
		MQTT:      v.String(),
		QoS:       cfg.QoS,
		Payload:   cfg.Payload,
		BrokerCPU: -1,
	}
	r := &run{cfg: cfg, t: t, v: v, rep: rep, clk: clock{epoch: time.Now()}, prefix: "ternbench/" + runID() + "/"}
	switch cfg.Scenario {
	case "connections":
		err = r.connections(ctx)
	case "retained":
		err = r.retained(ctx)
	case "restart":
		err = r.restart(ctx)
	case "queued-memory":
		err = r.queuedMemory(ctx)
	case "connect-rate":
		err = r.connectRate(ctx)
	default:
		err = r.flow(ctx)
	}
	if err != nil {
		rep.Error = err.Error()
	}
	return rep, nil
}

func runID() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

type run struct {
	cfg    config
	t      *target
	v      codec.Version
	rep    *Report
	clk    clock
	prefix string
}

// flow runs fan-in, fan-out, pairs and latency: publishers and subscribers
// on topics of their own, measured end to end.
func (r *run) flow(ctx context.Context) error {
	cfg := r.cfg
	var (
		nPub, nSub int
		pubTopic   func(i int) string
		subFilter  func(i int) string
		audience   func(pub int) []int // subscriber indexes
	)
	lim := limits{window: int64(cfg.Window), stall: cfg.Stall}
	switch cfg.Scenario {
	case "fan-in", "open-loop":
		nPub, nSub = cfg.Pubs, 1
		pubTopic = func(i int) string { return r.prefix + "in/" + strconv.Itoa(i) }
		subFilter = func(int) string { return r.prefix + "in/+" }
		audience = func(int) []int { return []int{0} }
	case "fan-out":
		nPub, nSub = 1, cfg.Subs
		pubTopic = func(int) string { return r.prefix + "out" }
		subFilter = func(int) string { return r.prefix + "out" }
		audience = func(int) []int {
			all := make([]int, nSub)
			for i := range all {
				all[i] = i
			}
			return all
		}
	case "pairs", "latency":
		nPub, nSub = cfg.Pairs, cfg.Pairs
		if cfg.Scenario == "latency" {
			nPub, nSub = 1, 1
			lim.rate = cfg.Rate
			r.rep.Rate = int(cfg.Rate)
		}
		pubTopic = func(i int) string { return r.prefix + "pair/" + strconv.Itoa(i) }
		subFilter = pubTopic
		audience = func(i int) []int { return []int{i} }
	}
	if cfg.Scenario == "open-loop" {
		lim.window = 0 // the schedule sets the pace
		r.rep.Rate = int(cfg.Rate)
	}
	r.rep.Publishers, r.rep.Subscribers, r.rep.Window = nPub, nSub, int(lim.window)
	r.rep.Persistent = cfg.Persistent
	qos := codec.QoS(cfg.QoS)

	var (
		clients []*client
		kept    []string // persistent subscribers' client ids
	)
	defer func() {
		for _, c := range clients {
			c.close()
		}
		r.dropSessions(ctx, kept)
	}()
	dial := func(id string, persistent bool) (*client, error) {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		c, _, err := r.t.connectSession(cctx, id, r.v, persistent)
		if err == nil {
			clients = append(clients, c)
			if persistent {
				kept = append(kept, id)
			}
		}
		return c, err
	}
	pubs := make([]*publisher, nPub)
	subs := make([]*subscriber, nSub)
	for i := range subs {
		c, err := dial(fmt.Sprintf("tb-%s-s%d", r.prefix[10:18], i), cfg.Persistent)
		if err != nil {
			return err
		}
		if err := c.subscribe(subFilter(i), qos); err != nil {
			return err
		}
		subs[i] = newSubscriber(i, c, pubs, "")
		if cfg.LatLog != "" {
			subs[i].lats = make([]int64, 0, 2*int(max(1000, cfg.Rate*cfg.Duration.Seconds()*1.1)))
		}
	}
	inflight := int64(1 << 30)
	for i := range pubs {
		c, err := dial(fmt.Sprintf("tb-%s-p%d", r.prefix[10:18], i), false)
		if err != nil {
			return err
		}
		pubs[i] = newPublisher(i, c, []string{pubTopic(i)}, qos, false, cfg.Payload)
		for _, s := range audience(i) {
			pubs[i].audience = append(pubs[i].audience, subs[s])
		}
		inflight = min(inflight, int64(c.recvMax))
	}
	lim.inflight = inflight
	if lim.window > 0 && qos > 0 {
		lim.inflight = min(lim.inflight, lim.window)
	}
	if cfg.Inflight > 0 {
		lim.inflight = min(lim.inflight, int64(cfg.Inflight))
	}
	r.rep.Inflight = int(lim.inflight)

	var readers sync.WaitGroup
	for _, s := range subs {
		readers.Go(func() { s.run(r.clk) })
	}
	for _, p := range pubs {
		readers.Go(p.readAcks)
	}

	lim.count = cfg.Count
	meter := startCPU(cfg.BrokerPID)
	start := r.clk.now()
	if cfg.Duration > 0 {
		lim.deadline = time.Now().Add(cfg.Duration)
	}
	var writers sync.WaitGroup
	for _, p := range pubs {
		if cfg.Scenario == "open-loop" {
			sch := schedule{rate: cfg.Rate / float64(nPub)}
			writers.Go(func() { p.runOpen(ctx, r.clk, lim, sch) })
		} else {
			writers.Go(func() { p.run(ctx, r.clk, lim) })
		}
	}
	writers.Wait()
	r.ackedRate(pubs, start)

	var sent, expected int64
	for _, p := range pubs {
		n := p.sent.Load()
		sent += n
		expected += n * int64(len(p.audience))
	}
	delivered := r.drain(ctx, expected, func() int64 {
		var n int64
		for _, s := range subs {
			n += s.count.Load()
		}
		return n
	})
	gen, bcpu, bdur, _ := meter.stop()
	var last int64
	for _, s := range subs {
		last = max(last, s.last.Load())
	}

	for _, c := range clients {
		c.close()
	}
	clients = nil
	readers.Wait()

	var h histogram
	var errs []error
	for _, s := range subs {
		h.merge(&s.hist)
		r.rep.Dups += s.dups
	}
	for _, p := range pubs {
		r.rep.Stalls += p.stalls
		if p.err != nil {
			errs = append(errs, fmt.Errorf("publisher %d: %w", p.idx, p.err))
		}
	}
	window := time.Duration(last - start)
	if window <= 0 {
		window = time.Duration(r.clk.now() - start)
	}
	rep := r.rep
	rep.Seconds = round3(window.Seconds())
	rep.Sent, rep.Expected, rep.Delivered = sent, expected, delivered
	rep.MsgPerSec = float64(delivered) / window.Seconds()
	if expected > 0 {
		rep.LossPct = 100 * float64(max(0, expected-delivered)) / float64(expected)
	}
	rep.setLatency(&h)
	if cfg.LatLog != "" {
		if err := r.writeLatLog(subs); err != nil {
			errs = append(errs, err)
		}
	}
	rep.GenCPU, rep.BrokerCPU = round1(gen), round1(bcpu)
	if bcpu >= 0 && delivered > 0 {
		rep.BrokerUsPerM = round3(float64(bdur.Microseconds()) / float64(delivered))
	}
	return errors.Join(errs...)
}

// ackedRate reports what the publishers' acknowledgements show, from
// start until now (when the last publisher has its last acknowledgement)
// and, in the open loop, the schedule's slots.
func (r *run) ackedRate(pubs []*publisher, start int64) {
	var acked, slots, skipped int64
	for _, p := range pubs {
		acked += p.acked.Load()
		slots += p.slots.Load()
		skipped += p.skipped.Load()
	}
	d := time.Duration(r.clk.now() - start).Seconds()
	if acked > 0 && d > 0 {
		r.rep.Acked, r.rep.AckedPerSec = acked, round1(float64(acked)/d)
	}
	if r.cfg.Scenario == "open-loop" {
		r.rep.Slots, r.rep.Skipped = slots, skipped
		r.rep.OfferedPerSec = r.cfg.Rate
		if slots > 0 {
			r.rep.SkippedPct = round3(100 * float64(skipped) / float64(slots))
		}
	}
}

// drain waits until the subscribers have counted want messages, or until
// the count has not moved for a second, or cfg.Drain has passed. It
// returns the last count.
func (r *run) drain(ctx context.Context, want int64, count func() int64) int64 {
	end := time.Now().Add(r.cfg.Drain)
	quiet := min(time.Second, r.cfg.Drain)
	n, moved := count(), time.Now()
	for n < want && ctx.Err() == nil {
		now := time.Now()
		if now.After(end) || now.Sub(moved) > quiet {
			break
		}
		time.Sleep(2 * time.Millisecond)
		if m := count(); m != n {
			n, moved = m, time.Now()
		}
	}
	return n
}

// connections opens K idle connections, measuring the connect rate and the
// broker's resident memory before and after.
func (r *run) connections(ctx context.Context) error {
	cfg := r.cfg
	pid := cfg.BrokerPID
	r.rep.Conns = cfg.Conns
	var before int64
	if pid > 0 {
		var err error
		if before, err = rssKB(pid); err != nil {
			return err
		}
	}
	meter := startCPU(pid)
	conns := make([]*client, cfg.Conns)
	defer func() {
		var wg sync.WaitGroup
		for w := range cfg.Workers {
			wg.Go(func() {
				for i := w; i < len(conns); i += cfg.Workers {
					if conns[i] != nil {
						conns[i].close()
					}
				}
			})
		}
		wg.Wait()
	}()
	start := time.Now()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	next := make(chan int, cfg.Workers)
	go func() {
		defer close(next)
		for i := range conns {
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	for range cfg.Workers {
		wg.Go(func() {
			for i := range next {
				mu.Lock()
				failed := len(errs) > 0
				mu.Unlock()
				if failed {
					continue
				}
				cctx := ctx
				var cancel context.CancelFunc = func() {}
				if r.t.ws || r.t.tls != nil {
					cctx, cancel = context.WithTimeout(ctx, 10*time.Second)
				} else if ctx.Err() == nil {
					cctx = deadlineOnly{time.Now().Add(10 * time.Second)}
				}
				c, err := r.t.connect(cctx, fmt.Sprintf("tb-%s-c%d", r.prefix[10:18], i), r.v)
				cancel()
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("connection %d: %w", i, err))
					mu.Unlock()
					continue
				}
				c.r = nil // idle from now on: keep nothing but the socket
				conns[i] = c
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(errs) > 0 {
		return fmt.Errorf("%w (raise the open-file limit with ulimit -n for large --conns)", errs[0])
	}
	r.rep.ConnectPerSec = round1(float64(cfg.Conns) / elapsed.Seconds())
	r.rep.Seconds = round3(elapsed.Seconds())
	select {
	case <-time.After(cfg.Settle):
	case <-ctx.Done():
		return ctx.Err()
	}
	if pid > 0 {
		after, err := rssKB(pid)
		if err != nil {
			return err
		}
		r.rep.RSSBeforeKB, r.rep.RSSAfterKB = before, after
		r.rep.RSSPerConn = round1(float64(after-before) * 1024 / float64(cfg.Conns))
	}
	if cfg.Ping {
		if err := r.pingAll(ctx, conns); err != nil {
			return err
		}
		if pid > 0 {
			pinged, err := rssKB(pid)
			if err != nil {
				return err
			}
			r.rep.RSSPingedKB = pinged
			r.rep.RSSPerConnPinged = round1(float64(pinged-before) * 1024 / float64(cfg.Conns))
		}
	}
	gen, bcpu, _, _ := meter.stop()
	r.rep.GenCPU, r.rep.BrokerCPU = round1(gen), round1(bcpu)
	return nil
}

// pingAll has every idle client send one PINGREQ and read its PINGRESP
// (cfg.Workers at a time), then waits cfg.Settle: a broker whose idle
// connections grow once they have been used shows it here.
func (r *run) pingAll(ctx context.Context, conns []*client) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for w := range r.cfg.Workers {
		wg.Go(func() {
			for i := w; i < len(conns); i += r.cfg.Workers {
				if err := conns[i].ping(); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("connection %d: %w", i, err))
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return errs[0]
	}
	select {
	case <-time.After(r.cfg.Settle):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// retained stores R retained messages (QoS 1, so each is acknowledged
// once stored), then measures how long a new subscriber takes to receive
// all of them. It clears them afterwards.
func (r *run) retained(ctx context.Context) error {
	cfg := r.cfg
	n := cfg.Retained
	r.rep.Retained = n
	topics := make([]string, n)
	for i := range topics {
		topics[i] = r.prefix + "r/" + strconv.Itoa(i)
	}
	pc, err := r.connectTimeout(ctx, "tb-"+r.prefix[10:18]+"-rp")
	if err != nil {
		return err
	}
	pub := newPublisher(0, pc, topics, 1, true, cfg.Payload)
	var acks sync.WaitGroup
	acks.Go(pub.readAcks)
	pub.run(ctx, r.clk, limits{count: int64(n), inflight: int64(min(pc.recvMax, 1000)), stall: cfg.Stall})
	pc.close()
	acks.Wait()
	if pub.err != nil {
		return fmt.Errorf("storing retained messages: %w", pub.err)
	}
	defer r.clearRetained(ctx, topics)

	sc, err := r.connectTimeout(ctx, "tb-"+r.prefix[10:18]+"-rs")
	if err != nil {
		return err
	}
	defer sc.close()
	sub := newSubscriber(0, sc, []*publisher{pub}, r.prefix+"r/")
	meter := startCPU(cfg.BrokerPID)
	start := r.clk.now()
	if err := sc.subscribe(cfg.Filter, codec.QoS(cfg.QoS)); err != nil {
		return err
	}
	go sub.run(r.clk)
	got := r.drain(ctx, int64(n), sub.count.Load)
	gen, bcpu, _, _ := meter.stop()
	last := sub.last.Load()
	sc.close()
	<-sub.done
	r.rep.Subscribers, r.rep.Publishers = 1, 1
	r.rep.Sent, r.rep.Expected, r.rep.Delivered = int64(n), int64(n), got
	r.rep.RetainedComplete = got >= int64(n)
	r.rep.LossPct = 100 * float64(max(0, int64(n)-got)) / float64(n)
	if got > 0 {
		d := time.Duration(last - start)
		r.rep.RetainedSeconds = round6(d.Seconds())
		r.rep.Seconds = r.rep.RetainedSeconds
		r.rep.MsgPerSec = round1(float64(got) / d.Seconds())
	}
	r.rep.GenCPU, r.rep.BrokerCPU = round1(gen), round1(bcpu)
	if !r.rep.RetainedComplete {
		return fmt.Errorf("the new subscriber got %d of %d retained messages", got, n)
	}
	return nil
}

func (r *run) connectTimeout(ctx context.Context, id string) (*client, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return r.t.connect(cctx, id, r.v)
}

// clearRetained deletes the retained messages (an empty retained PUBLISH
// each), so that a broker used again does not keep them.
func (r *run) clearRetained(ctx context.Context, topics []string) {
	c, err := r.connectTimeout(ctx, "tb-"+r.prefix[10:18]+"-rc")
	if err != nil {
		fmt.Fprintln(os.Stderr, "ternbench: clearing retained messages:", err)
		return
	}
	defer c.close()
	var buf []byte
	for i, t := range topics {
		p := codec.Publish{Topic: t, Retain: true}
		buf, _ = p.Append(buf, c.v)
		if len(buf) >= maxBatchBytes || i == len(topics)-1 {
			if err := c.write(buf); err != nil {
				return
			}
			buf = buf[:0]
		}
	}
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }
func round3(x float64) float64 { return math.Round(x*1000) / 1000 }
func round6(x float64) float64 { return math.Round(x*1e6) / 1e6 }

// writeLatLog writes --latency-log: per message its send time in Unix ns
// and its latency in ns, one message a line.
func (r *run) writeLatLog(subs []*subscriber) error {
	f, err := os.Create(r.cfg.LatLog)
	if err != nil {
		return fmt.Errorf("--latency-log: %w", err)
	}
	w := bufio.NewWriter(f)
	base := r.clk.epoch.UnixNano()
	for _, s := range subs {
		for i := 0; i+1 < len(s.lats); i += 2 {
			fmt.Fprintf(w, "%d %d\n", base+s.lats[i], s.lats[i+1])
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("--latency-log: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("--latency-log: %w", err)
	}
	return nil
}
