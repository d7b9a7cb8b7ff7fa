package broker

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ternmq/tern/codec"
)

// BenchmarkLatencyTCP measures one publisher → broker → one subscriber
// over loopback TCP at QoS 0 (3.1.1), one message at a time: the time
// from the publisher's write to the subscriber's read of that message.
//
//   - paced: one message per millisecond, as at 1,000 msg/s (ternbench's
//     latency case), so the subscriber's writer is idle when each message
//     arrives; ns/op is the pacing, p50-µs and p99-µs the latency.
//   - back-to-back: the next message as soon as the last arrived.
//
// inline=false turns inline writes off (writenow.go): the message always
// goes to a writer goroutine, as before them. allocs/op counts the whole
// process, the benchmark's client included.
func BenchmarkLatencyTCP(b *testing.B) {
	for _, paced := range []bool{true, false} {
		for _, inline := range []bool{true, false} {
			name := fmt.Sprintf("back-to-back/inline=%t", inline)
			if paced {
				name = fmt.Sprintf("paced-1ms/inline=%t", inline)
			}
			b.Run(name, func(b *testing.B) {
				opts := &Options{}
				if !inline {
					opts.writeNowIdle = -1
				}
				benchLatency(b, opts, paced)
			})
		}
	}
}

func benchLatency(b *testing.B, opts *Options, paced bool) {
	ts := startServer(b, opts)
	sub := benchDial(b, ts.Addr, "sub")
	defer sub.Close()
	benchSend(b, sub, &codec.Subscribe{PacketID: 1, Subscriptions: []codec.Subscription{{Filter: "lat/#"}}})
	if _, err := sub.r.ReadPacket(); err != nil { // SUBACK
		b.Fatal(err)
	}
	pub := benchDial(b, ts.Addr, "pub")
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
