package cluster

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/broker/store"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// sessq returns how many messages TERN_SESSQ holds for clientID, -1 when
// it cannot tell.
func (m member) sessq(t testing.TB, clientID string) int {
	t.Helper()
	info, err := m.node.reg.sq.Info(testkit.Context(t), jetstream.WithSubjectFilter(queueSubject(clientID)))
	if err != nil {
		return -1
	}
	return int(info.State.Subjects[queueSubject(clientID)])
}

// within waits until cond holds, for at most d (a node's death takes
// longer than testkit.WaitFor's deadline).
func within(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-testkit.Became(t, cond):
	case <-timer.C:
		t.Fatalf("timed out after %v waiting for %s", d, what)
	}
}

// publishRetry publishes a QoS 1 message from a 5.0 publisher until a
// PUBACK 0x00 comes: while the stream elects a new leader after a node's
// death, the cluster refuses with 0x97 [MQTT-4.3.2-4].
func publishRetry(t testing.TB, p *testkit.Peer, topic, payload string) {
	t.Helper()
	for try := 0; ; try++ {
		pid := p.PID()
		p.Send(t, &codec.Publish{QoS: 1, PacketID: pid, Topic: topic, Payload: []byte(payload)})
		a := p.ExpectAck(t, codec.PUBACK)
		if a.PacketID != pid {
			t.Fatalf("PUBACK for %d, want %d", a.PacketID, pid)
		}
		if a.ReasonCode == codec.Success {
			return
		}
		if try == 10 {
			t.Fatalf("PUBACK %#x for %q %d times", byte(a.ReasonCode), payload, try+1)
		}
	}
}

// TestInflightSurvivesNodeDeath: a persistent 5.0 QoS 1 subscriber on node
// 2 has received messages without acknowledging them when node 2 is cut
// off; more are published meanwhile. The survivor that reaps node 2 adopts
// the session and publishes its will (and that of a client whose session
// had expiry 0); the client, reconnecting on node 3
// with Clean Start 0, finds its session [MQTT-3.2.2-3] and receives every
// message acknowledged to the publisher: the unacknowledged ones again
// with DUP set [MQTT-4.4.0-1] [MQTT-3.3.1-1], those published while node 2
// was dead too [MQTT-4.3.2-4]. Once it acknowledges them, TERN_SESSQ
// holds nothing for it.
func TestInflightSurvivesNodeDeath(t *testing.T) {
	ms := startSessions(t, 3)
	n1, n2, n3 := ms[0], ms[1], ms[2]
	watcher := dial(t, n3, codec.V5, "watcher")
	watcher.Subscribe(t, 1, "will/#")

	sub := testkit.Dial(t, n2.b.Addr, codec.V5)
	c := &codec.Connect{ClientID: "inflight", CleanStart: true, KeepAlive: 60,
		Will: &codec.Will{Topic: "will/inflight", Payload: []byte("gone"), QoS: 1}}
	c.Properties.SessionExpiryInterval = 600
	sub.Connect(t, c)
	sub.Subscribe(t, 1, "inf/#")
	// A client of node 2 whose session ends with its connection: the
	// adopter publishes its will too.
	zero := zeroWithWill(t, n2.b.Addr, n3.node, "zero", "will/zero", "gone too")

	const before, during = 50, 20
	pub := dial(t, n1, codec.V5, "pub")
	for i := range before {
		pub.Publish(t, 1, "inf/x", fmt.Sprint("m", i))
	}
	for i := range before { // received, never acknowledged
		sub.ExpectPublish(t, fmt.Sprintf(`q1 dup=0 retain=0 inf/x "m%d"`, i))
	}
	// Written through while the client is online.
	eventually(t, "TERN_SESSQ to hold the in-flight messages", func() bool { return n3.sessq(t, "inflight") == before })

	start := time.Now()
	n2.node.NATSServer().Shutdown() // node 2 is cut off: its lease lapses
	for i := range during {
		publishRetry(t, pub, "inf/x", fmt.Sprint("d", i))
	}
	adopted := func() uint64 {
		return n1.node.RegistryStats().Adopted.Load() + n3.node.RegistryStats().Adopted.Load()
	}
	within(t, leaseTTL+45*time.Second, "a survivor to adopt node 2's sessions", func() bool { return adopted() == 2 })
	t.Logf("sessions adopted %v after node 2 was cut off", time.Since(start))
	wills := make(map[string]string)
	within(t, 10*time.Second, "the wills", func() bool {
		p, ok := watcher.Poll()
		if !ok {
			return false
		}
		got, ok := p.(*codec.Publish)
		if !ok {
			t.Fatalf("watcher got %s, want a will", testkit.Describe(p))
		}
		watcher.Ack(t, got)
		wills[got.Topic] = string(got.Payload)
		return len(wills) == 2
	})
	if wills["will/inflight"] != "gone" || wills["will/zero"] != "gone too" {
		t.Errorf("wills %q, want those of both clients of node 2", wills)
	}
	sub.Close()
	zero.Close()

	back, ack := connectV5(t, n3, "inflight", false, 600)
	if !ack.SessionPresent {
		t.Fatal("Session Present 0 for the session of a dead node [MQTT-3.2.2-3]")
	}
	want := make(map[string]bool) // payload → DUP expected
	for i := range before {
		want[fmt.Sprint("m", i)] = true
	}
	for i := range during {
		want[fmt.Sprint("d", i)] = false
	}
	seen := make(map[string]int)
	for len(seen) < len(want) {
		p := testkit.Expect[*codec.Publish](t, back)
		back.Ack(t, p)
		dup, ok := want[string(p.Payload)]
		switch {
		case !ok || p.Topic != "inf/x" || p.QoS != 1:
			t.Fatalf("got %s", testkit.Describe(p))
		case seen[string(p.Payload)] == 0 && dup && !p.Dup:
			t.Errorf("%q, sent before node 2 died, came again without DUP [MQTT-3.3.1-1]", p.Payload)
		}
		seen[string(p.Payload)]++
	}
	for p, n := range seen {
		if n > 1 {
			t.Logf("%q came %d times (QoS 1 allows it)", p, n)
		}
	}
	eventually(t, "TERN_SESSQ to hold nothing for the session once acknowledged", func() bool { return n3.sessq(t, "inflight") == 0 })
}

