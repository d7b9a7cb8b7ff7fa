package codec_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	. "github.com/ternmq/tern/codec"
)

// roundTrip encodes p in version v, decodes the bytes, checks that the
// decoded packet equals p (with its present properties marked) and that
// encoding the decoded packet gives the same bytes. It returns the bytes.
func roundTrip(t *testing.T, p Packet, v Version) []byte {
	t.Helper()
	b := encode(t, p, v)
	q, n, err := Decode(b, v, 0)
	if err != nil {
		t.Fatalf("Decode(% x): %v", b, err)
	}
	if n != len(b) {
		t.Errorf("Decode used %d of %d bytes", n, len(b))
	}
	samePacket(t, q, p)
	if again := encode(t, q, v); !bytes.Equal(again, b) {
		t.Errorf("re-encoding the decoded packet:\n got % x\nwant % x", again, b)
	}
	return b
}

// fullProps returns properties with every property Table 2-4 allows in
// context c set to a non-zero value; PUBLISH gets two Subscription
// Identifiers.
func fullProps(c PacketType) Properties {
	var p Properties
	for _, id := range allPropertyIDs() {
		if id.AllowedIn(c) {
			setProp(&p, id)
		}
	}
	if c == PUBLISH {
		p.SubscriptionIdentifiers = append(p.SubscriptionIdentifiers, 1)
	}
	return p
}

// TestRoundTripAllProperties sends, in every 5.0 context, a packet with
// every property that context allows, and checks the decoded packet and
// that Has reports exactly those properties.
func TestRoundTripAllProperties(t *testing.T) {
	for _, c := range propContexts {
		t.Run(contextName(c), func(t *testing.T) {
			p := packetWithProps(c, fullProps(c))
			b := roundTrip(t, p, V5)
			q, _, _ := Decode(b, V5, 0)
			got := contextProps(t, c, q)
			for _, id := range allPropertyIDs() {
				if got.Has(id) != id.AllowedIn(c) {
					t.Errorf("Has(%v) = %v after decoding", id, got.Has(id))
				}
			}
		})
	}
}

