package broker

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ternmq/tern/codec"
)

// BenchmarkLatency measures one publisher → broker → one subscriber over
// loopback TCP or WebSocket at QoS 0 (3.1.1), one message at a time: the
// time from the publisher's write to the subscriber's read of that
// message.
//
//   - paced: one message per millisecond, as at 1,000 msg/s (ternbench's
//     latency case), so the subscriber's writer is idle when each message
//     arrives; ns/op is the pacing, p50-µs and p99-µs the latency.
//   - back-to-back: the next message as soon as the last arrived.
//
// inline=false turns inline writes off (writenow.go): the message always
// goes to a writer goroutine, as before them. allocs/op counts the whole
// process, the benchmark's client included.
func BenchmarkLatency(b *testing.B) {
	for _, transport := range []string{"tcp", "websocket"} {
		for _, paced := range []bool{true, false} {
			for _, inline := range []bool{true, false} {
				name := fmt.Sprintf("%s/back-to-back/inline=%t", transport, inline)
				if paced {
					name = fmt.Sprintf("%s/paced-1ms/inline=%t", transport, inline)
				}
				b.Run(name, func(b *testing.B) {
					opts := &Options{Logger: slog.New(slog.DiscardHandler)}
					if !inline {
						opts.writeNowIdle = -1
					}
					benchLatency(b, opts, transport, paced)
				})
			}
		}
	}
}

func benchLatency(b *testing.B, opts *Options, transport string, paced bool) {
	ts := startWSServer(b, opts, WebSocketOptions{})
	dial := func(id string) *benchClient {
		if transport == "tcp" {
			return benchDial(b, ts.Addr, id)
		}
		ws := wsDial(b, ts.URL, nil)
		nc := &wsBenchConn{Conn: websocket.NetConn(context.Background(), ws, websocket.MessageBinary), ws: ws}
		c := &benchClient{Conn: nc, r: codec.NewReader(nc, 0)}
		c.r.SetVersion(codec.V311)
		benchSend(b, c, &codec.Connect{Version: codec.V311, ClientID: id, CleanStart: true})
		if _, err := c.r.ReadPacket(); err != nil {
			b.Fatal(err)
		}
		return c
	}
	sub := dial("sub")
	defer sub.Close()
	benchSend(b, sub, &codec.Subscribe{PacketID: 1, Subscriptions: []codec.Subscription{{Filter: "lat/#"}}})
	if _, err := sub.r.ReadPacket(); err != nil { // SUBACK
		b.Fatal(err)
	}
	pub := dial("pub")
	defer pub.Close()
	frame, _ := (&codec.Publish{Topic: "lat/1", Payload: make([]byte, 64)}).Append(nil, codec.V311)

	var tick *time.Ticker
	if paced {
		tick = time.NewTicker(time.Millisecond)
		defer tick.Stop()
	}
	lat := make([]time.Duration, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		if paced {
			<-tick.C
		}
		t0 := time.Now()
		if _, err := pub.Write(frame); err != nil {
			b.Fatal(err)
		}
		if _, err := sub.r.ReadPacket(); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	us := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))]) / 1e3 }
	b.ReportMetric(us(0.50), "p50-µs")
	b.ReportMetric(us(0.99), "p99-µs")
}
