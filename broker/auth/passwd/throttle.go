package passwd

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Failure slow-down: after n recent failures from one address, the next
// attempt from it waits base·2^(n-1), at most maxDelay. One failure is
// forgotten per decay interval without failures, so a user who mistyped
// once is not slowed for long while a guesser stays at the cap.
const (
	throttleBase     = 50 * time.Millisecond
	throttleMaxDelay = 2 * time.Second
	throttleDecay    = 10 * time.Second
	throttleEntries  = 8192 // addresses remembered at most
)

// throttle remembers recent failures per client address in a bounded map.
// It starts no goroutines: entries decay when they are looked at, and a
// full map first drops decayed entries, then an arbitrary one.
type throttle struct {
	mu  sync.Mutex
	max int
	m   map[netip.Addr]*failures
}

type failures struct {
	n    int       // recent failures, after decay up to last
	last time.Time // the last failure
}

func newThrottle(max int) *throttle {
	return &throttle{max: max, m: make(map[netip.Addr]*failures)}
}

// key is the address a remote is counted under: its IP, with IPv6
// addresses reduced to their /64 (one host usually owns a whole /64).
// ok is false when the address is not an IP (a pipe in a test).
func key(remote net.Addr) (netip.Addr, bool) {
	if remote == nil {
		return netip.Addr{}, false
	}
	var ip netip.Addr
	switch a := remote.(type) {
	case *net.TCPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	default:
		ap, err := netip.ParseAddrPort(remote.String())
		if err != nil {
			return netip.Addr{}, false
		}
		ip = ap.Addr()
	}
	ip = ip.Unmap()
	if !ip.IsValid() {
		return netip.Addr{}, false
	}
	if ip.Is6() {
		ip = netip.PrefixFrom(ip.WithZone(""), 64).Masked().Addr()
	}
	return ip, true
}

// decayed returns f's failure count at now.
func (f *failures) decayed(now time.Time) int {
	n := f.n - int(now.Sub(f.last)/throttleDecay)
	return max(n, 0)
}

// delay is how long an attempt from ip must wait now.
func (t *throttle) delay(ip netip.Addr, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.m[ip]
	if f == nil {
		return 0
	}
	n := f.decayed(now)
	if n == 0 {
		delete(t.m, ip)
		return 0
	}
	if n > 16 {
		return throttleMaxDelay
	}
	return min(throttleBase<<(n-1), throttleMaxDelay)
}

// fail counts a failure from ip at now.
func (t *throttle) fail(ip netip.Addr, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.m[ip]
	if f == nil {
		if len(t.m) >= t.max {
			t.evict(now)
		}
		f = &failures{}
		t.m[ip] = f
	}
	f.n = min(f.decayed(now)+1, 64)
	f.last = now
}

// succeed forgets ip's failures.
func (t *throttle) succeed(ip netip.Addr) {
	t.mu.Lock()
	delete(t.m, ip)
	t.mu.Unlock()
}

// evict makes room: it drops every fully decayed entry, or, when none
// has decayed, one arbitrary entry. Called with mu held.
func (t *throttle) evict(now time.Time) {
	for ip, f := range t.m {
		if f.decayed(now) == 0 {
			delete(t.m, ip)
		}
	}
	if len(t.m) < t.max {
		return
	}
	for ip := range t.m {
		delete(t.m, ip)
		return
	}
}

// len reports how many addresses are remembered.
func (t *throttle) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

// wait sleeps for d or until ctx ends, whichever is first.
func wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
