package broker

import (
	"context"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// The protocol tests speak to the broker through testkit.Peer, a scripted
// client on the codec: over TCP (testkit.Dial) it waits for packets with a
// real deadline; inside a testing/synctest bubble (pipeRaw) it waits with
// synctest.Wait, so "no packet" and "not closed" are exact answers.

// pipeRaw connects to srv over net.Pipe, served by srv.ServeConn. Use it
// inside synctest bubbles, where real sockets cannot be used.
func pipeRaw(t testing.TB, srv *Server, v codec.Version) *testkit.Peer {
	t.Helper()
	cn, sn := net.Pipe()
	go srv.ServeConn(context.Background(), sn)
	return testkit.NewPeer(t, cn, v, testkit.Bubble)
}

// startPipeServer returns a broker without a listener, for pipeRaw. It is
// shut down when the test ends.
func startPipeServer(t testing.TB, opts *Options) *Server {
	var o Options
	if opts != nil {
		o = *opts
	}
	srv := New(o)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return srv
}

// advance moves a testing/synctest bubble's fake clock forward by d and
// returns once every goroutine in the bubble is idle again. It cannot wait
// in real time: synctest.Wait panics outside a bubble.
func advance(d time.Duration) {
	synctest.Wait()
	<-time.After(d)
	synctest.Wait()
}

// pollUntil waits, in real time, for cond to hold, checking every
// millisecond until timeout; it reports whether cond held. It is for
// benchmarks that wait on state the broker exposes no event for.
func pollUntil(timeout time.Duration, cond func() bool) bool {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			return cond()
		}
	}
	return true
}
