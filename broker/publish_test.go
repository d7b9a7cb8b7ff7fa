package broker

import (
	"testing"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// Server.Publish reaches current subscribers, also on $SYS, and a retained
// message is kept for the next; an invalid topic is refused.
func TestServerPublish(t *testing.T) {
	srv := startServer(t, nil)
	sub := testkit.Dial(t, srv.Addr, codec.V5)
	sub.Connect(t, &codec.Connect{Version: codec.V5, CleanStart: true, ClientID: "sub"})
	sub.Subscribe(t, 1, "$SYS/broker/connection/#")
	if err := srv.Publish(&Message{Topic: "$SYS/broker/connection/b/state", Payload: []byte("1"), QoS: 1, Retain: true}); err != nil {
		t.Fatal(err)
	}
	sub.Ack(t, sub.ExpectMessage(t, "$SYS/broker/connection/b/state", "1"))

	late := testkit.Dial(t, srv.Addr, codec.V311)
	late.Connect(t, &codec.Connect{Version: codec.V311, CleanStart: true, ClientID: "late"})
	late.Subscribe(t, 0, "$SYS/broker/connection/+/state")
	if p := late.ExpectMessage(t, "$SYS/broker/connection/b/state", "1"); !p.Retain {
		t.Error("retained state delivered without RETAIN")
	}
	for _, bad := range []string{"", "a/+", "a/#"} {
		if err := srv.Publish(&Message{Topic: bad}); err == nil {
			t.Errorf("Publish to %q accepted", bad)
		}
	}
}
