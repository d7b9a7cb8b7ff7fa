package broker

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ternmq/tern/codec"
)

// sinkConn is a net.Conn whose writes are counted and discarded and whose
// reads block until it is closed: a subscriber that reads instantly.
type sinkConn struct {
	written atomic.Int64
	writes  atomic.Int64
	closed  chan struct{}
	once    sync.Once
}

func newSinkConn() *sinkConn { return &sinkConn{closed: make(chan struct{})} }

func (c *sinkConn) Read([]byte) (int, error) { <-c.closed; return 0, io.EOF }
func (c *sinkConn) Write(b []byte) (int, error) {
	c.written.Add(int64(len(b)))
	c.writes.Add(1)
	return len(b), nil
}
func (c *sinkConn) Close() error                     { c.once.Do(func() { close(c.closed) }); return nil }
func (c *sinkConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *sinkConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *sinkConn) SetDeadline(time.Time) error      { return nil }
func (c *sinkConn) SetReadDeadline(time.Time) error  { return nil }
func (c *sinkConn) SetWriteDeadline(time.Time) error { return nil }

// attachSink creates an online session subscribed to filter whose
// connection writes to a sinkConn, bypassing the network.
func attachSink(b *testing.B, srv *Server, id, filter string, qos codec.QoS, v codec.Version) (*conn, *sinkConn) {
	sc := newSinkConn()
	c := newConn(srv, sc)
	c.version = v
	c.clientID = id
	ss, _, _ := srv.takeSession(context.Background(), id, true)
	c.sess = ss
	ss.attach(c, 1<<16, 0, 0)
	go c.writeLoop()
	ss.subscribe(filter, subOpts{qos: qos})
	return c, sc
}

func detachSink(c *conn) {
	c.closeQueue()
	c.waitWriter()
}

// BenchmarkRoute measures publish → match → queue → encode → write for one
// message to N subscribers, in process (no sockets). allocs/op is per
// published message; msgs/s counts deliveries.
func BenchmarkRoute(b *testing.B) {
	for _, tc := range []struct {
		subs    int
		v       codec.Version
		aliases bool // server→client topic aliases
	}{{1, codec.V311, false}, {1, codec.V5, false}, {1000, codec.V311, false}, {1000, codec.V5, false}, {1000, codec.V5, true}} {
		name := fmt.Sprintf("1to%d/%s", tc.subs, tc.v)
		if tc.v == codec.V5 {
			name += fmt.Sprintf("/aliases=%t", tc.aliases)
		}
		b.Run(name, func(b *testing.B) {
			srv := New(Options{OutboundBuffer: 64 << 20})
			conns := make([]*conn, tc.subs)
			var sinks []*sinkConn
			for i := range conns {
				var sc *sinkConn
				conns[i], sc = attachSink(b, srv, fmt.Sprintf("sub-%d", i), "bench/+/temp", 0, tc.v)
				sinks = append(sinks, sc)
				if tc.aliases {
					conns[i].aliasMax = 10
				}
			}
			pub := &codec.Publish{Topic: "bench/1/temp", Payload: make([]byte, 64)}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				srv.publish(newMessage(pub, "pub", time.Time{}))
			}
			b.StopTimer()
			for _, c := range conns {
				detachSink(c)
			}
			b.ReportMetric(float64(b.N*tc.subs)/b.Elapsed().Seconds(), "deliveries/s")
			var written int64
			for _, sc := range sinks {
				written += sc.written.Load()
			}
			b.ReportMetric(float64(written)/float64(b.N*tc.subs), "wire-B/delivery")
			b.ReportMetric(float64(srv.stats.Dropped.Load()), "dropped")
		})
	}
}

// BenchmarkMatch100k measures routing with 100,000 subscriptions in the
// broker's tree: 1000 devices × 100 exact topics, plus wildcard filters.
func BenchmarkMatch100k(b *testing.B) {
	srv := New(Options{})
	var sessions []*session
	for d := 0; d < 1000; d++ {
		ss := newSession(srv, fmt.Sprintf("dev-%d", d))
		sessions = append(sessions, ss)
		for m := 0; m < 100; m++ {
			srv.subs.Add(fmt.Sprintf("site/%d/device/%d/m%d", d%10, d, m), ss, subOpts{qos: 1})
		}
	}
	for i := 0; i < 100; i++ {
		srv.subs.Add(fmt.Sprintf("site/%d/+/%d/#", i%10, i), sessions[i], subOpts{})
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		srv.subs.Match("site/3/device/503/m42", func(*session, subOpts) { n++ })
	}
	if n == 0 {
		b.Fatal("no match")
	}
}

// BenchmarkPublishTCP measures one publisher → one subscriber through the
// broker over loopback TCP at QoS 0 (3.1.1), counting end-to-end
// deliveries.
func BenchmarkPublishTCP(b *testing.B) {
	ts := startServer(b, &Options{OutboundBuffer: 64 << 20})
	sub := benchDial(b, ts.Addr, "sub")
	defer sub.Close()
	s := &codec.Subscribe{PacketID: 1, Subscriptions: []codec.Subscription{{Filter: "bench/#"}}}
	benchSend(b, sub, s)
	if _, err := sub.r.ReadPacket(); err != nil { // SUBACK
		b.Fatal(err)
	}
	pub := benchDial(b, ts.Addr, "pub")
	defer pub.Close()

	payload := make([]byte, 64)
	p := &codec.Publish{Topic: "bench/1", Payload: payload}
	frame, _ := p.Append(nil, codec.V311)
	got := make(chan error, 1)
	b.ReportAllocs()
	b.ResetTimer()
	n := b.N
	go func() {
		for i := 0; i < n; i++ {
			if _, err := sub.r.ReadPacket(); err != nil {
				got <- err
				return
			}
		}
		got <- nil
	}()
	w := bufio.NewWriterSize(pub.Conn, 64<<10)
	for i := 0; i < n; i++ {
		w.Write(frame)
	}
	w.Flush()
	select {
	case err := <-got:
		if err != nil {
			b.Fatal(err)
		}
	case <-time.After(time.Minute):
		b.Fatalf("timeout; dropped=%d", ts.stats.Dropped.Load())
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
}

type benchClient struct {
	net.Conn
	r *codec.Reader
}

func benchDial(b *testing.B, addr, id string) *benchClient {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	c := &benchClient{Conn: nc, r: codec.NewReader(nc, 0)}
	c.r.SetVersion(codec.V311)
	benchSend(b, c, &codec.Connect{Version: codec.V311, ClientID: id, CleanStart: true})
	if _, err := c.r.ReadPacket(); err != nil {
		b.Fatal(err)
	}
	return c
}

func benchSend(b *testing.B, c *benchClient, p codec.Packet) {
	buf, err := p.Append(nil, codec.V311)
	if err == nil {
		_, err = c.Write(buf)
	}
	if err != nil {
		b.Fatal(err)
	}
}
