package codec

import (
	"bytes"
	"testing"
)

// The hot path of a broker is PUBLISH in and out and PUBACK in and out.
// These benchmarks, like the allocation tests in alloc_test.go, use the
// packets below; run them with
//
//	go test -run '^$' -bench . -benchmem ./codec/

// hotPublishV311 is a typical 3.1.1 QoS 1 PUBLISH.
func hotPublishV311() *Publish {
	return &Publish{
		QoS:      AtLeastOnce,
		Topic:    "sensors/building-7/floor-3/room-12/temperature",
		PacketID: 4242,
		Payload:  []byte(`{"t":21.5,"unit":"C","ts":1700000000}`),
	}
}

// hotPublishV5 is a 5.0 QoS 1 PUBLISH carrying the properties a
// request/response or bridged message typically has.
func hotPublishV5() *Publish {
	return &Publish{
		QoS:      AtLeastOnce,
		Topic:    "sensors/building-7/floor-3/room-12/temperature",
		PacketID: 4242,
		Properties: Properties{
			PayloadFormatIndicator:  1,
			MessageExpiryInterval:   3600,
			ContentType:             "application/json",
			ResponseTopic:           "replies/client-17",
			CorrelationData:         []byte{0xde, 0xad, 0xbe, 0xef, 0x00, 0x01},
			SubscriptionIdentifiers: []int{7, 300},
			TopicAlias:              12,
			UserProperties: []UserProperty{
				{Key: "trace-id", Value: "4bf92f3577b34da6a3ce929d0e0e4736"},
				{Key: "origin", Value: "edge-3"},
			},
		},
		Payload: []byte(`{"t":21.5,"unit":"C","ts":1700000000}`),
	}
}

// mustAppend encodes p in version v or fails the test.
func mustAppend(tb testing.TB, p Packet, v Version) []byte {
	tb.Helper()
	b, err := p.Append(nil, v)
	if err != nil {
		tb.Fatalf("encode %T for %v: %v", p, v, err)
	}
	return b
}

// loopReader replays the same bytes forever, filling each Read completely,
// so that a Reader sees a realistic stream in which packets straddle reads.
type loopReader struct {
	data []byte
	off  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m := copy(p[n:], l.data[l.off:])
		n += m
		l.off = (l.off + m) % len(l.data)
	}
	return n, nil
}

// benchReader benchmarks Reader.ReadPacket over an endless stream of one
// encoded packet.
func benchReader(b *testing.B, pkt []byte, v Version, want PacketType) {
	r := NewReader(&loopReader{data: pkt}, 0)
	r.SetVersion(v)
	if p, err := r.ReadPacket(); err != nil || p.Type() != want { // warm up: buffer, packet, interned strings
		b.Fatalf("ReadPacket = %v, %v; want a %v", p, err, want)
	}
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		p, err := r.ReadPacket()
		if err != nil {
			b.Fatal(err)
		}
		if p.Type() != want {
			b.Fatalf("got a %v, want a %v", p.Type(), want)
		}
	}
}

func BenchmarkDecodePublishV311(b *testing.B) {
	benchReader(b, mustAppend(b, hotPublishV311(), V311), V311, PUBLISH)
}

func BenchmarkDecodePublishV5Props(b *testing.B) {
	benchReader(b, mustAppend(b, hotPublishV5(), V5), V5, PUBLISH)
}

// BenchmarkDecodeFunc measures the copying Decode, for comparison with the
// Reader: it allocates the packet and copies every field out of the input.
func BenchmarkDecodeFunc(b *testing.B) {
	for _, bc := range []struct {
		name string
		v    Version
		p    Packet
	}{
		{"PublishV311", V311, hotPublishV311()},
		{"PublishV5Props", V5, hotPublishV5()},
		{"PubackV5", V5, &Puback{Ack{PacketID: 4242}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			pkt := mustAppend(b, bc.p, bc.v)
			b.SetBytes(int64(len(pkt)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := Decode(pkt, bc.v, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchAppend(b *testing.B, p Packet, v Version) {
	buf := make([]byte, 0, 1024)
	buf, err := p.Append(buf[:0], v)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		buf, err = p.Append(buf[:0], v)
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodePublishV311(b *testing.B) { benchAppend(b, hotPublishV311(), V311) }

func BenchmarkEncodePublishV5Props(b *testing.B) { benchAppend(b, hotPublishV5(), V5) }

func BenchmarkEncodePuback(b *testing.B) {
	b.Run("V311", func(b *testing.B) { benchAppend(b, &Puback{Ack{PacketID: 4242}}, V311) })
	b.Run("V5", func(b *testing.B) { benchAppend(b, &Puback{Ack{PacketID: 4242}}, V5) })
	b.Run("V5Reason", func(b *testing.B) {
		benchAppend(b, &Puback{Ack{PacketID: 4242, ReasonCode: NoMatchingSubscribers}}, V5)
	})
}

func BenchmarkDecodePuback(b *testing.B) {
	b.Run("V311", func(b *testing.B) {
		benchReader(b, mustAppend(b, &Puback{Ack{PacketID: 4242}}, V311), V311, PUBACK)
	})
	b.Run("V5", func(b *testing.B) {
		benchReader(b, mustAppend(b, &Puback{Ack{PacketID: 4242}}, V5), V5, PUBACK)
	})
	b.Run("V5Reason", func(b *testing.B) {
		p := &Puback{Ack{PacketID: 4242, ReasonCode: NoMatchingSubscribers}}
		benchReader(b, mustAppend(b, p, V5), V5, PUBACK)
	})
}

// matchCases are filter/topic pairs for MatchTopic: exact, '+', '#', a
// miss, and the '$' exclusion.
var matchCases = []struct {
	filter, topic string
	want          bool
}{
	{"sensors/building-7/floor-3/room-12/temperature", "sensors/building-7/floor-3/room-12/temperature", true},
	{"sensors/+/floor-3/+/temperature", "sensors/building-7/floor-3/room-12/temperature", true},
	{"sensors/building-7/#", "sensors/building-7/floor-3/room-12/temperature", true},
	{"sensors/+/floor-4/#", "sensors/building-7/floor-3/room-12/temperature", false},
	{"#", "$SYS/broker/clients/connected", false},
}

func BenchmarkMatchTopic(b *testing.B) {
	for _, mc := range matchCases {
		if MatchTopic(mc.filter, mc.topic) != mc.want {
			b.Fatalf("MatchTopic(%q, %q) != %v", mc.filter, mc.topic, mc.want)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, mc := range matchCases {
			MatchTopic(mc.filter, mc.topic)
		}
	}
}

func BenchmarkValidTopicName(b *testing.B) {
	topics := []string{
		"sensors/building-7/floor-3/room-12/temperature",
		"$SYS/broker/load/messages/received/1min",
		"капибара/температура", // non-ASCII takes the UTF-8 path
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, topic := range topics {
			if err := ValidTopicName(topic); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// TestLoopReader checks the benchmarks' stream: it wraps around and fills
// every Read.
func TestLoopReader(t *testing.T) {
	l := &loopReader{data: []byte("abc")}
	p := make([]byte, 7)
	if n, err := l.Read(p); n != 7 || err != nil || !bytes.Equal(p, []byte("abcabca")) {
		t.Fatalf("Read = %d, %v, %q", n, err, p)
	}
	if n, _ := l.Read(p[:2]); n != 2 || string(p[:2]) != "bc" {
		t.Fatalf("second Read = %q", p[:n])
	}
}
