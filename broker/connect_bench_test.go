//go:build linux

package broker

import (
	"context"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// BenchmarkConnect measures one TCP connect on the parked path, as
// cmd/tern serves it (a listener with SO_KEEPALIVE and TCP_NODELAY,
// clients with Keep Alive 0): the client connects, sends a 3.1.1 CONNECT and reads the
// CONNACK; the connection then parks. The client is a raw socket that
// allocates nothing, so allocs/op and B/op are the broker's (what it
// allocates per accepted connection up to its park; the connections are
// closed, with the timer stopped, every connectBatch). ns/op is one
// connect at a time on loopback, round trip included.
func BenchmarkConnect(b *testing.B) {
	const connectBatch = 500
	srv := New(Options{})
	lc := net.ListenConfig{KeepAlive: -1, Control: ListenControl}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	testkit.ServeListener(b, srv, ln)
	sa := &syscall.SockaddrInet4{Port: ln.Addr().(*net.TCPAddr).Port, Addr: [4]byte{127, 0, 0, 1}}
	pkt, _ := (&codec.Connect{Version: codec.V311, ClientID: "bench-connect-0000000", CleanStart: true}).Append(nil, codec.V311)
	fds := make([]int, 0, connectBatch)
	closeAll := func() {
		for _, fd := range fds {
			syscall.Close(fd)
		}
		fds = fds[:0]
		if !pollUntil(10*time.Second, func() bool { return srv.connCount() == 0 }) {
			b.Fatal("the connections did not end")
		}
	}
	var ack [4]byte
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		if len(fds) == connectBatch {
			b.StopTimer()
			closeAll()
			b.StartTimer()
		}
		n++
		for i, v := 0, n; i < 7; i, v = i+1, v/10 {
			pkt[len(pkt)-1-i] = byte('0' + v%10) // a client id of its own
		}
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			b.Fatal(err)
		}
		fds = append(fds, fd)
		if err := syscall.Connect(fd, sa); err != nil {
			b.Fatal(err)
		}
		if _, err := syscall.Write(fd, pkt); err != nil {
			b.Fatal(err)
		}
		for got := 0; got < len(ack); {
			m, err := syscall.Read(fd, ack[got:])
			if err != nil || m == 0 {
				b.Fatalf("CONNACK: %v", err)
			}
			got += m
		}
		if ack != [4]byte{byte(codec.CONNACK) << 4, 2, 0, 0} {
			b.Fatalf("CONNACK %x", ack)
		}
	}
	b.StopTimer()
	closeAll()
}
