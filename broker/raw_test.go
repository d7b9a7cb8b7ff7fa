package broker

import (
	"fmt"
	"testing"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// negativeCase is one misbehaving client: what it sends, and what the
// server must answer before closing (or while staying open).
type negativeCase struct {
	name  string        // the behaviour and the statements it shows
	v     codec.Version // the version the client speaks
	hello bool          // send a valid CONNECT (and read its CONNACK) first
	bad   []byte        // then send these bytes, in one write
	want  []string      // the packets the server answers with (see describe)
	open  bool          // the connection stays open; else the server closes it
}

// Raw CONNECT bytes for a short client id: fixed header (2 bytes), protocol
// name (bytes 2-7), level (8), flags (9), keep alive (10-11), ...
const (
	connectNameAt  = 4
	connectLevelAt = 8
	connectFlagsAt = 9
)

// edited returns b after edit has changed it: a valid packet made invalid.
func edited(b []byte, edit func(b []byte)) []byte {
	edit(b)
	return b
}

// connectBytes encodes a clean CONNECT for clientID in version v and lets
// edit (if not nil) change its bytes.
func connectBytes(v codec.Version, clientID string, edit func(b []byte)) []byte {
	b := testkit.Encode(v, &codec.Connect{Version: v, ClientID: clientID, CleanStart: true})
	if edit != nil {
		edit(b)
	}
	return b
}

func withAlias(alias uint16, topic string) *codec.Publish {
	p := &codec.Publish{Topic: topic, Payload: []byte("x")}
	p.Properties.TopicAlias = alias
	p.Properties.Mark(codec.PropTopicAlias)
	return p
}

func negativeCases() []negativeCase {
	v3, v5 := codec.V311, codec.V5
	qos1 := &codec.Publish{QoS: 1, PacketID: 1, Topic: "bad/x", Payload: []byte("x")}
	const pidAt = 2 + 2 + len("bad/x") // fixed header, topic length, topic
	sub := &codec.Subscribe{PacketID: 1, Subscriptions: []codec.Subscription{{Filter: "bad/x"}}}
	badFilters := &codec.Subscribe{PacketID: 1, Subscriptions: []codec.Subscription{
		{Filter: "bad/#/x"}, {Filter: "bad+"}, {Filter: "bad/+"},
	}}
	return []negativeCase{
		// Malformed Remaining Length.
		{name: "remaining length of five bytes [MQTT-3:4.8.0-1]", v: v3, hello: true,
			bad: []byte{0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}},
		{name: "remaining length of five bytes [MQTT-5:4.13.1-1]", v: v5, hello: true,
			bad:  []byte{0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01},
			want: []string{"DISCONNECT rc=0x81"}},
		{name: "non-minimal remaining length [MQTT-5:1.5.5-1]", v: v5, hello: true,
			bad:  []byte{0xC0, 0x80, 0x00}, // PINGREQ with Remaining Length 0 in two bytes
			want: []string{"DISCONNECT rc=0x81"}},

		// Bad fixed-header flags.
		{name: "SUBSCRIBE with flags 0 [MQTT-3:3.8.1-1] [MQTT-3:2.2.2-2]", v: v3, hello: true,
			bad: edited(testkit.Encode(v3, sub), func(b []byte) { b[0] = byte(codec.SUBSCRIBE) << 4 })},
		{name: "SUBSCRIBE with flags 0 [MQTT-5:3.8.1-1]", v: v5, hello: true,
			bad:  edited(testkit.Encode(v5, sub), func(b []byte) { b[0] = byte(codec.SUBSCRIBE) << 4 }),
			want: []string{"DISCONNECT rc=0x81"}},
		{name: "PUBREL with flags 0 [MQTT-3:3.6.1-1]", v: v3, hello: true,
			bad: []byte{0x60, 0x02, 0x00, 0x01}},
		{name: "PUBREL with flags 0 [MQTT-5:3.6.1-1]", v: v5, hello: true,
			bad:  []byte{0x60, 0x02, 0x00, 0x01},
			want: []string{"DISCONNECT rc=0x81"}},
		{name: "PUBLISH with QoS 3 [MQTT-3:3.3.1-4]", v: v3, hello: true,
			bad: edited(testkit.Encode(v3, qos1), func(b []byte) { b[0] |= 0b0110 })},
		{name: "PUBLISH with QoS 3 [MQTT-5:3.3.1-4]", v: v5, hello: true,
			bad:  edited(testkit.Encode(v5, qos1), func(b []byte) { b[0] |= 0b0110 }),
			want: []string{"DISCONNECT rc=0x81"}},
		{name: "DISCONNECT with reserved flags [MQTT-3:3.14.1-1]", v: v3, hello: true,
			bad: []byte{0xE1, 0x00}},
		{name: "DISCONNECT with reserved flags [MQTT-5:3.14.1-1]", v: v5, hello: true,
			bad:  []byte{0xE1, 0x00},
			want: []string{"DISCONNECT rc=0x81"}},

		// Bad UTF-8 and bad Topic Names.
		{name: "ill-formed UTF-8 in a topic [MQTT-3:1.5.3-1]", v: v3, hello: true,
			bad: testkit.Encode(v3, &codec.Publish{Topic: "bad/\xff"})},
		{name: "UTF-16 surrogate in a topic [MQTT-5:1.5.4-1]", v: v5, hello: true,
			bad:  testkit.Encode(v5, &codec.Publish{Topic: "bad/\xed\xa0\x80"}),
			want: []string{"DISCONNECT rc=0x81"}},
		{name: "U+0000 in a topic [MQTT-3:1.5.3-2] [MQTT-3:4.7.3-2]", v: v3, hello: true,
			bad: testkit.Encode(v3, &codec.Publish{Topic: "bad/\x00"})},
		{name: "U+0000 in a topic [MQTT-5:1.5.4-2]", v: v5, hello: true,
			bad:  testkit.Encode(v5, &codec.Publish{Topic: "bad/\x00"}),
			want: []string{"DISCONNECT rc=0x81"}},
		{name: "wildcard in a PUBLISH topic [MQTT-3:3.3.2-2] [MQTT-3:4.7.1-1]", v: v3, hello: true,
			bad: testkit.Encode(v3, &codec.Publish{Topic: "bad/+"})},
		{name: "wildcard in a PUBLISH topic [MQTT-5:3.3.2-2]", v: v5, hello: true,
			bad:  testkit.Encode(v5, &codec.Publish{Topic: "bad/+"}),
			want: []string{"DISCONNECT rc=0x90"}},

		// CONNECT ordering and contents.
		{name: "first packet is not CONNECT [MQTT-3.1.0-1]", v: v3,
			bad: []byte{0xC0, 0x00}}, // PINGREQ: no PINGRESP, just a close
		{name: "second CONNECT [MQTT-3:3.1.0-2]", v: v3, hello: true,
			bad: connectBytes(v3, "neg-second", nil)},
		{name: "second CONNECT [MQTT-5:3.1.0-2]", v: v5, hello: true,
			bad:  connectBytes(v5, "neg-second", nil),
			want: []string{"DISCONNECT rc=0x82"}},
		{name: "unsupported protocol level 3 [MQTT-3:3.1.2-2] [MQTT-3:3.2.2-4] [MQTT-3:3.2.2-5]", v: v3,
			bad:  connectBytes(v3, "neg-level", func(b []byte) { b[connectLevelAt] = 3 }),
			want: []string{"CONNACK sp=0 rc=0x01"}},
		{name: "protocol name is not MQTT [MQTT-5:3.1.2-1] [MQTT-5:3.2.2-6] [MQTT-5:3.2.2-7]", v: v5,
			bad:  connectBytes(v5, "neg-name", func(b []byte) { copy(b[connectNameAt:], "MQTX") }),
			want: []string{"CONNACK sp=0 rc=0x84"}},
		{name: "reserved CONNECT flag [MQTT-3:3.1.2-3] [MQTT-3:3.1.4-1]", v: v3,
			bad: connectBytes(v3, "neg-reserved", func(b []byte) { b[connectFlagsAt] |= 1 })},
		{name: "reserved CONNECT flag [MQTT-5:3.1.2-3] [MQTT-5:3.1.4-1]", v: v5,
			bad:  connectBytes(v5, "neg-reserved", func(b []byte) { b[connectFlagsAt] |= 1 }),
			want: []string{"CONNACK sp=0 rc=0x81"}},
		{name: "Will QoS without the Will Flag [MQTT-3:3.1.2-11]", v: v3,
			bad: connectBytes(v3, "neg-willqos", func(b []byte) { b[connectFlagsAt] |= 1 << 3 })},
		{name: "Will QoS without the Will Flag [MQTT-5:3.1.2-11]", v: v5,
			bad:  connectBytes(v5, "neg-willqos", func(b []byte) { b[connectFlagsAt] |= 1 << 3 }),
			want: []string{"CONNACK sp=0 rc=0x81"}},
		{name: "password without a user name [MQTT-3:3.1.2-22]", v: v3,
			bad: connectBytes(v3, "neg-password", func(b []byte) { b[connectFlagsAt] |= 1 << 6 })},
		{name: "empty client id without CleanSession [MQTT-3:3.1.3-8] [MQTT-3:3.2.2-4] [MQTT-3:3.2.2-5]", v: v3,
			bad:  testkit.Encode(v3, &codec.Connect{Version: v3}),
			want: []string{"CONNACK sp=0 rc=0x02"}},
		{name: "empty client id with CleanSession is accepted [MQTT-3:3.1.3-6]", v: v3,
			bad:  testkit.Encode(v3, &codec.Connect{Version: v3, CleanStart: true}),
			want: []string{"CONNACK sp=0 rc=0x00"}, open: true},
		{name: "empty client id gets an Assigned Client Identifier [MQTT-5:3.2.2-16] [MQTT-5:3.1.3-6] [MQTT-5:3.1.3-7]", v: v5,
			bad:  testkit.Encode(v5, &codec.Connect{Version: v5, CleanStart: true}),
			want: []string{"CONNACK sp=0 rc=0x00 assigned"}, open: true},

		// Oversized packets: Options.MaxPacketSize is 512. Only the fixed
		// header is sent: the server refuses before reading the body.
		{name: "packet larger than the server's maximum", v: v3, hello: true,
			bad: []byte{0x30, 0xD8, 0x04}}, // PUBLISH, Remaining Length 600
		{name: "packet larger than the server's Maximum Packet Size", v: v5, hello: true,
			bad:  []byte{0x30, 0xD8, 0x04},
			want: []string{"DISCONNECT rc=0x95"}},

		// Packet identifier 0.
		{name: "QoS 1 PUBLISH with packet id 0 [MQTT-3:2.3.1-1]", v: v3, hello: true,
			bad: edited(testkit.Encode(v3, qos1), func(b []byte) { b[pidAt], b[pidAt+1] = 0, 0 })},
		{name: "QoS 1 PUBLISH with packet id 0 [MQTT-5:2.2.1-3]", v: v5, hello: true,
			bad:  edited(testkit.Encode(v5, qos1), func(b []byte) { b[pidAt], b[pidAt+1] = 0, 0 }),
			want: []string{"DISCONNECT rc=0x82"}},
		{name: "SUBSCRIBE with packet id 0 [MQTT-3:2.3.1-1]", v: v3, hello: true,
			bad: edited(testkit.Encode(v3, sub), func(b []byte) { b[2], b[3] = 0, 0 })},

		// Invalid Topic Filters are refused in the SUBACK; the connection stays.
		{name: "invalid topic filters get SUBACK 0x80 [MQTT-3:4.7.1-2] [MQTT-3:4.7.1-3] [MQTT-3:3.9.3-1] [MQTT-3:3.8.4-5]", v: v3, hello: true,
			bad:  testkit.Encode(v3, badFilters),
			want: []string{"SUBACK id=1 [0x80 0x80 0x00]"}, open: true},
		{name: "invalid topic filters get SUBACK 0x8F [MQTT-5:4.7.1-1] [MQTT-5:4.7.1-2] [MQTT-5:3.9.3-1] [MQTT-5:3.8.4-7]", v: v5, hello: true,
			bad:  testkit.Encode(v5, badFilters),
			want: []string{"SUBACK id=1 [0x8f 0x8f 0x00]"}, open: true},

		// Topic aliases: Options.TopicAliasMaximum is 4.
		{name: "Topic Alias 0 [MQTT-5:3.3.2-8]", v: v5, hello: true,
			bad:  testkit.Encode(v5, withAlias(0, "bad/x")),
			want: []string{"DISCONNECT rc=0x94"}},
		{name: "Topic Alias above the maximum [MQTT-5:3.3.2-9] [MQTT-5:3.2.2-17]", v: v5, hello: true,
			bad:  testkit.Encode(v5, withAlias(5, "bad/x")),
			want: []string{"DISCONNECT rc=0x94"}},
		{name: "unknown Topic Alias (5.0 section 3.3.2.3.4)", v: v5, hello: true,
			bad:  testkit.Encode(v5, withAlias(3, "")),
			want: []string{"DISCONNECT rc=0x82"}},

		// Receive Maximum: Options.ReceiveMaximum is 2.
		{name: "more unacknowledged QoS 2 PUBLISH than Receive Maximum [MQTT-5:3.3.4-7]", v: v5, hello: true,
			bad: testkit.Encode(v5,
				&codec.Publish{QoS: 2, PacketID: 1, Topic: "bad/x"},
				&codec.Publish{QoS: 2, PacketID: 2, Topic: "bad/x"},
				&codec.Publish{QoS: 2, PacketID: 3, Topic: "bad/x"}),
			want: []string{"PUBREC id=1 rc=0x00", "PUBREC id=2 rc=0x00", "DISCONNECT rc=0x93"}},

		// $SYS belongs to the broker: refused, not routed, connection stays.
		{name: "PUBLISH to $SYS is acknowledged and dropped", v: v3, hello: true,
			bad:  testkit.Encode(v3, &codec.Publish{QoS: 1, PacketID: 1, Topic: "$SYS/tern-test/forged"}),
			want: []string{"PUBACK id=1 rc=0x00"}, open: true},
		{name: "PUBLISH to $SYS is refused with Not authorized", v: v5, hello: true,
			bad:  testkit.Encode(v5, &codec.Publish{QoS: 1, PacketID: 1, Topic: "$SYS/tern-test/forged"}),
			want: []string{"PUBACK id=1 rc=0x87"}, open: true},
	}
}

// TestRawNegative sends each kind of malformed or forbidden input over TCP
// and checks that only the offending connection is answered and closed (or,
// where the spec says so, refused in an acknowledgement and kept), while
// subscribers of both versions that were connected all along keep receiving.
// 3.1.1 violations close the connection [MQTT-3:4.8.0-1]; 5.0 ones are
// answered with a reason code of 0x80 or more and then closed
// [MQTT-5:4.13.1-1] [MQTT-5:4.13.2-1].
func TestRawNegative(t *testing.T) {
	srv := startServer(t, &Options{MaxPacketSize: 512, ReceiveMaximum: 2, TopicAliasMaximum: 4})

	// Subscribers connected before and after every case.
	var subs []*testkit.Peer
	for _, v := range []codec.Version{codec.V311, codec.V5} {
		s := testkit.Dial(t, srv.Addr, v)
		s.Connect(t, &codec.Connect{ClientID: "neg-sub-" + v.String(), CleanStart: true})
		s.Subscribe(t, 1, "alive/#", "$SYS/tern-test/#")
		subs = append(subs, s)
	}
	pub := testkit.Dial(t, srv.Addr, codec.V5)
	pub.Connect(t, &codec.Connect{ClientID: "neg-pub", CleanStart: true})

	for i, tc := range negativeCases() {
		t.Run(tc.name, func(t *testing.T) {
			bad := testkit.Dial(t, srv.Addr, tc.v)
			if tc.hello {
				bad.Connect(t, &codec.Connect{ClientID: fmt.Sprintf("neg-%d", i), CleanStart: true})
			}
			bad.SendRaw(t, tc.bad)
			bad.ExpectDescribed(t, tc.want...)
			if tc.open {
				bad.ExpectIdle(t)
				bad.Close()
			} else {
				bad.ExpectClosed(t)
			}

			// Everyone else is unaffected: a message published after the
			// offending connection ended is the very next thing each
			// subscriber receives (so nothing it sent was routed to them).
			topic := fmt.Sprintf("alive/%d", i)
			pub.Publish(t, 1, topic, tc.name)
			for _, s := range subs {
				s.ExpectMessage(t, topic, tc.name)
			}
		})
	}
}
