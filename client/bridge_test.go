package client_test

import (
	"context"
	"io"
	"net"
	"net/url"
	"testing"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
	"github.com/ternmq/tern/internal/testkit/brokerkit"
)

// Options.Bridge puts Mosquitto's bridge marker in a 3.1.1 CONNECT's
// Protocol Level (0x84) and leaves a 5.0 CONNECT alone.
func TestBridgeMarker(t *testing.T) {
	for _, tc := range []struct {
		v    codec.Version
		want byte
	}{{codec.V311, 0x84}, {codec.V5, 5}} {
		cli, srv := net.Pipe()
		dial := func(context.Context, *url.URL) (net.Conn, error) { return cli, nil }
		done := async(func() error {
			_, err := client.Connect(testkit.Context(t), "mqtt://fake", client.Options{Version: tc.v, Bridge: true, Dialer: dial})
			return err
		})
		head := make([]byte, 9) // fixed header, "MQTT", level
		if _, err := io.ReadFull(srv, head); err != nil {
			t.Fatal(err)
		}
		if head[8] != tc.want {
			t.Errorf("%v: Protocol Level %#x, want %#x", tc.v, head[8], tc.want)
		}
		srv.Close()
		if err := testkit.WaitFor(t, done, "Connect to fail"); err == nil {
			t.Errorf("%v: Connect succeeded on a closed pipe", tc.v)
		}
	}
}

// Dial opens the byte stream for a URL as Connect would, here a
// WebSocket, over which a CONNECT gets its CONNACK.
func TestDial(t *testing.T) {
	b := brokerkit.Start(t, nil, broker.WebSocketOptions{})
	for _, u := range []string{b.TCP, b.WS} {
		nc, err := client.Dial(testkit.Context(t), u, client.Options{})
		if err != nil {
			t.Fatalf("dial %s: %v", u, err)
		}
		p := testkit.NewPeer(t, nc, codec.V5, testkit.RealTime)
		if ack := p.Connect(t, &codec.Connect{Version: codec.V5, CleanStart: true, ClientID: "dial"}); ack.ReasonCode != codec.Success {
			t.Errorf("%s: CONNACK %v", u, ack.ReasonCode)
		}
		p.Close()
	}
	if _, err := client.Dial(testkit.Context(t), "gopher://x", client.Options{}); err == nil {
		t.Error("Dial accepted gopher://")
	}
}
