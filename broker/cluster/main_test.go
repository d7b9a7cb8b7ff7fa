package cluster

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// nats-server v2.15.3 sometimes leaves the state flusher of a
		// stream's file store (and the access-time service it
		// registered) running after Shutdown when three in-process
		// servers stop one after the other with R3 streams (about one
		// full run of this package in three). Not a goroutine of ours.
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*fileStore).flushStreamStateLoop"),
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server/ats.Register.func1"),
	)
}
