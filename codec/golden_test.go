package codec_test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"

	. "github.com/ternmq/tern/codec"
)

// goldenDir is the repository's testdata/golden directory: the golden files
// live at the repository root so that the spec coverage script counts the
// statements their comments cite.
const goldenDir = "../testdata/golden"

// parseHex reads the golden file format: '#' starts a comment that runs to
// the end of the line; everything else is hexadecimal bytes, with any
// whitespace between them.
func parseHex(text string) ([]byte, error) {
	var out []byte
	for n, line := range strings.Split(text, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		for _, f := range strings.Fields(line) {
			b, err := hex.DecodeString(f)
			if err != nil {
				return nil, fmt.Errorf("line %d: %v", n+1, err)
			}
			out = append(out, b...)
		}
	}
	return out, nil
}

// mustHex parses inline hex (spaces allowed, '#' comments allowed).
func mustHex(s string) []byte {
	b, err := parseHex(s)
	if err != nil {
		panic(err)
	}
	return b
}

// allPropertyIDs lists every property identifier of Table 2-4.
func allPropertyIDs() []PropertyID {
	var ids []PropertyID
	for id := PropertyID(1); id < 0x80; id++ {
		if id.Type() != 0 {
			ids = append(ids, id)
		}
	}
	return ids
}

// markPresent marks every property Has reports, which is what the decoder
// does for each property it reads. An expected value built from field
// values and explicit Marks then compares equal to a decoded packet exactly
// when the decoder reported the same presence.
func markPresent(p *Properties) {
	for _, id := range allPropertyIDs() {
		if p.Has(id) {
			p.Mark(id)
		}
	}
}

// marked returns p with ids marked present: an explicit zero.
func marked(p Properties, ids ...PropertyID) Properties {
	for _, id := range ids {
		p.Mark(id)
	}
	return p
}

// propsOf returns the properties of a packet, or nil for PINGREQ/PINGRESP.
func propsOf(p Packet) *Properties {
	switch p := p.(type) {
	case *Connect:
		return &p.Properties
	case *Connack:
		return &p.Properties
	case *Publish:
		return &p.Properties
	case *Puback:
		return &p.Properties
	case *Pubrec:
		return &p.Properties
	case *Pubrel:
		return &p.Properties
	case *Pubcomp:
		return &p.Properties
	case *Subscribe:
		return &p.Properties
	case *Suback:
		return &p.Properties
	case *Unsubscribe:
		return &p.Properties
	case *Unsuback:
		return &p.Properties
	case *Disconnect:
		return &p.Properties
	case *Auth:
		return &p.Properties
	}
	return nil
}

// normalize marks present properties in p (and its Will) so p can be
// compared with reflect.DeepEqual to a decoded packet.
func normalize(p Packet) Packet {
	if pr := propsOf(p); pr != nil {
		markPresent(pr)
	}
	if c, ok := p.(*Connect); ok && c.Will != nil {
		markPresent(&c.Will.Properties)
	}
	return p
}

// samePacket reports a difference between a decoded packet and the
// normalized expected one.
func samePacket(t *testing.T, got, want Packet) {
	t.Helper()
	normalize(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded packet differs\n got: %s\nwant: %s", dump(got), dump(want))
	}
}

func dump(p Packet) string {
	s := fmt.Sprintf("%T%+v", p, p)
	if c, ok := p.(*Connect); ok && c.Will != nil {
		s += fmt.Sprintf(" Will:%+v", *c.Will)
	}
	return s
}

func encode(t *testing.T, p Packet, v Version) []byte {
	t.Helper()
	b, err := p.Append(nil, v)
	if err != nil {
		t.Fatalf("Append(%T, %v): %v", p, v, err)
	}
	return b
}

