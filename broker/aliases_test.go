package broker

// Topic Aliases both ways (5.0 section 3.3.2.3.4): the client→server map of
// each connection, and the aliases the broker chooses for repeated topics
// towards clients that allow them.

import (
	"fmt"
	"slices"
	"testing"
	"testing/synctest"

	paho "github.com/eclipse/paho.golang/paho"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// aliasSub connects a 5.0 subscriber to filter announcing Topic Alias
// Maximum max (absent when mark is false and max is 0).
func aliasSub(t *testing.T, srv *Server, id string, max uint16, mark bool, filter string) *testkit.Peer {
	t.Helper()
	p := clean5(id)
	p.Properties.TopicAliasMaximum = max
	if mark {
		p.Properties.Mark(codec.PropTopicAliasMaximum)
	}
	c, _ := pipeConnect(t, srv, codec.V5, p)
	c.Subscribe(t, 0, filter)
	return c
}

// TestServerTopicAliases: the broker gives a topic an alias the first time
// it sends it to a client that allows aliases (topic and alias together) and
// afterwards sends only the alias with an empty topic; aliases are never 0
// [MQTT-5:3.3.2-8] and never above the client's Topic Alias Maximum
// [MQTT-5:3.1.2-26] [MQTT-5:3.3.2-11].
func TestServerTopicAliases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := startPipeServer(t, nil)
		c := aliasSub(t, srv, "sa", 3, true, "sa/#")
		pub, _ := pipeConnect(t, srv, codec.V5, clean5("sa-pub"))
		for _, topic := range []string{"sa/a", "sa/a", "sa/b", "sa/a", "sa/b", "sa/c"} {
			pub.Publish(t, 0, topic, topic)
		}
		for _, want := range []struct {
			topic   string
			alias   uint16
			payload string
		}{
			{"sa/a", 1, "sa/a"}, {"", 1, "sa/a"}, {"sa/b", 2, "sa/b"}, {"", 1, "sa/a"}, {"", 2, "sa/b"}, {"sa/c", 3, "sa/c"},
		} {
			p := testkit.Expect[*codec.Publish](t, c)
			if p.Topic != want.topic || p.Properties.TopicAlias != want.alias || string(p.Payload) != want.payload {
				t.Fatalf("got PUBLISH topic %q alias %d payload %q, want topic %q alias %d payload %q",
					p.Topic, p.Properties.TopicAlias, p.Payload, want.topic, want.alias, want.payload)
			}
		}
		c.ExpectIdle(t)
	})
}

// TestServerTopicAliasReassignment: with more topics than the client's
// Topic Alias Maximum the broker reassigns aliases, always sending the
// topic with the alias it reassigns, so a client resolving aliases as the
// spec says gets every topic right; no alias exceeds the maximum
// [MQTT-5:3.1.2-26].
func TestServerTopicAliasReassignment(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := startPipeServer(t, nil)
		const max = 2
		c := aliasSub(t, srv, "sr", max, true, "sr/#")
		c.Subscribe(t, 1, "sr/#") // QoS 1: the acknowledgements cross the aliased packets
		pub, _ := pipeConnect(t, srv, codec.V5, clean5("sr-pub"))
		var topics []string
		for i := range 60 {
			topics = append(topics, fmt.Sprintf("sr/%d", (i*i+i/3)%5))
		}
		for i, topic := range topics {
			pub.Publish(t, 1, topic, fmt.Sprint(i))
		}
		r := newAliasResolver(max)
		for i, want := range topics {
			p := testkit.Expect[*codec.Publish](t, c)
			if got := r.resolve(t, p); got != want || string(p.Payload) != fmt.Sprint(i) {
				t.Fatalf("message %d resolved to %s %q, want %s", i, got, p.Payload, want)
			}
			c.Ack(t, p)
		}
		c.ExpectIdle(t)
		if r.reused == 0 {
			t.Error("no PUBLISH used an alias alone: the broker did not reuse aliases")
		}
	})
}

// TestNoServerTopicAliases: a client that sends no Topic Alias Maximum, or
// 0, gets no Topic Alias [MQTT-5:3.1.2-27]; nor does one that allows them
// when Options.DisableTopicAliases is set.
func TestNoServerTopicAliases(t *testing.T) {
	for _, tc := range []struct {
		name    string
		max     uint16
		mark    bool
		disable bool
	}{
		{"absent", 0, false, false},
		{"zero", 0, true, false},
		{"DisableTopicAliases", 10, true, true},
	} {
		inBubble(t, tc.name, func(t *testing.T) {
			srv := startPipeServer(t, &Options{DisableTopicAliases: tc.disable})
			c := aliasSub(t, srv, "na", tc.max, tc.mark, "na/#")
			pub, _ := pipeConnect(t, srv, codec.V5, clean5("na-pub"))
			for range 3 {
				pub.Publish(t, 0, "na/t", "x")
			}
			for range 3 {
				p := c.ExpectPublish(t, `q0 dup=0 retain=0 na/t "x"`)
				if p.Properties.Has(codec.PropTopicAlias) {
					t.Fatalf("PUBLISH with Topic Alias %d", p.Properties.TopicAlias)
				}
			}
			c.ExpectIdle(t)
		})
	}
}

