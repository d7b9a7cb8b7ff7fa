package client_test

import (
	"testing"

	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/internal/testkit"
	"github.com/ternmq/tern/internal/testkit/brokerkit"
)

// A normal DISCONNECT discards the will; DISCONNECT with reason 0x04 asks
// a 5.0 server to publish it ([MQTT-3.14.4-3] is the server's side).
func TestDisconnectReasonAndWill(t *testing.T) {
	srv := brokerkit.Start(t, nil, broker.WebSocketOptions{})
	watcher := connect(t, srv.TCP, client.Options{ClientID: "will-watcher"})
	in := newInbox()
	sub(t, watcher, in, "will/#", 1)

	normal := connect(t, srv.TCP, client.Options{ClientID: "will-normal",
		Will: &codec.Will{Topic: "will/normal", Payload: []byte("gone"), QoS: 1}})
	withWill := connect(t, srv.TCP, client.Options{ClientID: "will-with",
		Will: &codec.Will{Topic: "will/with", Payload: []byte("gone"), QoS: 1}})
	if err := normal.Disconnect(testkit.Context(t), codec.NormalDisconnection); err != nil {
		t.Fatal(err)
	}
	if err := withWill.Disconnect(testkit.Context(t), codec.DisconnectWithWillMessage); err != nil {
		t.Fatal(err)
	}
	in.expect(t, "will/with", "gone")
	// The normal one published nothing: a marker published after both
	// disconnects arrives next.
	pub(t, watcher, &client.Message{Topic: "will/marker", QoS: 1, Payload: []byte("m")})
	in.expect(t, "will/marker", "m")
}
