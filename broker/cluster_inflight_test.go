package broker

// In-flight deliveries that outlive their node (issue #18), the broker's
// side: the uniform path of QoS 1/2 messages through a ClusterDurable
// (InjectDurable), the write-through of deliveries to a SessionCluster
// (SessionQueued, SessionAcked) and Adopt.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ternmq/tern/broker/store"
	"github.com/ternmq/tern/broker/store/pebble"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// fakeNode is a ClusterDurable and SessionCluster. A message given to
// PublishedDurable is accepted and handed back through
// InjectDurable(own) at once, as broker/cluster's own consumer would, or,
// with hold, only when the test releases it. The session hooks are
// recorded.
type fakeNode struct {
	srv    *Server     // under mu: set once the server started
	hold   bool        // PublishedDurable waits for release
	echoed chan string // the topic of each message handed back

	mu      sync.Mutex
	n       int // messages taken
	held    []heldPublish
	queued  map[string][]HandoffDelivery
	acked   map[string][]uint64
	changed map[string]store.SessionRecord
	ended   []string
	// handoffs are returned by ClaimSession, once, as if another node had
	// handed the session over.
	handoffs map[string]*SessionHandoff
}

type heldPublish struct {
	m    *Message
	done func(error)
}

func newFakeNode(hold bool) *fakeNode {
	return &fakeNode{hold: hold, echoed: make(chan string, 64),
		queued: make(map[string][]HandoffDelivery), acked: make(map[string][]uint64),
		changed: make(map[string]store.SessionRecord)}
}

func (f *fakeNode) Subscribed(string)   {}
func (f *fakeNode) Unsubscribed(string) {}
func (f *fakeNode) Published(*Message)  {}

func (f *fakeNode) PublishedDurable(m *Message, done func(error)) {
	f.mu.Lock()
	f.held = append(f.held, heldPublish{m, done})
	i := len(f.held) - 1
	f.mu.Unlock()
	if !f.hold {
		go f.release(i, nil)
	}
}

// release answers the i-th PublishedDurable with err and, when it is nil,
// hands the message back as the cluster's consumer would (a copy, with
// Origin set).
func (f *fakeNode) release(i int, err error) {
	f.mu.Lock()
	h := f.held[i]
	f.n++
	origin := fmt.Sprintf("n1:%d", f.n)
	srv := f.srv // set after the server started: the race detector sees no order through its sockets
	f.mu.Unlock()
	h.done(err)
	if err != nil {
		return
	}
	m := h.m
	cp := &Message{Topic: m.Topic, Payload: m.Payload, QoS: m.QoS, Retain: m.Retain, Props: m.Props,
		Expires: m.Expires, From: m.From, Origin: origin}
	if m.QoS > 0 {
		srv.InjectDurable(cp, true, func(error) { f.echoed <- m.Topic })
	} else {
		f.echoed <- m.Topic
	}
}

func (f *fakeNode) heldCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.held)
}

func (f *fakeNode) ClaimSession(_ context.Context, clientID string, _, _ bool) (*SessionHandoff, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := f.handoffs[clientID]
	delete(f.handoffs, clientID)
	return h, nil
}

func (f *fakeNode) SessionChanged(clientID string, rec store.SessionRecord) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.changed[clientID] = rec
}

func (f *fakeNode) SessionQueued(clientID string, d HandoffDelivery) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queued[clientID] = append(f.queued[clientID], d)
}

func (f *fakeNode) SessionAcked(clientID string, seq uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.acked[clientID] = append(f.acked[clientID], seq)
}

func (f *fakeNode) SessionEnded(clientID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ended = append(f.ended, clientID)
}

// queuedFor returns the deliveries SessionQueued was given for id.
func (f *fakeNode) queuedFor(id string) []HandoffDelivery {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.queued[id])
}

// ackedFor returns the seqs SessionAcked was given for id.
func (f *fakeNode) ackedFor(id string) []uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.acked[id])
}

