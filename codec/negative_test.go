package codec_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	. "github.com/ternmq/tern/codec"
)

// appendRL appends a Remaining Length; it is written here, independently of
// the codec, so that hand-written packets need no hand-counted lengths.
func appendRL(b []byte, n int) []byte {
	for {
		c := byte(n & 0x7f)
		n >>= 7
		if n == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// pk builds a packet from its first byte and a hand-written body in hex,
// computing the Remaining Length.
func pk(first byte, body string) []byte {
	b := mustHex(body)
	return append(appendRL([]byte{first}, len(b)), b...)
}

// conn builds a CONNECT with protocol name "MQTT", the given level and
// Connect Flags, Keep Alive 60 and the rest of the body in hex (for level 5,
// starting with the Property Length).
func conn(level, flags byte, rest string) []byte {
	return pk(0x10, fmt.Sprintf("00 04 4d 51 54 54 %02x %02x 00 3c %s", level, flags, rest))
}

// negCase is one hand-crafted packet that breaks one rule.
type negCase struct {
	name string // cites the rule, version-tagged
	v    Version
	b    []byte
	max  int        // maximum packet size passed to Decode; 0 for none
	code ReasonCode // the reason code the *Error must carry
	// rule is the Rule the *Error must carry, without the "MQTT-" prefix
	// ("" when the specification numbers no statement; "?" not checked).
	rule string
}

func checkNeg(t *testing.T, c negCase) {
	t.Helper()
	p, _, err := Decode(c.b, c.v, c.max)
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Decode(% x, %v) = %T, %v; want an *Error", c.b, c.v, p, err)
	}
	if e.Code != c.code {
		t.Errorf("Code = 0x%02x %v, want 0x%02x %v (%v)", byte(e.Code), e.Code, byte(c.code), c.code, e)
	}
	want := c.rule
	if want != "" {
		want = "MQTT-" + want
	}
	if c.rule != "?" && e.Rule != want {
		t.Errorf("Rule = %q, want %q (%v)", e.Rule, want, e)
	}
}

// negativeCases is the table of malformed packets, one or more per rule.
// The name of each case cites the statement it breaks.
func negativeCases() []negCase {
	const (
		m  = MalformedPacket
		pe = ProtocolError
	)
	return []negCase{
		// The first packet: before a CONNECT no version is known (Decode with version 0).
		{"[MQTT-3.1.0-1] PUBLISH before CONNECT", 0, pk(0x30, "00 01 61"), 0, pe, "3.1.0-1"},
		{"[MQTT-3.1.0-1] SUBSCRIBE before CONNECT", 0, pk(0x82, "00 01 00 01 61 00"), 0, pe, "3.1.0-1"},

		// Data representation: Variable Byte Integers (5.0 section 1.5.5, 3.1.1 section 2.2.3).
		{"[MQTT-5:1.5.5-1] Remaining Length in five bytes", V5, mustHex("30 ff ff ff ff 01"), 0, m, "1.5.5-1"},
		{"[MQTT-5:1.5.5-1] Remaining Length 0 in two bytes", V5, mustHex("c0 80 00"), 0, m, "1.5.5-1"},
		{"[MQTT-5:1.5.5-1] Remaining Length 128 in three bytes", V5, mustHex("30 80 81 00"), 0, m, "1.5.5-1"},
		{"[MQTT-5:1.5.5-1] Property Length 0 in two bytes", V5, pk(0x30, "00 01 61 80 00"), 0, m, "1.5.5-1"},
		{"[MQTT-5:1.5.5-1] Subscription Identifier in five bytes", V5,
			pk(0x82, "00 0a 06 0b ff ff ff ff 7f 00 01 61 00"), 0, m, "1.5.5-1"},
		{"3.1.1 section 2.2.3 (unnumbered): Remaining Length in five bytes", V311, mustHex("30 ff ff ff ff 01"), 0, m, ""},

		// UTF-8 strings (3.1.1 section 1.5.3, 5.0 section 1.5.4).
		{"[MQTT-3:1.5.3-1] Topic Name with byte 0xFF", V311, pk(0x30, "00 01 ff"), 0, m, "1.5.3-1"},
		{"[MQTT-3:1.5.3-1] Topic Name with the surrogate U+D800", V311, pk(0x30, "00 03 ed a0 80"), 0, m, "1.5.3-1"},
		{"[MQTT-3:1.5.3-1] Topic Name with an overlong '/'", V311, pk(0x30, "00 02 c0 af"), 0, m, "1.5.3-1"},
		{"[MQTT-5:1.5.4-1] Topic Name with byte 0xFF", V5, pk(0x30, "00 01 ff 00"), 0, m, "1.5.4-1"},
		{"[MQTT-5:1.5.4-1] Topic Name with the surrogate U+DFFF", V5, pk(0x30, "00 03 ed bf bf 00"), 0, m, "1.5.4-1"},
		{"[MQTT-5:1.5.4-1] Topic Name ending inside a sequence", V5, pk(0x30, "00 02 61 e2 00"), 0, m, "1.5.4-1"},
		{"[MQTT-3:1.5.3-2] Topic Name with U+0000", V311, pk(0x30, "00 03 61 00 62"), 0, m, "1.5.3-2"},
		{"[MQTT-5:1.5.4-2] Topic Name with U+0000", V5, pk(0x30, "00 03 61 00 62 00"), 0, m, "1.5.4-2"},
		{"[MQTT-5:1.5.4-2] Topic Name with U+0000 after a non-ASCII character", V5,
			pk(0x30, "00 04 c3 a9 00 61 00"), 0, m, "1.5.4-2"},
		{"[MQTT-5:1.5.7-1] User Property name is not UTF-8", V5,
			pk(0x30, "00 01 61  07 26 00 01 ff 00 01 62"), 0, m, "1.5.4-1"},
		{"[MQTT-5:1.5.7-1] User Property value contains U+0000", V5,
			pk(0x30, "00 01 61  07 26 00 01 61 00 01 00"), 0, m, "1.5.4-2"},

		// Packet Identifiers (3.1.1 section 2.3.1, 5.0 section 2.2.1).
		{"[MQTT-3:2.3.1-1] QoS 1 PUBLISH with Packet Identifier 0", V311, pk(0x32, "00 01 61 00 00"), 0, pe, "2.3.1-1"},
		{"[MQTT-3:2.3.1-1] SUBSCRIBE with Packet Identifier 0", V311, pk(0x82, "00 00 00 01 61 00"), 0, pe, "2.3.1-1"},
		{"[MQTT-3:2.3.1-1] UNSUBSCRIBE with Packet Identifier 0", V311, pk(0xa2, "00 00 00 01 61"), 0, pe, "2.3.1-1"},
		{"[MQTT-5:2.2.1-3] QoS 2 PUBLISH with Packet Identifier 0", V5, pk(0x34, "00 01 61 00 00 00"), 0, pe, "2.2.1-3"},
		{"[MQTT-5:2.2.1-3] SUBSCRIBE with Packet Identifier 0", V5, pk(0x82, "00 00 00 00 01 61 00"), 0, pe, "2.2.1-3"},
		{"[MQTT-5:2.2.1-3] UNSUBSCRIBE with Packet Identifier 0", V5, pk(0xa2, "00 00 00 00 01 61"), 0, pe, "2.2.1-3"},
		{"PUBACK with Packet Identifier 0 (3.1.1)", V311, pk(0x40, "00 00"), 0, pe, "?"},
		{"PUBREL with Packet Identifier 0 (5.0)", V5, pk(0x62, "00 00"), 0, pe, "?"},
		{"SUBACK with Packet Identifier 0 (5.0)", V5, pk(0x90, "00 00 00 00"), 0, pe, "?"},

		// PUBLISH fixed header and variable header (section 3.3).
		{"[MQTT-3:3.3.1-4] PUBLISH with both QoS bits set", V311, pk(0x36, "00 01 61 00 01"), 0, m, "3.3.1-4"},
		{"[MQTT-5:3.3.1-4] PUBLISH with both QoS bits set", V5, pk(0x36, "00 01 61 00 01 00"), 0, m, "3.3.1-4"},
		{"[MQTT-3:3.3.1-2] QoS 0 PUBLISH with DUP 1", V311, pk(0x38, "00 01 61"), 0, m, "3.3.1-2"},
		{"[MQTT-5:3.3.1-2] QoS 0 PUBLISH with DUP 1", V5, pk(0x39, "00 01 61 00"), 0, m, "3.3.1-2"},
		{"[MQTT-3:3.3.2-2] [MQTT-3:4.7.1-1] Topic Name with '#'", V311, pk(0x30, "00 03 61 2f 23"), 0, TopicNameInvalid, "3.3.2-2"},
		{"[MQTT-3:3.3.2-2] Topic Name with '+'", V311, pk(0x30, "00 03 2b 2f 61"), 0, TopicNameInvalid, "3.3.2-2"},
		{"[MQTT-5:3.3.2-2] [MQTT-5:4.7.0-1] Topic Name '#'", V5, pk(0x30, "00 01 23 00"), 0, TopicNameInvalid, "3.3.2-2"},
		{"[MQTT-5:3.3.2-2] Topic Name with '+' inside a level", V5, pk(0x30, "00 03 61 2b 62 00"), 0, TopicNameInvalid, "3.3.2-2"},
		{"[MQTT-3:4.7.3-1] PUBLISH with an empty Topic Name", V311, pk(0x30, "00 00 61"), 0, TopicNameInvalid, "4.7.3-1"},
		{"[MQTT-5:3.3.2-1] empty Topic Name without a Topic Alias", V5, pk(0x30, "00 00 00 61"), 0, pe, "3.3.2-1"},
		{"[MQTT-3:3.3.2-1] Topic Name is not UTF-8", V311, pk(0x30, "00 02 c3 28"), 0, m, "1.5.3-1"},
		{"[MQTT-5:3.3.2-1] Topic Name is not UTF-8", V5, pk(0x30, "00 02 c3 28 00"), 0, m, "1.5.4-1"},
		{"[MQTT-5:3.3.2-8] Topic Alias 0", V5, pk(0x30, "00 01 61 03 23 00 00"), 0, TopicAliasInvalid, "3.3.2-8"},
		{"[MQTT-5:3.3.2-13] Response Topic is not UTF-8", V5, pk(0x30, "00 01 61 04 08 00 01 ff"), 0, m, "1.5.4-1"},
		{"[MQTT-5:3.3.2-14] Response Topic with a wildcard", V5, pk(0x30, "00 01 61 06 08 00 03 61 2f 23"), 0, pe, "3.3.2-14"},
		{"[MQTT-5:3.3.2-19] Content Type is not UTF-8", V5, pk(0x30, "00 01 61 04 03 00 01 ff"), 0, m, "1.5.4-1"},
		{"[MQTT-3:4.8.0-1] Topic Name longer than the packet", V311, pk(0x30, "00 05 61"), 0, m, "4.8.0-1"},
		{"[MQTT-3:4.8.0-1] QoS 1 PUBLISH without a Packet Identifier", V311, pk(0x32, "00 01 61 00"), 0, m, "4.8.0-1"},
		{"[MQTT-5:4.13.1-1] Property Length beyond the packet", V5, pk(0x30, "00 01 61 05 01"), 0, m, "4.13.1-1"},
		{"[MQTT-5:4.13.1-1] property value shorter than its type", V5, pk(0x30, "00 01 61 02 02 00"), 0, m, "4.13.1-1"},
		{"5.0 section 2.2.2.2: unknown Property Identifier 0x00", V5, pk(0x30, "00 01 61 02 00 00"), 0, m, ""},
		{"5.0 section 2.2.2.2: unknown Property Identifier 0x7F", V5, pk(0x30, "00 01 61 02 7f 00"), 0, m, ""},

		// CONNECT variable header (section 3.1.2).
		{"[MQTT-3:3.1.2-1] protocol name MQTX", V311, pk(0x10, "00 04 4d 51 54 58 04 02 00 3c 00 02 63 31"), 0,
			UnsupportedProtocolVersion, "3.1.2-1"},
		{"[MQTT-5:3.1.2-1] protocol name MQIsdp", V5, pk(0x10, "00 06 4d 51 49 73 64 70 05 02 00 3c 00 00 02 63 31"), 0,
			UnsupportedProtocolVersion, "3.1.2-1"},
		{"[MQTT-3:3.1.2-2] protocol level 3", V311, conn(3, 0x02, "00 02 63 31"), 0, UnsupportedProtocolVersion, "3.1.2-2"},
		{"[MQTT-5:3.1.2-2] protocol version 6", V5, conn(6, 0x02, "00 00 02 63 31"), 0, UnsupportedProtocolVersion, "3.1.2-2"},
		{"[MQTT-3:3.1.2-3] reserved Connect Flag set", V311, conn(4, 0x03, "00 02 63 31"), 0, m, "3.1.2-3"},
		{"[MQTT-5:3.1.2-3] reserved Connect Flag set", V5, conn(5, 0x01, "00 00 02 63 31"), 0, m, "3.1.2-3"},
		{"[MQTT-3:3.1.2-11] [MQTT-3:3.1.2-13] Will QoS 1 without the Will Flag", V311, conn(4, 0x0a, "00 02 63 31"), 0, m, "3.1.2-13"},
		{"[MQTT-5:3.1.2-11] Will QoS 2 without the Will Flag", V5, conn(5, 0x12, "00 00 02 63 31"), 0, m, "3.1.2-11"},
		{"[MQTT-3:3.1.2-11] [MQTT-3:3.1.2-15] Will Retain without the Will Flag", V311, conn(4, 0x22, "00 02 63 31"), 0, m, "3.1.2-15"},
		{"[MQTT-5:3.1.2-13] Will Retain without the Will Flag", V5, conn(5, 0x22, "00 00 02 63 31"), 0, m, "3.1.2-13"},
		{"[MQTT-3:3.1.2-14] Will QoS 3", V311, conn(4, 0x1e, "00 02 63 31 00 01 74 00 00"), 0, m, "3.1.2-14"},
		{"[MQTT-5:3.1.2-12] Will QoS 3", V5, conn(5, 0x1e, "00 00 02 63 31 00 00 01 74 00 00"), 0, m, "3.1.2-12"},
		{"[MQTT-3:3.1.2-22] Password Flag without the User Name Flag", V311, conn(4, 0x42, "00 02 63 31 00 01 70"), 0, m, "3.1.2-22"},

		// CONNECT payload: which fields are present (sections 3.1.2.5 - 3.1.2.9, 3.1.3).
		{"[MQTT-3:3.1.2-9] Will Flag 1 but no Will Topic", V311, conn(4, 0x06, "00 02 63 31"), 0, m, "4.8.0-1"},
		{"[MQTT-3:3.1.2-9] Will Flag 1 but no Will Message", V311, conn(4, 0x06, "00 02 63 31 00 01 74"), 0, m, "4.8.0-1"},
		{"[MQTT-5:3.1.2-9] Will Flag 1 but no Will Properties", V5, conn(5, 0x06, "00 00 02 63 31"), 0, m, "4.13.1-1"},
		{"[MQTT-5:3.1.2-9] Will Flag 1 but no Will Payload", V5, conn(5, 0x06, "00 00 02 63 31 00 00 01 74"), 0, m, "4.13.1-1"},
		{"[MQTT-3:3.1.2-11] Will Flag 0 but a Will Topic and Message follow", V311,
			conn(4, 0x02, "00 02 63 31 00 01 74 00 01 6d"), 0, m, "4.8.0-1"},
		{"[MQTT-3:3.1.2-18] User Name Flag 0 but a user name follows", V311, conn(4, 0x02, "00 02 63 31 00 01 75"), 0, m, "4.8.0-1"},
		{"[MQTT-3:3.1.2-19] User Name Flag 1 but no user name", V311, conn(4, 0x82, "00 02 63 31"), 0, m, "4.8.0-1"},
		{"[MQTT-3:3.1.2-20] Password Flag 0 but a password follows", V311,
			conn(4, 0x82, "00 02 63 31 00 01 75 00 01 70"), 0, m, "4.8.0-1"},
		{"[MQTT-3:3.1.2-21] Password Flag 1 but no password", V311, conn(4, 0xc2, "00 02 63 31 00 01 75"), 0, m, "4.8.0-1"},
		{"[MQTT-5:3.1.2-16] User Name Flag 0 but a User Name follows", V5, conn(5, 0x02, "00 00 02 63 31 00 01 75"), 0, m, "4.13.1-1"},
		{"[MQTT-5:3.1.2-17] User Name Flag 1 but no User Name", V5, conn(5, 0x82, "00 00 02 63 31"), 0, m, "4.13.1-1"},
		{"[MQTT-5:3.1.2-18] Password Flag 0 but a Password follows", V5,
			conn(5, 0x82, "00 00 02 63 31 00 01 75 00 01 70"), 0, m, "4.13.1-1"},
		{"[MQTT-5:3.1.2-19] Password Flag 1 but no Password", V5, conn(5, 0x40, "00 00 02 63 31"), 0, m, "4.13.1-1"},
		{"[MQTT-3:3.1.3-3] [MQTT-3:3.1.4-1] no Client Identifier", V311, conn(4, 0x02, ""), 0, m, "4.8.0-1"},
		{"[MQTT-5:3.1.3-3] [MQTT-5:3.1.4-1] no Client Identifier", V5, conn(5, 0x02, "00"), 0, m, "4.13.1-1"},
		{"[MQTT-3:3.1.3-4] Client Identifier is not UTF-8", V311, conn(4, 0x02, "00 02 c3 28"), 0, m, "1.5.3-1"},
		{"[MQTT-5:3.1.3-4] Client Identifier with U+0000", V5, conn(5, 0x02, "00 00 02 61 00"), 0, m, "1.5.4-2"},
		{"[MQTT-3:3.1.3-10] Will Topic is not UTF-8", V311, conn(4, 0x06, "00 02 63 31 00 01 ff 00 00"), 0, m, "1.5.3-1"},
		{"[MQTT-5:3.1.3-11] Will Topic is not UTF-8", V5, conn(5, 0x06, "00 00 02 63 31 00 00 01 ff 00 00"), 0, m, "1.5.4-1"},
		{"[MQTT-3:4.7.1-1] Will Topic with a wildcard", V311, conn(4, 0x06, "00 02 63 31 00 03 61 2f 23 00 00"), 0,
			TopicNameInvalid, "4.7.1-1"},
		{"[MQTT-5:4.7.0-1] Will Topic with a wildcard", V5, conn(5, 0x06, "00 00 02 63 31 00 00 01 2b 00 00"), 0,
			TopicNameInvalid, "4.7.0-1"},
		{"[MQTT-3:4.7.3-1] empty Will Topic", V311, conn(4, 0x06, "00 02 63 31 00 00 00 00"), 0, TopicNameInvalid, "4.7.3-1"},
		{"[MQTT-3:3.1.3-11] User Name is not UTF-8", V311, conn(4, 0x82, "00 02 63 31 00 01 80"), 0, m, "1.5.3-1"},
		{"[MQTT-5:3.1.3-12] User Name is not UTF-8", V5, conn(5, 0x82, "00 00 02 63 31 00 01 80"), 0, m, "1.5.4-1"},
		{"5.0 Table 2-4: Session Expiry Interval is not a Will Property", V5,
			conn(5, 0x06, "00 00 02 63 31 05 11 00 00 00 01 00 01 74 00 00"), 0, pe, ""},
		{"5.0 Table 2-4: Topic Alias is not a CONNECT property", V5, conn(5, 0x02, "03 23 00 01 00 02 63 31"), 0, pe, ""},

		// CONNACK (section 3.2).
		{"[MQTT-5:3.2.2-1] reserved Connect Acknowledge Flags set", V5, pk(0x20, "02 00 00"), 0, m, "3.2.2-1"},
		{"3.1.1 section 3.2.2.1 (unnumbered): reserved Connect Acknowledge Flags set", V311, pk(0x20, "80 00"), 0, m, ""},
		{"[MQTT-3:3.2.2-4] Session Present with a non-zero return code", V311, pk(0x20, "01 05"), 0, pe, "3.2.2-4"},
		{"[MQTT-5:3.2.2-6] Session Present with a non-zero Reason Code", V5, pk(0x20, "01 87 00"), 0, pe, "3.2.2-6"},
		{"[MQTT-5:3.2.2-8] 0x01 is not a Connect Reason Code", V5, pk(0x20, "00 01 00"), 0, pe, "3.2.2-8"},
		{"[MQTT-5:3.2.2-8] 0x8D is not a Connect Reason Code", V5, pk(0x20, "00 8d 00"), 0, pe, "3.2.2-8"},
		{"3.1.1 Table 3.1: return code 6 is reserved", V311, pk(0x20, "00 06"), 0, pe, ""},
		{"[MQTT-3:4.8.0-1] 3.1.1 CONNACK with a third byte", V311, pk(0x20, "00 00 00"), 0, m, "4.8.0-1"},
		{"[MQTT-5:4.13.1-1] CONNACK without its Reason Code", V5, pk(0x20, "00"), 0, m, "4.13.1-1"},
		{"5.0 section 3.2.2.3.4: Maximum QoS 2", V5, pk(0x20, "00 00 02 24 02"), 0, pe, ""},

		// PUBACK, PUBREC, PUBREL, PUBCOMP (sections 3.4 - 3.7).
		{"[MQTT-5:3.4.2-1] 0x01 is not a PUBACK Reason Code", V5, pk(0x40, "00 01 01"), 0, pe, "3.4.2-1"},
		{"[MQTT-5:3.4.2-1] 0x92 is not a PUBACK Reason Code", V5, pk(0x40, "00 01 92 00"), 0, pe, "3.4.2-1"},
		{"[MQTT-5:3.5.2-1] 0x92 is not a PUBREC Reason Code", V5, pk(0x50, "00 01 92"), 0, pe, "3.5.2-1"},
		{"[MQTT-5:3.6.2-1] 0x10 is not a PUBREL Reason Code", V5, pk(0x62, "00 01 10"), 0, pe, "3.6.2-1"},
		{"[MQTT-5:3.7.2-1] 0x80 is not a PUBCOMP Reason Code", V5, pk(0x70, "00 01 80"), 0, pe, "3.7.2-1"},
		{"[MQTT-3:4.8.0-1] 3.1.1 PUBACK with a third byte", V311, pk(0x40, "00 01 00"), 0, m, "4.8.0-1"},
		{"[MQTT-5:4.13.1-1] PUBACK with half a Packet Identifier", V5, pk(0x40, "00"), 0, m, "4.13.1-1"},

		// SUBSCRIBE (section 3.8).
		{"[MQTT-3:3.8.3-3] SUBSCRIBE without a Topic Filter", V311, pk(0x82, "00 0a"), 0, pe, "3.8.3-3"},
		{"[MQTT-5:3.8.3-2] SUBSCRIBE without a Topic Filter", V5, pk(0x82, "00 0a 00"), 0, pe, "3.8.3-2"},
		{"[MQTT-5:3.8.3-5] Subscription Options bit 7 set", V5, pk(0x82, "00 0a 00 00 01 61 81"), 0, m, "3.8.3-5"},
		{"[MQTT-5:3.8.3-5] Subscription Options bit 6 set", V5, pk(0x82, "00 0a 00 00 01 61 40"), 0, m, "3.8.3-5"},
		{"[MQTT-5:3.8.3-4] No Local on a Shared Subscription", V5,
			pk(0x82, "00 0a 00 00 0a 24 73 68 61 72 65 2f 67 2f 61 05"), 0, pe, "3.8.3-4"},
		{"5.0 section 3.8.3.1: Maximum QoS 3", V5, pk(0x82, "00 0a 00 00 01 61 03"), 0, pe, ""},
		{"5.0 section 3.8.3.1: Retain Handling 3", V5, pk(0x82, "00 0a 00 00 01 61 30"), 0, pe, ""},
		// 3.1.1 prints this statement's id as "MQTT-3-8.3-4" and leaves it out of its list of statements.
		{"3.1.1 section 3.8.3: reserved bits of the Requested QoS byte", V311, pk(0x82, "00 0a 00 01 61 04"), 0, m, "3-8.3-4"},
		{"3.1.1 section 3.8.3: Requested QoS 3", V311, pk(0x82, "00 0a 00 01 61 03"), 0, m, "3-8.3-4"},
		{"[MQTT-3:3.8.3-1] Topic Filter is not UTF-8", V311, pk(0x82, "00 0a 00 01 ff 00"), 0, m, "1.5.3-1"},
		{"[MQTT-5:3.8.3-1] Topic Filter with U+0000", V5, pk(0x82, "00 0a 00 00 02 61 00 00"), 0, m, "1.5.4-2"},
		{"[MQTT-3:4.8.0-1] Topic Filter without its Requested QoS", V311, pk(0x82, "00 0a 00 01 61"), 0, m, "4.8.0-1"},
		{"5.0 section 3.8.2.1.2: Subscription Identifier 0", V5, pk(0x82, "00 0a 02 0b 00 00 01 61 00"), 0, pe, ""},

		// SUBACK (section 3.9).
		{"[MQTT-3:3.9.3-2] SUBACK return code 0x03", V311, pk(0x90, "00 0a 03"), 0, pe, "3.9.3-2"},
		{"[MQTT-3:3.9.3-2] SUBACK return code 0x87 (a 5.0 code)", V311, pk(0x90, "00 0a 00 87"), 0, pe, "3.9.3-2"},
		{"[MQTT-5:3.9.3-2] 0x03 is not a Subscribe Reason Code", V5, pk(0x90, "00 0a 00 03"), 0, pe, "3.9.3-2"},
		{"[MQTT-5:3.9.3-2] 0x11 is not a Subscribe Reason Code", V5, pk(0x90, "00 0a 00 00 11"), 0, pe, "3.9.3-2"},

		// UNSUBSCRIBE and UNSUBACK (sections 3.10, 3.11).
		{"[MQTT-3:3.10.3-2] UNSUBSCRIBE without a Topic Filter", V311, pk(0xa2, "00 0a"), 0, pe, "3.10.3-2"},
		{"[MQTT-5:3.10.3-2] UNSUBSCRIBE without a Topic Filter", V5, pk(0xa2, "00 0a 00"), 0, pe, "3.10.3-2"},
		{"[MQTT-3:3.10.3-1] Topic Filter is not UTF-8", V311, pk(0xa2, "00 0a 00 01 ff"), 0, m, "1.5.3-1"},
		{"[MQTT-5:3.10.3-1] Topic Filter is not UTF-8", V5, pk(0xa2, "00 0a 00 00 01 ff"), 0, m, "1.5.4-1"},
		{"[MQTT-3:4.8.0-1] UNSUBSCRIBE Topic Filter longer than the packet", V311, pk(0xa2, "00 0a 00 03 61"), 0, m, "4.8.0-1"},
		{"[MQTT-5:3.11.3-2] 0x01 is not an Unsubscribe Reason Code", V5, pk(0xb0, "00 0a 00 01"), 0, pe, "3.11.3-2"},
		{"[MQTT-5:3.11.3-2] 0x97 is not an Unsubscribe Reason Code", V5, pk(0xb0, "00 0a 00 00 97"), 0, pe, "3.11.3-2"},
		{"[MQTT-3:4.8.0-1] 3.1.1 UNSUBACK with a payload", V311, pk(0xb0, "00 0a 00"), 0, m, "4.8.0-1"},

		// PINGREQ, PINGRESP, DISCONNECT, AUTH (sections 3.12 - 3.15).
		{"[MQTT-3:4.8.0-1] PINGREQ with a body", V311, pk(0xc0, "00"), 0, m, "4.8.0-1"},
		{"[MQTT-5:4.13.1-1] PINGRESP with a body", V5, pk(0xd0, "00"), 0, m, "4.13.1-1"},
		{"[MQTT-3:4.8.0-1] 3.1.1 DISCONNECT with a body", V311, pk(0xe0, "00"), 0, m, "4.8.0-1"},
		{"[MQTT-5:3.14.2-1] 0x01 is not a DISCONNECT Reason Code", V5, pk(0xe0, "01"), 0, pe, "3.14.2-1"},
		{"[MQTT-5:3.14.2-1] 0x18 is not a DISCONNECT Reason Code", V5, pk(0xe0, "18 00"), 0, pe, "3.14.2-1"},
		{"[MQTT-5:3.15.2-1] 0x04 is not an Authenticate Reason Code", V5, pk(0xf0, "04"), 0, pe, "3.15.2-1"},
		{"[MQTT-5:3.15.2-1] 0x80 is not an Authenticate Reason Code", V5, pk(0xf0, "80 00"), 0, pe, "3.15.2-1"},
		{"3.1.1 Table 2.1: AUTH (type 15) is reserved", V311, mustHex("f0 00"), 0, m, ""},
		{"3.1.1 Table 2.1: packet type 0 is reserved", V311, mustHex("00 00"), 0, m, ""},
		{"5.0 Table 2-1: packet type 0 is reserved", V5, mustHex("00 00"), 0, m, ""},

		// Maximum Packet Size (5.0 sections 3.1.2.11.4, 3.2.2.3.6).
		{"[MQTT-5:3.2.2-15] packet one byte over the Maximum Packet Size", V5,
			pk(0x30, "00 01 61 00 01 02 03 04 05 06 07 08 09 0a"), 15, PacketTooLarge, "3.2.2-15"},
		{"[MQTT-5:3.2.2-15] too large by its header alone, before the body arrives", V5,
			mustHex("30 e8 07 00 01"), 100, PacketTooLarge, "3.2.2-15"},
		{"3.1.1: packet over the maximum size the server accepts", V311,
			pk(0x30, "00 01 61 01 02 03 04 05 06 07 08 09 0a"), 10, PacketTooLarge, ""},
	}
}

// TestNegative decodes each hand-crafted malformed packet and checks the
// reason code and the normative statement of the error.
func TestNegative(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range negativeCases() {
		if seen[c.name] {
			t.Errorf("duplicate case name %q", c.name)
		}
		seen[c.name] = true
		t.Run(c.name, func(t *testing.T) { checkNeg(t, c) })
	}
}

// flagCases lists, per packet type, the fixed header flags Table 2.2
// (3.1.1) / section 2.1.3 (5.0) require and the statement a packet with
// other flags breaks, per version.
var flagCases = []struct {
	t          PacketType
	flags      byte
	rule311    string
	rule5      string
	cite       string
	only5      bool
	minimalHex string // a valid body, so that only the flags are wrong
}{
	{CONNECT, 0, "2.2.2-2", "2.1.3-1", "[MQTT-3:2.2.2-1] [MQTT-3:2.2.2-2] [MQTT-5:2.1.3-1]", false, ""},
	{CONNACK, 0, "2.2.2-2", "2.1.3-1", "[MQTT-3:2.2.2-1] [MQTT-3:2.2.2-2] [MQTT-5:2.1.3-1]", false, "00 00"},
	{PUBACK, 0, "2.2.2-2", "2.1.3-1", "[MQTT-3:2.2.2-1] [MQTT-3:2.2.2-2] [MQTT-5:2.1.3-1]", false, "00 01"},
	{PUBREC, 0, "2.2.2-2", "2.1.3-1", "[MQTT-3:2.2.2-1] [MQTT-3:2.2.2-2] [MQTT-5:2.1.3-1]", false, "00 01"},
	{PUBREL, 2, "3.6.1-1", "3.6.1-1", "[MQTT-3:3.6.1-1] [MQTT-5:3.6.1-1]", false, "00 01"},
	{PUBCOMP, 0, "2.2.2-2", "2.1.3-1", "[MQTT-3:2.2.2-1] [MQTT-3:2.2.2-2] [MQTT-5:2.1.3-1]", false, "00 01"},
	{SUBSCRIBE, 2, "3.8.1-1", "3.8.1-1", "[MQTT-3:3.8.1-1] [MQTT-5:3.8.1-1]", false, ""},
	{SUBACK, 0, "2.2.2-2", "2.1.3-1", "[MQTT-3:2.2.2-1] [MQTT-3:2.2.2-2] [MQTT-5:2.1.3-1]", false, ""},
	{UNSUBSCRIBE, 2, "3.10.1-1", "3.10.1-1", "[MQTT-3:3.10.1-1] [MQTT-5:3.10.1-1]", false, ""},
	{UNSUBACK, 0, "2.2.2-2", "2.1.3-1", "[MQTT-3:2.2.2-1] [MQTT-3:2.2.2-2] [MQTT-5:2.1.3-1]", false, "00 01"},
	{PINGREQ, 0, "2.2.2-2", "2.1.3-1", "[MQTT-3:2.2.2-1] [MQTT-3:2.2.2-2] [MQTT-5:2.1.3-1]", false, ""},
	{PINGRESP, 0, "2.2.2-2", "2.1.3-1", "[MQTT-3:2.2.2-1] [MQTT-3:2.2.2-2] [MQTT-5:2.1.3-1]", false, ""},
	{DISCONNECT, 0, "3.14.1-1", "3.14.1-1", "[MQTT-3:3.14.1-1] [MQTT-5:3.14.1-1]", false, ""},
	{AUTH, 0, "", "3.15.1-1", "[MQTT-5:3.15.1-1]", true, ""},
}

// TestFixedHeaderFlags sends every packet type (except PUBLISH, whose flags
// carry DUP, QoS and RETAIN) with each of the 15 wrong flag values, in both
// versions: each is malformed under its type's rule.
func TestFixedHeaderFlags(t *testing.T) {
	for _, fc := range flagCases {
		for _, v := range []Version{V311, V5} {
			if fc.only5 && v != V5 {
				continue
			}
			rule := fc.rule311
			if v == V5 {
				rule = fc.rule5
			}
			for f := byte(0); f < 16; f++ {
				if f == fc.flags {
					continue
				}
				c := negCase{
					name: fmt.Sprintf("%s %v %v flags %04b", fc.cite, fc.t, v, f),
					v:    v, b: pk(byte(fc.t)<<4|f, fc.minimalHex), code: MalformedPacket, rule: rule,
				}
				t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) { checkNeg(t, c) })
			}
		}
	}
}