// goldenWant is the expected decoded value of each golden file, keyed by
// its path under testdata/golden.
func goldenWant() map[string]Packet {
	userKV := []UserProperty{{Key: "k", Value: "v"}}
	return map[string]Packet{
		// MQTT 3.1.1
		"v311/connect-example.hex": &Connect{Version: V311, CleanStart: true, KeepAlive: 10, ClientID: "tern",
			Will:     &Will{Topic: "a/b", Payload: []byte("bye"), QoS: AtLeastOnce},
			Username: "user", HasUsername: true, Password: []byte("pass")},
		"v311/connect-minimal.hex": &Connect{Version: V311, CleanStart: true, KeepAlive: 60, ClientID: "c1"},
		"v311/connect-will-retain-qos2.hex": &Connect{Version: V311, ClientID: "dev-7",
			Will:        &Will{Topic: "status/dev-7", Payload: []byte{}, QoS: ExactlyOnce, Retain: true},
			HasUsername: true},
		"v311/connect-empty-clientid.hex":                &Connect{Version: V311, CleanStart: true, KeepAlive: 30},
		"v311/connack-accepted.hex":                      &Connack{ReasonCode: ConnectionAccepted},
		"v311/connack-session-present.hex":               &Connack{SessionPresent: true},
		"v311/connack-refused-protocol-version.hex":      &Connack{ReasonCode: RefusedProtocolVersion},
		"v311/connack-refused-identifier-rejected.hex":   &Connack{ReasonCode: RefusedIdentifierRejected},
		"v311/connack-refused-server-unavailable.hex":    &Connack{ReasonCode: RefusedServerUnavailable},
		"v311/connack-refused-bad-username-password.hex": &Connack{ReasonCode: RefusedBadUserNameOrPassword},
		"v311/connack-refused-not-authorized.hex":        &Connack{ReasonCode: RefusedNotAuthorized},
		"v311/publish-qos0.hex":                          &Publish{Topic: "sensors/temp", Payload: []byte("21.5")},
		"v311/publish-qos1-example.hex":                  &Publish{QoS: AtLeastOnce, Topic: "a/b", PacketID: 10, Payload: []byte{}},
		"v311/publish-qos2-dup-retain.hex": &Publish{Dup: true, QoS: ExactlyOnce, Retain: true, Topic: "a/b",
			PacketID: 0x1234, Payload: []byte{1, 2, 3}},
		"v311/publish-retain-empty.hex": &Publish{Retain: true, Topic: "a/b", Payload: []byte{}},
		"v311/publish-utf8-example.hex": &Publish{Topic: "A\U0002A6D4", Payload: []byte{}},
		"v311/publish-bom.hex":          &Publish{Topic: "\uFEFFa", Payload: []byte{}},
		"v311/puback.hex":               &Puback{Ack{PacketID: 10}},
		"v311/pubrec.hex":               &Pubrec{Ack{PacketID: 10}},
		"v311/pubrel.hex":               &Pubrel{Ack{PacketID: 10}},
		"v311/pubcomp.hex":              &Pubcomp{Ack{PacketID: 10}},
		"v311/subscribe-example.hex": &Subscribe{PacketID: 10, Subscriptions: []Subscription{
			{Filter: "a/b", QoS: AtLeastOnce}, {Filter: "c/d", QoS: ExactlyOnce}}},
		"v311/subscribe-wildcards.hex": &Subscribe{PacketID: 1, Subscriptions: []Subscription{
			{Filter: "sport/#"}, {Filter: "+/+", QoS: AtLeastOnce}, {Filter: "$SYS/#", QoS: ExactlyOnce}}},
		"v311/suback-example.hex":      &Suback{PacketID: 10, ReasonCodes: []ReasonCode{GrantedQoS0, GrantedQoS2, SubackFailure}},
		"v311/unsubscribe-example.hex": &Unsubscribe{PacketID: 10, Filters: []string{"a/b", "c/d"}},
		"v311/unsuback.hex":            &Unsuback{PacketID: 10},
		"v311/pingreq.hex":             &Pingreq{},
		"v311/pingresp.hex":            &Pingresp{},
		"v311/disconnect.hex":          &Disconnect{},

		// MQTT 5.0
		"v5/connect-example.hex": &Connect{Version: V5, CleanStart: true, KeepAlive: 10,
			Properties: Properties{SessionExpiryInterval: 10}, ClientID: "tern",
			Will: &Will{Topic: "a/b", Payload: []byte("bye"), QoS: AtLeastOnce,
				Properties: Properties{WillDelayInterval: 30}},
			Username: "user", HasUsername: true, Password: []byte("pass")},
		"v5/connect-minimal.hex": &Connect{Version: V5, CleanStart: true, KeepAlive: 60, ClientID: "c1"},
		"v5/connect-all-props.hex": &Connect{Version: V5, CleanStart: true, KeepAlive: 30,
			Properties: marked(Properties{SessionExpiryInterval: 3600, AuthenticationMethod: "SCRAM",
				AuthenticationData: []byte{1, 2, 3, 4}, RequestResponseInformation: 1, ReceiveMaximum: 20,
				TopicAliasMaximum: 10, UserProperties: []UserProperty{{"k", "1"}, {"k", "2"}},
				MaximumPacketSize: 65536}, PropRequestProblemInformation),
			ClientID: "c1",
			Will: &Will{Topic: "lwt", Payload: []byte("x"), QoS: ExactlyOnce, Retain: true,
				Properties: marked(Properties{PayloadFormatIndicator: 1, MessageExpiryInterval: 60,
					ContentType: "text/plain", ResponseTopic: "reply", CorrelationData: []byte{0xab, 0xcd},
					UserProperties: []UserProperty{{"a", "b"}}}, PropWillDelayInterval)},
			Username: "u", HasUsername: true, Password: []byte{}},
		"v5/connect-password-no-username.hex": &Connect{Version: V5, CleanStart: true, KeepAlive: 60, ClientID: "c1",
			Password: []byte("sec")},
		"v5/connack-success.hex":         &Connack{ReasonCode: Success},
		"v5/connack-session-present.hex": &Connack{SessionPresent: true},
		"v5/connack-all-props.hex": &Connack{Properties: marked(Properties{SessionExpiryInterval: 120,
			AssignedClientIdentifier: "auto", AuthenticationMethod: "SCRAM", AuthenticationData: []byte{0xff, 0},
			ResponseInformation: "resp", ServerReference: "s2", ReasonString: "ok", ReceiveMaximum: 100,
			TopicAliasMaximum: 5, UserProperties: userKV, MaximumPacketSize: 4096,
			SubscriptionIdentifierAvailable: 1},
			PropServerKeepAlive, PropMaximumQoS, PropRetainAvailable, PropWildcardSubscriptionAvailable,
			PropSharedSubscriptionAvailable)},
		"v5/connack-refused-bad-auth.hex": &Connack{ReasonCode: BadUserNameOrPassword},
		"v5/connack-use-another-server.hex": &Connack{ReasonCode: UseAnotherServer,
			Properties: Properties{ServerReference: "b.example"}},
		"v5/publish-qos0.hex":         &Publish{Topic: "sensors/temp", Payload: []byte("21.5")},
		"v5/publish-qos1-example.hex": &Publish{QoS: AtLeastOnce, Topic: "a/b", PacketID: 10, Payload: []byte{}},
		"v5/publish-qos1-props.hex": &Publish{QoS: AtLeastOnce, Topic: "a/b", PacketID: 1,
			Properties: Properties{PayloadFormatIndicator: 1, MessageExpiryInterval: 10,
				ContentType: "application/json", ResponseTopic: "resp/1", CorrelationData: []byte{1, 2, 3},
				SubscriptionIdentifiers: []int{1, 128}, TopicAlias: 7,
				UserProperties: []UserProperty{{"a", "1"}, {"a", "2"}, {"b", ""}}},
			Payload: []byte(`{"t":1}`)},
		"v5/publish-qos2-dup-retain.hex": &Publish{Dup: true, QoS: ExactlyOnce, Retain: true, Topic: "a/b",
			PacketID: 0x1234, Payload: []byte{1, 2, 3}},
		"v5/publish-topic-alias.hex": &Publish{Properties: Properties{TopicAlias: 7}, Payload: []byte("x")},
		"v5/publish-explicit-zero.hex": &Publish{Topic: "t",
			Properties: marked(Properties{}, PropPayloadFormatIndicator, PropMessageExpiryInterval), Payload: []byte{}},
		"v5/publish-utf8-example.hex": &Publish{Topic: "A\U0002A6D4", Payload: []byte{}},
		"v5/publish-bom.hex":          &Publish{Topic: "\uFEFFa", Payload: []byte{}},
		"v5/puback-short.hex":         &Puback{Ack{PacketID: 10}},
		"v5/puback-reason.hex":        &Puback{Ack{PacketID: 10, ReasonCode: NoMatchingSubscribers}},
		"v5/puback-props.hex": &Puback{Ack{PacketID: 10, ReasonCode: QuotaExceeded,
			Properties: Properties{ReasonString: "quota", UserProperties: userKV}}},
		"v5/pubrec-short.hex": &Pubrec{Ack{PacketID: 11}},
		"v5/pubrec-props.hex": &Pubrec{Ack{PacketID: 11, ReasonCode: NoMatchingSubscribers,
			Properties: Properties{ReasonString: "no"}}},
		"v5/pubrel-short.hex":     &Pubrel{Ack{PacketID: 11}},
		"v5/pubrel-not-found.hex": &Pubrel{Ack{PacketID: 11, ReasonCode: PacketIdentifierNotFound}},
		"v5/pubcomp-short.hex":    &Pubcomp{Ack{PacketID: 11}},
		"v5/pubcomp-props.hex": &Pubcomp{Ack{PacketID: 11, ReasonCode: PacketIdentifierNotFound,
			Properties: Properties{UserProperties: userKV}}},
		"v5/subscribe-example.hex": &Subscribe{PacketID: 10, Subscriptions: []Subscription{
			{Filter: "a/b", QoS: AtLeastOnce}, {Filter: "c/d", QoS: ExactlyOnce}}},
		"v5/subscribe-options.hex": &Subscribe{PacketID: 2,
			Properties: Properties{SubscriptionIdentifiers: []int{5}, UserProperties: userKV},
			Subscriptions: []Subscription{
				{Filter: "a/+", QoS: AtLeastOnce, NoLocal: true, RetainAsPublished: true, RetainHandling: 2},
				{Filter: "b/#", QoS: ExactlyOnce, RetainHandling: 1},
				{Filter: "c"}}},
		"v5/subscribe-shared.hex": &Subscribe{PacketID: 3, Subscriptions: []Subscription{
			{Filter: "$share/g/a/#", QoS: AtLeastOnce}}},
		"v5/suback-codes.hex": &Suback{PacketID: 10, ReasonCodes: []ReasonCode{GrantedQoS0, GrantedQoS1, GrantedQoS2,
			UnspecifiedError, ImplementationSpecificError, NotAuthorized, TopicFilterInvalid, PacketIdentifierInUse,
			QuotaExceeded, SharedSubscriptionsNotSupported, SubscriptionIdentifiersNotSupported,
			WildcardSubscriptionsNotSupported}},
		"v5/suback-props.hex": &Suback{PacketID: 11, Properties: Properties{ReasonString: "no"},
			ReasonCodes: []ReasonCode{GrantedQoS1, UnspecifiedError}},
		"v5/unsubscribe-example.hex": &Unsubscribe{PacketID: 10, Filters: []string{"a/b", "c/d"}},
		"v5/unsubscribe-props.hex": &Unsubscribe{PacketID: 12, Properties: Properties{UserProperties: userKV},
			Filters: []string{"$share/g/a/#"}},
		"v5/unsuback-codes.hex": &Unsuback{PacketID: 10, ReasonCodes: []ReasonCode{Success, NoSubscriptionExisted,
			UnspecifiedError, ImplementationSpecificError, NotAuthorized, TopicFilterInvalid, PacketIdentifierInUse}},
		"v5/unsuback-props.hex": &Unsuback{PacketID: 11, Properties: Properties{ReasonString: "no"},
			ReasonCodes: []ReasonCode{NoSubscriptionExisted}},
		"v5/pingreq.hex":           &Pingreq{},
		"v5/pingresp.hex":          &Pingresp{},
		"v5/disconnect-short.hex":  &Disconnect{},
		"v5/disconnect-reason.hex": &Disconnect{ReasonCode: DisconnectWithWillMessage},
		"v5/disconnect-example.hex": &Disconnect{ReasonCode: NormalDisconnection,
			Properties: marked(Properties{}, PropSessionExpiryInterval)},
		"v5/disconnect-props.hex": &Disconnect{ReasonCode: UseAnotherServer, Properties: Properties{
			SessionExpiryInterval: 60, ServerReference: "s2", ReasonString: "mv", UserProperties: userKV}},
		"v5/auth-short.hex": &Auth{},
		"v5/auth-continue.hex": &Auth{ReasonCode: ContinueAuthentication, Properties: Properties{
			AuthenticationMethod: "SCRAM", AuthenticationData: []byte{1, 2, 3}, ReasonString: "ok",
			UserProperties: userKV}},
		"v5/auth-reauthenticate.hex": &Auth{ReasonCode: ReAuthenticate,
			Properties: Properties{AuthenticationMethod: "SCRAM"}},
	}
}