// TestOwnPath publishes and subscribes on one node at QoS 1: the message
// reaches the node's subscribers once it came back from the stream (the
// node's consumer hands its own messages to the broker), and not the
// publisher's own No Local subscription [MQTT-3.8.3-3].
func TestOwnPath(t *testing.T) {
	ms := startDurableCluster(t, 3)
	n1 := ms[0]
	other := dial(t, n1, codec.V5, "other")
	other.Subscribe(t, 1, "own/#")
	me := dial(t, n1, codec.V5, "me")
	me.SubscribeWith(t, &codec.Subscribe{PacketID: me.PID(), Subscriptions: []codec.Subscription{
		{Filter: "own/#", QoS: 1, NoLocal: true}}})
	own := n1.node.DurableStats().Own.Load()

	me.Publish(t, 1, "own/x", "mine")
	other.Ack(t, other.ExpectPublish(t, `q1 dup=0 retain=0 own/x "mine"`))
	if got := n1.node.DurableStats().Own.Load(); got != own+1 {
		t.Errorf("node 1 routed %d own messages from its consumer, want 1", got-own)
	}
	other.Publish(t, 1, "own/y", "theirs") // a marker: "mine" would come before it
	me.Ack(t, me.ExpectPublish(t, `q1 dup=0 retain=0 own/y "theirs"`))
	other.Ack(t, other.ExpectPublish(t, `q1 dup=0 retain=0 own/y "theirs"`)) // no No Local
	me.ExpectIdle(t)
	other.ExpectIdle(t)
}

// TestWriteThroughPurge: the QoS 1 deliveries of an online persistent
// session are written through to TERN_SESSQ as they are queued, and
// purged once the client acknowledged them [MQTT-4.3.2-4].
func TestWriteThroughPurge(t *testing.T) {
	ms := startSessions(t, 3)
	n1, n2 := ms[0], ms[1]
	const n = 20
	sub, got := unacked(t, n1, n2, "wt", n)
	for _, p := range got[:n/2] {
		sub.Ack(t, p)
	}
	eventually(t, "TERN_SESSQ to hold the half still unacknowledged", func() bool { return n1.sessq(t, "wt") == n/2 })
	for _, p := range got[n/2:] {
		sub.Ack(t, p)
	}
	eventually(t, "TERN_SESSQ to hold nothing for the session", func() bool { return n1.sessq(t, "wt") == 0 })
}

// fakeMsg is a stream message whose acknowledgements are counted.
type fakeMsg struct {
	jetstream.Msg
	acks, progress int
}

func (m *fakeMsg) Ack() error        { m.acks++; return nil }
func (m *fakeMsg) InProgress() error { m.progress++; return nil }