func (f *fakeNode) wasEnded(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Contains(f.ended, id)
}

// startNode starts a broker with f as its Cluster.
func startNode(t *testing.T, f *fakeNode, opts *Options) *testServer {
	t.Helper()
	var o Options
	if opts != nil {
		o = *opts
	}
	o.Cluster = f
	srv := startServer(t, &o)
	f.mu.Lock()
	f.srv = srv.Server
	f.mu.Unlock()
	return srv
}

// connect5 connects a 5.0 client with the Session Expiry Interval expiry
// and returns it with its CONNACK's Session Present.
func connect5(t *testing.T, addr, id string, expiry uint32, clean bool) (*testkit.Peer, bool) {
	t.Helper()
	c := testkit.Dial(t, addr, codec.V5)
	ack := c.Connect(t, &codec.Connect{ClientID: id, CleanStart: clean, KeepAlive: 60,
		Properties: codec.Properties{SessionExpiryInterval: expiry}})
	return c, ack.SessionPresent
}

// inject calls InjectDurable and waits for its done.
func inject(t *testing.T, srv *Server, m *Message, own bool) {
	t.Helper()
	done := make(chan error, 1)
	srv.InjectDurable(m, own, func(err error) { done <- err })
	if err := testkit.WaitFor(t, done, "InjectDurable's done"); err != nil {
		t.Fatal(err)
	}
}

// hasSession reports whether srv holds a session for id.
func hasSession(srv *Server, id string) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.sessions[id] != nil
}

// TestClusterUniformPath: with a ClusterDurable, a client's QoS 1 message
// reaches a subscriber on its own node only once the cluster holds it and
// hands it back (InjectDurable, own); one the cluster refuses reaches no
// subscriber, and its 5.0 publisher gets PUBACK 0x97.
func TestClusterUniformPath(t *testing.T) {
	f := newFakeNode(true)
	srv := startNode(t, f, nil)
	sub, _ := connect5(t, srv.Addr, "sub", 0, true)
	sub.Subscribe(t, 1, "u/#")
	pub, _ := connect5(t, srv.Addr, "pub", 0, true)

	pub.Send(t, &codec.Publish{QoS: 1, PacketID: 1, Topic: "u/a", Payload: []byte("kept")})
	testkit.WaitFor(t, testkit.Became(t, func() bool { return f.heldCount() == 1 }), "PublishedDurable")
	sub.ExpectIdle(t) // not routed on publication
	f.release(0, nil)
	pub.ExpectDescribed(t, "PUBACK id=1 rc=0x00")
	sub.Ack(t, sub.ExpectPublish(t, `q1 dup=0 retain=0 u/a "kept"`))

	pub.Send(t, &codec.Publish{QoS: 1, PacketID: 2, Topic: "u/b", Payload: []byte("refused")})
	testkit.WaitFor(t, testkit.Became(t, func() bool { return f.heldCount() == 2 }), "PublishedDurable")
	f.release(1, fmt.Errorf("no quorum: %w", ErrClusterRefused))
	pub.ExpectDescribed(t, "PUBACK id=2 rc=0x97")
	sub.ExpectIdle(t)
}

