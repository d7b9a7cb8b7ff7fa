package client_test

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"

	"github.com/ternmq/tern/internal/testkit"
)

// Messages that match no subscription of the Client, such as those a
// server sends right after the CONNACK for a resumed persistent session,
// go to Options.DefaultHandler, and are acknowledged once it returns;
// messages of a subscription go to its own handler only.
func TestDefaultHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		def, sub := newInbox(), newInbox()
		c, s, _ := fakeConnect(t, client.Options{ClientID: "back", DefaultHandler: def.handle,
			ConnectProperties: codec.Properties{SessionExpiryInterval: 600}},
			&codec.Connack{SessionPresent: true})
		// Queued for the session before this Client subscribed, one of
		// them with the old session's Subscription Identifier.
		old := &codec.Publish{Topic: "chat/room/messages", QoS: 1, PacketID: 7, Payload: []byte("while away")}
		old.Properties.SubscriptionIdentifiers = []int{3}
		s.send(old, &codec.Publish{Topic: "$SYS/x", Payload: []byte("q0")})
		def.expect(t, "chat/room/messages", "while away")
		def.expect(t, "$SYS/x", "q0")
		if a := s.nextAck(codec.PUBACK); a.PacketID != 7 {
			t.Errorf("PUBACK for %d, want 7", a.PacketID)
		}

		done := async(func() error {
			_, err := c.Subscribe(context.Background(), sub.handle, codec.Subscription{Filter: "chat/+/messages", QoS: 1})
			return err
		})
		sp := s.next().(*codec.Subscribe)
		s.send(&codec.Suback{PacketID: sp.PacketID, ReasonCodes: []codec.ReasonCode{1}})
		if err := testkit.WaitFor(t, done, "Subscribe"); err != nil {
			t.Fatal(err)
		}
		live := &codec.Publish{Topic: "chat/room/messages", QoS: 1, PacketID: 8, Payload: []byte("live")}
		live.Properties.SubscriptionIdentifiers = sp.Properties.SubscriptionIdentifiers
		s.send(live)
		sub.expect(t, "chat/room/messages", "live")
		s.nextAck(codec.PUBACK)
		// Still queued under the old identifier: the default handler.
		s.send(old)
		def.expect(t, "chat/room/messages", "while away")
		s.nextAck(codec.PUBACK)
		synctest.Wait()
		if len(def) != 0 || len(sub) != 0 {
			t.Errorf("%d and %d unexpected messages", len(def), len(sub))
		}
	})
}
