package broker

// Persistence: what a Store keeps across a restart, and what the broker
// does when the store fails. These tests run the broker on the memory
// engine; the crash tests in cmd/tern kill the real binary on Pebble.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ternmq/tern/broker/store"
	"github.com/ternmq/tern/broker/store/memory"
	"github.com/ternmq/tern/codec"
)

// faultStore wraps a Store: fail makes every Apply fail with an error
// without writing, and crash makes every later Apply vanish as if the
// process had been killed (kill -9) before the write.
type faultStore struct {
	Store
	mu      sync.Mutex
	fail    error
	crashed bool
}

func (f *faultStore) Apply(b *store.Batch, sync bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.crashed:
		return errors.New("crashed")
	case f.fail != nil:
		return f.fail
	}
	return f.Store.Apply(b, sync)
}

func (f *faultStore) setFail(err error) {
	f.mu.Lock()
	f.fail = err
	f.mu.Unlock()
}

// openPipeServer opens a broker on st for pipeRaw clients, shut down when
// the test ends.
func openPipeServer(t testing.TB, st Store, opts *Options) *Server {
	t.Helper()
	var o Options
	if opts != nil {
		o = *opts
	}
	o.Store = st
	srv, err := Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return srv
}

// crash stops srv as kill -9 would: nothing it writes from now on reaches
// the store. It returns a broker opened on what the store holds.
func crash(t testing.TB, srv *Server, f *faultStore, opts *Options) (*Server, *faultStore) {
	t.Helper()
	return crashFor(t, srv, f, opts, 0)
}

// crashFor is crash with the broker down for d (fake time: only inside a
// testing/synctest bubble).
func crashFor(t testing.TB, srv *Server, f *faultStore, opts *Options, d time.Duration) (*Server, *faultStore) {
	t.Helper()
	f.mu.Lock()
	f.crashed = true
	f.mu.Unlock()
	srv.Shutdown(context.Background())
	if d > 0 {
		advance(d) // the bubble's fake clock: the broker is down meanwhile
	}
	next := &faultStore{Store: f.Store}
	return openPipeServer(t, next, opts), next
}

// TestRestartKeepsSessions: a persistent session's subscriptions and the
// QoS 1 and 2 messages queued for it while it was offline, and retained
// messages, survive a crash: the client resumes with Session Present 1
// [MQTT-3.2.2-2 of 3.1.1, MQTT-5:3.2.2-2] and receives the queue in order
// [MQTT-4.6.0-6]; QoS 0 messages are not queued.
func TestRestartKeepsSessions(t *testing.T) {
	for _, v := range []codec.Version{codec.V311, codec.V5} {
		t.Run(v.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &faultStore{Store: memory.New()}
				srv := openPipeServer(t, f, nil)
				sub, _ := pipeConnect(t, srv, v, persistent(v, "rk-sub"))
				sub.Subscribe(t, 2, "rk/#")
				sub.Disconnect(t)
				pub, _ := pipeConnect(t, srv, v, &codec.Connect{ClientID: "rk-pub", CleanStart: true})
				pub.Publish(t, 1, "rk/1", "one")
				pub.Publish(t, 2, "rk/2", "two")
				pub.Publish(t, 0, "rk/0", "not queued")
				pub.PublishWith(t, &codec.Publish{QoS: 1, Retain: true, Topic: "rk/kept", Payload: []byte("kept")})

				srv, _ = crash(t, srv, f, nil)
				sub, ack := pipeConnect(t, srv, v, persistent(v, "rk-sub"))
				if !ack.SessionPresent {
					t.Fatal("Session Present 0 after the restart")
				}
				// Any of them may have been sent before the crash: DUP 1.
				for _, p := range []*codec.Publish{
					sub.ExpectPublish(t, `q1 dup=1 retain=0 rk/1 "one"`),
					sub.ExpectPublish(t, `q2 dup=1 retain=0 rk/2 "two"`),
					sub.ExpectPublish(t, `q1 dup=1 retain=0 rk/kept "kept"`),
				} {
					sub.Ack(t, p)
				}
				sub.ExpectIdle(t)

				late, _ := pipeConnect(t, srv, v, &codec.Connect{ClientID: "rk-late", CleanStart: true})
				late.Subscribe(t, 1, "rk/kept")
				late.ExpectPublish(t, `q1 dup=0 retain=1 rk/kept "kept"`)
				// The subscription survived too: a new message reaches it.
				pub, _ = pipeConnect(t, srv, v, &codec.Connect{ClientID: "rk-pub", CleanStart: true})
				pub.Publish(t, 1, "rk/after", "after")
				sub.ExpectMessage(t, "rk/after", "after")
			})
		})
	}
}