// TestClusterOwnPath: a message handed back as this node's own honours No
// Local [MQTT-5:3.8.3-3] and reaches this node's shared groups; one from
// another node reaches the No Local subscriber but not the groups, whose
// QoS 1/2 messages are those published on their own node.
func TestClusterOwnPath(t *testing.T) {
	f := newFakeNode(false)
	srv := startNode(t, f, nil)
	me, _ := connect5(t, srv.Addr, "me", 0, true)
	me.SubscribeWith(t, &codec.Subscribe{Subscriptions: []codec.Subscription{{Filter: "n/t", QoS: 1, NoLocal: true}}})
	sh, _ := connect5(t, srv.Addr, "sh", 0, true)
	sh.Subscribe(t, 1, "$share/g/n/#")
	other, _ := connect5(t, srv.Addr, "other", 0, true)

	me.Publish(t, 1, "n/t", "own")
	testkit.WaitFor(t, f.echoed, "the message handed back")
	sh.Ack(t, sh.ExpectPublish(t, `q1 dup=0 retain=0 n/t "own"`))
	me.ExpectIdle(t)

	other.Publish(t, 1, "n/t", "other's")
	testkit.WaitFor(t, f.echoed, "the message handed back")
	me.Ack(t, me.ExpectPublish(t, `q1 dup=0 retain=0 n/t "other's"`))
	sh.Ack(t, sh.ExpectPublish(t, `q1 dup=0 retain=0 n/t "other's"`))

	inject(t, srv.Server, &Message{Topic: "n/t", Payload: []byte("remote"), QoS: 1, Origin: "n2:1"}, false)
	me.Ack(t, me.ExpectPublish(t, `q1 dup=0 retain=0 n/t "remote"`))
	sh.ExpectIdle(t)
}

// TestClusterWriteThrough: every QoS 1/2 delivery queued for a session
// with an expiry interval, online or offline, routed or retained, is given
// to SessionQueued with the message's Origin; a session with expiry 0's
// are not. SessionAcked follows its PUBACK, its PUBCOMP (not its PUBREC)
// and its drop when its Message Expiry Interval passed [MQTT-5:3.3.2-5].
func TestClusterWriteThrough(t *testing.T) {
	f := newFakeNode(false)
	srv := startNode(t, f, nil)
	p, _ := connect5(t, srv.Addr, "p", 60, true)
	p.Subscribe(t, 2, "q/#")
	z, _ := connect5(t, srv.Addr, "z", 0, true)
	z.Subscribe(t, 2, "q/#")

	inject(t, srv.Server, &Message{Topic: "q/1", Payload: []byte("one"), QoS: 1, Origin: "n2:7"}, false)
	got := f.queuedFor("p")
	if len(got) != 1 || got[0].Origin != "n2:7" || got[0].Delivery.QoS != 1 || got[0].Message == nil ||
		got[0].Message.Topic != "q/1" || got[0].Sent {
		t.Fatalf("SessionQueued for p: %+v, want one unsent QoS 1 delivery of q/1 from n2:7", got)
	}
	if zq := f.queuedFor("z"); len(zq) != 0 {
		t.Fatalf("SessionQueued for a session with expiry 0: %+v", zq)
	}
	seq1 := got[0].Seq
	p.Ack(t, p.ExpectPublish(t, `q1 dup=0 retain=0 q/1 "one"`))
	z.Ack(t, z.ExpectPublish(t, `q1 dup=0 retain=0 q/1 "one"`))
	testkit.WaitFor(t, testkit.Became(t, func() bool { return slices.Contains(f.ackedFor("p"), seq1) }), "SessionAcked after PUBACK")

	inject(t, srv.Server, &Message{Topic: "q/2", Payload: []byte("two"), QoS: 2, Origin: "n2:8"}, false)
	got = f.queuedFor("p")
	if len(got) != 2 || got[1].Origin != "n2:8" || got[1].Delivery.QoS != 2 {
		t.Fatalf("SessionQueued for p: %+v, want a QoS 2 delivery from n2:8 second", got)
	}
	seq2 := got[1].Seq
	m := p.ExpectPublish(t, `q2 dup=0 retain=0 q/2 "two"`)
	p.Send(t, &codec.Pubrec{Ack: codec.Ack{PacketID: m.PacketID}})
	p.ExpectDescribed(t, fmt.Sprintf("PUBREL id=%d rc=0x00", m.PacketID))
	if slices.Contains(f.ackedFor("p"), seq2) {
		t.Fatal("SessionAcked after PUBREC, want it only after PUBCOMP")
	}
	p.Send(t, &codec.Pubcomp{Ack: codec.Ack{PacketID: m.PacketID}})
	testkit.WaitFor(t, testkit.Became(t, func() bool { return slices.Contains(f.ackedFor("p"), seq2) }), "SessionAcked after PUBCOMP")
	z.Ack(t, z.ExpectPublish(t, `q2 dup=0 retain=0 q/2 "two"`))

	// A retained message queued on SUBSCRIBE.
	if err := srv.Publish(&Message{Topic: "r/1", Payload: []byte("kept"), QoS: 1, Retain: true}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, f.echoed, "the retained message handed back")
	p.Subscribe(t, 1, "r/#")
	p.Ack(t, p.ExpectPublish(t, `q1 dup=0 retain=1 r/1 "kept"`))
	if got = f.queuedFor("p"); len(got) != 3 || !got[2].Delivery.Retain || got[2].Message.Topic != "r/1" {
		t.Fatalf("SessionQueued for p: %+v, want the retained r/1 third", got)
	}

	// Offline: queued, then dropped by the sweep once expired.
	p.Disconnect(t)
	testkit.WaitFor(t, testkit.Became(t, func() bool { return !sessionOf(t, srv.Server, "p").online() }), "p offline")
	inject(t, srv.Server, &Message{Topic: "q/3", Payload: []byte("late"), QoS: 1, Expires: time.Now().Add(-time.Second)}, false)
	if got = f.queuedFor("p"); len(got) != 4 || got[3].Message.Topic != "q/3" {
		t.Fatalf("SessionQueued for offline p: %+v, want q/3 fourth", got)
	}
	seq3 := got[3].Seq
	srv.sweepNow(time.Now())
	if !slices.Contains(f.ackedFor("p"), seq3) {
		t.Fatalf("SessionAcked %v after the expired delivery %d was swept", f.ackedFor("p"), seq3)
	}
	if zq := f.queuedFor("z"); len(zq) != 0 {
		t.Fatalf("SessionQueued for a session with expiry 0: %+v", zq)
	}
}

