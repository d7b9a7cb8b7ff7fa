package broker

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/ternmq/tern/codec"
)

// TestShutdownPublishesWills: Shutdown closes every connection as an
// unexpected loss, so the will of each connected client is published
// [MQTT-3:3.1.2-8] [MQTT-5:3.1.2-8]. A persistent subscriber's session,
// which outlives the shutdown of its connection, holds the will afterwards.
func TestShutdownPublishesWills(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := startPipeServer(t, nil)
		sub := pipeRaw(t, srv, codec.V5)
		sub.Connect(t, &codec.Connect{ClientID: "sub", Properties: codec.Properties{SessionExpiryInterval: 3600}})
		sub.Subscribe(t, 1, "will/#")

		pub := pipeRaw(t, srv, codec.V311)
		pub.Connect(t, &codec.Connect{ClientID: "pub", CleanStart: true,
			Will: &codec.Will{Topic: "will/pub", Payload: []byte("gone"), QoS: 1}})

		if err := srv.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		pub.ExpectClosed(t)
		synctest.Wait()

		srv.mu.Lock()
		ss := srv.sessions["sub"]
		srv.mu.Unlock()
		if ss == nil {
			t.Fatal("the persistent session did not survive the shutdown of its connection")
		}
		ss.mu.Lock()
		defer ss.mu.Unlock()
		var found bool
		for seq := ss.q.head; seq < ss.q.tail; seq++ {
			d := ss.q.at(seq)
			found = found || d != nil && d.msg.Topic == "will/pub"
		}
		if !found {
			t.Fatal("the will of a client connected at shutdown was not published")
		}
	})
}