// roundTripCases are hand-written packets of every type in both versions.
func roundTripCases() []struct {
	name string
	v    Version
	p    Packet
} {
	type rc = struct {
		name string
		v    Version
		p    Packet
	}
	var cases []rc
	for _, v := range []Version{V311, V5} {
		props := func(c PacketType) Properties {
			if v == V311 {
				return Properties{}
			}
			return fullProps(c)
		}
		codes := func(v5, v311 []ReasonCode) []ReasonCode {
			if v == V5 {
				return v5
			}
			return v311
		}
		rcode := func(c ReasonCode) ReasonCode {
			if v == V5 {
				return c
			}
			return Success
		}
		add := func(name string, p Packet) { cases = append(cases, rc{fmt.Sprintf("%v/%s", v, name), v, p}) }
		add("CONNECT minimal", &Connect{Version: v, ClientID: "c"})
		add("CONNECT empty client id", &Connect{Version: v, CleanStart: true})
		add("CONNECT everything", &Connect{Version: v, CleanStart: true, KeepAlive: 65535, Properties: props(CONNECT),
			ClientID: "client-\u00e9",
			Will: &Will{Topic: "will/\U0002A6D4", Payload: []byte{0, 1, 2}, QoS: ExactlyOnce, Retain: true,
				Properties: props(willProps)},
			Username: "user", HasUsername: true, Password: []byte{0xff, 0}})
		add("CONNECT will QoS 1, user name only", &Connect{Version: v, ClientID: "c",
			Will: &Will{Topic: "w", Payload: []byte{}, QoS: AtLeastOnce}, Username: "u", HasUsername: true})
		add("CONNECT empty user name and password", &Connect{Version: v, ClientID: "c", HasUsername: true, Password: []byte{}})
		add("CONNACK", &Connack{SessionPresent: true, Properties: props(CONNACK)})
		add("CONNACK refused", &Connack{ReasonCode: codes([]ReasonCode{NotAuthorized}, []ReasonCode{RefusedNotAuthorized})[0]})
		for _, qos := range []QoS{AtMostOnce, AtLeastOnce, ExactlyOnce} {
			var id uint16
			if qos > 0 {
				id = 65535
			}
			add(fmt.Sprintf("PUBLISH QoS %d", qos), &Publish{QoS: qos, PacketID: id, Topic: "a/b", Payload: []byte("x")})
			add(fmt.Sprintf("PUBLISH QoS %d retain with properties", qos), &Publish{QoS: qos, PacketID: id, Retain: true,
				Dup: qos > 0, Topic: "/", Properties: props(PUBLISH), Payload: bytes.Repeat([]byte{7}, 300)})
		}
		add("PUBLISH empty payload", &Publish{Topic: "t", Payload: []byte{}})
		for _, a := range []struct {
			t  PacketType
			rc ReasonCode
		}{{PUBACK, NoMatchingSubscribers}, {PUBREC, QuotaExceeded}, {PUBREL, PacketIdentifierNotFound}, {PUBCOMP, PacketIdentifierNotFound}} {
			short := packetWithProps(a.t, Properties{})
			add(a.t.String()+" short", short)
			long := packetWithProps(a.t, props(a.t))
			switch p := long.(type) {
			case *Puback:
				p.ReasonCode = rcode(a.rc)
			case *Pubrec:
				p.ReasonCode = rcode(a.rc)
			case *Pubrel:
				p.ReasonCode = rcode(a.rc)
			case *Pubcomp:
				p.ReasonCode = rcode(a.rc)
			}
			add(a.t.String()+" long", long)
		}
		add("SUBSCRIBE", &Subscribe{PacketID: 1, Properties: Properties{}, Subscriptions: []Subscription{
			{Filter: "#"}, {Filter: "+/a/+", QoS: AtLeastOnce}, {Filter: "$SYS/#", QoS: ExactlyOnce}}})
		subs := []Subscription{{Filter: "a", QoS: ExactlyOnce}}
		if v == V5 {
			subs = []Subscription{
				{Filter: "a/#", QoS: AtLeastOnce, NoLocal: true, RetainAsPublished: true, RetainHandling: 2},
				{Filter: "$share/g/a/#", QoS: ExactlyOnce, RetainAsPublished: true, RetainHandling: 1},
				{Filter: "b"}}
		}
		add("SUBSCRIBE options and properties", &Subscribe{PacketID: 2, Properties: props(SUBSCRIBE), Subscriptions: subs})
		add("SUBACK", &Suback{PacketID: 3, Properties: props(SUBACK), ReasonCodes: codes(
			[]ReasonCode{WildcardSubscriptionsNotSupported, GrantedQoS2, GrantedQoS0, TopicFilterInvalid, GrantedQoS1},
			[]ReasonCode{SubackFailure, GrantedQoS2, GrantedQoS0, GrantedQoS1})})
		add("UNSUBSCRIBE", &Unsubscribe{PacketID: 4, Properties: props(UNSUBSCRIBE), Filters: []string{"a/+", "#", "$share/g/x"}})
		add("UNSUBACK", &Unsuback{PacketID: 5, Properties: props(UNSUBACK),
			ReasonCodes: codes([]ReasonCode{NoSubscriptionExisted, Success, NotAuthorized}, nil)})
		add("PINGREQ", &Pingreq{})
		add("PINGRESP", &Pingresp{})
		add("DISCONNECT", &Disconnect{})
		if v == V5 {
			add("DISCONNECT reason", &Disconnect{ReasonCode: ServerShuttingDown})
			add("DISCONNECT properties", &Disconnect{ReasonCode: ServerMoved, Properties: props(DISCONNECT)})
			add("AUTH", &Auth{})
			add("AUTH properties", &Auth{ReasonCode: ContinueAuthentication, Properties: props(AUTH)})
			add("AUTH reason", &Auth{ReasonCode: ReAuthenticate})
		}
	}
	return cases
}

// TestRoundTrip encodes, decodes and compares packets of every type in both
// versions.
func TestRoundTrip(t *testing.T) {
	types := map[Version]map[PacketType]bool{V311: {}, V5: {}}
	for _, c := range roundTripCases() {
		t.Run(c.name, func(t *testing.T) {
			roundTrip(t, c.p, c.v)
			types[c.v][c.p.Type()] = true
		})
	}
	for v, m := range types {
		for pt := CONNECT; pt <= AUTH; pt++ {
			if !m[pt] && (v == V5 || pt != AUTH) {
				t.Errorf("no round-trip case for %v %v", pt, v)
			}
		}
	}
}

