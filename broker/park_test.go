//go:build linux

package broker

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// TestParkedIdleConnHoldsNoGoroutine holds "0 goroutines per idle TCP
// connection": after n clients have connected and gone quiet, the broker
// runs no more goroutines than before them, except the poller's one.
func TestParkedIdleConnHoldsNoGoroutine(t *testing.T) {
	const n = 200
	ts := startServer(t, nil)
	g0 := runtime.NumGoroutine()
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i] = idleDial(t, ts.Addr, fmt.Sprintf("idle-%d", i))
	}
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	testkit.WaitFor(t, testkit.Became(t, func() bool { return ts.parkedCount() == n }), fmt.Sprintf("%d connections parked", n))
	// The goroutines that parked them end right after.
	if !pollUntil(testkit.Timeout, func() bool { return runtime.NumGoroutine() <= g0+1 }) {
		buf := make([]byte, 1<<20)
		t.Logf("%s", buf[:runtime.Stack(buf, true)])
	}
	// Fewer is fine: a goroutine of an earlier test may have ended since g0.
	if g := runtime.NumGoroutine() - g0 - 1; g > 0 {
		t.Fatalf("%d goroutines for %d idle connections besides the poller, want 0", g, n)
	}
	// Each is still served: a PINGREQ wakes it.
	for _, c := range conns[:10] {
		pingPong(t, c)
	}
}

// pingPong sends a PINGREQ on a raw socket and reads the PINGRESP.
func pingPong(t testing.TB, c net.Conn) {
	t.Helper()
	c.SetDeadline(time.Now().Add(testkit.Timeout))
	if _, err := c.Write([]byte{0xC0, 0}); err != nil {
		t.Fatal(err)
	}
	var b [2]byte
	if _, err := io.ReadFull(c, b[:]); err != nil || b != [2]byte{0xD0, 0} {
		t.Fatalf("PINGRESP: %x %v", b, err)
	}
	c.SetDeadline(time.Time{})
}

// TestParkedWakeTenThousand wakes 10,000 parked connections with one
// PINGREQ each and gets 10,000 PINGRESPs. The clients run in a child
// process (this test binary again): the open-file limit here (20,000, not
// raisable in containers) cannot hold both ends of 10,000 connections.
func TestParkedWakeTenThousand(t *testing.T) {
	if addr := os.Getenv("TERN_PARK_CLIENTS"); addr != "" {
		parkClients(t, addr)
		return
	}
	if testing.Short() {
		t.Skip("10,000 connections: not in -short")
	}
	const n = 10000
	ts := startServer(t, nil)
	cmd := exec.Command(os.Args[0], "-test.run=^TestParkedWakeTenThousand$", "-test.v")
	cmd.Env = append(os.Environ(), "TERN_PARK_CLIENTS="+ts.Addr, "TERN_PARK_N="+strconv.Itoa(n))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	lines := make(chan string, 4)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if s, ok := strings.CutPrefix(sc.Text(), "park: "); ok {
				lines <- s
			}
		}
	}()
	wait := func(what string) string {
		t.Helper()
		timer := time.NewTimer(6 * testkit.Timeout) // 10,000 connects under -race on 2 cores
		defer timer.Stop()
		select {
		case s, ok := <-lines:
			if !ok {
				t.Fatalf("the client process ended before %s", what)
			}
			return s
		case <-timer.C:
			t.Fatalf("timed out waiting for %s", what)
		}
		return ""
	}
	if s := wait("10,000 connections"); s != "connected" {
		t.Fatalf("client process: %s", s)
	}
	testkit.WaitFor(t, testkit.Became(t, func() bool { return ts.parkedCount() == n }), "10,000 connections parked")
	io.WriteString(stdin, "go\n")
	if s, want := wait("10,000 PINGRESPs"), fmt.Sprintf("pongs %d", n); s != want {
		t.Fatalf("client process: %q, want %q", s, want)
	}
}