// TestRestartInflight: a QoS 1 message sent but not acknowledged is sent
// again after a crash with DUP and its packet identifier, and a QoS 2
// delivery past its PUBREC continues with PUBREL, not with the PUBLISH
// [MQTT-4.4.0-1] [MQTT-4.3.3-2 of 3.1.1].
func TestRestartInflight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &faultStore{Store: memory.New()}
		srv := openPipeServer(t, f, nil)
		sub, _ := pipeConnect(t, srv, codec.V311, persistent(codec.V311, "ri-sub"))
		sub.Subscribe(t, 2, "ri/#")
		pub, _ := pipeConnect(t, srv, codec.V311, &codec.Connect{ClientID: "ri-pub", CleanStart: true})
		pub.Publish(t, 1, "ri/1", "one")
		pub.Publish(t, 2, "ri/2", "two")
		one := sub.ExpectPublish(t, `q1 dup=0 retain=0 ri/1 "one"`)
		two := sub.ExpectPublish(t, `q2 dup=0 retain=0 ri/2 "two"`)
		sub.Send(t, &codec.Pubrec{Ack: codec.Ack{PacketID: two.PacketID}})
		sub.ExpectDescribed(t, fmt.Sprintf("PUBREL id=%d rc=0x00", two.PacketID))

		srv, _ = crash(t, srv, f, nil)
		sub, _ = pipeConnect(t, srv, codec.V311, persistent(codec.V311, "ri-sub"))
		sub.ExpectDescribed(t,
			fmt.Sprintf(`PUBLISH q1 dup=1 retain=0 id=%d ri/1 "one"`, one.PacketID),
			fmt.Sprintf("PUBREL id=%d rc=0x00", two.PacketID))
		sub.Send(t, &codec.Puback{Ack: codec.Ack{PacketID: one.PacketID}},
			&codec.Pubcomp{Ack: codec.Ack{PacketID: two.PacketID}})
		sub.ExpectIdle(t)

		// Completed: neither comes back after another restart.
		srv, _ = crash(t, srv, &faultStore{Store: f.Store}, nil)
		sub, _ = pipeConnect(t, srv, codec.V311, persistent(codec.V311, "ri-sub"))
		sub.ExpectIdle(t)
	})
}

// TestRestartInboundQoS2: a QoS 2 PUBLISH answered with PUBREC before a
// crash is not routed again when the client re-sends it afterwards: its
// packet identifier was stored with the message [MQTT-4.3.3-2 of 3.1.1].
func TestRestartInboundQoS2(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &faultStore{Store: memory.New()}
		srv := openPipeServer(t, f, nil)
		sub, _ := pipeConnect(t, srv, codec.V5, persistent(codec.V5, "rq-sub"))
		sub.Subscribe(t, 2, "rq/#")
		sub.Disconnect(t)
		pub, _ := pipeConnect(t, srv, codec.V5, persistent(codec.V5, "rq-pub"))
		pub.Send(t, &codec.Publish{QoS: 2, PacketID: 7, Topic: "rq/t", Payload: []byte("once")})
		pub.ExpectDescribed(t, "PUBREC id=7 rc=0x00")

		srv, _ = crash(t, srv, f, nil)
		pub, _ = pipeConnect(t, srv, codec.V5, persistent(codec.V5, "rq-pub"))
		pub.Send(t, &codec.Publish{QoS: 2, PacketID: 7, Dup: true, Topic: "rq/t", Payload: []byte("once")})
		pub.ExpectDescribed(t, "PUBREC id=7 rc=0x00")
		pub.Send(t, &codec.Pubrel{Ack: codec.Ack{PacketID: 7}})
		pub.ExpectDescribed(t, "PUBCOMP id=7 rc=0x00")

		sub, _ = pipeConnect(t, srv, codec.V5, persistent(codec.V5, "rq-sub"))
		sub.ExpectMessage(t, "rq/t", "once")
		sub.ExpectIdle(t)
	})
}

