package cluster

import (
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/broker/store"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// startSessions is startCluster, then waits until each node's session
// registry is set up.
func startSessions(t testing.TB, n int) []member {
	t.Helper()
	ms := startCluster(t, n)
	timer := time.NewTimer(joinTimeout)
	defer timer.Stop()
	for _, m := range ms {
		select {
		case <-m.node.reg.ready:
		case <-timer.C:
			t.Fatalf("the session registry of %s not set up within %v", m.node.ID(), joinTimeout)
		}
		if m.node.reg.off {
			t.Fatalf("node %s has no session registry", m.node.ID())
		}
	}
	return ms
}

// connectV5 connects a 5.0 client to m with the given Clean Start and
// Session Expiry Interval, and returns it with its CONNACK.
func connectV5(t testing.TB, m member, id string, clean bool, expiry uint32) (*testkit.Peer, *codec.Connack) {
	t.Helper()
	p := testkit.Dial(t, m.b.Addr, codec.V5)
	c := &codec.Connect{ClientID: id, CleanStart: clean}
	c.Properties.SessionExpiryInterval = expiry
	return p, p.Connect(t, c)
}

// session returns the session of id on m, if m holds one.
func (m member) session(id string) (broker.SessionInfo, bool) {
	for _, s := range m.b.Server.Sessions() {
		if s.ID == id {
			return s, true
		}
	}
	return broker.SessionInfo{}, false
}

// owner reads the owner of id's session from tern_sessions.
func (m member) owner(t testing.TB, id string) string {
	t.Helper()
	e, err := m.node.reg.kv.Get(testkit.Context(t), sessionKey(id))
	if err != nil {
		t.Fatalf("record of %q: %v", id, err)
	}
	var rec record
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		t.Fatal(err)
	}
	return rec.Owner
}

// TestTakeOverQueued moves a persistent 5.0 session from node 1 to node 2
// while it is offline: the QoS 1 messages published on node 3 meanwhile,
// queued on node 1, reach the client on node 2, which finds its session
// present [MQTT-3.2.2-3 of 5.0] with its subscription, now live on node 2.
func TestTakeOverQueued(t *testing.T) {
	ms := startSessions(t, 3)
	n1, n2, n3 := ms[0], ms[1], ms[2]

	p, ack := connectV5(t, n1, "roamer", true, 3600)
	if ack.SessionPresent {
		t.Fatal("Session Present 1 for a Clean Start [MQTT-3.2.2-2 of 5.0]")
	}
	p.Subscribe(t, 1, "ro/#")
	n3.interest(t, "ro/x", true)
	p.Disconnect(t)

	pub := dial(t, n3, codec.V5, "pub")
	const n = 5
	for i := range n {
		pub.Publish(t, 1, "ro/x", fmt.Sprint("m", i))
	}
	eventually(t, "node 1 to queue the messages", func() bool {
		s, ok := n1.session("roamer")
		return ok && s.Queued == n
	})

	p2, ack := connectV5(t, n2, "roamer", false, 3600)
	if !ack.SessionPresent {
		t.Fatal("Session Present 0 for a session handed over from node 1 [MQTT-3.2.2-3 of 5.0]")
	}
	for i := range n {
		got := p2.ExpectPublish(t, fmt.Sprintf(`q1 dup=0 retain=0 ro/x "m%d"`, i))
		p2.Ack(t, got)
	}
	if _, ok := n1.session("roamer"); ok {
		t.Error("node 1 still holds the session")
	}
	if s, ok := n2.session("roamer"); !ok || !slices.Equal(s.Subscriptions, []string{"ro/#"}) || s.Expiry != 3600 {
		t.Errorf("node 2 holds %+v (%v), want the session with ro/# and expiry 3600", s, ok)
	}
	if o := n3.owner(t, "roamer"); o != n2.node.ID() {
		t.Errorf("tern_sessions says %s owns the session, want %s", o, n2.node.ID())
	}
	// The subscription is live on node 2: a new message gets there.
	n3.interest(t, "ro/y", true)
	eventually(t, "node 1 to drop its interest", func() bool { return n1.node.Subjects() == 0 })
	pub.Publish(t, 1, "ro/y", "after")
	p2.Ack(t, p2.ExpectPublish(t, `q1 dup=0 retain=0 ro/y "after"`))
	p2.ExpectIdle(t)
	eventually(t, "node 2 to see every PUBACK", func() bool {
		s, _ := n2.session("roamer")
		return s.Inflight == 0 && s.Queued == 0
	})
	if st := n2.node.RegistryStats(); st.Takeovers.Load() != 1 || n1.node.RegistryStats().HandOffs.Load() != 1 {
		t.Errorf("node 2 took over %d sessions, node 1 handed over %d; want 1 and 1", st.Takeovers.Load(), n1.node.RegistryStats().HandOffs.Load())
	}
}