// parkClients is the child process of TestParkedWakeTenThousand: it
// connects TERN_PARK_N clients, says "connected", waits for a line on
// stdin, then sends each a PINGREQ (in waves of 1000, which bounds the
// broker's goroutines under -race) and reports the PINGRESPs it read.
func parkClients(t *testing.T, addr string) {
	n, _ := strconv.Atoi(os.Getenv("TERN_PARK_N"))
	conns := make([]net.Conn, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	const workers = 8
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				var err error
				if conns[i], err = dialConnect(addr, fmt.Sprintf("park-%d", i)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		fmt.Printf("park: %v\n", err)
		return
	}
	fmt.Println("park: connected")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	pongs := 0
	for start := 0; start < n; start += 1000 {
		wave := conns[start:min(start+1000, n)]
		for _, c := range wave {
			if _, err := c.Write([]byte{0xC0, 0}); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range wave {
			c.SetReadDeadline(time.Now().Add(testkit.Timeout))
			var b [2]byte
			if _, err := io.ReadFull(c, b[:]); err == nil && b == [2]byte{0xD0, 0} {
				pongs++
			}
		}
	}
	fmt.Printf("park: pongs %d\n", pongs)
	for _, c := range conns {
		c.Close()
	}
}

// TestParkedTLS drives a TLS connection through park and wake: a PINGREQ
// and a message routed from another client each wake it, and it parks
// again after each (crypto/tls keeps a timed-out read retryable).
func TestParkedTLS(t *testing.T) {
	pki := newTLSPKI(t)
	ts := startServer(t, nil)
	addr := startTLSListener(t, ts, pki.serverConfig(false))
	sub := dialTLSRaw(t, addr, pki.clientConfig(nil), codec.V5)
	sub.Connect(t, &codec.Connect{ClientID: "tls-sub", CleanStart: true})
	sub.Send(t, &codec.Subscribe{PacketID: 1, Subscriptions: []codec.Subscription{{Filter: "park/#", QoS: 1}}})
	testkit.Expect[*codec.Suback](t, sub)
	parkedOne := func(what string) {
		t.Helper()
		testkit.WaitFor(t, testkit.Became(t, func() bool { return ts.parkedCount() == 1 }), what)
	}
	parkedOne("the TLS connection parked")
	sub.ExpectIdle(t) // PINGREQ → PINGRESP
	parkedOne("the TLS connection parked again")

	pub := dialTLSRaw(t, addr, pki.clientConfig(nil), codec.V311)
	pub.Connect(t, &codec.Connect{ClientID: "tls-pub", CleanStart: true})
	pub.Send(t, &codec.Publish{Topic: "park/a", QoS: 1, PacketID: 7, Payload: []byte("hello")})
	pub.ExpectAck(t, codec.PUBACK)
	got := testkit.Expect[*codec.Publish](t, sub)
	if got.Topic != "park/a" || string(got.Payload) != "hello" {
		t.Fatalf("got %s %q", got.Topic, got.Payload)
	}
	// The PUBACK comes from the parked reader's side: it wakes on it.
	sub.Send(t, &codec.Puback{Ack: codec.Ack{PacketID: got.PacketID}})
	sub.ExpectIdle(t)
	testkit.WaitFor(t, testkit.Became(t, func() bool { return ts.parkedCount() == 2 }), "both TLS connections parked")
	sub.Disconnect(t)
}

// TestParkedWakeReasons wakes parked connections by each other way: the
// keep-alive deadline ([MQTT-3.1.2-24] of 3.1.1, the server closes), a
// take-over (a 5.0 client reads DISCONNECT 0x8E), the peer's close, and
// Shutdown (DISCONNECT 0x8B).
func TestParkedWakeReasons(t *testing.T) {
	ts := startServer(t, nil)
	parked := func(n int, what string) {
		t.Helper()
		testkit.WaitFor(t, testkit.Became(t, func() bool { return ts.parkedCount() == n }), what)
	}

	ka := testkit.Dial(t, ts.Addr, codec.V311)
	ka.Connect(t, &codec.Connect{ClientID: "ka", CleanStart: true, KeepAlive: 1})
	parked(1, "keep-alive client parked")
	ka.ExpectClosed(t) // after 1.5 s without a packet

	old := testkit.Dial(t, ts.Addr, codec.V5)
	old.Connect(t, &codec.Connect{ClientID: "same", CleanStart: true})
	parked(1, "first client parked")
	nu := testkit.Dial(t, ts.Addr, codec.V5)
	nu.Connect(t, &codec.Connect{ClientID: "same", CleanStart: true})
	if d := testkit.Expect[*codec.Disconnect](t, old); d.ReasonCode != codec.SessionTakenOver {
		t.Fatalf("DISCONNECT %s, want Session taken over", d.ReasonCode)
	}
	old.ExpectClosed(t)
	parked(1, "second client parked")

	gone := testkit.Dial(t, ts.Addr, codec.V311)
	gone.Connect(t, &codec.Connect{ClientID: "gone", CleanStart: true})
	parked(2, "two clients parked")
	gone.Close()
	testkit.WaitFor(t, testkit.Became(t, func() bool { return ts.connCount() == 1 }), "the closed connection finished")

	if err := ts.Shutdown(testkit.Context(t)); err != nil {
		t.Fatal(err)
	}
	if d := testkit.Expect[*codec.Disconnect](t, nu); d.ReasonCode != codec.ServerShuttingDown {
		t.Fatalf("DISCONNECT %s, want Server shutting down", d.ReasonCode)
	}
	nu.ExpectClosed(t)
}

// TestParkedQuietWake drives quiet wakes (quietPark): a connection woken
// after a long park answers and parks again at once, over TCP and TLS.
// Two PINGREQs in one segment get two PINGRESPs, and one split across
// two writes is still answered.
func TestParkedQuietWake(t *testing.T) {
	ts := startServer(t, nil)
	ts.mu.Lock()
	ts.quietPark = time.Nanosecond // every wake is quiet
	ts.mu.Unlock()
	parked := func(n int, what string) {
		t.Helper()
		testkit.WaitFor(t, testkit.Became(t, func() bool { return ts.parkedCount() == n }), what)
	}
	c := idleDial(t, ts.Addr, "quiet-tcp")
	defer c.Close()
	parked(1, "TCP connection parked")
	for i := range 3 {
		pingPong(t, c)
		parked(1, fmt.Sprintf("TCP connection parked after wake %d", i))
	}
	c.SetDeadline(time.Now().Add(testkit.Timeout))
	if _, err := c.Write([]byte{0xC0, 0, 0xC0, 0}); err != nil {
		t.Fatal(err)
	}
	var two [4]byte
	if _, err := io.ReadFull(c, two[:]); err != nil || two != [4]byte{0xD0, 0, 0xD0, 0} {
		t.Fatalf("two PINGRESPs: %x %v", two, err)
	}
	parked(1, "TCP connection parked after two pings")
	if _, err := c.Write([]byte{0xC0}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte{0}); err != nil {
		t.Fatal(err)
	}
	var one [2]byte
	if _, err := io.ReadFull(c, one[:]); err != nil || one != [2]byte{0xD0, 0} {
		t.Fatalf("PINGRESP to a split PINGREQ: %x %v", one, err)
	}
	parked(1, "TCP connection parked after a split ping")

	pki := newTLSPKI(t)
	addr := startTLSListener(t, ts, pki.serverConfig(false))
	tc := dialTLSRaw(t, addr, pki.clientConfig(nil), codec.V5)
	tc.Connect(t, &codec.Connect{ClientID: "quiet-tls", CleanStart: true})
	parked(2, "TLS connection parked")
	for i := range 3 {
		tc.ExpectIdle(t) // PINGREQ → PINGRESP
		parked(2, fmt.Sprintf("TLS connection parked after wake %d", i))
	}
	tc.Disconnect(t)
}

// TestParkedCountersExact: a parked connection whose writer is idle holds
// no counter block (its counts are folded into the totals), and the
// traffic counters stay exact across parks and wakes: every CONNECT,
// PINGREQ, CONNACK and PINGRESP is counted once, with its bytes, and no
// scrape taken meanwhile sees a count go down or run ahead.
func TestParkedCountersExact(t *testing.T) {
	const n, pings = 20, 3
	ts := startServer(t, nil)
	ts.mu.Lock()
	ts.quietPark = time.Nanosecond // every wake is quiet: park at once
	ts.mu.Unlock()
	connect, _ := (&codec.Connect{Version: codec.V311, ClientID: "count-00", CleanStart: true}).Append(nil, codec.V311)
	wantIn := MetricsSnapshot{PacketsReceived: n * (1 + pings), BytesReceived: uint64(n * (len(connect) + 2*pings))}
	wantOut := MetricsSnapshot{PacketsSent: n * (1 + pings), BytesSent: n * (4 + 2*pings)}

	blockless := func() bool {
		ts.mu.Lock()
		defer ts.mu.Unlock()
		for c := range ts.conns {
			if c.m.Load() != nil {
				return false
			}
		}
		return len(ts.conns) == n
	}
	settled := func(what string) {
		t.Helper()
		testkit.WaitFor(t, testkit.Became(t, func() bool { return ts.parkedCount() == n && blockless() }),
			what+": all parked, without counter blocks")
	}

	stop := make(chan struct{})
	var scrapes sync.WaitGroup
	scrapes.Add(1)
	go func() { // scrapes while connections park and wake
		defer scrapes.Done()
		var last MetricsSnapshot
		for {
			select {
			case <-stop:
				return
			default:
			}
			m := ts.Metrics()
			if m.PacketsReceived < last.PacketsReceived || m.BytesReceived < last.BytesReceived ||
				m.PacketsSent < last.PacketsSent || m.BytesSent < last.BytesSent {
				t.Errorf("counters went down: %+v after %+v", m, last)
				return
			}
			if m.PacketsReceived > wantIn.PacketsReceived || m.BytesReceived > wantIn.BytesReceived ||
				m.PacketsSent > wantOut.PacketsSent || m.BytesSent > wantOut.BytesSent {
				t.Errorf("counted twice: %+v", m)
				return
			}
			last = m
		}
	}()
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i] = idleDial(t, ts.Addr, fmt.Sprintf("count-%02d", i))
		defer conns[i].Close()
	}
	settled("connected")
	for i := range pings {
		for _, c := range conns {
			pingPong(t, c)
		}
		settled(fmt.Sprintf("ping %d", i))
	}
	close(stop)
	scrapes.Wait()
	m := ts.Metrics()
	if m.PacketsReceived != wantIn.PacketsReceived || m.BytesReceived != wantIn.BytesReceived {
		t.Errorf("received %d packets, %d bytes; want %d, %d", m.PacketsReceived, m.BytesReceived, wantIn.PacketsReceived, wantIn.BytesReceived)
	}
	if m.PacketsSent != wantOut.PacketsSent || m.BytesSent != wantOut.BytesSent {
		t.Errorf("sent %d packets, %d bytes; want %d, %d", m.PacketsSent, m.BytesSent, wantOut.PacketsSent, wantOut.BytesSent)
	}
	// Closed, every count is retired once.
	for _, c := range conns {
		c.Close()
	}
	testkit.WaitFor(t, testkit.Became(t, func() bool { return ts.connCount() == 0 }), "connections closed")
	if m := ts.Metrics(); m.PacketsReceived != wantIn.PacketsReceived || m.BytesReceived != wantIn.BytesReceived ||
		m.PacketsSent != wantOut.PacketsSent || m.BytesSent != wantOut.BytesSent {
		t.Errorf("after close: in %d/%d out %d/%d; want %d/%d %d/%d", m.PacketsReceived, m.BytesReceived, m.PacketsSent, m.BytesSent,
			wantIn.PacketsReceived, wantIn.BytesReceived, wantOut.PacketsSent, wantOut.BytesSent)
	}
}

