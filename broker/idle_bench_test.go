package broker

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/ternmq/tern/codec"
)

// BenchmarkIdleConn measures what an idle MQTT 3.1.1 connection costs the
// broker once its CONNECT is accepted, over 1000 connections: goroutines,
// goroutine stack bytes and live heap bytes per connection. The clients
// are plain sockets without goroutines; their sockets (a few hundred heap
// bytes each) are counted too. ns/op is the time to connect all 1000.
//
// "parked" is the path of Serve over TCP on Linux (park.go): it waits
// until every connection has parked. "goroutine" is the path of ServeConn
// and other systems: a reader goroutine per connection.
//
// With IDLEPROF=file set, each run writes a heap profile to file while
// the connections are idle: `go test -bench IdleConn/parked -benchtime 1x
// -memprofilerate 1` then `go tool pprof -sample_index=inuse_space`
// shows what each of them holds.
func BenchmarkIdleConn(b *testing.B) {
	b.Run("parked", func(b *testing.B) { benchIdleConn(b, true) })
	b.Run("goroutine", func(b *testing.B) { benchIdleConn(b, false) })
}

func benchIdleConn(b *testing.B, park bool) {
	if park && runtime.GOOS != "linux" {
		b.Skip("connections park on Linux only")
	}
	const n = 1000
	ts := startServer(b, nil)
	ts.mu.Lock()
	ts.noPark = !park
	ts.mu.Unlock()
	var im idleMeter
	conns := make([]net.Conn, n)
	for b.Loop() {
		im.before(b)
		for i := range conns {
			conns[i] = idleDial(b, ts.Addr, fmt.Sprintf("idle-%d", i))
		}
		b.StopTimer()
		// Let the goroutines that wrote the CONNACKs finish, and the
		// parked connections park (bounded).
		if park {
			pollUntil(10*time.Second, func() bool { return ts.parkedCount() == n })
			pollUntil(time.Second, func() bool { return runtime.NumGoroutine() <= im.g0+1 })
		} else {
			pollUntil(time.Second, func() bool { return runtime.NumGoroutine() <= im.g0+n })
		}
		im.after(b, conns, ts.connCount)
	}
	im.report(b)
}

// idleMeter sums what idle connections cost over a benchmark's runs:
// before each run it notes the memory and goroutines, after it adds what
// the run's connections hold per connection, closes them and waits until
// the server has let them go.
type idleMeter struct {
	stack, heap, gor float64
	m0               runtime.MemStats
	g0               int
}

// before starts a run (the timer runs while the caller connects).
func (im *idleMeter) before(b *testing.B) {
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&im.m0)
	im.g0 = runtime.NumGoroutine()
	b.StartTimer()
}

// after measures the run's idle conns and closes them; connCount is the
// server's count of connections. The timer is stopped.
func (im *idleMeter) after(b *testing.B, conns []net.Conn, connCount func() int) {
	var m1 runtime.MemStats
	runtime.GC()
	runtime.GC() // a second cycle shrinks stacks that the first one marked
	runtime.ReadMemStats(&m1)
	if f := os.Getenv("IDLEPROF"); f != "" {
		w, _ := os.Create(f)
		pprof.WriteHeapProfile(w)
		w.Close()
	}
	n := float64(len(conns))
	im.stack += float64(int64(m1.StackInuse)-int64(im.m0.StackInuse)) / n
	im.heap += float64(int64(m1.HeapAlloc)-int64(im.m0.HeapAlloc)) / n
	im.gor += float64(runtime.NumGoroutine()-im.g0) / n
	for _, c := range conns {
		c.Close()
	}
	pollUntil(10*time.Second, func() bool { return connCount() == 0 })
	b.StartTimer()
}

// report reports the averages per connection.
func (im *idleMeter) report(b *testing.B) {
	runs := float64(b.N)
	b.ReportMetric(im.stack/runs, "stack-B/conn")
	b.ReportMetric(im.heap/runs, "heap-B/conn")
	b.ReportMetric(im.gor/runs, "goroutines/conn")
}

// idleDial connects a 3.1.1 client and reads its CONNACK, keeping nothing
// but the socket.
func idleDial(t testing.TB, addr, id string) net.Conn {
	t.Helper()
	nc, err := dialConnect(addr, id)
	if err != nil {
		t.Fatal(err)
	}
	return nc
}

// dialConnect is idleDial for goroutines that must not call t.Fatal.
func dialConnect(addr, id string) (net.Conn, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	pkt, err := (&codec.Connect{Version: codec.V311, ClientID: id, CleanStart: true}).Append(nil, codec.V311)
	if err == nil {
		_, err = nc.Write(pkt)
	}
	var ack [4]byte
	if err == nil {
		_, err = io.ReadFull(nc, ack[:])
	}
	if err != nil || ack[0] != byte(codec.CONNACK)<<4 || ack[3] != 0 {
		nc.Close()
		return nil, fmt.Errorf("connect %s: %v %x", id, err, ack)
	}
	return nc, nil
}

// BenchmarkIdleWebSocketConn is BenchmarkIdleConn over WebSocket (the
// goroutine path: ServeConn). The clients are raw sockets that speak the
// WebSocket handshake and frames by hand, so that only the server's side
// is counted: the broker's connection and reader goroutine, the
// WebSocket library's connection and the buffers net/http hands over on
// hijack.
func BenchmarkIdleWebSocketConn(b *testing.B) {
	const n = 500
	ts := startWSServer(b, &Options{Logger: slog.New(slog.DiscardHandler)}, WebSocketOptions{})
	addr := strings.TrimPrefix(ts.HTTP.URL, "http://")
	var im idleMeter
	conns := make([]net.Conn, n)
	for b.Loop() {
		im.before(b)
		for i := range conns {
			conns[i] = wsIdleDial(b, addr, fmt.Sprintf("ws-idle-%d", i))
		}
		b.StopTimer()
		pollUntil(time.Second, func() bool { return runtime.NumGoroutine() <= im.g0+n })
		im.after(b, conns, ts.connCount)
	}
	im.report(b)
}

// wsIdleDial opens a WebSocket to /mqtt by hand on a raw socket, sends a
// 3.1.1 CONNECT in one masked binary frame and reads the CONNACK frame.
func wsIdleDial(b testing.TB, addr, id string) net.Conn {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	req := "GET /mqtt HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		b.Fatal(err)
	}
	// Read the 101 response byte by byte: nothing may be read past it.
	var resp []byte
	for !strings.HasSuffix(string(resp), "\r\n\r\n") {
		var c [1]byte
		if _, err := nc.Read(c[:]); err != nil {
			b.Fatalf("handshake: %v (%q)", err, resp)
		}
		resp = append(resp, c[0])
	}
	if !strings.HasPrefix(string(resp), "HTTP/1.1 101") {
		b.Fatalf("handshake: %q", resp)
	}
	pkt, _ := (&codec.Connect{Version: codec.V311, ClientID: id, CleanStart: true}).Append(nil, codec.V311)
	frame := append([]byte{0x82, 0x80 | byte(len(pkt)), 0, 0, 0, 0}, pkt...) // mask key 0
	if _, err := nc.Write(frame); err != nil {
		b.Fatal(err)
	}
	var ack [6]byte
	if _, err := io.ReadFull(nc, ack[:]); err != nil || ack[0] != 0x82 || ack[1] != 4 || ack[2] != byte(codec.CONNACK)<<4 {
		b.Fatalf("CONNACK frame: %v % x", err, ack)
	}
	return nc
}
