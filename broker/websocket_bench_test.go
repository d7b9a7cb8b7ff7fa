package broker

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ternmq/tern/codec"
)

// BenchmarkFanOut compares the transports on one scenario: one publisher
// sends QoS 0 messages with a 64-byte payload, and ten subscribers receive
// every one, all clients on the same transport, through the loopback
// interface. One op is one published message (ten deliveries); allocs/op
// counts the whole process, clients included. msgs/s is deliveries per
// second.
func BenchmarkFanOut(b *testing.B) {
	for _, transport := range []string{"tcp", "websocket"} {
		b.Run(transport+"/1to10/qos0/64B", func(b *testing.B) { benchFanOut(b, transport, 10) })
	}
}

// fanOutChunk is how many messages the publisher sends before it checks
// progress: it stays at most two chunks ahead of the slowest subscriber,
// so no QoS 0 message is dropped for a full queue.
const fanOutChunk = 1000

func benchFanOut(b *testing.B, transport string, nsubs int) {
	ts := startWSServer(b, &Options{Logger: slog.New(slog.DiscardHandler), OutboundBuffer: 64 << 20}, WebSocketOptions{})
	dial := func(id string) *benchClient {
		var nc net.Conn
		if transport == "websocket" {
			ws := wsDial(b, ts.URL, nil)
			nc = &wsBenchConn{Conn: websocket.NetConn(context.Background(), ws, websocket.MessageBinary), ws: ws}
		} else {
			var err error
			if nc, err = net.Dial("tcp", ts.Addr); err != nil {
				b.Fatal(err)
			}
		}
		b.Cleanup(func() { nc.Close() })
		c := &benchClient{Conn: nc, r: codec.NewReader(nc, 0)}
		c.r.SetVersion(codec.V311)
		benchSend(b, c, &codec.Connect{Version: codec.V311, ClientID: id, CleanStart: true})
		if p, err := c.r.ReadPacket(); err != nil || p.Type() != codec.CONNACK {
			b.Fatalf("%s: CONNACK: %v %v", id, p, err)
		}
		return c
	}

	n := b.N
	chunks := (n + fanOutChunk - 1) / fanOutChunk
	progress := make(chan int, nsubs*4) // a chunk index, once per subscriber
	errc := make(chan error, nsubs)
	for i := range nsubs {
		c := dial(fmt.Sprint("sub-", i))
		benchSend(b, c, &codec.Subscribe{PacketID: 1, Subscriptions: []codec.Subscription{{Filter: "bench/#"}}})
		if p, err := c.r.ReadPacket(); err != nil || p.Type() != codec.SUBACK {
			b.Fatalf("SUBACK: %v %v", p, err)
		}
		go func() {
			for j := 1; j <= n; j++ {
				if _, err := c.r.ReadPacket(); err != nil {
					errc <- err
					return
				}
				if j%fanOutChunk == 0 || j == n {
					progress <- (j - 1) / fanOutChunk
				}
			}
			errc <- nil
		}()
	}
	pub := dial("pub")
	frame, err := (&codec.Publish{Topic: "bench/fanout", Payload: make([]byte, 64)}).Append(nil, codec.V311)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(pub, 64<<10)
	done := make([]int, chunks) // subscribers done with each chunk
	finished := 0               // subscribers that read all n messages
	waitChunk := func(k int) {
		for done[k] < nsubs {
			select {
			case c := <-progress:
				done[c]++
			case err := <-errc:
				if err != nil {
					b.Fatalf("subscriber: %v (dropped %d)", err, ts.stats.Dropped.Load())
				}
				finished++
			case <-time.After(time.Minute):
				b.Fatalf("stalled at chunk %d; dropped %d", k, ts.stats.Dropped.Load())
			}
		}
	}

	b.ReportAllocs()
	b.ResetTimer()
	for k := range chunks {
		if k >= 2 {
			waitChunk(k - 2)
		}
		for range min(fanOutChunk, n-k*fanOutChunk) {
			w.Write(frame)
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
	}
	for k := max(chunks-2, 0); k < chunks; k++ {
		waitChunk(k)
	}
	b.StopTimer()
	for ; finished < nsubs; finished++ {
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*nsubs)/b.Elapsed().Seconds(), "msgs/s")
	if d := ts.stats.Dropped.Load(); d > 0 {
		b.Fatalf("%d messages dropped", d)
	}
}

