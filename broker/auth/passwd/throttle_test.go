package passwd

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/codec"
)

// loginFrom is login with another remote address.
func loginFrom(user, password string, remote net.Addr) *broker.Login {
	l := login(user, []byte(password))
	l.Remote = remote
	return l
}

// TestSlowDown runs in a synctest bubble: the clock only moves while every
// goroutine waits, so each attempt's duration is exactly its delay.
func TestSlowDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, err := Load(writeFile(t, "alice:"+vectorPBKDF2Salt12), Options{Logger: quiet(nil)})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		attacker := &net.TCPAddr{IP: net.IPv4(198, 51, 100, 7), Port: 1}
		timed := func(l *broker.Login, want codec.ReasonCode) time.Duration {
			t.Helper()
			start := time.Now()
			if got := f.Authenticate(ctx, l); got != want {
				t.Fatalf("%s: %v, want %v", l.Connect.Username, got, want)
			}
			return time.Since(start)
		}
		// Each failure doubles the next attempt's wait, up to 2 s.
		want := []time.Duration{0, 50, 100, 200, 400, 800, 1600, 2000, 2000, 2000}
		for i, w := range want {
			if d := timed(loginFrom("alice", "guess", attacker), codec.BadUserNameOrPassword); d != w*time.Millisecond {
				t.Errorf("attempt %d waited %v, want %v", i+1, d, w*time.Millisecond)
			}
		}
		// Another address is not slowed; the same one is, even for the
		// right password, which then clears its record.
		if d := timed(loginFrom("alice", "test", testRemote), codec.Success); d != 0 {
			t.Errorf("another address waited %v", d)
		}
		if d := timed(loginFrom("alice", "test", attacker), codec.Success); d != 2*time.Second {
			t.Errorf("the right password from the slowed address waited %v, want 2s", d)
		}
		if d := timed(loginFrom("alice", "test", attacker), codec.Success); d != 0 {
			t.Errorf("after a success the address still waits %v", d)
		}
		// Failures decay: one is forgotten per 10 s without failures.
		for range 4 {
			timed(loginFrom("mallory", "x", attacker), codec.BadUserNameOrPassword)
		}
		advance(25 * time.Second) // 2 of 4 failures forgotten
		if d := timed(loginFrom("alice", "x", attacker), codec.BadUserNameOrPassword); d != 100*time.Millisecond {
			t.Errorf("after 25 s the wait is %v, want 100ms", d)
		}
		advance(time.Minute)
		if d := timed(loginFrom("alice", "test", attacker), codec.Success); d != 0 {
			t.Errorf("after a quiet minute the wait is %v", d)
		}
		if n := f.throttle.len(); n != 0 {
			t.Errorf("%d addresses remembered after success", n)
		}

		// A connection that ends while waiting stops waiting.
		for range 8 {
			timed(loginFrom("alice", "x", attacker), codec.BadUserNameOrPassword)
		}
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan codec.ReasonCode)
		start := time.Now()
		go func() { done <- f.Authenticate(cctx, loginFrom("alice", "test", attacker)) }()
		advance(time.Second)
		cancel()
		if rc := <-done; rc == codec.Success || time.Since(start) != time.Second {
			t.Errorf("cancelled wait: %v after %v", rc, time.Since(start))
		}
	})
}

func TestThrottleBounded(t *testing.T) {
	now := time.Unix(1e9, 0)
	th := newThrottle(100)
	for i := range 1000 {
		th.fail(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), now)
	}
	if n := th.len(); n != 100 {
		t.Fatalf("%d entries, want the bound 100", n)
	}
	// Once they have decayed, a new address sweeps them all out.
	later := now.Add(time.Hour)
	th.fail(netip.AddrFrom4([4]byte{10, 1, 0, 0}), later)
	if n := th.len(); n != 1 {
		t.Fatalf("%d entries after decay, want 1", n)
	}
}

func TestThrottleKey(t *testing.T) {
	for _, tc := range []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 1}, "192.0.2.1"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.1"), Port: 1}, "192.0.2.1"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:3:4:5:6"), Port: 1}, "2001:db8:1:2::"},
		{&net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 1, Zone: "eth0"}, "fe80::"},
		{&net.UDPAddr{IP: net.ParseIP("192.0.2.9"), Port: 1}, "192.0.2.9"},
		{&net.UnixAddr{Name: "/tmp/s", Net: "unix"}, ""},
		{nil, ""},
	} {
		ip, ok := key(tc.addr)
		got := ""
		if ok {
			got = ip.String()
		}
		if got != tc.want {
			t.Errorf("key(%v) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

// TestWorkerPool checks that verifications wait for a free worker, and
// give up when the connection ends.
func TestWorkerPool(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, err := Load(writeFile(t, "alice:"+vectorPBKDF2Salt12), Options{Workers: 1, Logger: quiet(nil)})
		if err != nil {
			t.Fatal(err)
		}
		f.sem <- struct{}{} // the only worker is busy
		done := make(chan codec.ReasonCode, 1)
		go func() { done <- f.Authenticate(context.Background(), login("alice", []byte("test"))) }()
		synctest.Wait()
		select {
		case rc := <-done:
			t.Fatalf("verified without a worker: %v", rc)
		default:
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancelled := make(chan codec.ReasonCode, 1)
		go func() { cancelled <- f.Authenticate(ctx, login("alice", []byte("test"))) }()
		synctest.Wait()
		cancel()
		if rc := <-cancelled; rc == codec.Success {
			t.Error("a cancelled login succeeded")
		}
		<-f.sem // the worker is free
		if rc := <-done; rc != codec.Success {
			t.Errorf("queued login: %v", rc)
		}
	})
}

// advance moves the synctest bubble's fake clock on by d once every other
// goroutine of the bubble is blocked.
func advance(d time.Duration) {
	synctest.Wait()
	<-time.After(d)
}