// TestRedeliveryDedupe: a message the stream sends again while the node
// processes it is marked in progress and not routed again, and the newest
// handle is the one acked; one acked shortly before is acked again without
// routing; one acked longer ago than the window is routed again.
func TestRedeliveryDedupe(t *testing.T) {
	d := &tracker[uint64]{window: 4}
	first, again, late := new(fakeMsg), new(fakeMsg), new(fakeMsg)
	if !d.begin(7, first) {
		t.Fatal("the first delivery is not routed")
	}
	if d.begin(7, again) || again.progress != 1 || again.acks != 0 {
		t.Fatalf("a redelivery in process: routed, or progress %d acks %d; want not routed, progress 1", again.progress, again.acks)
	}
	if h := d.end(7, first, true); h != again {
		t.Fatal("end did not return the newest handle")
	}
	if d.begin(7, late) || late.acks != 1 {
		t.Fatalf("a redelivery of an acked message: routed, or acked %d times; want not routed, acked", late.acks)
	}
	nak := new(fakeMsg)
	d.begin(8, nak)
	d.end(8, nak, false)
	if !d.begin(8, new(fakeMsg)) {
		t.Fatal("a redelivery of a nak'd message is not routed")
	}
	d.end(8, nak, true)
	for s := uint64(100); s < 104; s++ { // the window (4) moves past 7
		m := new(fakeMsg)
		d.begin(s, m)
		d.end(s, m, true)
	}
	if !d.begin(7, new(fakeMsg)) {
		t.Fatal("a message acked before the window is not routed again")
	}
}

// TestMatchSubs matches stream messages against a session's subscriptions
// as the broker routes them: once per session at the lower of the
// message's QoS and the highest matching subscription's [MQTT-3.8.4-6 of
// 3.1.1], RETAIN only with Retain As Published, every Subscription
// Identifier, No Local [MQTT-3.8.3-3], no $share subscription.
func TestMatchSubs(t *testing.T) {
	subs := []store.SubRecord{
		{Filter: "a/#", QoS: 1, ID: 1},
		{Filter: "a/+", QoS: 2, RetainAsPublished: true, ID: 2},
		{Filter: "n/#", QoS: 1, NoLocal: true},
		{Filter: "$share/g/s/#", QoS: 2},
	}
	for _, c := range []struct {
		topic, from string
		qos         codec.QoS
		retain      bool
		ok          bool
		wantQoS     codec.QoS
		wantRetain  bool
		wantIDs     []int
	}{
		{topic: "a/b", qos: 2, retain: true, ok: true, wantQoS: 2, wantRetain: true, wantIDs: []int{1, 2}},
		{topic: "a/b/c", qos: 2, retain: true, ok: true, wantQoS: 1, wantIDs: []int{1}},
		{topic: "a/b", qos: 1, ok: true, wantQoS: 1, wantIDs: []int{1, 2}},
		{topic: "n/x", from: "me", qos: 1},
		{topic: "n/x", from: "other", qos: 1, ok: true, wantQoS: 1},
		{topic: "s/x", qos: 1},
		{topic: "b", qos: 1},
	} {
		m := &broker.Message{Topic: c.topic, QoS: c.qos, Retain: c.retain, From: c.from}
		qos, retain, ids, ok := matchSubs(subs, m, "me")
		if ok != c.ok || ok && (qos != c.wantQoS || retain != c.wantRetain || !slices.Equal(ids, c.wantIDs)) {
			t.Errorf("%s from %q: qos %d retain %v ids %v ok %v; want %d %v %v %v",
				c.topic, c.from, qos, retain, ids, ok, c.wantQoS, c.wantRetain, c.wantIDs, c.ok)
		}
	}
}