// TestRoundTripRandom is a property test: random valid packets of every type
// in both versions survive encode→decode→encode unchanged.
func TestRoundTripRandom(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 30
	}
	r := rand.New(rand.NewPCG(2014, 2019))
	for _, v := range []Version{V311, V5} {
		for pt := CONNECT; pt <= AUTH; pt++ {
			if pt == AUTH && v == V311 {
				continue
			}
			t.Run(fmt.Sprintf("%v/%v", v, pt), func(t *testing.T) {
				for i := 0; i < n; i++ {
					p := randPacket(r, pt, v)
					roundTrip(t, p, v)
					if t.Failed() {
						t.Fatalf("packet %d: %s", i, dump(p))
					}
				}
			})
		}
	}
}

var randRunes = []rune("aZ09/ -_$\u00e9\u20ac\U0002A6D4\uFEFF\u0001\u007f")

// randString returns a valid UTF-8 string without U+0000, possibly empty.
func randString(r *rand.Rand, max int) string {
	var sb strings.Builder
	for n := r.IntN(max + 1); n > 0; n-- {
		sb.WriteRune(randRunes[r.IntN(len(randRunes))])
	}
	return sb.String()
}

// randTopic returns a valid Topic Name: non-empty, no wildcards.
func randTopic(r *rand.Rand) string {
	for {
		if s := randString(r, 12); s != "" {
			return s
		}
	}
}

// randFilter returns a valid Topic Filter, sometimes a shared one.
func randFilter(r *rand.Rand, shared bool) string {
	levels := make([]string, 1+r.IntN(4))
	for i := range levels {
		switch r.IntN(4) {
		case 0:
			levels[i] = "+"
		default:
			levels[i] = strings.ReplaceAll(randString(r, 4), "/", "")
		}
	}
	if r.IntN(3) == 0 {
		levels = append(levels, "#")
	}
	f := strings.Join(levels, "/")
	if shared {
		f = "$share/" + strings.ReplaceAll(randTopic(r), "/", "g") + "/" + f
	}
	return f
}

