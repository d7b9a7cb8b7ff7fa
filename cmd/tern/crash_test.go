package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ternmq/tern/codec"
)

// TestCrashKeepsAcknowledged kills the real tern with SIGKILL at random
// moments while publishers send QoS 1 and QoS 2 messages into persistent
// sessions (two subscribers online, one of them slow, two offline), and
// restarts it on the same data directory each time. At the end every
// message a publisher saw acknowledged (PUBACK, or PUBREC for QoS 2) has
// reached every subscriber: QoS 1 at least once, QoS 2 exactly once, in
// the order each publisher sent them; and the retained value is the last
// acknowledged one or a later one. The seed is logged; TERN_CRASH_SEED
// replays a run.
func TestCrashKeepsAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("runs tern ten times")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("TERN_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (TERN_CRASH_SEED=%d replays it)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	data := t.TempDir()

	pubs := []*crashPublisher{
		{name: "p0", v: codec.V5, qos: 1, retain: true},
		{name: "p1", v: codec.V311, qos: 1},
		{name: "p2", v: codec.V5, qos: 2},
		{name: "p3", v: codec.V311, qos: 2},
	}
	subs := []*crashSubscriber{
		{name: "s0", v: codec.V5, online: true, receiveMax: 2}, // slow: two in flight at a time
		{name: "s1", v: codec.V311, online: true},
		{name: "s2", v: codec.V5},
		{name: "s3", v: codec.V311},
	}
	proc := startTern(t, data)
	for _, s := range subs {
		s.subscribe(t, proc.addr)
	}
	const cycles = 10
	for cycle := range cycles {
		target := int64(30 + rng.IntN(270))
		runCycle(t, proc.addr, pubs, subs, target, proc.kill)
		proc = startTern(t, data)
		if cycle == cycles-1 {
			break
		}
	}
	drain(t, proc, pubs, subs)
	for _, s := range subs {
		for _, p := range pubs {
			checkDelivered(t, s, p)
		}
	}
	checkRetained(t, proc.addr, pubs[0])
	proc.stop(t)
}

// runCycle runs the publishers and the online subscribers until the
// publishers have target acknowledgements between them, then kills tern.
func runCycle(t *testing.T, addr string, pubs []*crashPublisher, subs []*crashSubscriber, target int64, kill func()) {
	t.Helper()
	var acks atomic.Int64
	reached := make(chan struct{})
	var once sync.Once
	onAck := func() {
		if acks.Add(1) == target {
			once.Do(func() { close(reached) })
		}
	}
	var wg sync.WaitGroup
	for _, s := range subs {
		if s.online {
			wg.Go(func() { s.run(addr, nil) })
		}
	}
	for _, p := range pubs {
		wg.Go(func() { p.run(addr, onAck) })
	}
	select {
	case <-reached:
	case <-time.After(2 * time.Minute):
		t.Fatalf("only %d of %d acknowledgements within two minutes", acks.Load(), target)
	}
	kill()
	wg.Wait()
}