// TestServerTopicAliasesPerConnection: the broker's aliases belong to one
// connection. A QoS 1 message first sent as an alias alone is re-sent on
// the next connection with its topic, and the new connection's aliases
// start afresh, so a client that (rightly) forgets its mappings
// [MQTT-5:3.3.2-7] can read everything.
func TestServerTopicAliasesPerConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := startPipeServer(t, nil)
		connect := func(clean bool) (*testkit.Peer, *aliasResolver) {
			p := persistent(codec.V5, "pc")
			p.CleanStart = clean
			p.Properties.TopicAliasMaximum = 2
			c, _ := pipeConnect(t, srv, codec.V5, p)
			return c, newAliasResolver(2)
		}
		c, r := connect(true)
		c.Subscribe(t, 1, "pc/t")
		pub, _ := pipeConnect(t, srv, codec.V5, clean5("pc-pub"))
		pub.Publish(t, 1, "pc/t", "one")
		pub.Publish(t, 1, "pc/t", "two")
		one := testkit.Expect[*codec.Publish](t, c)
		two := testkit.Expect[*codec.Publish](t, c)
		if r.resolve(t, one) != "pc/t" || r.resolve(t, two) != "pc/t" || two.Topic != "" {
			t.Fatalf("got %s and %s, want pc/t with an alias, then the alias alone", testkit.Describe(one), testkit.Describe(two))
		}
		c.Ack(t, one)
		c.Close() // "two" unacknowledged

		c, r = connect(false)
		again := testkit.Expect[*codec.Publish](t, c)
		if !again.Dup || string(again.Payload) != "two" || r.resolve(t, again) != "pc/t" {
			t.Fatalf("got %s, want \"two\" re-sent with DUP and its topic", testkit.Describe(again))
		}
		c.Ack(t, again)
		pub.Publish(t, 1, "pc/t", "three")
		if p := c.ExpectMessage(t, "", "three"); r.resolve(t, p) != "pc/t" {
			t.Fatalf("got %s, want pc/t", testkit.Describe(p))
		}
		c.ExpectIdle(t)
	})
}

// TestClientTopicAliases: the server accepts every alias from 1 to the
// Topic Alias Maximum it announced [MQTT-5:3.3.2-12], resolves alias-only
// PUBLISH packets to the topic last set for the alias (a client may map an
// alias to another topic), and forwards the full topic without the
// publisher's alias to 5.0 and 3.1.1 subscribers. The mappings die with
// the connection [MQTT-5:3.3.2-7]: on the next connection an alias alone
// is unknown, a Protocol Error.
func TestClientTopicAliases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const max = 4
		srv := startPipeServer(t, &Options{TopicAliasMaximum: max})
		s5, _ := pipeConnect(t, srv, codec.V5, clean5("ca-s5"))
		s5.Subscribe(t, 1, "ca/#")
		s3, _ := pipeConnect(t, srv, codec.V311, &codec.Connect{ClientID: "ca-s3", CleanStart: true})
		s3.Subscribe(t, 1, "ca/#")
		c, ack := pipeConnect(t, srv, codec.V5, persistent(codec.V5, "ca"))
		if ack.Properties.TopicAliasMaximum != max {
			t.Fatalf("CONNACK Topic Alias Maximum %d, want %d", ack.Properties.TopicAliasMaximum, max)
		}
		aliased := func(alias uint16, topic, payload string) *codec.Publish {
			p := withAlias(alias, topic)
			p.QoS, p.Payload = 1, []byte(payload)
			return p
		}
		type sent struct{ topic, payload string }
		var want []sent
		for a := uint16(1); a <= max; a++ {
			topic := fmt.Sprintf("ca/%d", a)
			c.PublishWith(t, aliased(a, topic, "set"))
			want = append(want, sent{topic, "set"})
		}
		for a := uint16(max); a >= 1; a-- {
			c.PublishWith(t, aliased(a, "", "alias only"))
			want = append(want, sent{fmt.Sprintf("ca/%d", a), "alias only"})
		}
		c.PublishWith(t, aliased(2, "ca/remapped", "remap"))
		c.PublishWith(t, aliased(2, "", "after remap"))
		want = append(want, sent{"ca/remapped", "remap"}, sent{"ca/remapped", "after remap"})

		for _, s := range []*testkit.Peer{s5, s3} {
			for _, w := range want {
				p := s.ExpectMessage(t, w.topic, w.payload)
				if p.Properties.Has(codec.PropTopicAlias) {
					t.Fatalf("forwarded %s with the publisher's Topic Alias %d", testkit.Describe(p), p.Properties.TopicAlias)
				}
			}
			s.ExpectIdle(t)
		}

		c.Disconnect(t)
		c, _ = pipeConnect(t, srv, codec.V5, persistent(codec.V5, "ca"))
		forgotten := aliased(1, "", "forgotten")
		forgotten.PacketID = 1
		c.Send(t, forgotten)
		expectDisconnect(t, c, codec.ProtocolError)
		s5.ExpectIdle(t)
	})
}

