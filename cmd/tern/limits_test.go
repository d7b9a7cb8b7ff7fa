package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// TestReloadLimits: SIGHUP's reload reads the config file again, applies
// the limits that can change safely to the next CONNECT, and logs each
// change; a broken file leaves them in force.
func TestReloadLimits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tern.json")
	os.WriteFile(path, []byte(`{"max_queued": 100}`), 0o600)
	args := []string{"--config", path, "--mqtt", "127.0.0.1:0", "--mqtts", "", "--http", "", "--in-memory", "--sys-interval", "0"}
	cfg, err := parse(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	d := startDaemonLog(t, cfg, log)
	d.reparse = func() (config, error) { return parse(args, io.Discard) }
	addr := d.addrs["mqtt"]

	connect := func() *codec.Connack {
		p := testkit.Dial(t, addr, codec.V5)
		defer p.Close()
		return p.Connect(t, &codec.Connect{ClientID: "k", CleanStart: true, KeepAlive: 600})
	}
	if ack := connect(); ack.Properties.ServerKeepAlive != 0 {
		t.Fatalf("Server Keep Alive %d before the reload", ack.Properties.ServerKeepAlive)
	}
	os.WriteFile(path, []byte(`{"max_queued": 200, "max_keepalive": 30}`), 0o600)
	d.reload(context.Background(), log)
	if ack := connect(); ack.Properties.ServerKeepAlive != 30 {
		t.Errorf("Server Keep Alive %d after the reload, want 30", ack.Properties.ServerKeepAlive)
	}
	for _, want := range []string{"limit=max_keepalive old=0 new=30", "limit=max_queued old=100 new=200"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log has no %q:\n%s", want, logs.String())
		}
	}

	os.WriteFile(path, []byte(`{"max_keepalive": "broken"`), 0o600)
	d.reload(context.Background(), log)
	if !strings.Contains(logs.String(), "configuration not reloaded") {
		t.Errorf("a broken file was not reported:\n%s", logs.String())
	}
	if ack := connect(); ack.Properties.ServerKeepAlive != 30 {
		t.Errorf("Server Keep Alive %d after a failed reload, want 30", ack.Properties.ServerKeepAlive)
	}
}

// TestConnectionLogFields: every log line about a connection, once its
// CONNECT is read, carries the connection id, client id, username and
// remote address.
func TestConnectionLogFields(t *testing.T) {
	var logs lockedBuffer
	users := filepath.Join(t.TempDir(), "passwd")
	writeUsers(t, users, "alice")
	d := startDaemonLog(t, withDefaults(config{MQTT: "127.0.0.1:0", PasswordFile: users, InMemory: true, SysInterval: "0"}),
		slog.New(slog.NewTextHandler(&logs, nil)))
	p := testkit.Dial(t, d.addrs["mqtt"], codec.V5)
	p.Connect(t, &codec.Connect{ClientID: "dev-7", CleanStart: true, Username: "alice", Password: []byte("alice")})
	p.Send(t, &codec.Connect{ClientID: "dev-7"}) // a second CONNECT: closed with a log line
	if dc := testkit.Expect[*codec.Disconnect](t, p); dc.ReasonCode != codec.ProtocolError {
		t.Errorf("DISCONNECT %v, want 0x82", dc.ReasonCode)
	}
	p.ExpectClosed(t)
	n := 0
	for _, line := range strings.Split(logs.String(), "\n") {
		if !strings.Contains(line, "client=dev-7") {
			continue
		}
		n++
		for _, f := range []string{"conn=", "remote=127.0.0.1:", "username=alice"} {
			if !strings.Contains(line, f) {
				t.Errorf("no %s in %q", f, line)
			}
		}
	}
	if n < 2 {
		t.Errorf("%d log lines about the connection, want the connect and the close:\n%s", n, logs.String())
	}
}