// handoffMsg is a HandoffDelivery of a QoS 1 message.
func handoffMsg(seq uint64, sent bool, topic, payload string) HandoffDelivery {
	return HandoffDelivery{Seq: seq, Sent: sent, Delivery: store.QueueRecord{QoS: 1},
		Message: &store.MessageRecord{Topic: topic, Payload: []byte(payload), QoS: 1}, Origin: "n9:" + payload}
}

// TestAdopt: a session adopted from a dead node is an offline session
// here: a message for its subscriptions is queued for it, the cluster is
// told its record and every delivery it holds, and a client resuming it
// (Clean Start 0) gets Session Present 1 [MQTT-3.2.2-2 of 3.1.1] and the
// deliveries with their packet identifiers, DUP set on those sent before
// [MQTT-4.4.0-1 of 3.1.1], then the new one. Adopt fails if a session for
// the client id exists.
func TestAdopt(t *testing.T) {
	f := newFakeNode(false)
	srv := startNode(t, f, nil)
	h := &SessionHandoff{
		Session: store.SessionRecord{Version: codec.V5, Expiry: 300,
			Subs: []store.SubRecord{{Filter: "x/#", QoS: 1}}},
		Deliveries: []HandoffDelivery{handoffMsg(10, true, "x/1", "one"), handoffMsg(11, false, "x/2", "two")},
	}
	if err := srv.Adopt("ad", h); err != nil {
		t.Fatal(err)
	}
	if err := srv.Adopt("ad", h); !errors.Is(err, ErrSessionExists) {
		t.Fatalf("second Adopt: %v, want ErrSessionExists", err)
	}
	f.mu.Lock()
	rec, ok := f.changed["ad"]
	f.mu.Unlock()
	if !ok || rec.Expiry != 300 || len(rec.Subs) != 1 {
		t.Fatalf("SessionChanged for ad: %v %+v, want its record", ok, rec)
	}
	got := f.queuedFor("ad")
	if len(got) != 2 || got[0].Seq != 10 || !got[0].Sent || got[0].Origin != "n9:one" || got[1].Seq != 11 || got[1].Sent {
		t.Fatalf("SessionQueued for ad: %+v, want seqs 10 (sent) and 11", got)
	}

	inject(t, srv.Server, &Message{Topic: "x/3", Payload: []byte("three"), QoS: 1, Origin: "n2:3"}, false)
	if got = f.queuedFor("ad"); len(got) != 3 || got[2].Seq != 12 || got[2].Origin != "n2:3" {
		t.Fatalf("SessionQueued for ad: %+v, want x/3 at seq 12", got)
	}

	c, present := connect5(t, srv.Addr, "ad", 300, false)
	if !present {
		t.Fatal("CONNACK Session Present 0 for an adopted session")
	}
	c.ExpectDescribed(t,
		`PUBLISH q1 dup=1 retain=0 id=11 x/1 "one"`,
		`PUBLISH q1 dup=0 retain=0 id=12 x/2 "two"`,
		`PUBLISH q1 dup=0 retain=0 id=13 x/3 "three"`)
	for pid := uint16(11); pid <= 13; pid++ {
		c.Send(t, &codec.Puback{Ack: codec.Ack{PacketID: pid}})
	}
	testkit.WaitFor(t, testkit.Became(t, func() bool { return len(f.ackedFor("ad")) == 3 }), "SessionAcked of the three")
}