// TestPaho5TopicAliases: paho.golang as the receiver of server aliases
// (with Topic Alias Maximum 2 in its CONNECT; its StandardRouter resolves
// them, so each topic's handler sees exactly that topic's messages) and as
// the sender of its own aliases, which the broker resolves
// [MQTT-5:3.3.2-12].
func TestPaho5TopicAliases(t *testing.T) {
	t.Parallel()
	srv := startServer(t, nil)
	topics := []string{"pal/a", "pal/b", "pal/c"}
	router := paho.NewStandardRouter()
	got := map[string]chan msg{}
	aliased := make(chan uint16, 256)
	for _, topic := range topics {
		ch := make(chan msg, 64)
		got[topic] = ch
		router.RegisterHandler(topic, func(p *paho.Publish) {
			if p.Properties != nil && p.Properties.TopicAlias != nil {
				aliased <- *p.Properties.TopicAlias
			}
			ch <- msg{Topic: p.Topic, Payload: string(p.Payload), QoS: p.QoS}
		})
	}
	withRouter := func(cc *paho.ClientConfig) {
		cc.OnPublishReceived = nil
		cc.Router = router // deprecated in v0.23, but its StandardRouter resolves Topic Aliases
	}
	sub := connectP5(t, srv.Addr, p5Props("pal-sub", func(p *paho.ConnectProperties) { p.TopicAliasMaximum = u16(2) }), withRouter)
	sub.sub(t, "pal/#", 1)

	pub := connectP5(t, srv.Addr, v5conn("pal-pub", true, 0))
	order := []int{0, 0, 1, 1, 2, 0, 2, 1, 0}
	for i, k := range order {
		p := &paho.Publish{Topic: topics[k], QoS: 1, Payload: []byte(fmt.Sprint(i))}
		// The publisher uses its own aliases, one per topic.
		p.Properties = &paho.PublishProperties{TopicAlias: u16(uint16(k + 1))}
		if i > 0 && slices.Contains(order[:i], k) {
			p.Topic = ""
		}
		if rc := pub.pub(t, p); rc != 0 {
			t.Fatalf("PUBLISH %d: reason code %#x", i, rc)
		}
	}
	for i, k := range order {
		m := testkit.WaitFor(t, got[topics[k]], fmt.Sprintf("message %d on %s", i, topics[k]))
		if m.Payload != fmt.Sprint(i) {
			t.Fatalf("%s: got payload %q, want %d", topics[k], m.Payload, i)
		}
	}
	close(aliased)
	n := 0
	for a := range aliased {
		if a == 0 || a > 2 {
			t.Errorf("Topic Alias %d outside 1..2 [MQTT-5:3.1.2-26]", a)
		}
		n++
	}
	if n != len(order) {
		t.Errorf("%d of %d PUBLISH packets had a Topic Alias, want all", n, len(order))
	}
}

// TestServerTopicAliasWithinMaximumPacketSize: a Topic Alias makes a
// PUBLISH that also carries its topic 3 bytes longer. A message that fits
// the client's Maximum Packet Size without an alias is still delivered, in
// a packet no larger than that maximum [MQTT-5:3.1.2-24] (so without an
// alias), and aliases go on working for the messages that have room.
func TestServerTopicAliasWithinMaximumPacketSize(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := startPipeServer(t, nil)
		const limit = 64
		p := clean5("am")
		p.Properties.MaximumPacketSize = limit
		p.Properties.TopicAliasMaximum = 2
		c, _ := pipeConnect(t, srv, codec.V5, p)
		c.Subscribe(t, 1, "am/#")
		pub, _ := pipeConnect(t, srv, codec.V5, clean5("am-pub"))
		full := string(make([]byte, payloadFor(t, "am/t", limit)))
		for _, payload := range []string{full, full, "small", "small", full} {
			pub.Publish(t, 1, "am/t", payload)
		}
		r := newAliasResolver(2)
		for i, want := range []string{full, full, "small", "small", full} {
			got := testkit.Expect[*codec.Publish](t, c)
			if n := len(testkit.Encode(codec.V5, got)); n > limit {
				t.Fatalf("message %d: PUBLISH of %d bytes, above the client's Maximum Packet Size %d", i, n, limit)
			}
			if topic := r.resolve(t, got); topic != "am/t" || string(got.Payload) != want {
				t.Fatalf("message %d: got %s %q", i, topic, got.Payload)
			}
			c.Ack(t, got)
		}
		c.ExpectIdle(t)
		if r.reused == 0 {
			t.Error("no alias used for the messages that had room for one")
		}
		if d := srv.Stats().Dropped.Load(); d != 0 {
			t.Errorf("Stats().Dropped = %d, want 0: every message fits without an alias", d)
		}
	})
}
