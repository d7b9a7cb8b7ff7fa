package broker

import (
	"fmt"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ternmq/tern/broker/store"
	"github.com/ternmq/tern/broker/store/memory"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// putRetained stores n retained messages on topics rt/<i>, with the given
// Message Expiry (0 for none), as if published.
func putRetained(srv *Server, n, size int, expiry time.Duration) {
	payload := make([]byte, size)
	for i := range n {
		m := &Message{Topic: fmt.Sprintf("rt/%d", i), Payload: payload, QoS: 1, Retain: true}
		if expiry > 0 {
			m.Expires = time.Now().Add(expiry)
		}
		srv.publish(m)
	}
}

// TestManyRetained: a new subscriber to a filter covering 100,000
// retained messages receives every one of them, at QoS 0 and at QoS 1:
// they are sent as its flow control lets them through (Receive Maximum,
// the outbound buffer), not queued at once and dropped at the caps
// [MQTT-3.3.1-6 of 3.1.1].
func TestManyRetained(t *testing.T) {
	const n = 100_000
	srv := startServer(t, &Options{MaxQueued: 100, OutboundBuffer: 64 << 10})
	putRetained(srv.Server, n, 100, 0)
	for _, qos := range []codec.QoS{0, 1} {
		t.Run(fmt.Sprintf("qos%d", qos), func(t *testing.T) {
			c := testkit.Dial(t, srv.Addr, codec.V5)
			c.Connect(t, clean5(fmt.Sprintf("many-%d", qos)))
			c.Send(t, &codec.Subscribe{PacketID: 1, Subscriptions: []codec.Subscription{{Filter: "rt/#", QoS: qos}}})
			testkit.Expect[*codec.Suback](t, c)
			seen := make(map[string]bool, n)
			for len(seen) < n {
				p := testkit.Expect[*codec.Publish](t, c)
				if !p.Retain || seen[p.Topic] {
					t.Fatalf("got %s (retain flag, or a second copy)", testkit.Describe(p))
				}
				seen[p.Topic] = true
				if qos == 1 {
					c.Send(t, &codec.Puback{Ack: codec.Ack{PacketID: p.PacketID}})
				}
			}
			if d := srv.Stats().Dropped.Load(); d != 0 {
				t.Errorf("%d messages dropped", d)
			}
		})
	}
}

// TestRetainedExpiryLeavesNothing: 10,000 retained messages with a
// Message Expiry Interval of 1 s are removed once expired, from memory and
// from the store, by the sweep: measured as the broker's heap in use and
// the keys left, not assumed [MQTT-5:3.3.2-5].
func TestRetainedExpiryLeavesNothing(t *testing.T) {
	t.Run("heap", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := startPipeServer(t, &Options{SweepInterval: time.Second})
			before := heapInUse()
			putRetained(srv, 10_000, 100, time.Second)
			during := heapInUse()
			advance(3 * time.Second) // fake time: the sweep runs
			after := heapInUse()
			t.Logf("heap: %d B before, %d B with 10,000 retained, %d B after they expired", before, during, after)
			if per := (int64(after) - int64(before)) / 10_000; per > 8 {
				t.Errorf("%d B of heap per expired retained message stay behind", per)
			}
			if n := srv.retained.Len(); n != 0 {
				t.Errorf("%d retained messages in memory after their expiry", n)
			}
		})
	})
	t.Run("store", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			st := memory.New()
			srv := openPipeServer(t, st, &Options{SweepInterval: time.Second})
			putRetained(srv, 10_000, 100, time.Second)
			advance(3 * time.Second)
			var keys int
			count := func(_, _ []byte) error { keys++; return nil }
			st.Scan([]byte{store.KindRetained}, count)
			st.Scan([]byte{store.KindMessage}, count)
			if keys != 0 {
				t.Errorf("%d retained or message keys left in the store", keys)
			}
		})
	})
}

// TestQueuedDeliveryMemory: 10,000 offline sessions each queueing the same
// 100 messages cost at most 16 bytes of heap per queued delivery beyond
// the shared message bodies: a queued delivery is a reference.
func TestQueuedDeliveryMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 10,000 sessions")
	}
	const sessions, msgs = 10_000, 100
	srv := startPipeServer(t, nil)
	for i := range sessions {
		ss := newSession(srv, fmt.Sprintf("qd-%d", i))
		srv.sessions[ss.id] = ss
		ss.subscribe("qd/t", subOpts{qos: 1})
	}
	before := heapInUse()
	payload := make([]byte, 100)
	kept := make([]*Message, msgs)
	for i := range msgs {
		kept[i] = &Message{Topic: "qd/t", Payload: payload, QoS: 1}
		srv.publish(kept[i])
	}
	after := heapInUse()
	per := float64(int64(after)-int64(before)-int64(msgs*(100+48))) / (sessions * msgs)
	t.Logf("%.1f B of heap per queued delivery (%d sessions × %d messages)", per, sessions, msgs)
	if per > 16 {
		t.Errorf("%.1f B per queued delivery, want at most 16", per)
	}
	runtime.KeepAlive(kept)
}

// heapInUse returns the bytes of live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestRetainedAfterSubackComesOnce: a message a client publishes with
// RETAIN after it has read another client's SUBACK reaches that
// subscription once, live (RETAIN 0), not a second time as one of the
// retained messages of the new subscription: those are the ones held
// before the SUBACK [MQTT-3.3.1-6 of 3.1.1] [MQTT-3.3.1-9 of 3.1.1]. The
// SUBACK can leave inline before the subscribing goroutine goes on, so
// the retained messages used to be matched after the publish: a paho test
// under load caught it once. The interleaving is rare and this test does
// not force it (it passed on the old code too); its rounds try it again
// and hold the order as it is meant to be.
func TestRetainedAfterSubackComesOnce(t *testing.T) {
	srv := startServer(t, nil)
	pub := testkit.Dial(t, srv.Addr, codec.V5)
	pub.Connect(t, clean5("after-suback-pub"))
	for i := range 50 {
		topic := fmt.Sprintf("after/%d", i)
		sub := testkit.Dial(t, srv.Addr, codec.V5)
		sub.Connect(t, clean5(fmt.Sprintf("after-suback-sub-%d", i)))
		sub.Send(t, &codec.Subscribe{PacketID: 1, Subscriptions: []codec.Subscription{{Filter: topic, QoS: 1}}})
		testkit.Expect[*codec.Suback](t, sub)
		pub.Send(t, &codec.Publish{Topic: topic, Payload: []byte("v"), Retain: true})
		// A QoS 0 sentinel on the same connection comes after it (one
		// publisher, one topic tree walk each, in order).
		pub.Send(t, &codec.Publish{Topic: topic, Payload: []byte("end")})
		for _, want := range []string{"v", "end"} {
			p := testkit.Expect[*codec.Publish](t, sub)
			if string(p.Payload) != want || p.Retain {
				t.Fatalf("round %d: got %s, want %q live (RETAIN 0) once", i, testkit.Describe(p), want)
			}
		}
		sub.Close()
	}
}
