package broker

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ternmq/tern/codec"
)

// TestPanicInWriter: a panic while encoding for one connection (here a
// queued packet that is nil) closes that connection only; the process and
// the other clients carry on.
func TestPanicInWriter(t *testing.T) {
	for _, tc := range []struct {
		name string
		idle time.Duration // Options.writeNowIdle
	}{
		// The writer goroutine encodes the packet.
		{"writer goroutine", -1},
		// The enqueue below encodes on this test's goroutine, which
		// recovers nothing (writenow.go): the inline write must recover
		// it and close the victim, not take the caller down. (A
		// nanosecond of idle writer is always there: always inline.)
		{"inline write", time.Nanosecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, &Options{writeNowIdle: tc.idle})
			sub, _ := connected(t, srv, codec.V5, &codec.Connect{ClientID: "calm", CleanStart: true})
			sub.Subscribe(t, 1, "w/t")
			victim, _ := connected(t, srv, codec.V311, &codec.Connect{ClientID: "victim", CleanStart: true})

			srv.mu.Lock()
			var vc *conn
			for c := range srv.conns {
				if c.clientID == "victim" {
					vc = c
				}
			}
			srv.mu.Unlock()
			if vc == nil {
				t.Fatal("victim's connection not found")
			}
			vc.enqueue(outItem{kind: codec.CONNACK}, false, 1) // pkt is nil: encode panics
			victim.ExpectClosed(t)

			pub := publisher(t, srv, "after-writer-panic")
			pub.Publish(t, 1, "w/t", "still here")
			sub.ExpectMessage(t, "w/t", "still here")
		})
	}
}

// TestPanicInTimer: a panic in a timer's work is recovered and logged at
// error level, with the panic value and the stack.
func TestPanicInTimer(t *testing.T) {
	var logs bytes.Buffer
	srv := New(Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	srv.safely("test", func() { panic("test panic in a timer") })
	got := logs.String()
	for _, want := range []string{`level=ERROR`, `msg="panic in test; recovered"`, `panic="test panic in a timer"`, `stack=`, `TestPanicInTimer`} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %s:\n%s", want, got)
		}
	}
}
