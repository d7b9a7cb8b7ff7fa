package broker

import (
	"bytes"
	"testing"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// TestQoS0LargerThanOutboundDefault: with MaxPacketSize raised above the
// default outbound buffer (4 MiB), a 6 MiB QoS 0 message is delivered, not
// dropped for the outbound bound: the default bound follows the packet
// limit, and an empty queue always takes one message. An explicit bound
// below the message size is exceeded by that one message only.
func TestQoS0LargerThanOutboundDefault(t *testing.T) {
	payload := bytes.Repeat([]byte("0123456789abcdef"), 6<<20/16)
	for _, tt := range []struct {
		name string
		opts Options
	}{
		{"default bound", Options{MaxPacketSize: 8 << 20}},
		{"explicit bound below the message", Options{MaxPacketSize: 8 << 20, OutboundBuffer: 1 << 20}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServer(t, &tt.opts)
			sub := testkit.Dial(t, srv.Addr, codec.V311)
			sub.Connect(t, &codec.Connect{ClientID: "big-sub", CleanStart: true})
			sub.Subscribe(t, 0, "big/#")
			pub := testkit.Dial(t, srv.Addr, codec.V311)
			pub.Connect(t, &codec.Connect{ClientID: "big-pub", CleanStart: true})
			pub.Send(t, &codec.Publish{Topic: "big/t", Payload: payload})
			got := testkit.Expect[*codec.Publish](t, sub)
			if !bytes.Equal(got.Payload, payload) {
				t.Fatalf("received %d bytes, want the %d sent", len(got.Payload), len(payload))
			}
			if d := srv.Stats().Dropped.Load(); d != 0 {
				t.Errorf("Stats().Dropped = %d, want 0", d)
			}
		})
	}
}