// wsBenchConn is the benchmark's WebSocket client stream. It reads and
// writes through ws with a context that has no deadline: NetConn arms a
// context timer for every read, which would add the client's allocations
// to the broker's in allocs/op.
type wsBenchConn struct {
	net.Conn // NetConn, for Close
	ws       *websocket.Conn
	r        io.Reader
}

func (c *wsBenchConn) Read(p []byte) (int, error) {
	for {
		if c.r == nil {
			_, r, err := c.ws.Reader(context.Background())
			if err != nil {
				return 0, err
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if err == io.EOF {
			c.r = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

func (c *wsBenchConn) Write(p []byte) (int, error) {
	if err := c.ws.Write(context.Background(), websocket.MessageBinary, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// BenchmarkWSConn measures what one MQTT packet costs on the broker's side
// of a WebSocket (wsConn over coder/websocket, plain TCP on loopback), one
// packet per message, against a raw-socket peer:
//
//   - write/writer: wsConn.Write, as the writer goroutine writes a batch
//     of one packet (the library's locks, its frame header, one write(2));
//   - write/inline: wsConn.writeNow, as a publishing goroutine writes to
//     an idle connection (writenow.go: the same through wsSocket's
//     non-blocking write);
//   - read: wsConn.Read of a 75-byte PUBLISH in its own masked binary
//     frame, then the empty read that tells the message has ended (the
//     broker's reader does both per packet); the peer writes frames
//     continuously, so many arrive per read(2).
//
// The peer's side (a goroutine that discards or writes in bulk) is in
// ns/op too; allocs/op is the whole process.
func BenchmarkWSConn(b *testing.B) {
	pkt, _ := (&codec.Publish{Topic: "bench/ws", Payload: make([]byte, 64)}).Append(nil, codec.V311)
	b.Run("write/writer", func(b *testing.B) {
		c, peer := wsBenchPair(b)
		go io.Copy(io.Discard, peer)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Write(pkt); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("write/inline", func(b *testing.B) {
		c, peer := wsBenchPair(b)
		if c.sock == nil {
			b.Skip("no inline writes on this system")
		}
		go io.Copy(io.Discard, peer)
		b.ReportAllocs()
		for b.Loop() {
			for !c.canWriteNow() { // the peer lags: as mayWriteNow, wait for the rest to go
				c.sock.beginWrite()
				c.sock.flushRest()
			}
			c.writeNow(pkt)
		}
	})
	b.Run("read", func(b *testing.B) {
		c, peer := wsBenchPair(b)
		frame := append([]byte{0x82, 0x80 | byte(len(pkt)), 0, 0, 0, 0}, pkt...) // mask key 0
		chunk := bytes.Repeat(frame, 64)
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := peer.Write(chunk); err != nil {
					return
				}
			}
		}()
		buf := make([]byte, len(pkt))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := io.ReadFull(c, buf); err != nil {
				b.Fatal(err)
			}
			if err := c.waitMessage(); err != nil { // the message has ended: move on
				b.Fatal(err)
			}
		}
	})
}

// wsBenchPair returns the broker's side of a WebSocket, accepted by the
// same code as WebSocketHandler's, and the raw socket of its peer after
// the handshake.
func wsBenchPair(b *testing.B) (*wsConn, net.Conn) {
	got := make(chan *wsConn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hw := &hijackRecorder{ResponseWriter: w}
		ws, err := websocket.Accept(hw, r, &websocket.AcceptOptions{Subprotocols: []string{Subprotocol}})
		if err != nil {
			b.Error(err)
			close(got)
			return
		}
		ws.SetReadLimit(-1)
		got <- newWSConn(ws, hw.conn, hw.sock)
	}))
	b.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		b.Fatal(err)
	}
	var resp []byte
	for !strings.HasSuffix(string(resp), "\r\n\r\n") {
		var ch [1]byte
		if _, err := nc.Read(ch[:]); err != nil {
			b.Fatalf("handshake: %v (%q)", err, resp)
		}
		resp = append(resp, ch[0])
	}
	c := <-got
	if c == nil {
		b.FailNow()
	}
	b.Cleanup(func() {
		nc.Close()
		c.raw.Close()
	})
	return c, nc
}