// TestUnsupportedLevelAnswer checks that the error for an unsupported
// protocol level maps to the 3.1.1 CONNACK return code 0x01 (unacceptable
// protocol version) [MQTT-3:3.1.2-2], and that the errors for which 3.1.1
// has no return code map to none, so the server closes the connection
// without a CONNACK [MQTT-3:3.2.2-6] [MQTT-3:3.1.4-1].
func TestUnsupportedLevelAnswer(t *testing.T) {
	_, _, err := Decode(conn(3, 0x02, "00 02 63 31"), 0, 0)
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Decode of a level 3 CONNECT: %v", err)
	}
	if rc, ok := ConnackCodeV311(e.Code); !ok || rc != RefusedProtocolVersion {
		t.Errorf("ConnackCodeV311(%v) = 0x%02x, %v; want 0x01, true", e.Code, byte(rc), ok)
	}
	for _, c := range []ReasonCode{MalformedPacket, ProtocolError, UnspecifiedError, ImplementationSpecificError,
		BadAuthenticationMethod, TopicNameInvalid, PacketTooLarge, PayloadFormatInvalid, RetainNotSupported,
		QoSNotSupported} {
		if rc, ok := ConnackCodeV311(c); ok {
			t.Errorf("ConnackCodeV311(%v) = 0x%02x, true; want no 3.1.1 return code", c, byte(rc))
		}
	}
	for c, want := range map[ReasonCode]ReasonCode{
		Success: ConnectionAccepted, ClientIdentifierNotValid: RefusedIdentifierRejected,
		ServerUnavailable: RefusedServerUnavailable, ServerBusy: RefusedServerUnavailable,
		BadUserNameOrPassword: RefusedBadUserNameOrPassword, NotAuthorized: RefusedNotAuthorized, Banned: RefusedNotAuthorized,
	} {
		if rc, ok := ConnackCodeV311(c); !ok || rc != want {
			t.Errorf("ConnackCodeV311(%v) = 0x%02x, %v; want 0x%02x", c, byte(rc), ok, byte(want))
		}
	}
}

