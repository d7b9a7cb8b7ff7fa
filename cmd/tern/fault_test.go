package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/broker/store/pebble"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// diskFault makes every write to the store's files fail with errno while
// it is on, as a full or failing disk would.
type diskFault struct {
	on    atomic.Bool
	errno syscall.Errno
}

func (f *diskFault) String() string { return "disk fault" }

func (f *diskFault) MaybeError(op errorfs.Op) error {
	if !f.on.Load() {
		return nil
	}
	switch op.Kind {
	case errorfs.OpFileWrite, errorfs.OpFileWriteAt, errorfs.OpFileSync, errorfs.OpFileSyncData,
		errorfs.OpFileSyncTo, errorfs.OpCreate, errorfs.OpReuseForWrite:
		return &os.PathError{Op: "write", Path: op.Path, Err: f.errno}
	}
	return nil
}

// openFaulty opens the broker on a Pebble store in dir whose disk fails
// while fault is on, serving TCP on loopback.
func openFaulty(t *testing.T, dir string, fault *diskFault) (string, func()) {
	t.Helper()
	var fs vfs.FS = vfs.Default
	if fault != nil {
		fs = errorfs.Wrap(vfs.Default, fault)
	}
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("TERN_TEST_LOG") != "" { // the broker's and the store's logs, for debugging
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	st, err := pebble.Open(dir, pebble.Options{FS: fs, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := broker.Open(context.Background(), broker.Options{Store: st, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	addr := testkit.ServeLoopback(t, srv)
	return addr, func() {
		srv.Shutdown(context.Background())
		st.Close()
	}
}

// TestDiskFault: while the disk fails, no QoS 1/2 PUBLISH that must be
// stored is acknowledged as received: a 5.0 publisher gets PUBACK 0x97
// (disk full) or 0x80, a 3.1.1 publisher, which has no reason code to be
// told, is disconnected (a transient error while processing its packet
// [MQTT-3:4.8.0-2]); QoS 0 traffic
// and other clients carry on. Once the disk works again, so does the
// broker, and what it acknowledged survives a restart.
func TestDiskFault(t *testing.T) {
	dir := t.TempDir()
	fault := &diskFault{errno: syscall.ENOSPC}
	addr, stop := openFaulty(t, dir, fault)
	defer func() { stop() }()

	away := mustPeer(t, addr, &codec.Connect{Version: codec.V5, ClientID: "df-away", Properties: codec.Properties{SessionExpiryInterval: 3600}})
	away.send(&codec.Subscribe{PacketID: 1, Subscriptions: []codec.Subscription{{Filter: "df/#", QoS: 1}}})
	expectPacket[*codec.Suback](t, away)
	away.send(&codec.Disconnect{})
	away.close()
	online := mustPeer(t, addr, &codec.Connect{Version: codec.V5, ClientID: "df-online", CleanStart: true})
	online.send(&codec.Subscribe{PacketID: 1, Subscriptions: []codec.Subscription{{Filter: "df/#"}}})
	expectPacket[*codec.Suback](t, online)
	p5 := mustPeer(t, addr, &codec.Connect{Version: codec.V5, ClientID: "df-p5", CleanStart: true})
	p3 := mustPeer(t, addr, &codec.Connect{Version: codec.V311, ClientID: "df-p3", CleanStart: true})

	fault.on.Store(true)
	p5.send(&codec.Publish{QoS: 1, PacketID: 1, Topic: "df/lost", Payload: []byte("not acknowledged")})
	if a := expectPacket[*codec.Puback](t, p5); a.ReasonCode != codec.QuotaExceeded {
		t.Errorf("PUBACK 0x%02x while the disk is full, want 0x97", byte(a.ReasonCode))
	}
	p3.send(&codec.Publish{QoS: 1, PacketID: 1, Topic: "df/lost", Payload: []byte("not acknowledged either")})
	for pkt := range p3.in {
		t.Errorf("3.1.1 publisher got %v while the disk is full, want the connection closed", pkt)
	}
	p5.send(&codec.Publish{Topic: "df/qos0", Payload: []byte("QoS 0 carries on")})
	for _, want := range []string{"not acknowledged", "not acknowledged either", "QoS 0 carries on"} {
		if m := expectPacket[*codec.Publish](t, online); string(m.Payload) != want {
			t.Errorf("online subscriber got %q, want %q", m.Payload, want)
		}
	}

	fault.on.Store(false)
	p5.send(&codec.Publish{QoS: 1, PacketID: 2, Topic: "df/kept", Payload: []byte("acknowledged")})
	if a := expectPacket[*codec.Puback](t, p5); a.ReasonCode != codec.Success {
		t.Fatalf("PUBACK 0x%02x after the disk recovered, want 0x00", byte(a.ReasonCode))
	}
	p5.close()
	online.close()
	stop()

	addr, stop = openFaulty(t, dir, nil)
	away = mustPeer(t, addr, &codec.Connect{Version: codec.V5, ClientID: "df-away", Properties: codec.Properties{SessionExpiryInterval: 3600}})
	defer away.close()
	for {
		m := expectPacket[*codec.Publish](t, away)
		away.send(ack(codec.PUBACK, m.PacketID))
		if string(m.Payload) == "acknowledged" {
			break // messages refused during the fault may or may not come first
		}
	}
}

func mustPeer(t *testing.T, addr string, c *codec.Connect) *peer {
	t.Helper()
	if c.Version == codec.V5 && c.Properties.SessionExpiryInterval > 0 {
		c.Properties.Mark(codec.PropSessionExpiryInterval)
	}
	p, _, err := dialPeer(addr, c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// expectPacket reads the next packet and fails unless it is a T.
func expectPacket[T codec.Packet](t *testing.T, p *peer) T {
	t.Helper()
	select {
	case pkt, ok := <-p.in:
		v, isT := pkt.(T)
		if !ok || !isT {
			var want T
			t.Fatalf("got %v, want %T", pkt, want)
		}
		return v
	case <-time.After(30 * time.Second):
		var want T
		t.Fatalf("no %T within 30 s", want)
		panic(fmt.Sprint("unreachable"))
	}
}
