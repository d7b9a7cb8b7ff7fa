package cluster

import (
	"bytes"
	"testing"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// BenchmarkCrossNodeQoS0 measures QoS 0 messages of 200 bytes from an MQTT
// publisher on node 1 to an MQTT subscriber on node 3 of a three-node
// cluster in this process: TCP into broker 1, NATS routes 1 → 3, TCP out
// of broker 3. At most window messages are in flight, so none is dropped.
func BenchmarkCrossNodeQoS0(b *testing.B) {
	const batch, window = 100, 1000
	ms := startCluster(b, 3)
	sub := dial(b, ms[2], codec.V311, "sub")
	sub.Subscribe(b, 0, "bench/#")
	ms[0].interest(b, "bench/x", true)
	pub := dial(b, ms[0], codec.V311, "pub")
	pkts := make([]codec.Packet, batch)
	for i := range pkts {
		pkts[i] = &codec.Publish{Topic: "bench/x", Payload: bytes.Repeat([]byte{'x'}, 200)}
	}
	raw := testkit.Encode(codec.V311, pkts...)
	b.SetBytes(200)
	b.ResetTimer()
	sent, got := 0, 0
	for got < b.N {
		if sent < b.N && sent-got <= window-batch {
			pub.SendRaw(b, raw)
			sent += batch
			continue
		}
		if p := sub.Recv(b); p.Type() != codec.PUBLISH {
			b.Fatalf("got %s, want PUBLISH", testkit.Describe(p))
		}
		got++
	}
	b.StopTimer()
	for ; got < sent; got++ { // the rest of the last batch
		sub.Recv(b)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
}

// BenchmarkHeaders measures turning a message with no properties into a
// NATS message and back, as the ingress and the receiving node do.
func BenchmarkHeaders(b *testing.B) {
	m := &broker.Message{Topic: "sensors/room 1/temp", Payload: make([]byte, 200)}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, err := decode(encode(m, "n1-0011aabb", 12345, now), now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCrossNodeQoS1 measures acknowledged QoS 1 messages of 200 bytes
// from an MQTT publisher on node 1 to a QoS 1 MQTT subscriber on node 3 of
// a three-node cluster in this process: each PUBACK comes after the R3
// stream TERN_QOS has the message, and node 3's consumer hands it to the
// subscriber, which acknowledges it. Two batches are in flight: the next
// batch is sent before the PUBACKs and deliveries of the previous one are
// read.
func BenchmarkCrossNodeQoS1(b *testing.B) { benchQoS1(b, false) }

// BenchmarkCrossNodeQoS1Persistent is BenchmarkCrossNodeQoS1 with a
// persistent subscriber: each delivery is also written through to
// TERN_SESSQ before node 3 acks the stream, and purged once acknowledged.
func BenchmarkCrossNodeQoS1Persistent(b *testing.B) { benchQoS1(b, true) }

func benchQoS1(b *testing.B, persistent bool) {
	const batch = 200
	ms := startSessions(b, 3)
	sub := testkit.Dial(b, ms[2].b.Addr, codec.V311)
	sub.Connect(b, &codec.Connect{ClientID: "sub", CleanStart: !persistent})
	sub.Subscribe(b, 1, "bench/#")
	pub := dial(b, ms[0], codec.V311, "pub")
	var raw [2][]byte // packet ids 1..batch and batch+1..2*batch
	for k := range raw {
		pkts := make([]codec.Packet, batch)
		for i := range pkts {
			pkts[i] = &codec.Publish{QoS: 1, PacketID: uint16(k*batch + i + 1), Topic: "bench/x", Payload: bytes.Repeat([]byte{'x'}, 200)}
		}
		raw[k] = testkit.Encode(codec.V311, pkts...)
	}
	acks := make([]codec.Packet, batch)
	drain := func() {
		for range batch {
			pub.ExpectAck(b, codec.PUBACK)
		}
		for i := range batch {
			p := testkit.Expect[*codec.Publish](b, sub)
			acks[i] = &codec.Puback{Ack: codec.Ack{PacketID: p.PacketID}}
		}
		sub.SendRaw(b, testkit.Encode(codec.V311, acks...))
	}
	b.SetBytes(200)
	b.ResetTimer()
	sent := 0
	for k := 0; sent < b.N; k++ {
		pub.SendRaw(b, raw[k%2])
		sent += batch
		if k > 0 {
			drain() // the previous batch
		}
	}
	drain()
	b.StopTimer()
	b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "msg/s")
}