// goldenFiles returns the golden files by key ("v5/publish-qos0.hex"), or
// skips the test where the file system is not reachable (js/wasm).
func goldenFiles(t *testing.T) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(goldenDir, "*", "*.hex"))
	if err == nil && len(paths) == 0 {
		err = errors.New("no golden files")
	}
	if err != nil {
		if runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
			t.Skipf("golden files unreadable on %s: %v", runtime.GOOS, err)
		}
		t.Fatalf("golden files: %v", err)
	}
	files := make(map[string][]byte, len(paths))
	for _, p := range paths {
		text, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(text), "#") {
			t.Errorf("%s: a golden file starts with a comment saying what it shows", p)
		}
		b, err := parseHex(string(text))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		files[filepath.Base(filepath.Dir(p))+"/"+filepath.Base(p)] = b
	}
	return files
}

func goldenVersion(t *testing.T, key string) Version {
	switch {
	case strings.HasPrefix(key, "v311/"):
		return V311
	case strings.HasPrefix(key, "v5/"):
		return V5
	}
	t.Fatalf("%s: golden files live in v311/ or v5/", key)
	return 0
}

// TestGolden decodes every golden file, compares the packet with the
// expected value, and checks that encoding the packet (and encoding the
// expected value) gives back exactly the file's bytes. Every strict prefix
// of a golden packet is incomplete, and a packet followed by another decodes
// alone.
func TestGolden(t *testing.T) {
	files := goldenFiles(t)
	want := goldenWant()
	keys := make([]string, 0, len(files))
	for k := range files {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	covered := map[Version]map[PacketType]bool{V311: {}, V5: {}}
	for _, key := range keys {
		data := files[key]
		t.Run(key, func(t *testing.T) {
			v := goldenVersion(t, key)
			w, ok := want[key]
			if !ok {
				t.Fatalf("no expected value for %s in goldenWant", key)
			}
			p, n, err := Decode(data, v, 0)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if n != len(data) {
				t.Errorf("Decode used %d of %d bytes", n, len(data))
			}
			covered[v][p.Type()] = true
			samePacket(t, p, w)
			if got := encode(t, p, v); !bytes.Equal(got, data) {
				t.Errorf("decode→encode:\n got % x\nwant % x", got, data)
			}
			if got := encode(t, w, v); !bytes.Equal(got, data) {
				t.Errorf("encoding the expected value:\n got % x\nwant % x", got, data)
			}
			for i := range data {
				if _, _, err := Decode(data[:i], v, 0); err != ErrIncomplete {
					t.Errorf("Decode of the first %d bytes: %v, want ErrIncomplete", i, err)
				}
			}
			two := append(append([]byte{}, data...), data...)
			if _, n, err := Decode(two, v, 0); err != nil || n != len(data) {
				t.Errorf("Decode of two packets: n=%d err=%v, want n=%d", n, err, len(data))
			}
		})
	}
	for key := range want {
		if _, ok := files[key]; !ok {
			t.Errorf("goldenWant has %s but there is no such file", key)
		}
	}
	for v, types := range covered {
		for pt := CONNECT; pt <= AUTH; pt++ {
			if pt == AUTH && v == V311 {
				continue
			}
			if !types[pt] {
				t.Errorf("no golden file for %v %v", pt, v)
			}
		}
	}
}

// TestGoldenVarint checks the Remaining Length examples of 3.1.1 section
// 2.2.3 and the Variable Byte Integer table of 5.0 section 1.5.5: decoding
// the bytes gives the value, and a packet whose Remaining Length is the
// value is encoded with exactly those bytes, the fewest possible
// [MQTT-5:1.5.5-1].
func TestGoldenVarint(t *testing.T) {
	text, err := os.ReadFile(filepath.Join(goldenDir, "varint.txt"))
	if err != nil {
		if runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(text))
	rows := 0
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		rows++
		x, err := strconv.Atoi(f[0])
		if err != nil {
			t.Fatalf("%q: %v", sc.Text(), err)
		}
		enc := mustHex(strings.Join(f[1:], " "))
		t.Run(f[0], func(t *testing.T) {
			for _, v := range []Version{V311, V5} {
				h, n, err := ParseFixedHeader(append([]byte{0x30}, enc...), v)
				if err != nil || n != 1+len(enc) || h.RemainingLength != x || h.Type != PUBLISH {
					t.Errorf("%v: ParseFixedHeader(30 % x) = %+v, %d, %v; want Remaining Length %d in %d bytes",
						v, enc, h, n, err, x, 1+len(enc))
				}
			}
			if x == MaxRemainingLength {
				// A 256 MB packet is too much to build in a unit test.
				return
			}
			// Encode a packet whose Remaining Length is x: PINGREQ for 0, else
			// a 3.1.1 QoS 0 PUBLISH to "a" with x-3 payload bytes.
			var p Packet = &Pingreq{}
			if x > 0 {
				if x < 3 {
					t.Fatalf("no packet has Remaining Length %d here", x)
				}
				p = &Publish{Topic: "a", Payload: make([]byte, x-3)}
			}
			b := encode(t, p, V311)
			if !bytes.Equal(b[1:1+len(enc)], enc) || len(b) != 1+len(enc)+x {
				t.Errorf("Remaining Length %d encoded as % x (packet of %d bytes), want % x", x, b[1:min(len(b), 6)], len(b), enc)
			}
		})
	}
	if rows < 8 {
		t.Errorf("varint.txt has %d rows, want the 8 limits of the table and more", rows)
	}
}
