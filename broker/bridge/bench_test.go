package bridge_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/broker/bridge"
	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/internal/testkit"
	"github.com/ternmq/tern/internal/testkit/brokerkit"
)

// BenchmarkBridgeQoS1 measures bridged QoS 1 messages per second from a
// publisher on Tern, through the bridge, to a subscriber on the remote
// broker (a real mosquitto, or Tern over WebSocket), end to end: 16
// publishers, 64-byte payloads, in-memory Tern, MaxInflight 100.
func BenchmarkBridgeQoS1(b *testing.B) {
	for _, remote := range []string{"mosquitto", "tern-ws"} {
		b.Run(remote, func(b *testing.B) {
			var url string
			if remote == "mosquitto" {
				_, port := mosquitto(b, "max_queued_messages 1000000", "max_inflight_messages 0")
				url = fmt.Sprintf("mqtt://127.0.0.1:%d", port)
			} else {
				url = brokerkit.Start(b, nil, brokerOpts()).WS
			}
			// The bridge's session queues what it has not forwarded yet:
			// room for all of it.
			tern := brokerkit.Start(b, &broker.Options{MaxQueued: 1 << 20}, brokerOpts())
			st := watchState(b, tern.TCP, "bench")
			run(b, tern.Server, bridge.Config{Name: "bench", Addresses: []string{url}, Topics: rules(b, "bench/# out 1")})
			st.wait(b, "1")

			var got atomic.Int64
			all := make(chan struct{})
			n := int64(b.N)
			sub := connect(b, url, client.Options{ClientID: "sub", CleanStart: true})
			subscribe(b, sub, "bench/#", 1, func(*client.Message) {
				if got.Add(1) == n {
					close(all)
				}
			})
			const pubs = 16
			payload := make([]byte, 64)
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for p := range pubs {
				c := connect(b, tern.TCP, client.Options{ClientID: fmt.Sprint("pub", p), CleanStart: true})
				wg.Go(func() {
					for i := p; i < b.N; i += pubs {
						if err := c.Publish(testkit.Context(b), &client.Message{Topic: "bench/x", Payload: payload, QoS: 1}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			testkit.WaitFor(b, (<-chan struct{})(all), "every message")
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msg/s")
		})
	}
}
