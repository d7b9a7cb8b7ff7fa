package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ternmq/tern/broker/auth/passwd"
	"github.com/ternmq/tern/codec"
)

// writeUsers writes a password file with each user's password equal to
// their name.
func writeUsers(t *testing.T, path string, users ...string) {
	t.Helper()
	var b strings.Builder
	for _, u := range users {
		h, err := passwd.NewHash([]byte(u), passwd.HashOptions{})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s:%s\n", u, h)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

func login(user string) *codec.Connect {
	return &codec.Connect{Version: codec.V5, ClientID: user, CleanStart: true, Username: user, Password: []byte(user)}
}

// TestReload: with tern running, SIGHUP's reload adds a user, removes one
// (whose connection is closed with DISCONNECT 0x98), keeps the old rules
// when the new ACL file is broken, applies a changed one, and serves a
// rotated TLS certificate to new connections, while the other clients
// keep their connections and go on exchanging messages.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	users, rules := filepath.Join(dir, "passwd"), filepath.Join(dir, "acl")
	writeUsers(t, users, "alice", "bob")
	os.WriteFile(rules, []byte("user alice\ntopic readwrite room/#\nuser bob\ntopic readwrite room/#\nuser carol\ntopic readwrite room/#\n"), 0o600)
	certs := devCerts(t)
	var logs lockedBuffer
	cfg := config{MQTT: "127.0.0.1:0", MQTTS: "127.0.0.1:0", PasswordFile: users, ACLFile: rules,
		TLSCert: filepath.Join(certs, serverCertFile), TLSKey: filepath.Join(certs, serverKeyFile)}
	d := startDaemonLog(t, cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	addr := d.addrs["mqtt"]

	if _, _, err := dialPeer(addr, login("carol")); err == nil {
		t.Fatal("carol connected before she was added")
	}
	alice := mustPeer(t, addr, login("alice"))
	defer alice.close()
	alice.send(&codec.Subscribe{PacketID: 1, Subscriptions: []codec.Subscription{{Filter: "room/#"}}})
	expectPacket[*codec.Suback](t, alice)
	bob := mustPeer(t, addr, login("bob"))
	defer bob.close()
	firstCert := serverCert(t, d.addrs["mqtts"])

	// Add carol, remove bob, rotate the certificate.
	writeUsers(t, users, "alice", "carol")
	other := devCerts(t)
	for _, f := range []string{serverCertFile, serverKeyFile} {
		b, _ := os.ReadFile(filepath.Join(other, f))
		os.WriteFile(filepath.Join(certs, f), b, 0o600)
	}
	d.reload(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)))
	if dc := expectPacket[*codec.Disconnect](t, bob); dc.ReasonCode != codec.AdministrativeAction {
		t.Errorf("bob got DISCONNECT 0x%02x, want 0x98", byte(dc.ReasonCode))
	}
	carol := mustPeer(t, addr, login("carol"))
	defer carol.close()
	carol.send(&codec.Publish{QoS: 1, PacketID: 1, Topic: "room/1", Payload: []byte("hello")})
	expectPacket[*codec.Puback](t, carol)
	if m := expectPacket[*codec.Publish](t, alice); string(m.Payload) != "hello" {
		t.Errorf("alice got %q", m.Payload)
	}
	if bytes.Equal(serverCert(t, d.addrs["mqtts"]), firstCert) {
		t.Error("a new TLS connection still sees the old certificate")
	}

	// A broken ACL file: reported, the old rules stay.
	os.WriteFile(rules, []byte("user alice\ntopic sometimes room/#\n"), 0o600)
	d.reload(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)))
	if !strings.Contains(logs.String(), "ACL file not reloaded") {
		t.Errorf("no error logged for the broken ACL file:\n%s", logs.String())
	}
	carol.send(&codec.Publish{QoS: 1, PacketID: 2, Topic: "room/2", Payload: []byte("still")})
	if a := expectPacket[*codec.Puback](t, carol); a.ReasonCode != codec.Success {
		t.Errorf("carol's PUBACK 0x%02x under the old rules, want 0x00", byte(a.ReasonCode))
	}
	expectPacket[*codec.Publish](t, alice)

	// A changed ACL file: carol may no longer write, alice still reads.
	os.WriteFile(rules, []byte("user alice\ntopic readwrite room/#\nuser carol\ntopic read room/#\n"), 0o600)
	d.reload(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)))
	carol.send(&codec.Publish{QoS: 1, PacketID: 3, Topic: "room/3", Payload: []byte("denied")})
	if a := expectPacket[*codec.Puback](t, carol); a.ReasonCode != codec.NotAuthorized {
		t.Errorf("carol's PUBACK 0x%02x under the new rules, want 0x87", byte(a.ReasonCode))
	}
}

// serverCert returns the leaf certificate a new TLS connection sees.
func serverCert(t *testing.T, addr string) []byte {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, VerifyConnection: func(tls.ConnectionState) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].Raw
}

// startDaemonLog is startDaemon with a logger.
func startDaemonLog(t *testing.T, cfg config, log *slog.Logger) *daemon {
	t.Helper()
	if cfg.ConnectTimeout == "" {
		def := defaults()
		cfg.ConnectTimeout, cfg.ReceiveMaximum, cfg.MaxPacketSize, cfg.MaxInflight, cfg.MaxQueued =
			def.ConnectTimeout, def.ReceiveMaximum, def.MaxPacketSize, def.MaxInflight, def.MaxQueued
	}
	d, err := start(context.Background(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := d.shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return d
}
