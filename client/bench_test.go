package client_test

import (
	"context"
	"io"
	"net"
	"testing"

	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/internal/testkit/brokerkit"
)

// benchClient connects one client to an in-process Tern broker over
// loopback TCP.
func benchClient(b *testing.B, v codec.Version) *client.Client {
	srv := brokerkit.Start(b, nil, broker.WebSocketOptions{})
	return connect(b, srv.TCP, client.Options{ClientID: "bench", Version: v})
}

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkPublishQoS0 measures QoS 0 publishing from one goroutine: each
// Publish encodes into the connection's write queue, which the writer
// flushes with one write per batch.
func BenchmarkPublishQoS0(b *testing.B) {
	for _, v := range versions {
		b.Run(v.String(), func(b *testing.B) {
			c := benchClient(b, v)
			m := &client.Message{Topic: "bench/qos0", Payload: make([]byte, 64)}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := c.Publish(ctx, m); err != nil {
					b.Fatal(err)
				}
			}
			reportRate(b)
		})
	}
}

// BenchmarkPublishQoS1 measures QoS 1 publishing, each Publish waiting for
// its PUBACK: from one goroutine (one message in flight: a round trip
// each), and from many (up to the server's Receive Maximum in flight).
func BenchmarkPublishQoS1(b *testing.B) {
	for _, v := range versions {
		b.Run(v.String()+"/serial", func(b *testing.B) {
			c := benchClient(b, v)
			m := &client.Message{Topic: "bench/qos1", QoS: 1, Payload: make([]byte, 64)}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := c.Publish(ctx, m); err != nil {
					b.Fatal(err)
				}
			}
			reportRate(b)
		})
		b.Run(v.String()+"/parallel", func(b *testing.B) {
			c := benchClient(b, v)
			ctx := context.Background()
			b.SetParallelism(16)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				m := &client.Message{Topic: "bench/qos1", QoS: 1, Payload: make([]byte, 64)}
				for pb.Next() {
					if err := c.Publish(ctx, m); err != nil {
						b.Error(err)
						return
					}
				}
			})
			reportRate(b)
		})
	}
}

// BenchmarkPublishQoS0ClientOnly publishes to a server that completes the
// handshake and then discards everything, so that only the client's own
// allocations are counted.
func BenchmarkPublishQoS0ClientOnly(b *testing.B) {
	for _, v := range versions {
		b.Run(v.String(), func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				nc, err := ln.Accept()
				ln.Close()
				if err != nil {
					return
				}
				defer nc.Close()
				r := codec.NewReader(nc, 0)
				if _, err := r.ReadPacket(); err != nil {
					return
				}
				ack, _ := (&codec.Connack{}).Append(nil, v)
				nc.Write(ack)
				io.Copy(io.Discard, nc)
			}()
			c := connect(b, "mqtt://"+ln.Addr().String(), client.Options{ClientID: "bench", Version: v})
			m := &client.Message{Topic: "bench/qos0", Payload: make([]byte, 64)}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := c.Publish(ctx, m); err != nil {
					b.Fatal(err)
				}
			}
			reportRate(b)
			disconnect(b, c)
			<-done
		})
	}
}