// TestTakeOverLive connects a client id on node 2 while it is connected
// on node 1: the old connection receives DISCONNECT 0x8E Session taken
// over and is closed [MQTT-3.1.4-3 of 5.0]; its in-flight QoS 1 message is
// re-sent on node 2 with DUP [MQTT-4.4.0-1].
func TestTakeOverLive(t *testing.T) {
	ms := startSessions(t, 3)
	n1, n2, n3 := ms[0], ms[1], ms[2]

	p, _ := connectV5(t, n1, "dup", true, 600)
	p.Subscribe(t, 1, "live/+")
	n3.interest(t, "live/a", true)
	pub := dial(t, n3, codec.V5, "pub")
	pub.Publish(t, 1, "live/a", "unacked")
	p.ExpectPublish(t, `q1 dup=0 retain=0 live/a "unacked"`) // not acknowledged

	p2, ack := connectV5(t, n2, "dup", false, 600)
	if !ack.SessionPresent {
		t.Fatal("Session Present 0 for a session taken over from node 1 [MQTT-3.2.2-3 of 5.0]")
	}
	d := testkit.Expect[*codec.Disconnect](t, p)
	if d.ReasonCode != codec.SessionTakenOver {
		t.Fatalf("old connection got DISCONNECT %s, want 0x8E Session taken over", d.ReasonCode)
	}
	p.ExpectClosed(t)
	got := p2.ExpectPublish(t, `q1 dup=1 retain=0 live/a "unacked"`)
	p2.Ack(t, got)
	p2.ExpectIdle(t)
}

// TestTakeOverRace connects one client id on node 2 and node 3 at once
// (it was on node 1): the registry's compare-and-swap lets each node
// become the owner only at the revision it read, so the race ends with
// exactly one client live, on the node tern_sessions names.
func TestTakeOverRace(t *testing.T) {
	ms := startSessions(t, 3)
	n1, n2, n3 := ms[0], ms[1], ms[2]
	p0, _ := connectV5(t, n1, "racer", true, 600)

	peers := []*testkit.Peer{testkit.Dial(t, n2.b.Addr, codec.V5), testkit.Dial(t, n3.b.Addr, codec.V5)}
	for _, p := range peers {
		c := &codec.Connect{ClientID: "racer"}
		c.Properties.SessionExpiryInterval = 600
		p.Send(t, c)
	}
	for i, p := range peers {
		if ack := testkit.Expect[*codec.Connack](t, p); ack.ReasonCode != codec.Success {
			t.Fatalf("client %d: CONNACK %s", i, ack.ReasonCode)
		}
	}
	p0.ExpectDescribed(t, "DISCONNECT rc=0x8e")
	kicked := -1
	eventually(t, "one of the two to be taken over", func() bool {
		for i, p := range peers {
			if pkt, ok := p.Poll(); ok {
				if d, ok := pkt.(*codec.Disconnect); !ok || d.ReasonCode != codec.SessionTakenOver || kicked >= 0 {
					t.Fatalf("client %d got %s, want at most one DISCONNECT 0x8E in all", i, testkit.Describe(pkt))
				}
				kicked = i
			}
		}
		return kicked >= 0
	})
	peers[kicked].ExpectClosed(t)
	live, node := peers[1-kicked], ms[2-kicked]
	live.ExpectIdle(t)
	if o := n1.owner(t, "racer"); o != node.node.ID() {
		t.Errorf("tern_sessions says %s owns the session, want %s (the live client's node)", o, node.node.ID())
	}
	online := 0
	for _, m := range ms {
		if s, ok := m.session("racer"); ok && s.Online {
			online++
		}
	}
	if online != 1 {
		t.Errorf("%d nodes hold the session online, want 1", online)
	}
	t.Logf("conflicts: n2 %d, n3 %d; held back: n2 %d, n3 %d", n2.node.RegistryStats().Conflicts.Load(), n3.node.RegistryStats().Conflicts.Load(),
		n2.node.RegistryStats().Held.Load(), n3.node.RegistryStats().Held.Load())
}

