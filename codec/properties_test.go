package codec_test

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	. "github.com/ternmq/tern/codec"
)

// willProps stands for the Will Properties of a CONNECT in the property
// contexts below (PropertyID.AllowedIn asks about them with type 0).
const willProps PacketType = 0

// table24 is Table 2-4 of the 5.0 specification, copied from the text (not
// from the codec): identifier, name, type, and where the property may appear.
var table24 = []struct {
	id    PropertyID
	name  string
	typ   PropertyType
	where string
}{
	{0x01, "Payload Format Indicator", TypeByte, "PUBLISH, Will Properties"},
	{0x02, "Message Expiry Interval", TypeFourByteInt, "PUBLISH, Will Properties"},
	{0x03, "Content Type", TypeString, "PUBLISH, Will Properties"},
	{0x08, "Response Topic", TypeString, "PUBLISH, Will Properties"},
	{0x09, "Correlation Data", TypeBinary, "PUBLISH, Will Properties"},
	{0x0B, "Subscription Identifier", TypeVarInt, "PUBLISH, SUBSCRIBE"},
	{0x11, "Session Expiry Interval", TypeFourByteInt, "CONNECT, CONNACK, DISCONNECT"},
	{0x12, "Assigned Client Identifier", TypeString, "CONNACK"},
	{0x13, "Server Keep Alive", TypeTwoByteInt, "CONNACK"},
	{0x15, "Authentication Method", TypeString, "CONNECT, CONNACK, AUTH"},
	{0x16, "Authentication Data", TypeBinary, "CONNECT, CONNACK, AUTH"},
	{0x17, "Request Problem Information", TypeByte, "CONNECT"},
	{0x18, "Will Delay Interval", TypeFourByteInt, "Will Properties"},
	{0x19, "Request Response Information", TypeByte, "CONNECT"},
	{0x1A, "Response Information", TypeString, "CONNACK"},
	{0x1C, "Server Reference", TypeString, "CONNACK, DISCONNECT"},
	{0x1F, "Reason String", TypeString, "CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, DISCONNECT, AUTH"},
	{0x21, "Receive Maximum", TypeTwoByteInt, "CONNECT, CONNACK"},
	{0x22, "Topic Alias Maximum", TypeTwoByteInt, "CONNECT, CONNACK"},
	{0x23, "Topic Alias", TypeTwoByteInt, "PUBLISH"},
	{0x24, "Maximum QoS", TypeByte, "CONNACK"},
	{0x25, "Retain Available", TypeByte, "CONNACK"},
	{0x26, "User Property", TypeStringPair, "CONNECT, CONNACK, PUBLISH, Will Properties, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, DISCONNECT, AUTH"},
	{0x27, "Maximum Packet Size", TypeFourByteInt, "CONNECT, CONNACK"},
	{0x28, "Wildcard Subscription Available", TypeByte, "CONNACK"},
	{0x29, "Subscription Identifier Available", TypeByte, "CONNACK"},
	{0x2A, "Shared Subscription Available", TypeByte, "CONNACK"},
}

func contextName(t PacketType) string {
	if t == willProps {
		return "Will Properties"
	}
	return t.String()
}

// propContexts are the places properties live: every 5.0 packet type with
// properties, and the Will Properties.
var propContexts = []PacketType{CONNECT, willProps, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP,
	SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, DISCONNECT, AUTH}

