package broker

// Helpers shared by the MQTT 5 completeness tests (mqtt5_test.go,
// flow_test.go, aliases_test.go, shared_test.go, props_test.go).

import (
	"fmt"
	"testing"

	paho "github.com/eclipse/paho.golang/paho"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// sessionOf returns the broker's session for a client id, failing the test
// when there is none. White box: tests use it to set up states that would
// take tens of thousands of packets to reach (packet identifier wrap).
func sessionOf(t testing.TB, srv *Server, id string) *session {
	t.Helper()
	srv.mu.Lock()
	defer srv.mu.Unlock()
	ss := srv.sessions[id]
	if ss == nil {
		t.Fatalf("no session for client id %q", id)
	}
	return ss
}

// clean5 is a CONNECT for a 5.0 client with a clean session that ends with
// its connection.
func clean5(id string) *codec.Connect {
	return &codec.Connect{Version: codec.V5, ClientID: id, CleanStart: true}
}

// pub5 is a PUBLISH of payload to topic at qos; edit, if not nil, sets its
// properties.
func pub5(qos codec.QoS, topic, payload string, edit func(p *codec.Properties)) *codec.Publish {
	p := &codec.Publish{QoS: qos, Topic: topic, Payload: []byte(payload)}
	if edit != nil {
		edit(&p.Properties)
	}
	return p
}

// expiring sets a Message Expiry Interval.
func expiring(secs uint32) func(p *codec.Properties) {
	return func(p *codec.Properties) {
		p.MessageExpiryInterval = secs
		p.Mark(codec.PropMessageExpiryInterval)
	}
}

// wantExpiry checks the Message Expiry Interval of a received PUBLISH.
func wantExpiry(t testing.TB, p *codec.Publish, want uint32) {
	t.Helper()
	if !p.Properties.Has(codec.PropMessageExpiryInterval) || p.Properties.MessageExpiryInterval != want {
		t.Errorf("%s: Message Expiry Interval %d (present %v), want %d", testkit.Describe(p),
			p.Properties.MessageExpiryInterval, p.Properties.Has(codec.PropMessageExpiryInterval), want)
	}
}

// expectDisconnect receives a DISCONNECT with reason code rc that explains
// itself with a Reason String and carries no Session Expiry Interval
// [MQTT-5:3.14.2-2], and then the end of the connection with nothing after
// the DISCONNECT [MQTT-5:3.14.4-1] [MQTT-5:3.14.4-2].
func expectDisconnect(t testing.TB, c *testkit.Peer, rc codec.ReasonCode) *codec.Disconnect {
	t.Helper()
	d := testkit.Expect[*codec.Disconnect](t, c)
	if d.ReasonCode != rc {
		t.Fatalf("DISCONNECT reason code 0x%02x (%q), want 0x%02x", byte(d.ReasonCode), d.Properties.ReasonString, byte(rc))
	}
	if d.Properties.ReasonString == "" {
		t.Errorf("DISCONNECT 0x%02x without a Reason String", byte(rc))
	}
	if d.Properties.Has(codec.PropSessionExpiryInterval) {
		t.Errorf("server DISCONNECT carries a Session Expiry Interval [MQTT-5:3.14.2-2]")
	}
	c.ExpectClosed(t)
	return d
}

// aliasResolver is the receiving side of server→client Topic Aliases, as
// a client implements it: it checks every alias against the maximum the
// client sent and rebuilds the topic of each PUBLISH.
type aliasResolver struct {
	max    uint16
	topics map[uint16]string
	// reused counts PUBLISH packets that came with an alias and no topic.
	reused int
}

func newAliasResolver(max uint16) *aliasResolver {
	return &aliasResolver{max: max, topics: make(map[uint16]string)}
}

// resolve returns the topic of p, failing on any alias the client did not
// allow or does not know.
func (r *aliasResolver) resolve(t testing.TB, p *codec.Publish) string {
	t.Helper()
	alias := p.Properties.TopicAlias
	if !p.Properties.Has(codec.PropTopicAlias) {
		if p.Topic == "" {
			t.Fatalf("%s: no topic and no Topic Alias", testkit.Describe(p))
		}
		return p.Topic
	}
	switch {
	case alias == 0:
		t.Fatalf("%s: Topic Alias 0 [MQTT-5:3.3.2-8]", testkit.Describe(p))
	case alias > r.max:
		t.Fatalf("%s: Topic Alias %d above the client's Topic Alias Maximum %d [MQTT-5:3.1.2-26]", testkit.Describe(p), alias, r.max)
	}
	if p.Topic != "" {
		r.topics[alias] = p.Topic
		return p.Topic
	}
	topic, ok := r.topics[alias]
	if !ok {
		t.Fatalf("%s: Topic Alias %d was never set on this connection", testkit.Describe(p), alias)
	}
	r.reused++
	return topic
}

// p5Props returns a paho CONNECT for a clean session with properties set by
// edit (RequestProblemInfo defaults to true as in the spec).
func p5Props(id string, edit func(p *paho.ConnectProperties)) *paho.Connect {
	cp := &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30,
		Properties: &paho.ConnectProperties{RequestProblemInfo: true}}
	if edit != nil {
		edit(cp.Properties)
	}
	return cp
}

// u16, u32 and b8 return pointers, for paho's optional properties.
func u16(v uint16) *uint16 { return &v }
func u32(v uint32) *uint32 { return &v }
func b8(v byte) *byte      { return &v }

// payloads returns "0".."n-1".
func payloads(n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprint(i)
	}
	return s
}