// drain connects every subscriber to the restarted tern and publishes an
// end marker per publisher; it returns once every subscriber has received
// every marker, so everything queued before has arrived.
func drain(t *testing.T, proc *ternProc, pubs []*crashPublisher, subs []*crashSubscriber) {
	t.Helper()
	addr := proc.addr
	var wg sync.WaitGroup
	done := make(chan string, len(subs))
	for _, s := range subs {
		wg.Go(func() {
			if s.run(addr, pubs) {
				done <- s.name
			}
		})
	}
	p, _, err := dialPeer(addr, &codec.Connect{Version: codec.V5, ClientID: "marker", CleanStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	for i, pub := range pubs {
		p.send(&codec.Publish{QoS: 1, PacketID: uint16(i + 1), Topic: "crash/" + pub.name, Payload: []byte("end")})
	}
	for range subs {
		select {
		case <-done:
		case <-time.After(time.Minute):
			proc.kill()
			wg.Wait()
			for _, s := range subs {
				for _, p := range pubs {
					got := s.got[p.name]
					t.Logf("%s from %s: %d received, last %v; %d acknowledged, last %v", s.name, p.name, len(got), got[max(0, len(got)-3):], len(p.acked), p.acked[max(0, len(p.acked)-3):])
				}
			}
			t.Fatalf("a subscriber did not receive every end marker within a minute; tern's log:\n%s", proc.logs)
		}
	}
	wg.Wait()
}

// crashPublisher sends numbered messages to crash/<name> with up to eight
// in flight, and records which were acknowledged.
type crashPublisher struct {
	name   string
	v      codec.Version
	qos    codec.QoS
	retain bool

	seq   int
	acked []int
}

func (p *crashPublisher) run(addr string, onAck func()) {
	c, _, err := dialPeer(addr, &codec.Connect{Version: p.v, ClientID: p.name, CleanStart: true})
	if err != nil {
		return
	}
	defer c.close()
	out := map[uint16]int{} // packet id → seq, until PUBACK or PUBCOMP
	var pid uint16
	for {
		for len(out) < 8 {
			p.seq++
			pid = pid%1000 + 1
			out[pid] = p.seq
			err := c.send(&codec.Publish{QoS: p.qos, Retain: p.retain, PacketID: pid, Topic: "crash/" + p.name,
				Payload: []byte(strconv.Itoa(p.seq))})
			if err != nil {
				return
			}
		}
		pkt, ok := <-c.in
		if !ok {
			return
		}
		switch a := pkt.(type) {
		case *codec.Puback:
			p.acked = append(p.acked, out[a.PacketID])
			delete(out, a.PacketID)
			onAck()
		case *codec.Pubrec:
			p.acked = append(p.acked, out[a.PacketID])
			onAck()
			c.send(ack(codec.PUBREL, a.PacketID))
		case *codec.Pubcomp:
			delete(out, a.PacketID)
		}
	}
}

// crashSubscriber is a persistent session subscribed to crash/# at QoS 2.
// It keeps its own session state (QoS 2 packet ids awaiting PUBREL)
// across connections, as a client must for exactly-once delivery.
type crashSubscriber struct {
	name       string
	v          codec.Version
	online     bool
	receiveMax uint16

	pending map[uint16]bool
	got     map[string][]int // publisher → seqs in the order received
	dupQoS2 []string
}

func (s *crashSubscriber) connect(addr string) (*peer, error) {
	c := &codec.Connect{Version: s.v, ClientID: s.name}
	if s.v == codec.V5 {
		c.Properties.SessionExpiryInterval = 3600
		c.Properties.ReceiveMaximum = s.receiveMax
	}
	p, _, err := dialPeer(addr, c)
	return p, err
}

// subscribe creates the session; an offline subscriber then leaves.
func (s *crashSubscriber) subscribe(t *testing.T, addr string) {
	t.Helper()
	s.pending, s.got = map[uint16]bool{}, map[string][]int{}
	p, err := s.connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	p.send(&codec.Subscribe{PacketID: 1, Subscriptions: []codec.Subscription{{Filter: "crash/#", QoS: 2}}})
	if pkt := <-p.in; pkt == nil || pkt.Type() != codec.SUBACK {
		t.Fatalf("%s: got %v, want SUBACK", s.name, pkt)
	}
	if !s.online {
		p.send(&codec.Disconnect{})
	}
}

// run receives until the connection ends or, when markers is set, until
// the end marker of every publisher has arrived; it reports the latter.
func (s *crashSubscriber) run(addr string, markers []*crashPublisher) bool {
	p, err := s.connect(addr)
	if err != nil {
		return false
	}
	defer p.close()
	ended := map[string]bool{}
	for pkt := range p.in {
		switch m := pkt.(type) {
		case *codec.Publish:
			s.receive(p, m, ended)
		case *codec.Pubrel:
			delete(s.pending, m.PacketID)
			p.send(ack(codec.PUBCOMP, m.PacketID))
		}
		if markers != nil && len(ended) == len(markers) {
			return true
		}
	}
	return false
}

func (s *crashSubscriber) receive(p *peer, m *codec.Publish, ended map[string]bool) {
	name := strings.TrimPrefix(m.Topic, "crash/")
	deliver := true
	switch m.QoS {
	case 1:
		p.send(ack(codec.PUBACK, m.PacketID))
	case 2:
		deliver = !s.pending[m.PacketID] // a re-sent copy of one held
		s.pending[m.PacketID] = true
		p.send(ack(codec.PUBREC, m.PacketID))
	}
	if !deliver {
		return
	}
	if string(m.Payload) == "end" {
		ended[name] = true
		return
	}
	n, _ := strconv.Atoi(string(m.Payload))
	if m.QoS == 2 && slices.Contains(s.got[name], n) {
		s.dupQoS2 = append(s.dupQoS2, fmt.Sprintf("%s:%d", name, n))
	}
	s.got[name] = append(s.got[name], n)
}

// checkDelivered compares what s received from p with what p had
// acknowledged.
func checkDelivered(t *testing.T, s *crashSubscriber, p *crashPublisher) {
	t.Helper()
	got := s.got[p.name]
	seen := map[int]bool{}
	last := 0
	for _, n := range got {
		if seen[n] {
			continue
		}
		seen[n] = true
		if n < last {
			t.Errorf("%s received %s:%d after %s:%d", s.name, p.name, n, p.name, last)
		}
		last = n
	}
	var missing []int
	for _, n := range p.acked {
		if !seen[n] {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		t.Errorf("%s lost %d of %d acknowledged messages of %s: %v", s.name, len(missing), len(p.acked), p.name, missing)
	}
	if p.qos == 2 && len(s.dupQoS2) > 0 {
		t.Errorf("%s received QoS 2 messages twice: %v", s.name, s.dupQoS2)
	}
	t.Logf("%s from %s: %d acknowledged, %d received (%d distinct)", s.name, p.name, len(p.acked), len(got), len(seen))
}

// checkRetained reads the retained message of p's topic: it must be the
// last acknowledged value or a later one.
func checkRetained(t *testing.T, addr string, p *crashPublisher) {
	t.Helper()
	c, _, err := dialPeer(addr, &codec.Connect{Version: codec.V5, ClientID: "retained-check", CleanStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	c.send(&codec.Subscribe{PacketID: 1, Subscriptions: []codec.Subscription{{Filter: "crash/" + p.name}}})
	for pkt := range c.in {
		m, ok := pkt.(*codec.Publish)
		if !ok {
			continue
		}
		n, _ := strconv.Atoi(string(m.Payload))
		if want := slices.Max(p.acked); !m.Retain || n < want {
			t.Errorf("retained %s = %q (retain %v), want %d or later", m.Topic, m.Payload, m.Retain, want)
		}
		return
	}
	t.Error("no retained message after the restarts")
}