// TestPropertyTable checks the codec's property table against Table 2-4.
func TestPropertyTable(t *testing.T) {
	known := map[PropertyID]bool{}
	for _, row := range table24 {
		known[row.id] = true
		if row.id.String() != row.name || row.id.Type() != row.typ {
			t.Errorf("0x%02x: codec says %q type %d, Table 2-4 says %q type %d",
				byte(row.id), row.id.String(), row.id.Type(), row.name, row.typ)
		}
		for _, c := range propContexts {
			want := strings.Contains(", "+row.where+",", ", "+contextName(c)+",")
			if got := row.id.AllowedIn(c); got != want {
				t.Errorf("%s allowed in %s: %v, Table 2-4 says %v", row.name, contextName(c), got, want)
			}
		}
		for _, c := range []PacketType{PINGREQ, PINGRESP} {
			if row.id.AllowedIn(c) {
				t.Errorf("%s allowed in %v, which has no properties", row.name, c)
			}
		}
	}
	for id := PropertyID(0); id < 0x80; id++ {
		if !known[id] && id.Type() != 0 {
			t.Errorf("codec knows property 0x%02x, Table 2-4 does not", byte(id))
		}
	}
}

// propHex returns one property with a valid value, as hex.
func propHex(id PropertyID) string {
	v := map[PropertyType]string{
		TypeByte: "01", TypeTwoByteInt: "00 01", TypeFourByteInt: "00 00 00 01", TypeVarInt: "01",
		TypeString: "00 01 61", TypeBinary: "00 01 61", TypeStringPair: "00 01 61 00 01 62",
	}[id.Type()]
	return fmt.Sprintf("%02x %s ", byte(id), v)
}