// TestPacketSizeLimit checks the boundary: a packet of exactly the maximum
// size decodes [MQTT-5:3.2.2-15].
func TestPacketSizeLimit(t *testing.T) {
	b := pk(0x30, "00 01 61 00 01 02 03 04 05 06 07 08 09 0a")
	if _, n, err := Decode(b, V5, len(b)); err != nil || n != len(b) {
		t.Errorf("Decode at exactly the limit: n=%d, %v", n, err)
	}
}

// TestIncomplete checks that a buffer ending before the packet does is not
// an error of the packet: Decode asks for more bytes.
func TestIncomplete(t *testing.T) {
	for _, b := range [][]byte{nil, mustHex("30"), mustHex("30 80"), mustHex("30 ff ff ff"), mustHex("30 05 00 03 61")} {
		if _, _, err := Decode(b, V5, 0); err != ErrIncomplete {
			t.Errorf("Decode(% x) = %v, want ErrIncomplete", b, err)
		}
	}
}

// TestEncodeRefuses checks that the encoder will not produce the packets the
// decoder refuses: the sender's side of the same rules.
func TestEncodeRefuses(t *testing.T) {
	cases := []struct {
		name string
		p    Packet
		v    Version
		code ReasonCode
		rule string // without "MQTT-"; "?" not checked
	}{
		{"[MQTT-3:3.3.1-2] [MQTT-3:4.3.1-1] QoS 0 PUBLISH with DUP", &Publish{Dup: true, Topic: "a"}, V311, MalformedPacket, "3.3.1-2"},
		{"[MQTT-5:3.3.1-2] [MQTT-5:4.3.1-1] QoS 0 PUBLISH with DUP", &Publish{Dup: true, Topic: "a"}, V5, MalformedPacket, "3.3.1-2"},
		{"[MQTT-3:3.3.1-4] PUBLISH with QoS 3", &Publish{QoS: 3, Topic: "a", PacketID: 1}, V311, MalformedPacket, "3.3.1-4"},
		{"[MQTT-3:2.3.1-1] QoS 1 PUBLISH without a Packet Identifier", &Publish{QoS: 1, Topic: "a"}, V311, ProtocolError, "2.3.1-1"},
		{"[MQTT-5:2.2.1-3] [MQTT-5:2.2.1-4] QoS 2 PUBLISH without a Packet Identifier", &Publish{QoS: 2, Topic: "a"}, V5, ProtocolError, "2.2.1-3"},
		{"[MQTT-3:2.3.1-1] SUBSCRIBE without a Packet Identifier", &Subscribe{Subscriptions: []Subscription{{Filter: "a"}}}, V311, ProtocolError, "2.3.1-1"},
		{"[MQTT-5:2.2.1-3] UNSUBSCRIBE without a Packet Identifier", &Unsubscribe{Filters: []string{"a"}}, V5, ProtocolError, "2.2.1-3"},
		{"[MQTT-3:3.8.3-3] SUBSCRIBE without a Topic Filter", &Subscribe{PacketID: 1}, V311, ProtocolError, "3.8.3-3"},
		{"[MQTT-5:3.8.3-2] SUBSCRIBE without a Topic Filter", &Subscribe{PacketID: 1}, V5, ProtocolError, "3.8.3-2"},
		{"[MQTT-3:3.10.3-2] UNSUBSCRIBE without a Topic Filter", &Unsubscribe{PacketID: 1}, V311, ProtocolError, "3.10.3-2"},
		{"[MQTT-3:3.1.2-22] 3.1.1 CONNECT with a password and no user name",
			&Connect{Version: V311, ClientID: "c", Password: []byte("p")}, V311, MalformedPacket, "3.1.2-22"},
		{"[MQTT-3:3.1.2-14] Will QoS 3", &Connect{Version: V311, ClientID: "c", Will: &Will{Topic: "w", QoS: 3}}, V311, MalformedPacket, "3.1.2-14"},
		{"[MQTT-5:3.1.2-12] Will QoS 3", &Connect{Version: V5, ClientID: "c", Will: &Will{Topic: "w", QoS: 3}}, V5, MalformedPacket, "3.1.2-12"},
		{"[MQTT-3:3.9.3-2] SUBACK return code 0x03", &Suback{PacketID: 1, ReasonCodes: []ReasonCode{3}}, V311, ProtocolError, "3.9.3-2"},
		{"[MQTT-5:3.9.3-2] SUBACK Reason Code 0x11", &Suback{PacketID: 1, ReasonCodes: []ReasonCode{0x11}}, V5, ProtocolError, "3.9.3-2"},
		{"[MQTT-5:3.11.3-2] UNSUBACK Reason Code 0x02", &Unsuback{PacketID: 1, ReasonCodes: []ReasonCode{2}}, V5, ProtocolError, "3.11.3-2"},
		{"[MQTT-5:3.4.2-1] PUBACK Reason Code 0x92", &Puback{Ack{PacketID: 1, ReasonCode: 0x92}}, V5, ProtocolError, "3.4.2-1"},
		{"[MQTT-5:3.5.2-1] PUBREC Reason Code 0x01", &Pubrec{Ack{PacketID: 1, ReasonCode: 0x01}}, V5, ProtocolError, "3.5.2-1"},
		{"[MQTT-5:3.6.2-1] PUBREL Reason Code 0x80", &Pubrel{Ack{PacketID: 1, ReasonCode: 0x80}}, V5, ProtocolError, "3.6.2-1"},
		{"[MQTT-5:3.7.2-1] PUBCOMP Reason Code 0x10", &Pubcomp{Ack{PacketID: 1, ReasonCode: 0x10}}, V5, ProtocolError, "3.7.2-1"},
		{"[MQTT-5:3.14.2-1] DISCONNECT Reason Code 0x18", &Disconnect{ReasonCode: 0x18}, V5, ProtocolError, "3.14.2-1"},
		{"[MQTT-5:3.15.2-1] AUTH Reason Code 0x04", &Auth{ReasonCode: 0x04}, V5, ProtocolError, "3.15.2-1"},
		{"[MQTT-5:3.2.2-8] CONNACK Reason Code 0x04", &Connack{ReasonCode: 0x04}, V5, ProtocolError, "3.2.2-8"},
		{"3.1.1 Table 3.1: CONNACK return code 6", &Connack{ReasonCode: 6}, V311, ProtocolError, ""},
		{"[MQTT-3:3.2.2-4] CONNACK Session Present with a non-zero return code",
			&Connack{SessionPresent: true, ReasonCode: RefusedNotAuthorized}, V311, ProtocolError, "3.2.2-4"},
		{"[MQTT-5:3.2.2-6] CONNACK Session Present with a non-zero Reason Code",
			&Connack{SessionPresent: true, ReasonCode: NotAuthorized}, V5, ProtocolError, "3.2.2-6"},
		{"AUTH in 3.1.1", &Auth{}, V311, ProtocolError, "?"},
		{"[MQTT-3:4.7.3-3] Topic Name of 65536 bytes", &Publish{Topic: strings.Repeat("a", 65536)}, V311, TopicNameInvalid, "4.7.3-3"},
		{"unsupported protocol version", &Puback{Ack{PacketID: 1}}, 3, UnsupportedProtocolVersion, "?"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := c.p.Append(nil, c.v)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Append = % x, %v; want an *Error", out, err)
			}
			if e.Code != c.code {
				t.Errorf("Code = %v, want %v", e.Code, c.code)
			}
			if want := "MQTT-" + c.rule; c.rule != "?" && e.Rule != want && !(c.rule == "" && e.Rule == "") {
				t.Errorf("Rule = %q, want %q", e.Rule, want)
			}
			if len(out) != 0 {
				t.Errorf("Append wrote % x before failing", out)
			}
		})
	}
}
