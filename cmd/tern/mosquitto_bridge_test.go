package main

import (
	"fmt"
	"io"
	"testing"

	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// TestMosquittoConfBridge: a mosquitto.conf with a bridge section
// (connection, address, topic … both 1 with prefixes) runs unchanged under
// tern --mosquitto-conf, bridging to a real mosquitto both ways; the
// bridge options are not named in the one warning.
func TestMosquittoConfBridge(t *testing.T) {
	remote := testkit.FreePort(t)
	testkit.StartMosquitto(t, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true", remote))
	local := testkit.FreePort(t)
	path := writeConf(t, fmt.Sprintf(`listener %d 127.0.0.1
allow_anonymous true

connection site
address 127.0.0.1:%d
bridge_protocol_version mqttv50
cleansession true
topic # both 1 tern/ mosq/
`, local, remote))
	cfg, err := parse([]string{"--mosquitto-conf", path}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Bridges) != 1 || len(cfg.mosquittoNote) != 0 {
		t.Fatalf("bridges %+v, notes %q: want one bridge and no warning", cfg.Bridges, cfg.mosquittoNote)
	}
	startDaemon(t, cfg)

	type msg struct{ topic, payload string }
	inbox := func() (chan msg, client.Handler) {
		ch := make(chan msg, 16)
		return ch, func(m *client.Message) { ch <- msg{m.Topic, string(m.Payload)} }
	}
	dial := func(port int, id string) *client.Client {
		c, err := client.Connect(testkit.Context(t), fmt.Sprintf("mqtt://127.0.0.1:%d", port), client.Options{ClientID: id, CleanStart: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Disconnect(testkit.Context(t), codec.NormalDisconnection) })
		return c
	}
	onTern, onMosq := dial(local, "on-tern"), dial(remote, "on-mosq")
	fromMosq, h1 := inbox()
	fromTern, h2 := inbox()
	if _, err := onTern.Subscribe(testkit.Context(t), h1, codec.Subscription{Filter: "tern/b", QoS: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := onMosq.Subscribe(testkit.Context(t), h2, codec.Subscription{Filter: "mosq/a", QoS: 1}); err != nil {
		t.Fatal(err)
	}
	// The bridge says it is up (retained, once its subscriptions are
	// made on both sides), then one message crosses each way.
	state, h3 := inbox()
	if _, err := onTern.Subscribe(testkit.Context(t), h3, codec.Subscription{Filter: "$SYS/broker/connection/site/state"}); err != nil {
		t.Fatal(err)
	}
	for testkit.WaitFor(t, (<-chan msg)(state), "bridge state").payload != "1" {
	}
	cross := func(from *client.Client, topic string, to chan msg, want string) {
		t.Helper()
		if err := from.Publish(testkit.Context(t), &client.Message{Topic: topic, Payload: []byte("hello"), QoS: 1}); err != nil {
			t.Fatal(err)
		}
		if m := testkit.WaitFor(t, (<-chan msg)(to), "the message on "+want); m.topic != want || m.payload != "hello" {
			t.Fatalf("arrived %+v, want %s hello", m, want)
		}
	}
	cross(onTern, "tern/a", fromTern, "mosq/a")
	cross(onMosq, "mosq/b", fromMosq, "tern/b")
}