// withProps builds a 5.0 packet of context t whose properties are props.
func withProps(t PacketType, props []byte) []byte {
	pl := append(appendRL(nil, len(props)), props...)
	h := func(s string) []byte { return mustHex(s) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	body := map[PacketType][]byte{
		CONNECT:     cat(h("00 04 4d 51 54 54 05 02 00 3c"), pl, h("00 01 63")),
		willProps:   cat(h("00 04 4d 51 54 54 05 06 00 3c 00 00 01 63"), pl, h("00 01 74 00 00")),
		CONNACK:     cat(h("00 00"), pl),
		PUBLISH:     cat(h("00 01 61"), pl, h("ff")),
		PUBACK:      cat(h("00 01 00"), pl),
		PUBREC:      cat(h("00 01 00"), pl),
		PUBREL:      cat(h("00 01 00"), pl),
		PUBCOMP:     cat(h("00 01 00"), pl),
		SUBSCRIBE:   cat(h("00 01"), pl, h("00 01 61 00")),
		SUBACK:      cat(h("00 01"), pl, h("00")),
		UNSUBSCRIBE: cat(h("00 01"), pl, h("00 01 61")),
		UNSUBACK:    cat(h("00 01"), pl, h("00")),
		DISCONNECT:  cat(h("00"), pl),
		AUTH:        cat(h("00"), pl),
	}[t]
	first := byte(t) << 4
	switch t {
	case willProps:
		first = 0x10
	case PUBREL, SUBSCRIBE, UNSUBSCRIBE:
		first |= 2
	}
	return append(appendRL([]byte{first}, len(body)), body...)
}

// contextProps returns the properties of context t in a decoded packet.
func contextProps(t *testing.T, c PacketType, p Packet) *Properties {
	t.Helper()
	if c == willProps {
		w := p.(*Connect).Will
		if w == nil {
			t.Fatal("decoded CONNECT has no Will")
		}
		return &w.Properties
	}
	return propsOf(p)
}

// TestPropertyOnceAndTwice sends each property once, then twice, in each
// context that allows it. Once decodes and is reported by Has; twice is a
// Protocol Error, except for User Property, which may repeat anywhere, and
// Subscription Identifier in PUBLISH (section 3.3.2.3.8: one per matching
// subscription). Repeated properties keep their order.
func TestPropertyOnceAndTwice(t *testing.T) {
	for _, c := range propContexts {
		for _, id := range allPropertyIDs() {
			if !id.AllowedIn(c) {
				continue
			}
			prefix := ""
			if id == PropAuthenticationData { // Authentication Data needs a Method
				prefix = propHex(PropAuthenticationMethod)
			}
			t.Run(fmt.Sprintf("%s/%v", contextName(c), id), func(t *testing.T) {
				once := withProps(c, mustHex(prefix+propHex(id)))
				p, _, err := Decode(once, V5, 0)
				if err != nil {
					t.Fatalf("once: %v", err)
				}
				if !contextProps(t, c, p).Has(id) {
					t.Errorf("once: Has(%v) = false after decoding", id)
				}
				twice := withProps(c, mustHex(prefix+propHex(id)+propHex(id)))
				p, _, err = Decode(twice, V5, 0)
				repeatable := id == PropUserProperty || (id == PropSubscriptionIdentifier && c == PUBLISH)
				if repeatable {
					if err != nil {
						t.Fatalf("twice: %v", err)
					}
					pr := contextProps(t, c, p)
					if n := len(pr.UserProperties) + len(pr.SubscriptionIdentifiers); n != 2 {
						t.Errorf("twice: decoded %d values, want 2", n)
					}
					return
				}
				var e *Error
				if !errors.As(err, &e) || e.Code != ProtocolError {
					t.Errorf("twice: %v, want a Protocol Error", err)
				}
			})
		}
	}
}

// setProp gives property id a valid non-zero value in p.
func setProp(p *Properties, id PropertyID) {
	switch id {
	case PropPayloadFormatIndicator:
		p.PayloadFormatIndicator = 1
	case PropMessageExpiryInterval:
		p.MessageExpiryInterval = 3600
	case PropContentType:
		p.ContentType = "text/plain; charset=utf-8"
	case PropResponseTopic:
		p.ResponseTopic = "reply/to/\u00e9"
	case PropCorrelationData:
		p.CorrelationData = []byte{0, 1, 2, 0xff}
	case PropSubscriptionIdentifier:
		p.SubscriptionIdentifiers = append(p.SubscriptionIdentifiers, 268_435_455)
	case PropSessionExpiryInterval:
		p.SessionExpiryInterval = 0xFFFFFFFF
	case PropAssignedClientIdentifier:
		p.AssignedClientIdentifier = "auto-1"
	case PropServerKeepAlive:
		p.ServerKeepAlive = 65535
	case PropAuthenticationMethod:
		p.AuthenticationMethod = "SCRAM-SHA-1"
	case PropAuthenticationData:
		p.AuthenticationData = []byte("client-first")
	case PropRequestProblemInformation:
		p.RequestProblemInformation = 1
	case PropWillDelayInterval:
		p.WillDelayInterval = 5
	case PropRequestResponseInformation:
		p.RequestResponseInformation = 1
	case PropResponseInformation:
		p.ResponseInformation = "resp/"
	case PropServerReference:
		p.ServerReference = "other.example:1883"
	case PropReasonString:
		p.ReasonString = "because"
	case PropReceiveMaximum:
		p.ReceiveMaximum = 65535
	case PropTopicAliasMaximum:
		p.TopicAliasMaximum = 10
	case PropTopicAlias:
		p.TopicAlias = 65535
	case PropMaximumQoS:
		p.MaximumQoS = 1
	case PropRetainAvailable:
		p.RetainAvailable = 1
	case PropUserProperty:
		p.UserProperties = append(p.UserProperties, UserProperty{"k", "v1"}, UserProperty{"k", "v2"},
			UserProperty{"", ""}, UserProperty{"\u00fc", "\U0002A6D4"}, UserProperty{"k", "v1"})
	case PropMaximumPacketSize:
		p.MaximumPacketSize = MaxPacketSize
	case PropWildcardSubscriptionAvailable:
		p.WildcardSubscriptionAvailable = 1
	case PropSubscriptionIdentifierAvailable:
		p.SubscriptionIdentifierAvailable = 1
	case PropSharedSubscriptionAvailable:
		p.SharedSubscriptionAvailable = 1
	default:
		panic(fmt.Sprintf("setProp: unknown property %v", id))
	}
}

// packetWithProps returns a valid 5.0 packet of context c carrying props.
func packetWithProps(c PacketType, props Properties) Packet {
	switch c {
	case CONNECT:
		return &Connect{Version: V5, CleanStart: true, ClientID: "c", Properties: props}
	case willProps:
		return &Connect{Version: V5, ClientID: "c", Will: &Will{Topic: "w", Payload: []byte{}, Properties: props}}
	case CONNACK:
		return &Connack{Properties: props}
	case PUBLISH:
		return &Publish{QoS: 1, PacketID: 7, Topic: "t", Payload: []byte("m"), Properties: props}
	case PUBACK:
		return &Puback{Ack{PacketID: 7, Properties: props}}
	case PUBREC:
		return &Pubrec{Ack{PacketID: 7, Properties: props}}
	case PUBREL:
		return &Pubrel{Ack{PacketID: 7, Properties: props}}
	case PUBCOMP:
		return &Pubcomp{Ack{PacketID: 7, Properties: props}}
	case SUBSCRIBE:
		return &Subscribe{PacketID: 7, Properties: props, Subscriptions: []Subscription{{Filter: "a/#"}}}
	case SUBACK:
		return &Suback{PacketID: 7, Properties: props, ReasonCodes: []ReasonCode{GrantedQoS1}}
	case UNSUBSCRIBE:
		return &Unsubscribe{PacketID: 7, Properties: props, Filters: []string{"a/#"}}
	case UNSUBACK:
		return &Unsuback{PacketID: 7, Properties: props, ReasonCodes: []ReasonCode{Success}}
	case DISCONNECT:
		return &Disconnect{Properties: props}
	case AUTH:
		return &Auth{ReasonCode: ContinueAuthentication, Properties: props}
	}
	panic("packetWithProps: " + c.String())
}

// TestPropertyNotAllowed checks, for every context and every property Table
// 2-4 does not allow there, that encoding refuses it and that decoding it is
// a Protocol Error.
func TestPropertyNotAllowed(t *testing.T) {
	for _, c := range propContexts {
		for _, id := range allPropertyIDs() {
			if id.AllowedIn(c) {
				continue
			}
			t.Run(fmt.Sprintf("%s/%v", contextName(c), id), func(t *testing.T) {
				var props Properties
				setProp(&props, id)
				out, err := packetWithProps(c, props).Append(nil, V5)
				var e *Error
				if !errors.As(err, &e) || e.Code != ProtocolError {
					t.Errorf("encode: % x, %v; want a Protocol Error", out, err)
				}
				_, _, err = Decode(withProps(c, mustHex(propHex(id))), V5, 0)
				if !errors.As(err, &e) || e.Code != ProtocolError {
					t.Errorf("decode: %v, want a Protocol Error", err)
				}
			})
		}
	}
}

// TestPropertyValueRules checks the values the specification forbids, and
// the limits it allows, for each property with a value rule.
func TestPropertyValueRules(t *testing.T) {
	cases := []struct {
		name  string
		c     PacketType
		props string
		code  ReasonCode // 0: decodes
		rule  string     // without "MQTT-"
	}{
		{"3.1.2.11.3 Receive Maximum 0 in CONNECT", CONNECT, "21 00 00", ProtocolError, ""},
		{"3.2.2.3.3 Receive Maximum 0 in CONNACK", CONNACK, "21 00 00", ProtocolError, ""},
		{"Receive Maximum 1", CONNECT, "21 00 01", 0, ""},
		{"3.1.2.11.4 Maximum Packet Size 0 in CONNECT", CONNECT, "27 00 00 00 00", ProtocolError, ""},
		{"3.2.2.3.6 Maximum Packet Size 0 in CONNACK", CONNACK, "27 00 00 00 00", ProtocolError, ""},
		{"Maximum Packet Size 1", CONNACK, "27 00 00 00 01", 0, ""},
		{"3.3.2.3.2 Payload Format Indicator 2", PUBLISH, "01 02", ProtocolError, ""},
		{"3.1.3.2.3 Will Payload Format Indicator 2", willProps, "01 02", ProtocolError, ""},
		{"3.1.2.11.7 Request Problem Information 2", CONNECT, "17 02", ProtocolError, ""},
		{"3.1.2.11.6 Request Response Information 2", CONNECT, "19 02", ProtocolError, ""},
		{"3.2.2.3.4 Maximum QoS 2", CONNACK, "24 02", ProtocolError, ""},
		{"3.2.2.3.5 Retain Available 2", CONNACK, "25 02", ProtocolError, ""},
		{"3.2.2.3.11 Wildcard Subscription Available 2", CONNACK, "28 02", ProtocolError, ""},
		{"3.2.2.3.12 Subscription Identifiers Available 2", CONNACK, "29 02", ProtocolError, ""},
		{"3.2.2.3.13 Shared Subscription Available 2", CONNACK, "2a ff", ProtocolError, ""},
		{"byte properties 0 and 1", CONNACK, "24 00 25 01 28 00 29 01 2a 00", 0, ""},
		{"[MQTT-5:3.3.2-8] Topic Alias 0", PUBLISH, "23 00 00", TopicAliasInvalid, "3.3.2-8"},
		{"Topic Alias 65535", PUBLISH, "23 ff ff", 0, ""},
		{"3.3.2.3.8 Subscription Identifier 0 in PUBLISH", PUBLISH, "0b 00", ProtocolError, ""},
		{"3.8.2.1.2 Subscription Identifier 0 in SUBSCRIBE", SUBSCRIBE, "0b 00", ProtocolError, ""},
		{"Subscription Identifier 268,435,455", SUBSCRIBE, "0b ff ff ff 7f", 0, ""},
		{"3.1.2.11.10 Authentication Data without a Method in CONNECT", CONNECT, "16 00 01 61", ProtocolError, ""},
		{"3.2.2.3.18 Authentication Data without a Method in CONNACK", CONNACK, "16 00 00", ProtocolError, ""},
		{"3.15.2.2.3 Authentication Data without a Method in AUTH", AUTH, "16 00 01 61", ProtocolError, ""},
		{"Authentication Data after an empty Authentication Method", AUTH, "16 00 01 61 15 00 00", 0, ""},
		{"[MQTT-5:3.3.2-14] Response Topic with '#'", PUBLISH, "08 00 03 61 2f 23", ProtocolError, "3.3.2-14"},
		{"[MQTT-5:3.3.2-14] Response Topic with '+'", PUBLISH, "08 00 03 2b 2f 61", ProtocolError, "3.3.2-14"},
		{"3.1.3.2.5 Will Response Topic with a wildcard", willProps, "08 00 01 23", ProtocolError, "?"},
		{"3.3.2.3.5 empty Response Topic", PUBLISH, "08 00 00", ProtocolError, "?"},
		{"[MQTT-5:1.5.7-1] User Property name with U+0000", SUBACK, "26 00 01 00 00 00", MalformedPacket, "1.5.4-2"},
		{"[MQTT-5:1.5.7-1] User Property value not UTF-8", DISCONNECT, "26 00 00 00 01 c0", MalformedPacket, "1.5.4-1"},
		{"[MQTT-5:1.5.7-1] User Property cut after its name", AUTH, "26 00 01 61", MalformedPacket, "4.13.1-1"},
		{"Reason String not UTF-8", PUBACK, "1f 00 01 ff", MalformedPacket, "1.5.4-1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, _, err := Decode(withProps(c.c, mustHex(c.props)), V5, 0)
			if c.code == 0 {
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
				// A valid value survives a round trip.
				b := encode(t, p, V5)
				if q, _, err := Decode(b, V5, 0); err != nil || !reflect.DeepEqual(p, q) {
					t.Errorf("round trip: %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Decode: %v, want an *Error", err)
			}
			if e.Code != c.code {
				t.Errorf("Code = %v, want %v (%v)", e.Code, c.code, e)
			}
			want := c.rule
			if want != "" {
				want = "MQTT-" + want
			}
			if c.rule != "?" && e.Rule != want {
				t.Errorf("Rule = %q, want %q", e.Rule, want)
			}
		})
	}
}

// TestExplicitZeros checks Properties.Mark: a property marked present is
// encoded even when its value is zero, and after decoding Has reports it,
// while an unmarked zero stays absent. This is how a server says Maximum
// QoS 0 or Retain Available 0 (sections 3.2.2.3.4, 3.2.2.3.5).
func TestExplicitZeros(t *testing.T) {
	zeros := map[PacketType][]PropertyID{
		CONNECT: {PropSessionExpiryInterval, PropRequestProblemInformation, PropRequestResponseInformation,
			PropTopicAliasMaximum},
		willProps: {PropPayloadFormatIndicator, PropMessageExpiryInterval, PropWillDelayInterval, PropContentType,
			PropCorrelationData},
		CONNACK: {PropSessionExpiryInterval, PropServerKeepAlive, PropMaximumQoS, PropRetainAvailable,
			PropWildcardSubscriptionAvailable, PropSubscriptionIdentifierAvailable, PropSharedSubscriptionAvailable,
			PropTopicAliasMaximum, PropAssignedClientIdentifier, PropReasonString},
		PUBLISH:    {PropPayloadFormatIndicator, PropMessageExpiryInterval, PropContentType},
		DISCONNECT: {PropSessionExpiryInterval, PropReasonString, PropServerReference},
		AUTH:       {PropAuthenticationMethod, PropAuthenticationData},
	}
	for c, ids := range zeros {
		t.Run(contextName(c), func(t *testing.T) {
			var props Properties
			for _, id := range ids {
				if props.Has(id) {
					t.Fatalf("zero %v reported present before Mark", id)
				}
				props.Mark(id)
				if !props.Has(id) {
					t.Fatalf("Has(%v) = false after Mark", id)
				}
			}
			b := encode(t, packetWithProps(c, props), V5)
			p, _, err := Decode(b, V5, 0)
			if err != nil {
				t.Fatal(err)
			}
			got := contextProps(t, c, p)
			for _, id := range allPropertyIDs() {
				want := false
				for _, z := range ids {
					want = want || z == id
				}
				if got.Has(id) != want {
					t.Errorf("after decoding, Has(%v) = %v, want %v", id, got.Has(id), want)
				}
			}
			// Unmark drops a zero again.
			for _, id := range ids {
				props.Unmark(id)
			}
			b = encode(t, packetWithProps(c, props), V5)
			p, _, err = Decode(b, V5, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range ids {
				if contextProps(t, c, p).Has(id) {
					t.Errorf("%v still sent after Unmark", id)
				}
			}
		})
	}
	// The bytes: CONNACK with Maximum QoS 0 and Retain Available 0.
	var p Properties
	p.Mark(PropMaximumQoS)
	p.Mark(PropRetainAvailable)
	if got, want := encode(t, &Connack{Properties: p}, V5), mustHex("20 07 00 00 04 24 00 25 00"); !bytes.Equal(got, want) {
		t.Errorf("CONNACK with Maximum QoS 0, Retain Available 0:\n got % x\nwant % x", got, want)
	}
	// Reset clears marks and values.
	p.UserProperties = []UserProperty{{"a", "b"}}
	p.Reset()
	for _, id := range allPropertyIDs() {
		if p.Has(id) {
			t.Errorf("Has(%v) after Reset", id)
		}
	}
}

// TestUserPropertyOrder checks that User Properties keep their order and
// their duplicates through encoding and decoding, in every context (section
// 2.2.2.2: "The User Property is allowed to appear multiple times to
// represent multiple name, value pairs. The same name is allowed to appear
// more than once"), with both strings UTF-8 [MQTT-5:1.5.7-1].
func TestUserPropertyOrder(t *testing.T) {
	var users []UserProperty
	for i := 0; i < 40; i++ {
		users = append(users, UserProperty{Key: fmt.Sprintf("k%d", i%3), Value: strings.Repeat("\u00e9", i)})
	}
	users = append(users, UserProperty{}, UserProperty{"\U0002A6D4", "\uFEFF"})
	for _, c := range propContexts {
		t.Run(contextName(c), func(t *testing.T) {
			p, _, err := Decode(encode(t, packetWithProps(c, Properties{UserProperties: users}), V5), V5, 0)
			if err != nil {
				t.Fatal(err)
			}
			got := contextProps(t, c, p).UserProperties
			if len(got) != len(users) {
				t.Fatalf("decoded %d User Properties, want %d", len(got), len(users))
			}
			for i := range users {
				if got[i] != users[i] {
					t.Errorf("User Property %d = %q, want %q", i, got[i], users[i])
				}
			}
		})
	}
}

// TestPropertyEncodeLimits checks what the encoder refuses besides the
// table: out-of-range Subscription Identifiers, more than one in SUBSCRIBE
// (section 3.8.2.1.2), and strings longer than 65,535 bytes.
func TestPropertyEncodeLimits(t *testing.T) {
	long := strings.Repeat("x", 65536)
	cases := []struct {
		name string
		p    Packet
		code ReasonCode
	}{
		{"Subscription Identifier 0", &Subscribe{PacketID: 1, Properties: Properties{SubscriptionIdentifiers: []int{0}},
			Subscriptions: []Subscription{{Filter: "a"}}}, ProtocolError},
		{"Subscription Identifier 268,435,456", &Publish{Topic: "a",
			Properties: Properties{SubscriptionIdentifiers: []int{MaxSubscriptionIdentifier + 1}}}, ProtocolError},
		{"two Subscription Identifiers in SUBSCRIBE", &Subscribe{PacketID: 1,
			Properties:    Properties{SubscriptionIdentifiers: []int{1, 2}},
			Subscriptions: []Subscription{{Filter: "a"}}}, ProtocolError},
		{"Reason String of 65,536 bytes", &Disconnect{ReasonCode: UnspecifiedError,
			Properties: Properties{ReasonString: long}}, MalformedPacket},
		{"User Property of 65,536 bytes", &Auth{ReasonCode: ContinueAuthentication,
			Properties: Properties{UserProperties: []UserProperty{{"k", long}}}}, MalformedPacket},
		{"Correlation Data of 65,536 bytes", &Publish{Topic: "a",
			Properties: Properties{CorrelationData: []byte(long)}}, MalformedPacket},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := c.p.Append(nil, V5)
			var e *Error
			if !errors.As(err, &e) || e.Code != c.code {
				t.Errorf("Append = % .20x, %v; want an error with %v", out, err, c.code)
			}
		})
	}
	// Several Subscription Identifiers are fine in a PUBLISH (section 3.3.4).
	p := &Publish{Topic: "a", Payload: []byte{}, Properties: Properties{SubscriptionIdentifiers: []int{1, 127, 128, 16383, 16384, MaxSubscriptionIdentifier}}}
	q, _, err := Decode(encode(t, p, V5), V5, 0)
	if err != nil {
		t.Fatal(err)
	}
	samePacket(t, q, p)
}

// TestPropertiesIgnoredIn311 checks that 3.1.1 packets carry no properties:
// the encoder leaves them out, and the bytes equal those of the same packet
// without properties.
func TestPropertiesIgnoredIn311(t *testing.T) {
	for _, c := range propContexts {
		if c == AUTH {
			continue
		}
		var full Properties
		for _, id := range allPropertyIDs() {
			if id.AllowedIn(c) {
				setProp(&full, id)
			}
		}
		with, without := packetWithProps(c, full), packetWithProps(c, Properties{})
		if cn, ok := with.(*Connect); ok {
			cn.Version, without.(*Connect).Version = V311, V311
		}
		a, b := encode(t, with, V311), encode(t, without, V311)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: 3.1.1 encoding differs with properties:\n% x\n% x", contextName(c), a, b)
		}
	}
}