// TestAdoptWill: an adopted session's will is published after its Will
// Delay Interval unless a connection resumes the session first
// [MQTT-5:3.1.3-9]; a session with expiry 0 ends at once and its will is
// published then [MQTT-5:3.1.2-8].
func TestAdoptWill(t *testing.T) {
	f := newFakeNode(false)
	srv := startNode(t, f, nil)
	w, _ := connect5(t, srv.Addr, "watcher", 0, true)
	w.Subscribe(t, 1, "will/#")
	will := func(id string, delay, expiry uint32) *SessionHandoff {
		return &SessionHandoff{Session: store.SessionRecord{Version: codec.V5, Expiry: expiry, WillDelay: delay,
			Will: &store.MessageRecord{Topic: "will/" + id, Payload: []byte(id), QoS: 1}}}
	}
	for _, tc := range []struct {
		id            string
		delay, expiry uint32
	}{{"resumed", 1, 300}, {"delayed", 1, 300}, {"now", 3600, 0}} {
		if err := srv.Adopt(tc.id, will(tc.id, tc.delay, tc.expiry)); err != nil {
			t.Fatal(tc.id, err)
		}
	}
	w.Ack(t, w.ExpectPublish(t, `q1 dup=0 retain=0 will/now "now"`))
	if !f.wasEnded("now") || hasSession(srv.Server, "now") {
		t.Fatal("the adopted session with expiry 0 did not end")
	}
	r, present := connect5(t, srv.Addr, "resumed", 300, false)
	if !present {
		t.Fatal("CONNACK Session Present 0 for an adopted session")
	}
	w.ExpectIdle(t) // well before the delay
	w.Ack(t, w.ExpectPublish(t, `q1 dup=0 retain=0 will/delayed "delayed"`))
	w.ExpectIdle(t)
	r.Disconnect(t)
}

