package bridge

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"
)

func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		kind     string
		code     int
		codeName string
		op       string
	}{
		{"refused credentials",
			&client.ReasonError{Op: "connect", Code: codec.BadUserNameOrPassword},
			KindReason, 0x86, "Bad User Name or Password", "connect"},
		{"lost with a server DISCONNECT",
			fmt.Errorf("%w: %w", client.ErrConnectionLost, &client.ReasonError{Op: "disconnect", Code: codec.SessionTakenOver}),
			KindClosed, 0x8E, "Session taken over", "disconnect"},
		{"closed", client.ErrClosed, KindClosed, -1, "", ""},
		{"not connected", client.ErrNotConnected, KindNotConnected, -1, "", ""},
		{"timeout", fmt.Errorf("connect: %w", context.DeadlineExceeded), KindTimeout, -1, "", ""},
		{"bad topic", fmt.Errorf("mqtt: publish: %w", &codec.Error{Code: codec.TopicNameInvalid, Rule: "MQTT-4.7.1-1", Msg: "wildcard"}),
			KindInvalid, 0x90, "Topic Name invalid", ""},
		{"invalid option", invalid("connect: nope"), KindInvalid, -1, "", ""},
		{"dial", errors.New(`mqtt: cannot open WebSocket ws://h/mqtt: failed (check ...)`), KindDial, -1, "", ""},
		{"scheme", errors.New(`mqtt: unsupported scheme "http" in "http://h": use ws://`), KindInvalid, -1, "", ""},
		{"other", errors.New("boom"), KindError, -1, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Describe(tc.err)
			if got.Kind != tc.kind || got.Code != tc.code || got.Op != tc.op || got.Message != tc.err.Error() {
				t.Errorf("Describe = %+v, want kind %q code %d op %q", got, tc.kind, tc.code, tc.op)
			}
			if tc.codeName != "" && got.CodeName != tc.codeName {
				t.Errorf("code name %q, want %q", got.CodeName, tc.codeName)
			}
		})
	}
}
