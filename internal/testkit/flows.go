package testkit

import (
	"fmt"
	"testing"

	"github.com/ternmq/tern/codec"
)

// Subscribe subscribes to each filter at qos and fails unless every
// subscription is granted.
func (c *Peer) Subscribe(t testing.TB, qos codec.QoS, filters ...string) {
	t.Helper()
	s := &codec.Subscribe{PacketID: c.PID()}
	for _, f := range filters {
		s.Subscriptions = append(s.Subscriptions, codec.Subscription{Filter: f, QoS: qos})
	}
	c.SubscribeWith(t, s)
}

// SubscribeWith sends s and fails unless every subscription is granted at
// the requested QoS.
func (c *Peer) SubscribeWith(t testing.TB, s *codec.Subscribe) {
	t.Helper()
	if s.PacketID == 0 {
		s.PacketID = c.PID()
	}
	c.Send(t, s)
	ack := Expect[*codec.Suback](t, c)
	if ack.PacketID != s.PacketID || len(ack.ReasonCodes) != len(s.Subscriptions) {
		t.Fatalf("got %s for SUBSCRIBE id=%d with %d filters", Describe(ack), s.PacketID, len(s.Subscriptions))
	}
	for i, rc := range ack.ReasonCodes {
		if rc != codec.ReasonCode(s.Subscriptions[i].QoS) {
			t.Fatalf("SUBACK code 0x%02x for %q, want 0x%02x", byte(rc), s.Subscriptions[i].Filter, s.Subscriptions[i].QoS)
		}
	}
}

// Publish sends a PUBLISH and completes its QoS flow: it waits for the
// PUBACK, or for the PUBREC, answers PUBREL and waits for the PUBCOMP.
func (c *Peer) Publish(t testing.TB, qos codec.QoS, topic, payload string) {
	t.Helper()
	c.PublishWith(t, &codec.Publish{QoS: qos, Topic: topic, Payload: []byte(payload)})
}

// PublishWith sends p (with a fresh packet identifier when it needs one)
// and completes its QoS flow with Success codes.
func (c *Peer) PublishWith(t testing.TB, p *codec.Publish) {
	t.Helper()
	if p.QoS > 0 && p.PacketID == 0 {
		p.PacketID = c.PID()
	}
	c.Send(t, p)
	switch p.QoS {
	case 1:
		c.ExpectDescribed(t, fmt.Sprintf("PUBACK id=%d rc=0x00", p.PacketID))
	case 2:
		c.ExpectDescribed(t, fmt.Sprintf("PUBREC id=%d rc=0x00", p.PacketID))
		c.Send(t, &codec.Pubrel{Ack: codec.Ack{PacketID: p.PacketID}})
		c.ExpectDescribed(t, fmt.Sprintf("PUBCOMP id=%d rc=0x00", p.PacketID))
	}
}

// ExpectMessage receives a PUBLISH and checks its topic and payload. A
// QoS 1 message is acknowledged; a QoS 2 message is taken through PUBREC,
// PUBREL and PUBCOMP.
func (c *Peer) ExpectMessage(t testing.TB, topic, payload string) *codec.Publish {
	t.Helper()
	p := Expect[*codec.Publish](t, c)
	if p.Topic != topic || string(p.Payload) != payload {
		t.Fatalf("got %s, want a PUBLISH to %q with %q", Describe(p), topic, payload)
	}
	c.Ack(t, p)
	return p
}

// ExpectPublish receives a PUBLISH and compares it, leaving out the packet
// identifier the other side chose, with want, written like
// `q1 dup=0 retain=1 a/b "payload"`. It does not acknowledge it.
func (c *Peer) ExpectPublish(t testing.TB, want string) *codec.Publish {
	t.Helper()
	p := Expect[*codec.Publish](t, c)
	got := fmt.Sprintf("q%d dup=%d retain=%d %s %q", p.QoS, b2i(p.Dup), b2i(p.Retain), p.Topic, p.Payload)
	if got != want {
		t.Fatalf("got %s, want PUBLISH %s", Describe(p), want)
	}
	return p
}

// Ack acknowledges a received PUBLISH as its QoS requires.
func (c *Peer) Ack(t testing.TB, p *codec.Publish) {
	t.Helper()
	switch p.QoS {
	case 1:
		c.Send(t, &codec.Puback{Ack: codec.Ack{PacketID: p.PacketID}})
	case 2:
		c.Send(t, &codec.Pubrec{Ack: codec.Ack{PacketID: p.PacketID}})
		c.ExpectDescribed(t, fmt.Sprintf("PUBREL id=%d rc=0x00", p.PacketID))
		c.Send(t, &codec.Pubcomp{Ack: codec.Ack{PacketID: p.PacketID}})
	}
}
