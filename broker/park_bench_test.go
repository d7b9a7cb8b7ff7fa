//go:build linux

package broker

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/ternmq/tern/codec"
)

// BenchmarkParkedWake measures one wake cycle of a parked connection: the
// client sends a PINGREQ, reads the PINGRESP, and the connection parks
// again. allocs/op and B/op are what the broker allocates per cycle (the
// client's side allocates nothing). "linger": the connection parks after
// its linger (a wake soon after the last park), and ns/op is dominated by
// parkLinger; "quiet": every wake is quiet (quietPark), the connection
// parks as soon as it has answered, and ns/op is the whole round trip.
// Keep Alive 60 adds the keep-alive timer to each park and wake.
func BenchmarkParkedWake(b *testing.B) {
	for _, bc := range []struct {
		name  string
		quiet bool
		ka    uint16
	}{{"linger", false, 0}, {"quiet", true, 0}, {"quiet/keepalive", true, 60}} {
		b.Run(bc.name, func(b *testing.B) {
			ts := startServer(b, nil)
			ts.mu.Lock()
			ts.quietPark = time.Hour
			if bc.quiet {
				ts.quietPark = time.Nanosecond
			}
			ts.mu.Unlock()
			nc := dialKeepAlive(b, ts.Addr, "wake", bc.ka)
			defer nc.Close()
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			waitParked := func() {
				for deadline := time.Now().Add(10 * time.Second); ts.parkedCount() != 1; {
					if time.Now().After(deadline) {
						b.Fatal("the connection did not park")
					}
					<-tick.C
				}
			}
			waitParked()
			ping := []byte{0xC0, 0}
			var pong [2]byte
			b.ReportAllocs()
			for b.Loop() {
				if _, err := nc.Write(ping); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(nc, pong[:]); err != nil || pong != [2]byte{0xD0, 0} {
					b.Fatalf("PINGRESP: %x %v", pong, err)
				}
				waitParked()
			}
		})
	}
}

// dialKeepAlive is idleDial with a Keep Alive.
func dialKeepAlive(t testing.TB, addr, id string, ka uint16) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	pkt, _ := (&codec.Connect{Version: codec.V311, ClientID: id, CleanStart: true, KeepAlive: ka}).Append(nil, codec.V311)
	if _, err := nc.Write(pkt); err != nil {
		t.Fatal(err)
	}
	var ack [4]byte
	if _, err := io.ReadFull(nc, ack[:]); err != nil || ack[0] != byte(codec.CONNACK)<<4 || ack[3] != 0 {
		t.Fatalf("CONNACK: %x %v", ack, err)
	}
	return nc
}