// TestAdoptDurable: with a Pebble store, an adopted session is durable
// like any offline session with an expiry interval: after a restart it
// is there, with its subscriptions and its deliveries at their packet
// identifiers.
func TestAdoptDurable(t *testing.T) {
	dir := t.TempDir()
	open := func() (*Server, *pebble.Store) {
		st, err := pebble.Open(dir, pebble.Options{})
		if err != nil {
			t.Fatal(err)
		}
		srv, err := Open(context.Background(), Options{Store: st})
		if err != nil {
			t.Fatal(err)
		}
		return srv, st
	}
	srv, st := open()
	h := &SessionHandoff{
		Session:    store.SessionRecord{Version: codec.V5, Expiry: 300, Subs: []store.SubRecord{{Filter: "d/#", QoS: 1}}},
		Deliveries: []HandoffDelivery{handoffMsg(5, true, "d/1", "one")},
		Inbound:    []uint16{7},
	}
	if err := srv.Adopt("ad", h); err != nil {
		t.Fatal(err)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	st.Close()

	srv, st = open()
	t.Cleanup(func() { st.Close() })
	addr := testkit.ServeLoopback(t, srv)
	inject(t, srv, &Message{Topic: "d/2", Payload: []byte("two"), QoS: 1}, false)
	c, present := connect5(t, addr, "ad", 300, false)
	if !present {
		t.Fatal("CONNACK Session Present 0 for an adopted session after a restart")
	}
	c.ExpectDescribed(t,
		`PUBLISH q1 dup=1 retain=0 id=6 d/1 "one"`,
		`PUBLISH q1 dup=0 retain=0 id=7 d/2 "two"`)
	// The inbound QoS 2 id 7 is still held: its PUBREL is answered.
	c.Send(t, &codec.Pubrel{Ack: codec.Ack{PacketID: 7}})
	c.ExpectDescribed(t, "PUBCOMP id=7 rc=0x00")
}

// TestClaimSpills: a session handed over by another node on CONNECT, and
// a session resumed on its own node, give the cluster every delivery they
// hold once the claim is settled, those sent before marked Sent, under
// this node's ownership; a session with expiry 0 gives none.
func TestClaimSpills(t *testing.T) {
	f := newFakeNode(false)
	srv := startNode(t, f, nil)
	f.mu.Lock()
	f.handoffs = map[string]*SessionHandoff{
		"moved": {Session: store.SessionRecord{Version: codec.V5, Expiry: 60, Subs: []store.SubRecord{{Filter: "m/#", QoS: 1}}},
			Deliveries: []HandoffDelivery{handoffMsg(3, true, "m/1", "one"), handoffMsg(4, false, "m/2", "two")}},
		"brief": {Session: store.SessionRecord{Version: codec.V5, Expiry: 60},
			Deliveries: []HandoffDelivery{handoffMsg(1, false, "b/1", "one")}},
	}
	f.mu.Unlock()
	c, present := connect5(t, srv.Addr, "moved", 60, false)
	if !present {
		t.Fatal("CONNACK Session Present 0 for a session handed over")
	}
	// The CONNACK is queued before the session attaches; the PUBLISH
	// packets after.
	c.ExpectDescribed(t, `PUBLISH q1 dup=1 retain=0 id=4 m/1 "one"`, `PUBLISH q1 dup=0 retain=0 id=5 m/2 "two"`)
	got := f.queuedFor("moved")
	if len(got) != 2 || got[0].Seq != 3 || !got[0].Sent || got[1].Seq != 4 || got[1].Sent || got[1].Origin != "n9:two" {
		t.Fatalf("SessionQueued for moved: %+v, want seqs 3 (sent) and 4", got)
	}
	c.Close()
	testkit.WaitFor(t, testkit.Became(t, func() bool { return !sessionOf(t, srv.Server, "moved").online() }), "moved offline")
	c, present = connect5(t, srv.Addr, "moved", 60, false)
	if !present {
		t.Fatal("CONNACK Session Present 0 for a resumed session")
	}
	c.ExpectDescribed(t, `PUBLISH q1 dup=1 retain=0 id=4 m/1 "one"`, `PUBLISH q1 dup=1 retain=0 id=5 m/2 "two"`)
	if got = f.queuedFor("moved"); len(got) != 4 || got[2].Seq != 3 || !got[2].Sent || got[3].Seq != 4 || !got[3].Sent {
		t.Fatalf("SessionQueued for moved after resuming: %+v, want seqs 3 and 4 again, both sent", got)
	}

	b, _ := connect5(t, srv.Addr, "brief", 0, false)
	b.ExpectDescribed(t, `PUBLISH q1 dup=0 retain=0 id=2 b/1 "one"`)
	if got = f.queuedFor("brief"); len(got) != 0 {
		t.Fatalf("SessionQueued for a session with expiry 0: %+v", got)
	}
}
