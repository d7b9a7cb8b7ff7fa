package broker

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ternmq/tern/codec"
)

// targetSink is a sinkConn that closes full once target bytes were written.
type targetSink struct {
	*sinkConn
	target int64
	full   chan struct{}
	once   sync.Once
}

func (s *targetSink) Write(b []byte) (int, error) {
	n, err := s.sinkConn.Write(b)
	if s.written.Load() >= s.target {
		s.once.Do(func() { close(s.full) })
	}
	return n, err
}

// BenchmarkMetricsCost measures what the per-connection counters cost on
// the hot path (issue 15, must-show 6): fan-in (4 publishers over loopback
// TCP → 1 subscriber) and fan-out (1 publisher over loopback TCP → 50
// subscribers), QoS 0, 64-byte payloads, with Options.DisableMetrics off
// and on. The subscribers write to in-process sinks, so the broker's
// reader (countIn, flushIn) and writer (countOut, flushOut) paths both
// run. Compare msgs/s of metrics=on and metrics=off with -count.
func BenchmarkMetricsCost(b *testing.B) {
	for _, shape := range []struct {
		name       string
		pubs, subs int
	}{{"fan-in", 4, 1}, {"fan-out", 1, 50}} {
		for _, on := range []bool{true, false} {
			b.Run(fmt.Sprintf("%s/metrics=%v", shape.name, on), func(b *testing.B) {
				benchShape(b, shape.pubs, shape.subs, !on)
			})
		}
	}
}

// BenchmarkMetricsCostInProcess is BenchmarkMetricsCost without sockets:
// each publisher is a connection served by ServeConn that reads its
// PUBLISH packets from memory, so the figures are not those of the
// kernel's loopback and vary less on a busy machine.
func BenchmarkMetricsCostInProcess(b *testing.B) {
	for _, shape := range []struct {
		name       string
		pubs, subs int
	}{{"fan-in", 4, 1}, {"fan-out", 1, 50}} {
		for _, on := range []bool{true, false} {
			b.Run(fmt.Sprintf("%s/metrics=%v", shape.name, on), func(b *testing.B) {
				benchInProcess(b, shape.pubs, shape.subs, !on)
			})
		}
	}
}

// frameConn is a connection whose reads return data and then wait until
// it is closed.
type frameConn struct {
	*sinkConn
	data []byte
}

func (c *frameConn) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		<-c.closed
		return 0, io.EOF
	}
	n := copy(p, c.data)
	c.data = c.data[n:]
	return n, nil
}

func benchInProcess(b *testing.B, pubs, subs int, off bool) {
	srv := New(Options{OutboundBuffer: 256 << 20, DisableMetrics: off})
	p := &codec.Publish{Topic: "bench/1", Payload: make([]byte, 64)}
	frame, _ := p.Append(nil, codec.V311)
	n := b.N - b.N%pubs + pubs
	var sinks []*targetSink
	for i := range subs {
		s := &targetSink{sinkConn: newSinkConn(), target: int64(n * len(frame)), full: make(chan struct{})}
		sinks = append(sinks, s)
		c := newConn(srv, s)
		c.version, c.clientID = codec.V311, fmt.Sprintf("sub-%d", i)
		ss, _, _ := srv.takeSession(b.Context(), c.clientID, true)
		c.sess = ss
		ss.attach(c, 1<<16, 0, 0)
		ss.subscribe("bench/#", subOpts{})
		defer detachSink(c)
	}
	conns := make([]*frameConn, pubs)
	for i := range conns {
		data, _ := (&codec.Connect{Version: codec.V311, ClientID: fmt.Sprintf("pub-%d", i), CleanStart: true}).Append(nil, codec.V311)
		for range n / pubs {
			data = append(data, frame...)
		}
		conns[i] = &frameConn{sinkConn: newSinkConn(), data: data}
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() { srv.ServeConn(context.Background(), c) })
	}
	for _, s := range sinks {
		<-s.full
	}
	b.StopTimer()
	// CPU time is less disturbed than wall time by other processes on a
	// shared machine (though not by what they do to the caches).
	b.ReportMetric(float64(cpuTime()-cpu)/float64(n), "cpu-ns/msg")
	for _, c := range conns {
		c.Close()
	}
	wg.Wait()
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(n*subs)/b.Elapsed().Seconds(), "deliveries/s")
}

func benchShape(b *testing.B, pubs, subs int, off bool) {
	ts := startServer(b, &Options{OutboundBuffer: 256 << 20, DisableMetrics: off})
	p := &codec.Publish{Topic: "bench/1", Payload: make([]byte, 64)}
	frame, _ := p.Append(nil, codec.V311)
	n := b.N - b.N%pubs + pubs // a multiple of pubs
	var sinks []*targetSink
	for range subs {
		sinks = append(sinks, &targetSink{sinkConn: newSinkConn(), target: int64(n * len(frame)), full: make(chan struct{})})
	}
	// Attach the sinks as subscribers, as attachSink does.
	for i, s := range sinks {
		c := newConn(ts.Server, s)
		c.version, c.clientID = codec.V311, fmt.Sprintf("sub-%d", i)
		ss, _, _ := ts.takeSession(b.Context(), c.clientID, true)
		c.sess = ss
		ss.attach(c, 1<<16, 0, 0)
		ss.subscribe("bench/#", subOpts{})
		defer detachSink(c)
	}
	clients := make([]*benchClient, pubs)
	for i := range clients {
		clients[i] = benchDial(b, ts.Addr, fmt.Sprintf("pub-%d", i))
		defer clients[i].Close()
	}
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() {
			w := bufio.NewWriterSize(c.Conn, 64<<10)
			for range n / pubs {
				w.Write(frame)
			}
			w.Flush()
		})
	}
	for _, s := range sinks {
		select {
		case <-s.full:
		case <-time.After(time.Minute):
			b.Fatalf("timeout: %d of %d bytes; dropped=%d", s.written.Load(), s.target, ts.stats.Dropped.Load())
		}
	}
	b.StopTimer()
	wg.Wait()
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(n*subs)/b.Elapsed().Seconds(), "deliveries/s")
}

// cpuTime returns the user and system CPU time of the process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCountPacket is the counters' own cost per message: one PUBLISH
// counted in and one out, and the shared copies published once per 64
// packets (a read or write batch). Compare with the ns/op of the whole
// path in BenchmarkMetricsCostInProcess.
func BenchmarkCountPacket(b *testing.B) {
	srv := New(Options{})
	c := newConn(srv, newSinkConn())
	pub := &codec.Publish{QoS: 1, Topic: "bench/1", Payload: make([]byte, 64)}
	it := outItem{kind: codec.PUBLISH, d: &delivery{msg: &Message{Payload: pub.Payload}, qos: 1}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.countIn(pub)
		c.countOut(&it, 80)
		if i++; i%64 == 0 {
			c.flushIn()
			c.flushOut()
		}
	}
}
