package broker

import (
	"context"
	"fmt"
	"runtime/debug"
	"testing"
	"time"

	"github.com/ternmq/tern/broker/store/pebble"
)

// gcPercent is the GOGC setting used during recovery, as cmd/tern sets it.
const gcPercent = 400

// BenchmarkRecover measures Open on a Pebble store holding 1,000
// persistent sessions with 1,000 distinct queued messages each and
// 100,000 retained messages (the restart case of the durable-store issue;
// ternbench's restart scenario measures the whole process).
func BenchmarkRecover(b *testing.B) {
	const sessions, queued, retained = 1000, 1000, 100_000
	dir := b.TempDir()
	st, err := pebble.Open(dir, pebble.Options{})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := Open(context.Background(), Options{Store: st, MaxQueued: queued})
	if err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, 64)
	for i := range sessions {
		ss := newSession(srv, fmt.Sprintf("rb-%d", i))
		srv.sessions[ss.id] = ss
		ss.mu.Lock()
		ss.expiry, ss.durable = 0xFFFFFFFF, true
		ss.save()
		ss.mu.Unlock()
		ss.subscribe(fmt.Sprintf("rb/%d", i), subOpts{qos: 1})
		for range queued {
			srv.publish(&Message{Topic: fmt.Sprintf("rb/%d", i), Payload: payload, QoS: 1})
		}
	}
	for i := range retained {
		srv.publish(&Message{Topic: fmt.Sprintf("rr/%d", i), Payload: payload, QoS: 1, Retain: true})
	}
	srv.Shutdown(context.Background())
	st.Close()
	b.ResetTimer()
	var storeOpen time.Duration
	for range b.N {
		start := time.Now()
		st, err := pebble.Open(dir, pebble.Options{})
		if err != nil {
			b.Fatal(err)
		}
		storeOpen += time.Since(start)
		old := debug.SetGCPercent(gcPercent) // as cmd/tern does while it recovers
		srv, err := Open(context.Background(), Options{Store: st, MaxQueued: queued})
		debug.SetGCPercent(old)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if n := len(srv.sessions); n != sessions {
			b.Fatalf("%d sessions recovered", n)
		}
		srv.Shutdown(context.Background())
		st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(storeOpen.Milliseconds())/float64(b.N), "store-open-ms")
}