// TestLastPerSeq keeps the last copy of each delivery sequence number,
// in order: a delivery written through when queued and again, sent, by a
// hand-over.
func TestLastPerSeq(t *testing.T) {
	got := lastPerSeq([]broker.HandoffDelivery{{Seq: 3}, {Seq: 1}, {Seq: 2}, {Seq: 1, Sent: true}, {Seq: 3, Sent: true}})
	want := []broker.HandoffDelivery{{Seq: 1, Sent: true}, {Seq: 2}, {Seq: 3, Sent: true}}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range got {
		if got[i].Seq != want[i].Seq || got[i].Sent != want[i].Sent {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	}
}

// zeroWithWill connects to addr a 5.0 client, id, whose session ends with
// its connection, with a QoS 1 will on topic, and waits until the
// registry, read through via, holds the will (so a survivor can publish
// it).
func zeroWithWill(t *testing.T, addr string, via *Node, id, topic, payload string) *testkit.Peer {
	t.Helper()
	p := testkit.Dial(t, addr, codec.V5)
	p.Connect(t, &codec.Connect{ClientID: id, CleanStart: true, KeepAlive: 60,
		Will: &codec.Will{Topic: topic, Payload: []byte(payload), QoS: 1}})
	eventually(t, "the record of "+id+" to hold its will", func() bool {
		e, err := via.reg.kv.Get(testkit.Context(t), sessionKey(id))
		if err != nil {
			return false
		}
		var rec record
		json.Unmarshal(e.Value(), &rec)
		s, err := store.DecodeSession(rec.Session)
		return err == nil && s.Will != nil
	})
	return p
}

// TestCloseFlushesPurge: deliveries the client settled just before its
// node leaves the cluster are purged from TERN_SESSQ by the node's close,
// not left for the purger's next pass, which never comes: the node that
// takes the session over would send them again (CI saw a bridge forward
// a settled message twice after a graceful stop).
func TestCloseFlushesPurge(t *testing.T) {
	ms := startSessions(t, 3)
	n1, n2 := ms[0], ms[1]
	sub, got := unacked(t, n1, n2, "wtc", 20)
	// The purger's first pass purges below the second delivery at most;
	// the rest are settled during its (now long) pause.
	n2.node.reg.wt.pause.Store(int64(time.Hour))
	for _, p := range got {
		sub.Ack(t, p)
	}
	eventually(t, "the session to settle", func() bool {
		s, ok := n2.session("wtc")
		return ok && s.Inflight == 0
	})
	n2.node.Close()
	if left := n1.sessq(t, "wtc"); left != 0 {
		t.Fatalf("TERN_SESSQ holds %d settled deliveries after the node closed, want 0", left)
	}
}

// unacked connects a persistent session id on at, subscribed to id/#,
// and publishes n QoS 1 messages on id/x from from; it returns the
// subscriber and the n deliveries, unacknowledged, once TERN_SESSQ holds
// them all.
func unacked(t *testing.T, from, at member, id string, n int) (*testkit.Peer, []*codec.Publish) {
	t.Helper()
	sub, _ := connectV5(t, at, id, true, 600)
	sub.Subscribe(t, 1, id+"/#")
	pub := dial(t, from, codec.V5, "pub")
	for i := range n {
		pub.Publish(t, 1, id+"/x", fmt.Sprint(i))
	}
	got := make([]*codec.Publish, 0, n)
	for i := range n {
		got = append(got, sub.ExpectPublish(t, fmt.Sprintf(`q1 dup=0 retain=0 %s/x "%d"`, id, i)))
	}
	eventually(t, "TERN_SESSQ to hold the unacknowledged deliveries", func() bool { return from.sessq(t, id) == n })
	return sub, got
}

// TestConsumerDeleted is a node back from being taken for dead: a
// survivor adopted one of its sessions (the record names node 2 now) and
// deleted its consumer, as reap does. Node 1 drops the adopted session
// (its client gets DISCONNECT 0x8E [MQTT-5:3.1.4-3] and reconnects where
// the cluster has it), makes its consumer again from after the last
// message it routed, and its other session receives every QoS 1 message
// again, also the one published while node 1 had no consumer.
func TestConsumerDeleted(t *testing.T) {
	ms := startSessions(t, 3)
	n1, n2, n3 := ms[0], ms[1], ms[2]
	keep, _ := connectV5(t, n1, "keep", true, 600)
	keep.Subscribe(t, 1, "zl/#")
	gone, _ := connectV5(t, n1, "gone", true, 600)
	gone.Subscribe(t, 1, "zl/#")
	pub := dial(t, n3, codec.V5, "pub")
	publishRetry(t, pub, "zl/a", "before")
	keep.Ack(t, keep.ExpectPublish(t, `q1 dup=0 retain=0 zl/a "before"`))
	gone.Ack(t, gone.ExpectPublish(t, `q1 dup=0 retain=0 zl/a "before"`))

	// What a reaper does: the session goes to node 2, the consumer goes.
	ctx := testkit.Context(t)
	key := sessionKey("gone")
	// Node 1's registry writes the record after the SUBSCRIBE on its own
	// goroutine; a write between get and Update is read again, as the
	// reaper's compare-and-swap does.
	eventually(t, "the record of gone to name node 2", func() bool {
		rec, rev, err := n2.node.reg.get(ctx, key)
		if err != nil || rev == 0 {
			t.Fatalf("the record of gone: rev %d, %v", rev, err)
		}
		rec.Owner, rec.Epoch = n2.node.ID(), rec.Epoch+1
		b, _ := json.Marshal(rec)
		_, err = n2.node.reg.kv.Update(ctx, key, b, rev)
		if err != nil && !refused(err) {
			t.Fatal(err)
		}
		return err == nil
	})
	if err := n2.node.q.qos.DeleteConsumer(ctx, consumerNameOf(n1.node.ID())); err != nil {
		t.Fatal(err)
	}
	publishRetry(t, pub, "zl/a", "while")

	d := testkit.Expect[*codec.Disconnect](t, gone)
	if d.ReasonCode != codec.SessionTakenOver {
		t.Fatalf("the adopted session's client got DISCONNECT %s, want 0x8E Session taken over", d.ReasonCode)
	}
	gone.ExpectClosed(t)
	keep.Ack(t, keep.ExpectPublish(t, `q1 dup=0 retain=0 zl/a "while"`))
	publishRetry(t, pub, "zl/a", "after")
	keep.Ack(t, keep.ExpectPublish(t, `q1 dup=0 retain=0 zl/a "after"`))
	keep.ExpectIdle(t)
	if _, ok := n1.session("gone"); ok {
		t.Error("node 1 still holds the session the cluster gave to node 2")
	}
	if got := n1.node.q.stats.Rejoined.Load(); got != 1 {
		t.Errorf("node 1 made its consumer again %d times, want 1", got)
	}
}

// TestTakeOverNeedsDeliveries: a node that cannot read the deliveries a
// session's owner handed over through TERN_SESSQ does not resume the
// session without them: the CONNECT is refused with 0x88 Server
// unavailable and Session Present 0 [MQTT-5:3.2.2-6], and the session is
// left to the hand-over. The client, connecting again once the stream
// answers, gets its session (Session Present 1) and the unacknowledged
// message again with DUP, its packet identifier unchanged
// [MQTT-5:4.4.0-1].
func TestTakeOverNeedsDeliveries(t *testing.T) {
	ms := startSessions(t, 3)
	n1, n2 := ms[0], ms[1]
	sub, got := unacked(t, n1, n1, "nd", 1)
	n2.node.reg.sqUnreadable.Store(true)
	p := testkit.Dial(t, n2.b.Addr, codec.V5)
	c := &codec.Connect{ClientID: "nd"}
	c.Properties.SessionExpiryInterval = 600
	p.Send(t, c)
	if d := testkit.Expect[*codec.Disconnect](t, sub); d.ReasonCode != codec.SessionTakenOver {
		t.Fatalf("the old connection got DISCONNECT %s, want 0x8E", d.ReasonCode)
	}
	ack := testkit.Expect[*codec.Connack](t, p)
	if ack.ReasonCode != codec.ServerUnavailable || ack.SessionPresent {
		t.Fatalf("got CONNACK %s, session present %v; want 0x88 Server unavailable, 0", ack.ReasonCode, ack.SessionPresent)
	}
	p.ExpectClosed(t)

	n2.node.reg.sqUnreadable.Store(false)
	again, ack := connectV5(t, n2, "nd", false, 600)
	if !ack.SessionPresent {
		t.Fatal("Session Present 0 after the refused take-over: the session was lost")
	}
	if m := again.ExpectPublish(t, `q1 dup=1 retain=0 nd/x "0"`); m.PacketID != got[0].PacketID {
		t.Errorf("redelivered with packet id %d, want %d", m.PacketID, got[0].PacketID)
	}
}

// TestAdopteeDup: what an adoption adds from TERN_QOS to a session that
// had a connection on the dead node is sent with DUP, since the dead node
// may have sent it before its write-through was stored [MQTT-3.3.1-1];
// to a session that had none, it goes as a first delivery.
func TestAdopteeDup(t *testing.T) {
	subs := []store.SubRecord{{Filter: "a/#", QoS: 1}}
	msgs := []*broker.Message{{Topic: "a/1", QoS: 1, Origin: "o1"}, {Topic: "b/1", QoS: 1, Origin: "o2"}}
	for _, online := range []bool{true, false} {
		a := newAdoptee("c", &broker.SessionHandoff{Session: store.SessionRecord{Subs: subs}}, online)
		a.add(msgs)
		if len(a.h.Deliveries) != 1 {
			t.Fatalf("online %v: %d deliveries, want 1 (a/1)", online, len(a.h.Deliveries))
		}
		if d := a.h.Deliveries[0]; d.Sent != online {
			t.Errorf("online %v: the added delivery has Sent %v", online, d.Sent)
		}
	}
}