// TestSessionsAtScale connects many persistent sessions spread over three
// nodes: JetStream holds the same streams and consumers as with none (the
// two buckets and TERN_SESSQ; one lease watcher per node), never one per
// session.
func TestSessionsAtScale(t *testing.T) {
	// 10,000 take 8 s here; under -race on two busy cores 40 s, so 1,000.
	sessions := 10000
	if testing.Short() || raceEnabled {
		sessions = 1000
	}
	ms := startSessions(t, 3)
	js := ms[0].node.reg.js
	eventually(t, "each node to watch the leases", func() bool { return assets(t, js).ephemeral >= len(ms) })
	before := assets(t, js)

	start := time.Now()
	const workers = 24
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			errs <- func() error {
				for i := w; i < sessions; i += workers {
					m := ms[i%3]
					c := &codec.Connect{ClientID: fmt.Sprint("s", i)}
					c.Properties.SessionExpiryInterval = 3600
					if err := connectOnce(m.b.Addr, c); err != nil {
						return err
					}
				}
				return nil
			}()
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	after := assets(t, js)
	// Ephemeral consumers come and go (a key listing makes one for a
	// while); streams and durable consumers must not grow with sessions.
	if after.streams != before.streams || after.consumers != before.consumers {
		t.Errorf("JetStream assets went from %+v to %+v with %d sessions", before, after, sessions)
	}
	st, err := ms[1].node.reg.kv.Status(testkit.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.Values() != uint64(sessions) {
		t.Errorf("tern_sessions holds %d records, want %d", st.Values(), sessions)
	}
	if c := ms[0].consumers(t, StreamQoS); c != 3 {
		t.Errorf("%s has %d consumers with %d sessions, want 3 (one per node)", StreamQoS, c, sessions)
	}
	per := map[string]int{}
	for s := range js.ListStreams(testkit.Context(t)).Info() {
		if s.State.Consumers > 0 {
			per[s.Config.Name] = s.State.Consumers
		}
	}
	t.Logf("%d persistent sessions over 3 nodes in %v: %d streams, %d durable consumers, %d ephemeral %v", sessions, elapsed, after.streams, after.consumers, after.ephemeral, per)
}

// jsAssets counts JetStream's streams, durable consumers, and ephemeral
// ones (the nodes' KV watchers, key listings).
type jsAssets struct{ streams, consumers, ephemeral int }

// assets counts JetStream's streams and consumers.
func assets(t testing.TB, js jetstream.JetStream) jsAssets {
	t.Helper()
	ctx := testkit.Context(t)
	var a jsAssets
	var names []string
	l := js.ListStreams(ctx)
	for s := range l.Info() {
		a.streams++
		names = append(names, s.Config.Name)
	}
	if err := l.Err(); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		cl := s.ListConsumers(ctx)
		for c := range cl.Info() {
			if c.Config.Durable != "" {
				a.consumers++
			} else {
				a.ephemeral++
			}
		}
		if err := cl.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

// connectOnce connects c to addr, checks its CONNACK and disconnects.
func connectOnce(addr string, c *codec.Connect) error {
	nc, err := net.DialTimeout("tcp", addr, testkit.Timeout)
	if err != nil {
		return err
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(testkit.Timeout))
	if _, err := nc.Write(testkit.Encode(codec.V5, c)); err != nil {
		return err
	}
	r := codec.NewReader(nc, 1<<16)
	r.SetVersion(codec.V5)
	p, err := r.ReadPacket()
	if err != nil {
		return fmt.Errorf("%s: %w", c.ClientID, err)
	}
	if ack, ok := p.(*codec.Connack); !ok || ack.ReasonCode != codec.Success {
		return fmt.Errorf("%s: got %s, want CONNACK 0x00", c.ClientID, testkit.Describe(p))
	}
	_, err = nc.Write(testkit.Encode(codec.V5, &codec.Disconnect{}))
	return err
}

// TestTakeOverCleanStart connects with Clean Start 1 on node 2 a client id
// whose persistent session, with a queued message, is on node 1: the old
// session is discarded everywhere and the new one starts empty, Session
// Present 0 [MQTT-3.2.2-2 of 5.0, MQTT-3.1.2-4 of 5.0].
func TestTakeOverCleanStart(t *testing.T) {
	ms := startSessions(t, 3)
	n1, n2, n3 := ms[0], ms[1], ms[2]
	p, _ := connectV5(t, n1, "fresh", true, 3600)
	p.Subscribe(t, 1, "cs/#")
	n3.interest(t, "cs/x", true)
	p.Disconnect(t)
	pub := dial(t, n3, codec.V5, "pub")
	pub.Publish(t, 1, "cs/x", "old")
	eventually(t, "node 1 to queue the message", func() bool {
		s, ok := n1.session("fresh")
		return ok && s.Queued == 1
	})

	p2, ack := connectV5(t, n2, "fresh", true, 3600)
	if ack.SessionPresent {
		t.Fatal("Session Present 1 after Clean Start [MQTT-3.2.2-2 of 5.0]")
	}
	if _, ok := n1.session("fresh"); ok {
		t.Error("node 1 still holds the discarded session")
	}
	if s, ok := n2.session("fresh"); !ok || len(s.Subscriptions) != 0 || s.Queued != 0 {
		t.Errorf("node 2 holds %+v (%v), want a new empty session", s, ok)
	}
	p2.ExpectIdle(t)
	eventually(t, "node 1 to drop its interest", func() bool { return n1.node.Subjects() == 0 })
	// Resumed later on node 3, the session is the new one.
	p2.Disconnect(t)
	_, ack = connectV5(t, n3, "fresh", false, 3600)
	if !ack.SessionPresent {
		t.Fatal("Session Present 0 for the session left on node 2 [MQTT-3.2.2-3 of 5.0]")
	}
	if s, ok := n3.session("fresh"); !ok || len(s.Subscriptions) != 0 {
		t.Errorf("node 3 holds %+v (%v), want the empty session", s, ok)
	}
}

// TestTakeOverHeldBack moves a client id back to the node it just left:
// the move waits until a second has passed since the last one, so two
// clients fighting over one id change places at most once a second.
func TestTakeOverHeldBack(t *testing.T) {
	ms := startSessions(t, 2)
	n1, n2 := ms[0], ms[1]
	a, _ := connectV5(t, n1, "flap", true, 0)
	start := time.Now() // before node 2 moves the client id
	b, _ := connectV5(t, n2, "flap", true, 0)
	a.ExpectDescribed(t, "DISCONNECT rc=0x8e")
	a.ExpectClosed(t)
	held := n1.node.RegistryStats().Held.Load()
	c, _ := connectV5(t, n1, "flap", true, 0)
	if d := time.Since(start); d < flapHold {
		t.Errorf("the client id moved twice in %v, want at least %v between moves", d, flapHold)
	}
	if n1.node.RegistryStats().Held.Load() == held {
		t.Error("node 1 did not hold the client id back")
	}
	b.ExpectDescribed(t, "DISCONNECT rc=0x8e")
	b.ExpectClosed(t)
	c.ExpectIdle(t)
}

// TestDeadNode stops node 1's NATS server under a connected client with a
// will and a persistent session, and an offline persistent session with
// queued QoS 1 messages: once node 1's lease has lapsed, a survivor
// publishes the will [MQTT-3.1.2-8 of 3.1.1: the network connection ended
// without a DISCONNECT]; the client, connecting to node 2, resumes its
// session from the registry with its subscription (Session Present 1
// [MQTT-3.2.2-3 of 5.0]); and the offline session, resumed on node 2,
// receives the messages queued on node 1 while it was offline.
func TestDeadNode(t *testing.T) {
	ms := startSessions(t, 3)
	n1, n2, n3 := ms[0], ms[1], ms[2]
	watcher := dial(t, n3, codec.V5, "watcher")
	watcher.Subscribe(t, 1, "will/#")
	n1.interest(t, "will/x", true)

	sleeper, _ := connectV5(t, n1, "sleeper", true, 600)
	sleeper.Subscribe(t, 1, "zz/#")
	n3.interest(t, "zz/x", true)
	sleeper.Disconnect(t)
	pub := dial(t, n3, codec.V5, "pub")
	for i := range 3 {
		pub.Publish(t, 1, "zz/x", fmt.Sprint("z", i))
	}
	eventually(t, "TERN_SESSQ to hold the sleeper's messages", func() bool {
		info, err := n3.node.reg.sq.Info(testkit.Context(t), jetstream.WithSubjectFilter(queueSubject("sleeper")))
		return err == nil && info.State.Subjects[queueSubject("sleeper")] == 3
	})

	p := testkit.Dial(t, n1.b.Addr, codec.V5)
	c := &codec.Connect{ClientID: "doomed", CleanStart: true,
		Will: &codec.Will{Topic: "will/doomed", Payload: []byte("gone"), QoS: 1}}
	c.Properties.SessionExpiryInterval = 600
	p.Connect(t, c)
	p.Subscribe(t, 1, "dd/#")
	eventually(t, "the record to hold the will and the subscription", func() bool {
		e, err := n3.node.reg.kv.Get(testkit.Context(t), sessionKey("doomed"))
		if err != nil {
			return false
		}
		var rec record
		json.Unmarshal(e.Value(), &rec)
		s, err := store.DecodeSession(rec.Session)
		return err == nil && s.Will != nil && len(s.Subs) == 1
	})

	start := time.Now()
	n1.node.NATSServer().Shutdown() // node 1 is cut off: its lease lapses
	// The lease lapses after leaseTTL, is noticed within two renewals, and
	// JetStream may need an election on top.
	deadline := time.NewTimer(leaseTTL + 30*time.Second)
	defer deadline.Stop()
	var pkt codec.Packet
	arrived := testkit.Became(t, func() bool {
		var ok bool
		pkt, ok = watcher.Poll()
		return ok
	})
	select {
	case <-arrived:
		got, ok := pkt.(*codec.Publish)
		if !ok || got.Topic != "will/doomed" || string(got.Payload) != "gone" {
			t.Fatalf("watcher got %s, want the will", testkit.Describe(pkt))
		}
		watcher.Ack(t, got)
	case <-deadline.C:
		t.Fatal("no will from node 1's client")
	}
	t.Logf("will published %v after node 1 was cut off", time.Since(start))

	p2, ack := connectV5(t, n2, "doomed", false, 600)
	if !ack.SessionPresent {
		t.Fatal("Session Present 0 for the session of a dead node [MQTT-3.2.2-3 of 5.0]")
	}
	if s, ok := n2.session("doomed"); !ok || !slices.Equal(s.Subscriptions, []string{"dd/#"}) {
		t.Fatalf("node 2 holds %+v (%v), want the session with dd/#", s, ok)
	}
	n3.interest(t, "dd/x", true)
	pub.Publish(t, 1, "dd/x", "still here")
	p2.Ack(t, p2.ExpectPublish(t, `q1 dup=0 retain=0 dd/x "still here"`))

	s2, ack := connectV5(t, n2, "sleeper", false, 600)
	if !ack.SessionPresent {
		t.Fatal("Session Present 0 for the offline session of a dead node [MQTT-3.2.2-3 of 5.0]")
	}
	for i := range 3 {
		s2.Ack(t, s2.ExpectPublish(t, fmt.Sprintf(`q1 dup=0 retain=0 zz/x "z%d"`, i)))
	}
	s2.ExpectIdle(t)
}

// TestTakeOverUnderLoad moves a live persistent session from node 1 to
// node 2 while QoS 1 messages are published on node 3 without pause:
// node 1's consumer may route some of them after it handed the session
// over, node 2's before the session's subscriptions are in its tree.
// Every message reaches the client on node 2 at least once [MQTT-4.3.2-1
// of 3.1.1] (a move is not a reason to lose one).
func TestTakeOverUnderLoad(t *testing.T) {
	ms := startSessions(t, 3)
	n1, n2, n3 := ms[0], ms[1], ms[2]
	p, _ := connectV5(t, n1, "mover", true, 600)
	p.Subscribe(t, 1, "mv/#")
	n3.interest(t, "mv/a", true)
	pub := dial(t, n3, codec.V5, "pub")
	const n = 1000
	packets := make([][]byte, n)
	for i := range packets {
		packets[i] = testkit.Encode(codec.V5, &codec.Publish{QoS: 1, PacketID: pub.PID(), Topic: "mv/a", Payload: []byte(fmt.Sprint(i))})
	}
	sent := make(chan error, 1)
	go func() { // one message every 200 µs, through the move
		tick := time.NewTicker(200 * time.Microsecond)
		defer tick.Stop()
		for _, b := range packets {
			<-tick.C
			if _, err := pub.Conn().Write(b); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	for range 50 { // the stream is flowing to node 1
		testkit.Expect[*codec.Publish](t, p)
	}
	p2, ack := connectV5(t, n2, "mover", false, 600)
	if !ack.SessionPresent {
		t.Fatal("Session Present 0 for a session taken over from node 1 [MQTT-3.2.2-3 of 5.0]")
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	got := make(map[string]bool, n)
	for len(got) < n {
		m := testkit.Expect[*codec.Publish](t, p2)
		got[string(m.Payload)] = true
		p2.Ack(t, m)
	}
	t.Logf("read from %s for the moved session: %d", StreamQoS, n2.node.RegistryStats().CaughtUp.Load())
}
