package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
	"github.com/ternmq/tern/internal/testkit/brokerkit"
)

// A bridge in the JSON config file runs with the daemon: a message
// published on tern reaches the remote broker (another Tern, over
// WebSocket) under the rule's remote prefix.
func TestConfigBridge(t *testing.T) {
	remote := brokerkit.Start(t, nil, broker.WebSocketOptions{})
	path := filepath.Join(t.TempDir(), "tern.json")
	conf := fmt.Sprintf(`{"bridges": [{"name": "up", "addresses": [%q], "topics": ["# out 1 \"\" site/"]}]}`, remote.WS)
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := parse([]string{"--config", path, "--mqtt", "127.0.0.1:0", "--http", "", "--in-memory"}, new(bytes.Buffer))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Bridges) != 1 || cfg.Bridges[0].Topics[0].RemotePrefix != "site/" {
		t.Fatalf("bridges read as %+v", cfg.Bridges)
	}
	d := startDaemon(t, cfg)

	got := make(chan string, 16)
	ctx := testkit.Context(t)
	sub, err := client.Connect(ctx, remote.TCP, client.Options{ClientID: "sub", CleanStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Disconnect(context.Background(), codec.NormalDisconnection)
	if _, err := sub.Subscribe(ctx, func(m *client.Message) { got <- m.Topic + " " + string(m.Payload) },
		codec.Subscription{Filter: "site/#", QoS: 1}); err != nil {
		t.Fatal(err)
	}
	state := make(chan string, 16)
	pub, err := client.Connect(ctx, "mqtt://"+d.addrs["mqtt"], client.Options{ClientID: "pub", CleanStart: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Disconnect(context.Background(), codec.NormalDisconnection)
	if _, err := pub.Subscribe(ctx, func(m *client.Message) { state <- string(m.Payload) },
		codec.Subscription{Filter: "$SYS/broker/connection/up/state", QoS: 1}); err != nil {
		t.Fatal(err)
	}
	for testkit.WaitFor(t, (<-chan string)(state), "the bridge to connect") != "1" {
	}
	if err := pub.Publish(ctx, &client.Message{Topic: "a/b", Payload: []byte("hi"), QoS: 1}); err != nil {
		t.Fatal(err)
	}
	if m := testkit.WaitFor(t, (<-chan string)(got), "the bridged message"); m != "site/a/b hi" {
		t.Errorf("remote got %q, want %q", m, "site/a/b hi")
	}
}

// An invalid bridge stops tern before it listens, naming the bridge.
func TestConfigBridgeInvalid(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tern.json")
	os.WriteFile(path, []byte(`{"bridges": [{"name": "x", "addresses": ["mqtt://h"], "topics": ["# sideways"]}]}`), 0o600)
	if _, err := parse([]string{"--config", path}, new(bytes.Buffer)); err == nil || !strings.Contains(err.Error(), "direction") {
		t.Errorf("a bad rule in the config file: %v", err)
	}
	os.WriteFile(path, []byte(`{"bridges": [{"name": "x", "addresses": ["mqtt://h"], "topics": ["#"]}, {"name": "x", "addresses": ["mqtt://h"], "topics": ["#"]}]}`), 0o600)
	cfg, err := parse([]string{"--config", path, "--mqtt", "127.0.0.1:0", "--http", "", "--in-memory"}, new(bytes.Buffer))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := start(context.Background(), cfg, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), `two bridges named "x"`) {
		t.Errorf("two bridges with one name: %v", err)
	}
}
