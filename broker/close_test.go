package broker

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// TestDisconnectArrivesWhilePeerWrites: when the server closes a 5.0
// connection with a DISCONNECT while the client is still sending, the
// client reads that DISCONNECT and then the end of the stream, instead of
// a reset that throws it away (closing a socket with unread input sends
// RST). The client writes without pause from before the server decides to
// close until the connection ends; over TCP and over TLS.
//
//   - Receive Maximum exceeded: the client has more unacknowledged QoS 2
//     PUBLISH packets than the Receive Maximum the server announced
//     [MQTT-5:3.3.4-7]; the server sends DISCONNECT 0x93 and closes
//     [MQTT-5:4.13.2-1].
//   - Packet too large: the client sends a packet larger than the server's
//     Maximum Packet Size [MQTT-5:3.2.2-15]; DISCONNECT 0x95, and the
//     server never reads that packet's body.
//   - Take-over: another connection with the same client id; DISCONNECT
//     0x8E to the old one [MQTT-5:3.1.4-3].
//   - Shutdown: DISCONNECT 0x8B [MQTT-5:4.13.2-1].
//
// (Keep-alive 0x8D goes the same way, but only ever to a client that has
// stopped sending.)
func TestDisconnectArrivesWhilePeerWrites(t *testing.T) {
	q2 := func(id uint16) *codec.Publish {
		return &codec.Publish{QoS: 2, PacketID: id, Topic: "overrun/t", Payload: []byte("x")}
	}
	tests := []struct {
		name    string
		opts    Options
		overrun []codec.Packet
		before  []string // what the server answers before the DISCONNECT
		rc      codec.ReasonCode
	}{
		{name: "0x93 Receive Maximum exceeded", opts: Options{ReceiveMaximum: 2},
			overrun: []codec.Packet{q2(1), q2(2), q2(3)}, before: []string{"PUBREC id=1 rc=0x00", "PUBREC id=2 rc=0x00"},
			rc: codec.ReceiveMaximumExceeded},
		{name: "0x95 Packet too large", opts: Options{MaxPacketSize: 1024},
			overrun: []codec.Packet{&codec.Publish{Topic: "overrun/t", Payload: make([]byte, 64<<10)}}, rc: codec.PacketTooLarge},
		{name: "0x8E Session taken over", rc: codec.SessionTakenOver},
		{name: "0x8B Server shutting down", rc: codec.ServerShuttingDown},
	}
	pki := newTLSPKI(t)
	for _, transport := range []string{"tcp", "tls"} {
		for _, tt := range tests {
			t.Run(transport+"/"+tt.name, func(t *testing.T) {
				srv := startServer(t, &tt.opts)
				addr := srv.Addr
				dial := func() *testkit.Peer { return testkit.Dial(t, addr, codec.V5) }
				if transport == "tls" {
					addr = startTLSListener(t, srv, pki.serverConfig(false))
					dial = func() *testkit.Peer { return dialTLSRaw(t, addr, pki.clientConfig(nil), codec.V5) }
				}
				c := dial()
				c.Connect(t, clean5("overrun"))
				wrote := floodUntilClosed(c, testkit.Encode(codec.V5, tt.overrun...))
				shutdown := make(chan error, 1)
				switch tt.rc {
				case codec.SessionTakenOver:
					dial().Connect(t, clean5("overrun"))
				case codec.ServerShuttingDown:
					go func() { shutdown <- srv.Shutdown(context.Background()) }()
				}
				c.ExpectDescribed(t, tt.before...)
				expectDisconnect(t, c, tt.rc)
				// The server half-closed after the DISCONNECT: the client
				// reads the end of the stream, not a reset.
				if err := c.Err(); !errors.Is(err, io.EOF) {
					t.Errorf("connection ended with %v, want EOF after the DISCONNECT", err)
				}
				c.Close()
				<-wrote
				if tt.rc == codec.ServerShuttingDown {
					if err := <-shutdown; err != nil {
						t.Errorf("shutdown: %v", err)
					}
				}
			})
		}
	}
}

// floodUntilClosed writes first and then QoS 0 PUBLISH packets, 32 KiB at
// a time, until a write fails; the channel it returns is closed then.
func floodUntilClosed(c *testkit.Peer, first []byte) <-chan struct{} {
	flood := bytes.Repeat(testkit.Encode(codec.V5, &codec.Publish{Topic: "overrun/flood", Payload: make([]byte, 100)}), 300)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err := c.Conn().Write(first)
		for err == nil {
			_, err = c.Conn().Write(flood)
		}
	}()
	return done
}