// TestTCPKeepAliveWithoutMQTTKeepAlive: a client that asks for no MQTT
// keep-alive gets TCP keep-alive probes, and one with an MQTT keep-alive
// gets none of its own. On a listener that accepts without TCP keep-alive
// the broker sets the option on the first and not the second. On Linux,
// a listener whose socket has SO_KEEPALIVE set before it listens (as
// cmd/tern's do) passes it to every connection it accepts, so the first
// costs no socket option on accept (keepalive_linux.go); the second then
// has it too.
func TestTCPKeepAliveWithoutMQTTKeepAlive(t *testing.T) {
	soKeepAlive := func(rc syscall.RawConn) int {
		v := -1
		rc.Control(func(fd uintptr) { v, _ = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE) })
		return v
	}
	for _, listener := range []string{"plain", "keep-alive"} {
		t.Run(listener, func(t *testing.T) {
			srv := New(Options{})
			lc := net.ListenConfig{KeepAlive: -1}
			if listener == "keep-alive" {
				lc.Control = func(_, _ string, rc syscall.RawConn) error {
					var serr error
					if err := rc.Control(func(fd uintptr) {
						serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1)
					}); err != nil {
						return err
					}
					return serr
				}
			}
			ln, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			testkit.ServeListener(t, srv, ln)
			inherited := listener == "keep-alive" && runtime.GOOS == "linux"
			// connKeepAlive returns SO_KEEPALIVE of id's connection, -1
			// until the session holds it. It runs on Became's goroutine: no
			// t.Fatal.
			connKeepAlive := func(id string) int {
				srv.mu.Lock()
				ss := srv.sessions[id]
				srv.mu.Unlock()
				if ss == nil {
					return -1
				}
				ss.mu.Lock()
				c := ss.conn
				ss.mu.Unlock()
				if c == nil {
					return -1
				}
				rc, err := c.nc.(syscall.Conn).SyscallConn()
				if err != nil {
					return -1
				}
				return soKeepAlive(rc)
			}
			for _, tc := range []struct {
				keepAlive uint16
				want      int
			}{{0, 1}, {60, map[bool]int{false: 0, true: 1}[inherited]}} {
				id := fmt.Sprintf("ka-%s-%d", listener, tc.keepAlive)
				p := testkit.Dial(t, ln.Addr().String(), codec.V311)
				p.Connect(t, &codec.Connect{Version: codec.V311, ClientID: id, CleanStart: true, KeepAlive: tc.keepAlive})
				// Set right after the CONNACK is queued: wait for it (and
				// for the session to hold the connection).
				testkit.WaitFor(t, testkit.Became(t, func() bool { v := connKeepAlive(id); return v == 1 || v == 0 && tc.want == 0 }),
					id+": connection attached, SO_KEEPALIVE set if wanted")
				if got := connKeepAlive(id); got != tc.want {
					t.Errorf("Keep Alive %d: SO_KEEPALIVE %d, want %d", tc.keepAlive, got, tc.want)
				}
				p.Disconnect(t)
			}
			if got := keepAliveOnAccept(ln); got != inherited {
				t.Errorf("keepAliveOnAccept = %t, want %t", got, inherited)
			}
		})
	}
}