func randBytes(r *rand.Rand, max int) []byte {
	b := make([]byte, r.IntN(max+1))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// randProps returns random valid properties for context c: each allowed
// property with probability 1/2, zero values marked present.
func randProps(r *rand.Rand, c PacketType) Properties {
	var p Properties
	hasMethod := false
	for _, id := range allPropertyIDs() {
		if !id.AllowedIn(c) || r.IntN(2) == 0 {
			continue
		}
		switch id {
		case PropPayloadFormatIndicator:
			p.PayloadFormatIndicator = byte(r.IntN(2))
		case PropMessageExpiryInterval:
			p.MessageExpiryInterval = r.Uint32() >> r.IntN(33)
		case PropContentType:
			p.ContentType = randString(r, 10)
		case PropResponseTopic:
			p.ResponseTopic = randTopic(r)
		case PropCorrelationData:
			p.CorrelationData = randBytes(r, 10)
		case PropSubscriptionIdentifier:
			k := 1
			if c == PUBLISH {
				k += r.IntN(3)
			}
			for ; k > 0; k-- {
				p.SubscriptionIdentifiers = append(p.SubscriptionIdentifiers, 1+r.IntN(MaxSubscriptionIdentifier))
			}
		case PropSessionExpiryInterval:
			p.SessionExpiryInterval = r.Uint32() >> r.IntN(33)
		case PropAssignedClientIdentifier:
			p.AssignedClientIdentifier = randString(r, 10)
		case PropServerKeepAlive:
			p.ServerKeepAlive = uint16(r.IntN(3) * r.IntN(65536))
		case PropAuthenticationMethod:
			p.AuthenticationMethod = randString(r, 10)
			hasMethod = true
		case PropAuthenticationData:
			if !hasMethod { // the Method comes first in identifier order
				continue
			}
			p.AuthenticationData = randBytes(r, 10)
		case PropRequestProblemInformation:
			p.RequestProblemInformation = byte(r.IntN(2))
		case PropWillDelayInterval:
			p.WillDelayInterval = r.Uint32() >> r.IntN(33)
		case PropRequestResponseInformation:
			p.RequestResponseInformation = byte(r.IntN(2))
		case PropResponseInformation:
			p.ResponseInformation = randString(r, 10)
		case PropServerReference:
			p.ServerReference = randString(r, 10)
		case PropReasonString:
			p.ReasonString = randString(r, 10)
		case PropReceiveMaximum:
			p.ReceiveMaximum = uint16(1 + r.IntN(65535))
		case PropTopicAliasMaximum:
			p.TopicAliasMaximum = uint16(r.IntN(3) * r.IntN(65536))
		case PropTopicAlias:
			p.TopicAlias = uint16(1 + r.IntN(65535))
		case PropMaximumQoS:
			p.MaximumQoS = byte(r.IntN(2))
		case PropRetainAvailable:
			p.RetainAvailable = byte(r.IntN(2))
		case PropUserProperty:
			for k := 1 + r.IntN(4); k > 0; k-- {
				p.UserProperties = append(p.UserProperties, UserProperty{randString(r, 5), randString(r, 5)})
			}
		case PropMaximumPacketSize:
			p.MaximumPacketSize = 1 + r.Uint32N(MaxPacketSize)
		case PropWildcardSubscriptionAvailable:
			p.WildcardSubscriptionAvailable = byte(r.IntN(2))
		case PropSubscriptionIdentifierAvailable:
			p.SubscriptionIdentifierAvailable = byte(r.IntN(2))
		case PropSharedSubscriptionAvailable:
			p.SharedSubscriptionAvailable = byte(r.IntN(2))
		}
		p.Mark(id) // present, whatever the value
	}
	return p
}

// validCodes lists the reason codes of each 5.0 packet type.
func validCodes(t PacketType) []ReasonCode {
	var out []ReasonCode
	for c := 0; c < 256; c++ {
		if ReasonCode(c).ValidFor(t) {
			out = append(out, ReasonCode(c))
		}
	}
	return out
}

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

// randPacket returns a random valid packet of type pt for version v.
func randPacket(r *rand.Rand, pt PacketType, v Version) Packet {
	props := func(c PacketType) Properties {
		if v != V5 {
			return Properties{}
		}
		return randProps(r, c)
	}
	code := func(t PacketType, v311 ReasonCode) ReasonCode {
		if v != V5 {
			return v311
		}
		return pick(r, validCodes(t))
	}
	id := func() uint16 { return uint16(1 + r.IntN(65535)) }
	switch pt {
	case CONNECT:
		c := &Connect{Version: v, CleanStart: r.IntN(2) == 0, KeepAlive: uint16(r.IntN(65536)),
			Properties: props(CONNECT), ClientID: randString(r, 23)}
		if r.IntN(2) == 0 {
			c.Will = &Will{Topic: randTopic(r), Payload: randBytes(r, 20), QoS: QoS(r.IntN(3)),
				Retain: r.IntN(2) == 0, Properties: props(willProps)}
		}
		if r.IntN(2) == 0 {
			c.Username, c.HasUsername = randString(r, 8), true
		}
		if r.IntN(2) == 0 && (v == V5 || c.HasUsername) {
			c.Password = randBytes(r, 8)
		}
		return c
	case CONNACK:
		c := &Connack{ReasonCode: ReasonCode(r.IntN(6)), Properties: props(CONNACK)}
		if v == V5 {
			c.ReasonCode = pick(r, validCodes(CONNACK))
		}
		c.SessionPresent = c.ReasonCode == Success && r.IntN(2) == 0
		return c
	case PUBLISH:
		p := &Publish{QoS: QoS(r.IntN(3)), Retain: r.IntN(2) == 0, Topic: randTopic(r),
			Properties: props(PUBLISH), Payload: randBytes(r, 40)}
		if p.QoS > 0 {
			p.PacketID, p.Dup = id(), r.IntN(2) == 0
		}
		if v == V5 && p.Properties.TopicAlias != 0 && r.IntN(2) == 0 {
			p.Topic = ""
		}
		return p
	case PUBACK:
		return &Puback{Ack{PacketID: id(), ReasonCode: code(PUBACK, Success), Properties: props(PUBACK)}}
	case PUBREC:
		return &Pubrec{Ack{PacketID: id(), ReasonCode: code(PUBREC, Success), Properties: props(PUBREC)}}
	case PUBREL:
		return &Pubrel{Ack{PacketID: id(), ReasonCode: code(PUBREL, Success), Properties: props(PUBREL)}}
	case PUBCOMP:
		return &Pubcomp{Ack{PacketID: id(), ReasonCode: code(PUBCOMP, Success), Properties: props(PUBCOMP)}}
	case SUBSCRIBE:
		s := &Subscribe{PacketID: id(), Properties: props(SUBSCRIBE)}
		for k := 1 + r.IntN(4); k > 0; k-- {
			sub := Subscription{QoS: QoS(r.IntN(3))}
			shared := v == V5 && r.IntN(4) == 0
			sub.Filter = randFilter(r, shared)
			if v == V5 {
				sub.NoLocal = !shared && r.IntN(2) == 0
				sub.RetainAsPublished = r.IntN(2) == 0
				sub.RetainHandling = byte(r.IntN(3))
			}
			s.Subscriptions = append(s.Subscriptions, sub)
		}
		return s
	case SUBACK:
		s := &Suback{PacketID: id(), Properties: props(SUBACK)}
		for k := 1 + r.IntN(4); k > 0; k-- {
			s.ReasonCodes = append(s.ReasonCodes, code(SUBACK, pick(r, []ReasonCode{0, 1, 2, SubackFailure})))
		}
		return s
	case UNSUBSCRIBE:
		u := &Unsubscribe{PacketID: id(), Properties: props(UNSUBSCRIBE)}
		for k := 1 + r.IntN(4); k > 0; k-- {
			u.Filters = append(u.Filters, randFilter(r, r.IntN(4) == 0))
		}
		return u
	case UNSUBACK:
		u := &Unsuback{PacketID: id(), Properties: props(UNSUBACK)}
		if v == V5 {
			for k := 1 + r.IntN(4); k > 0; k-- {
				u.ReasonCodes = append(u.ReasonCodes, code(UNSUBACK, 0))
			}
		}
		return u
	case PINGREQ:
		return &Pingreq{}
	case PINGRESP:
		return &Pingresp{}
	case DISCONNECT:
		return &Disconnect{ReasonCode: code(DISCONNECT, Success), Properties: props(DISCONNECT)}
	case AUTH:
		return &Auth{ReasonCode: code(AUTH, Success), Properties: props(AUTH)}
	}
	panic("randPacket: " + pt.String())
}

// TestRulesByConstruction checks statements the codec satisfies by how it
// lays out packets.
func TestRulesByConstruction(t *testing.T) {
	t.Run("[MQTT-3:2.3.1-5] [MQTT-5:2.2.1-2] no Packet Identifier in a QoS 0 PUBLISH", func(t *testing.T) {
		// A Packet Identifier set by mistake on a QoS 0 PUBLISH is not sent.
		for v, want := range map[Version][]byte{
			V311: mustHex("30 04 00 01 74 6d"),
			V5:   mustHex("30 05 00 01 74 00 6d"),
		} {
			p := &Publish{Topic: "t", PacketID: 99, Payload: []byte("m")}
			if got := encode(t, p, v); !bytes.Equal(got, want) {
				t.Errorf("%v: % x, want % x", v, got, want)
			}
			q, _, err := Decode(want, v, 0)
			if err != nil || q.(*Publish).PacketID != 0 {
				t.Errorf("%v: decoded %+v, %v", v, q, err)
			}
		}
	})
	t.Run("[MQTT-3.1.0-1] a CONNECT is read before any version is known", func(t *testing.T) {
		for _, v := range []Version{V311, V5} {
			c := &Connect{Version: v, CleanStart: true, ClientID: "c"}
			q, _, err := Decode(encode(t, c, v), 0, 0)
			if err != nil || q.(*Connect).Version != v {
				t.Errorf("%v: Decode with version 0: %v, %v", v, q, err)
			}
		}
	})
	t.Run("[MQTT-5:2.2.2-1] Property Length 0 when there are no properties", func(t *testing.T) {
		// The offset of the Property Length in each packet that always has one.
		cases := []struct {
			p   Packet
			off int
		}{
			{&Connect{Version: V5, ClientID: "c"}, 12},
			{&Connack{}, 4},
			{&Publish{Topic: "t"}, 5},
			{&Publish{QoS: 1, PacketID: 1, Topic: "t"}, 7},
			{&Subscribe{PacketID: 1, Subscriptions: []Subscription{{Filter: "a"}}}, 4},
			{&Suback{PacketID: 1, ReasonCodes: []ReasonCode{0}}, 4},
			{&Unsubscribe{PacketID: 1, Filters: []string{"a"}}, 4},
			{&Unsuback{PacketID: 1, ReasonCodes: []ReasonCode{0}}, 4},
		}
		for _, c := range cases {
			b := encode(t, c.p, V5)
			if len(b) <= c.off || b[c.off] != 0 {
				t.Errorf("%v: % x has no zero Property Length at offset %d", c.p.Type(), b, c.off)
			}
		}
		// And the Will Properties: CONNECT with a Will and no properties.
		b := encode(t, &Connect{Version: V5, ClientID: "c", Will: &Will{Topic: "w"}}, V5)
		if want := mustHex("10 14 00 04 4d 51 54 54 05 04 00 00 00 00 01 63 00 00 01 77 00 00"); !bytes.Equal(b, want) {
			t.Errorf("CONNECT with an empty Will:\n got % x\nwant % x", b, want)
		}
	})
	t.Run("[MQTT-3:3.1.3-1] [MQTT-5:3.1.3-1] [MQTT-3:3.1.3-3] [MQTT-5:3.1.3-3] CONNECT payload order", func(t *testing.T) {
		for _, v := range []Version{V311, V5} {
			c := &Connect{Version: v, ClientID: "CID", Will: &Will{Topic: "WTOPIC", Payload: []byte("WMSG")},
				Username: "USER", Password: []byte("PASS")}
			b := encode(t, c, v)
			payload := 10
			if v == V5 {
				payload = 11 // Property Length 0
			}
			if !bytes.HasPrefix(b[2+payload:], []byte("\x00\x03CID")) {
				t.Errorf("%v: the Client Identifier is not the first field of the payload: % x", v, b)
			}
			last := 0
			for _, f := range []string{"CID", "WTOPIC", "WMSG", "USER", "PASS"} {
				i := bytes.Index(b, []byte(f))
				if i < last {
					t.Errorf("%v: %s at %d, before the previous field ending at %d", v, f, i, last)
				}
				last = i + len(f)
			}
			if last != len(b) {
				t.Errorf("%v: the Password is not last", v)
			}
		}
	})
	t.Run("[MQTT-3:3.9.3-1] [MQTT-5:3.9.3-1] [MQTT-5:3.11.3-1] reason codes keep their order", func(t *testing.T) {
		for _, v := range []Version{V311, V5} {
			codes := []ReasonCode{SubackFailure, GrantedQoS2, GrantedQoS0, GrantedQoS1, GrantedQoS0, SubackFailure}
			q, _, err := Decode(encode(t, &Suback{PacketID: 1, ReasonCodes: codes}, v), v, 0)
			if err != nil || !reflect.DeepEqual(q.(*Suback).ReasonCodes, codes) {
				t.Errorf("%v SUBACK: %v, %v", v, q, err)
			}
		}
		codes := []ReasonCode{NotAuthorized, Success, NoSubscriptionExisted, Success, TopicFilterInvalid}
		q, _, err := Decode(encode(t, &Unsuback{PacketID: 1, ReasonCodes: codes}, V5), V5, 0)
		if err != nil || !reflect.DeepEqual(q.(*Unsuback).ReasonCodes, codes) {
			t.Errorf("UNSUBACK: %v, %v", q, err)
		}
	})
	t.Run("[MQTT-3:3.10.3-1] [MQTT-5:3.10.3-1] [MQTT-3:3.8.3-1] [MQTT-5:3.8.3-1] Topic Filters in order", func(t *testing.T) {
		filters := []string{"z", "a/+", "\u00e9/#", "+/+", "$share/g/x", "z"}
		for _, v := range []Version{V311, V5} {
			q, _, err := Decode(encode(t, &Unsubscribe{PacketID: 1, Filters: filters}, v), v, 0)
			if err != nil || !reflect.DeepEqual(q.(*Unsubscribe).Filters, filters) {
				t.Errorf("%v UNSUBSCRIBE: %v, %v", v, q, err)
			}
			var subs []Subscription
			for i, f := range filters {
				subs = append(subs, Subscription{Filter: f, QoS: QoS(i % 3)})
			}
			q, _, err = Decode(encode(t, &Subscribe{PacketID: 1, Subscriptions: subs}, v), v, 0)
			if err != nil || !reflect.DeepEqual(q.(*Subscribe).Subscriptions, subs) {
				t.Errorf("%v SUBSCRIBE: %v, %v", v, q, err)
			}
		}
	})
	t.Run("[MQTT-3:1.5.3-3] [MQTT-5:1.5.4-3] U+FEFF is kept in every string field", func(t *testing.T) {
		const bom = "\uFEFF"
		for _, v := range []Version{V311, V5} {
			c := &Connect{Version: v, ClientID: bom + "c" + bom, Will: &Will{Topic: bom, Payload: []byte{}},
				Username: bom, HasUsername: true}
			roundTrip(t, c, v)
			roundTrip(t, &Subscribe{PacketID: 1, Subscriptions: []Subscription{{Filter: bom + "/#"}}}, v)
		}
		roundTrip(t, &Publish{Topic: "t", Properties: Properties{ContentType: bom, ReasonString: "",
			UserProperties: []UserProperty{{bom, bom}}}, Payload: []byte{}}, V5)
	})
}

// TestForwardUnaltered is the codec's share of the rules that a server
// forwards an Application Message's properties unaltered: a PUBLISH decoded
// from a publisher and re-encoded for a subscriber, with only what the
// server changes (Packet Identifier, QoS, DUP, RETAIN, Topic Alias,
// Subscription Identifiers), keeps its Payload Format Indicator
// [MQTT-5:3.3.2-4], Response Topic [MQTT-5:3.3.2-15], Correlation Data
// [MQTT-5:3.3.2-16], User Properties all [MQTT-5:3.3.2-17] and in order
// [MQTT-5:3.3.2-18], Content Type [MQTT-5:3.3.2-20] and payload; and a Will
// Message published from a CONNECT keeps the order of its User Properties
// [MQTT-5:3.1.3-10].
func TestForwardUnaltered(t *testing.T) {
	in := mustHex(`32 54 00 03 61 2f 62 00 01 45
		01 01  02 00 00 00 0a  03 00 10 61 70 70 6c 69 63 61 74 69 6f 6e 2f 6a 73 6f 6e
		08 00 06 72 65 73 70 2f 31  09 00 03 01 02 03  0b 01  0b 80 01  23 00 07
		26 00 01 61 00 01 31  26 00 01 61 00 01 32  26 00 01 62 00 00
		7b 22 74 22 3a 31 7d`)
	p, _, err := Decode(in, V5, 0)
	if err != nil {
		t.Fatal(err)
	}
	pub := p.(*Publish)
	out := *pub
	out.QoS, out.PacketID, out.Dup, out.Retain = ExactlyOnce, 999, false, true
	out.Properties.TopicAlias = 0
	out.Properties.Unmark(PropTopicAlias)
	out.Properties.SubscriptionIdentifiers = []int{42}
	q, _, err := Decode(encode(t, &out, V5), V5, 0)
	if err != nil {
		t.Fatal(err)
	}
	fwd := q.(*Publish)
	a, b := pub.Properties, fwd.Properties
	if a.PayloadFormatIndicator != b.PayloadFormatIndicator || a.ResponseTopic != b.ResponseTopic ||
		!bytes.Equal(a.CorrelationData, b.CorrelationData) || !reflect.DeepEqual(a.UserProperties, b.UserProperties) ||
		a.ContentType != b.ContentType || a.MessageExpiryInterval != b.MessageExpiryInterval ||
		!bytes.Equal(pub.Payload, fwd.Payload) || pub.Topic != fwd.Topic {
		t.Errorf("forwarded message differs:\n in %s\nout %s", dump(pub), dump(fwd))
	}
	if b.Has(PropTopicAlias) || !reflect.DeepEqual(b.SubscriptionIdentifiers, []int{42}) {
		t.Errorf("forwarded Topic Alias / Subscription Identifiers: %+v", b)
	}

	// A Will Message is published as a PUBLISH with its Will Properties,
	// less the Will Delay Interval, which PUBLISH does not carry.
	users := []UserProperty{{"z", "1"}, {"a", "2"}, {"z", "3"}, {"m", ""}}
	c := &Connect{Version: V5, ClientID: "c", Will: &Will{Topic: "lwt", Payload: []byte("gone"), QoS: AtLeastOnce,
		Properties: Properties{WillDelayInterval: 10, ContentType: "text/plain", UserProperties: users}}}
	p, _, err = Decode(encode(t, c, V5), V5, 0)
	if err != nil {
		t.Fatal(err)
	}
	w := p.(*Connect).Will
	will := &Publish{Topic: w.Topic, QoS: w.QoS, PacketID: 1, Retain: w.Retain, Payload: w.Payload, Properties: w.Properties}
	will.Properties.WillDelayInterval = 0
	will.Properties.Unmark(PropWillDelayInterval)
	p, _, err = Decode(encode(t, will, V5), V5, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.(*Publish).Properties; !reflect.DeepEqual(got.UserProperties, users) || got.ContentType != "text/plain" {
		t.Errorf("published Will Message properties: %+v", got)
	}
}