// TestRestartExpiry: a session whose expiry interval passed while the
// broker was down is gone after the restart, from memory and from the
// store, and its delayed will is published then [MQTT-5:3.1.2-8].
func TestRestartExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &faultStore{Store: memory.New()}
		srv := openPipeServer(t, f, nil)
		w := willWatcher(t, srv)
		w.Disconnect(t)
		w, _ = pipeConnect(t, srv, codec.V5, persistent(codec.V5, "watcher"))
		w.Subscribe(t, 1, "will/#")
		w.Disconnect(t)
		p := persistent(codec.V5, "re-gone")
		p.Properties.SessionExpiryInterval = 5
		p.Will = will("will/re-gone", "bye", 60)
		p.Will.QoS = 1 // queued for the offline watcher
		c, _ := pipeConnect(t, srv, codec.V5, p)
		c.Subscribe(t, 1, "re/#")
		c.Close() // lost: the will waits for its delay
		synctest.Wait()

		srv, _ = crashFor(t, srv, f, nil, 10*time.Second)
		var left []string
		f.Store.Scan([]byte{store.KindSession}, func(k, _ []byte) error {
			left = append(left, string(k))
			return nil
		})
		for _, k := range left {
			if k[1:len("re-gone")+1] == "re-gone" {
				t.Fatalf("key %q of the expired session is still stored", k)
			}
		}
		c, ack := pipeConnect(t, srv, codec.V5, persistent(codec.V5, "re-gone"))
		if ack.SessionPresent {
			t.Error("Session Present 1 for a session that expired while the broker was down")
		}
		c.Close()
		w, _ = pipeConnect(t, srv, codec.V5, persistent(codec.V5, "watcher"))
		w.ExpectMessage(t, "will/re-gone", "bye")
	})
}

// TestStoreFailure: while the store cannot write, no QoS 1/2 PUBLISH that
// touches it is acknowledged as received: a 5.0 client gets PUBACK 0x80
// (0x97 when the disk is full), a 3.1.1 client is disconnected; other
// clients carry on, and once the store works again so does everything.
func TestStoreFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &faultStore{Store: memory.New()}
		srv := openPipeServer(t, f, nil)
		away, _ := pipeConnect(t, srv, codec.V5, persistent(codec.V5, "sf-away"))
		away.Subscribe(t, 1, "sf/#")
		away.Disconnect(t)
		online, _ := pipeConnect(t, srv, codec.V5, clean5("sf-online"))
		online.Subscribe(t, 0, "sf/#")
		p5, _ := pipeConnect(t, srv, codec.V5, clean5("sf-p5"))
		p3, _ := pipeConnect(t, srv, codec.V311, &codec.Connect{ClientID: "sf-p3", CleanStart: true})

		f.setFail(fmt.Errorf("write: %w", syscall.EIO))
		p5.Send(t, &codec.Publish{QoS: 1, PacketID: 1, Topic: "sf/a", Payload: []byte("a")})
		p5.ExpectDescribed(t, "PUBACK id=1 rc=0x80")
		f.setFail(fmt.Errorf("write: %w", syscall.ENOSPC))
		p5.Send(t, &codec.Publish{QoS: 2, PacketID: 2, Topic: "sf/b", Payload: []byte("b")})
		p5.ExpectDescribed(t, "PUBREC id=2 rc=0x97")
		p3.Send(t, &codec.Publish{QoS: 1, PacketID: 3, Topic: "sf/c", Payload: []byte("c")})
		p3.ExpectClosed(t)
		// QoS 0 and clean sessions never wait for the store.
		p5.Publish(t, 0, "sf/d", "d")
		online.ExpectMessage(t, "sf/a", "a")
		online.ExpectMessage(t, "sf/b", "b")
		online.ExpectMessage(t, "sf/c", "c")
		online.ExpectMessage(t, "sf/d", "d")
		if n := srv.Stats().StoreFailedAcks.Load(); n != 3 {
			t.Errorf("StoreFailedAcks = %d, want 3", n)
		}

		f.setFail(nil)
		p5.Publish(t, 1, "sf/e", "e")
		p5.Publish(t, 2, "sf/b", "b again") // the refused packet id is free
		online.ExpectMessage(t, "sf/e", "e")
		online.ExpectMessage(t, "sf/b", "b again")
	})
}
