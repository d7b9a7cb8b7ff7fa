package broker

import (
	"strings"
	"testing"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// TestLimits: each cap refuses with its reason code, is counted, and
// leaves other clients receiving. The deep-topic case (65,533 levels,
// which grew the broker by almost 1 GB over 50 messages before the cap) is
// refused at the first PUBLISH.
func TestLimits(t *testing.T) {
	deep := strings.Repeat("/", 65533)
	cases := []struct {
		name string
		v    codec.Version
		opts Options
		run  func(t *testing.T, srv *Server, c *testkit.Peer)
	}{
		{"deep topic 5.0", codec.V5, Options{}, func(t *testing.T, _ *Server, c *testkit.Peer) {
			c.Send(t, &codec.Publish{Retain: true, Topic: deep, Payload: []byte("x")})
			expectDisconnect(t, c, codec.TopicNameInvalid)
		}},
		{"deep topic 3.1.1", codec.V311, Options{}, func(t *testing.T, _ *Server, c *testkit.Peer) {
			c.Send(t, &codec.Publish{QoS: 1, PacketID: 1, Retain: true, Topic: deep, Payload: []byte("x")})
			c.ExpectClosed(t)
		}},
		{"deep filter", codec.V5, Options{MaxTopicLevels: 4}, func(t *testing.T, _ *Server, c *testkit.Peer) {
			c.Send(t, &codec.Subscribe{PacketID: 1, Subscriptions: []codec.Subscription{{Filter: "a/b/c/d/e"}, {Filter: "a/b/c/d"}}})
			c.ExpectDescribed(t, "SUBACK id=1 [0x8f 0x00]")
		}},
		{"subscriptions 5.0", codec.V5, Options{MaxSubscriptionsPerClient: 2}, func(t *testing.T, _ *Server, c *testkit.Peer) {
			c.Send(t, &codec.Subscribe{PacketID: 1, Subscriptions: []codec.Subscription{{Filter: "a"}, {Filter: "b"}, {Filter: "c"}, {Filter: "a", QoS: 1}}})
			c.ExpectDescribed(t, "SUBACK id=1 [0x00 0x00 0x97 0x01]")
		}},
		{"subscriptions 3.1.1", codec.V311, Options{MaxSubscriptionsPerClient: 1}, func(t *testing.T, _ *Server, c *testkit.Peer) {
			c.Send(t, &codec.Subscribe{PacketID: 1, Subscriptions: []codec.Subscription{{Filter: "a"}, {Filter: "b"}}})
			c.ExpectDescribed(t, "SUBACK id=1 [0x00 0x80]")
		}},
		{"retained per client 5.0", codec.V5, Options{MaxRetainedPerClient: 1}, func(t *testing.T, _ *Server, c *testkit.Peer) {
			c.Send(t, &codec.Publish{QoS: 1, PacketID: 1, Retain: true, Topic: "r/1", Payload: []byte("x")},
				&codec.Publish{QoS: 1, PacketID: 2, Retain: true, Topic: "r/1", Payload: []byte("replaced")},
				&codec.Publish{QoS: 1, PacketID: 3, Retain: true, Topic: "r/2", Payload: []byte("x")},
				&codec.Publish{QoS: 2, PacketID: 4, Retain: true, Topic: "r/3", Payload: []byte("x")})
			c.ExpectDescribed(t, "PUBACK id=1 rc=0x00", "PUBACK id=2 rc=0x00", "PUBACK id=3 rc=0x97", "PUBREC id=4 rc=0x97")
			c.Send(t, &codec.Publish{Retain: true, Topic: "r/4", Payload: []byte("x")})
			expectDisconnect(t, c, codec.QuotaExceeded)
		}},
		{"retained bytes per client 3.1.1", codec.V311, Options{MaxRetainedBytesPerClient: 10}, func(t *testing.T, _ *Server, c *testkit.Peer) {
			c.Send(t, &codec.Publish{QoS: 1, PacketID: 1, Retain: true, Topic: "r/1", Payload: []byte("1234567")})
			c.ExpectDescribed(t, "PUBACK id=1 rc=0x00")
			c.Send(t, &codec.Publish{QoS: 1, PacketID: 2, Retain: true, Topic: "r/2", Payload: []byte("x")})
			c.ExpectClosed(t)
		}},
		{"retained bytes in all", codec.V5, Options{MaxRetainedBytes: 10}, func(t *testing.T, _ *Server, c *testkit.Peer) {
			c.Send(t, &codec.Publish{QoS: 1, PacketID: 1, Retain: true, Topic: "r/1", Payload: []byte("123456")},
				&codec.Publish{QoS: 1, PacketID: 2, Retain: true, Topic: "r/1", Payload: []byte("")},
				&codec.Publish{QoS: 1, PacketID: 3, Retain: true, Topic: "r/2", Payload: []byte("123456")},
				&codec.Publish{QoS: 1, PacketID: 4, Retain: true, Topic: "r/3", Payload: []byte("1")})
			c.ExpectDescribed(t, "PUBACK id=1 rc=0x00", "PUBACK id=2 rc=0x00", "PUBACK id=3 rc=0x00", "PUBACK id=4 rc=0x97")
		}},
		{"sessions", codec.V5, Options{MaxSessions: 2}, func(t *testing.T, srv *Server, c *testkit.Peer) {
			extra := pipeRaw(t, srv, codec.V5)
			extra.Send(t, clean5("one-too-many"))
			extra.ExpectDescribed(t, "CONNACK sp=0 rc=0x97")
			extra.ExpectClosed(t)
			c.Disconnect(t) // its session ends: room for one more
		}},
	}
	for _, tc := range cases {
		inBubble(t, tc.name, func(t *testing.T) {
			srv := startPipeServer(t, &tc.opts)
			other, _ := pipeConnect(t, srv, codec.V5, clean5("other"))
			other.Subscribe(t, 0, "other")
			c, _ := pipeConnect(t, srv, tc.v, &codec.Connect{ClientID: "limited", CleanStart: true})
			tc.run(t, srv, c)
			if srv.Stats().LimitRefusals.Load() == 0 {
				t.Error("the refusal was not counted")
			}
			pub, _ := pipeConnect(t, srv, codec.V5, clean5("pub"))
			pub.Publish(t, 1, "other", "still here")
			other.ExpectMessage(t, "other", "still here")
		})
	}
}
