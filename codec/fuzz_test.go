package codec

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// Every decoder has a fuzz target here. Each one checks that decoding never
// panics and, for every packet it accepts, the round trip: decode → encode
// (same version) → decode → encode gives the same bytes twice. Encoding a
// decoded packet must not fail: if it does, the decoder accepted something
// the encoder (rightly or wrongly) refuses, and one of them is wrong.
//
// Run one target at a time, for example:
//
//	go test -run '^$' -fuzz '^FuzzDecode$' -fuzztime 60s ./codec/
//
// The seed corpus is seedPackets below plus the files in
// testdata/fuzz/<FuzzName>/; inputs the fuzzer finds are saved there too
// and then run by every plain `go test`.

// seedPacket is a valid packet and the version it is encoded in.
type seedPacket struct {
	name string
	v    Version
	p    Packet
}

// seedPackets returns valid packets of every type in both versions, with
// every property in at least one of them.
func seedPackets() []seedPacket {
	will := func() *Will {
		return &Will{Topic: "clients/c1/status", Payload: []byte("offline"), QoS: AtLeastOnce, Retain: true}
	}
	users := []UserProperty{{"k", "v"}, {"k", "v2"}, {"", ""}}
	var seeds []seedPacket
	for _, v := range []Version{V311, V5} {
		add := func(name string, p Packet) { seeds = append(seeds, seedPacket{v.String() + "/" + name, v, p}) }
		add("connect-min", &Connect{Version: v, CleanStart: true, KeepAlive: 60, ClientID: "c1"})
		add("connect-full", &Connect{Version: v, KeepAlive: 30, ClientID: "client-1", Will: will(),
			Username: "user", HasUsername: true, Password: []byte("secret")})
		add("connack", &Connack{SessionPresent: true})
		add("connack-refused", &Connack{ReasonCode: map[Version]ReasonCode{V311: RefusedNotAuthorized, V5: NotAuthorized}[v]})
		add("publish-qos0", &Publish{Topic: "a/b", Payload: []byte("hello")})
		add("publish-qos1", &Publish{QoS: AtLeastOnce, PacketID: 1, Topic: "a/b/c", Payload: []byte{0, 1, 2}})
		add("publish-qos2-dup-retain", &Publish{Dup: true, QoS: ExactlyOnce, Retain: true, PacketID: 65535, Topic: "$SYS/x"})
		add("puback", &Puback{Ack{PacketID: 1}})
		add("pubrec", &Pubrec{Ack{PacketID: 2}})
		add("pubrel", &Pubrel{Ack{PacketID: 3}})
		add("pubcomp", &Pubcomp{Ack{PacketID: 4}})
		add("subscribe", &Subscribe{PacketID: 10, Subscriptions: []Subscription{
			{Filter: "a/+/c", QoS: AtLeastOnce}, {Filter: "#"}, {Filter: "$share/g/x/#", QoS: ExactlyOnce}}})
		add("suback", &Suback{PacketID: 10, ReasonCodes: []ReasonCode{GrantedQoS1, GrantedQoS0, SubackFailure}})
		add("unsubscribe", &Unsubscribe{PacketID: 11, Filters: []string{"a/+/c", "#"}})
		add("unsuback", &Unsuback{PacketID: 11})
		add("pingreq", &Pingreq{})
		add("pingresp", &Pingresp{})
		add("disconnect", &Disconnect{})
	}
	add := func(name string, p Packet) { seeds = append(seeds, seedPacket{"5.0/" + name, V5, p}) }
	w := will()
	w.Properties = Properties{WillDelayInterval: 5, PayloadFormatIndicator: 1, MessageExpiryInterval: 60,
		ContentType: "text/plain", ResponseTopic: "r/t", CorrelationData: []byte{1}, UserProperties: users}
	add("connect-props", &Connect{Version: V5, CleanStart: true, ClientID: "", Will: w, Password: []byte{},
		Properties: Properties{SessionExpiryInterval: 3600, ReceiveMaximum: 20, MaximumPacketSize: 1 << 20,
			TopicAliasMaximum: 10, RequestResponseInformation: 1, RequestProblemInformation: 0,
			AuthenticationMethod: "SCRAM-SHA-1", AuthenticationData: []byte("client-first"), UserProperties: users}})
	connack := &Connack{Properties: Properties{SessionExpiryInterval: 10, ReceiveMaximum: 100, MaximumQoS: 1,
		RetainAvailable: 0, MaximumPacketSize: 65536, AssignedClientIdentifier: "auto-1", TopicAliasMaximum: 5,
		ReasonString: "welcome", UserProperties: users, WildcardSubscriptionAvailable: 1,
		SubscriptionIdentifierAvailable: 1, SharedSubscriptionAvailable: 0, ServerKeepAlive: 0,
		ResponseInformation: "resp/", ServerReference: "other:1883", AuthenticationMethod: "m",
		AuthenticationData: []byte{}}}
	for _, id := range []PropertyID{PropMaximumQoS, PropRetainAvailable, PropSharedSubscriptionAvailable, PropServerKeepAlive} {
		connack.Properties.Mark(id) // explicit zeros
	}
	add("connack-props", connack)
	add("publish-props", hotPublishV5())
	add("publish-alias-only", &Publish{QoS: AtLeastOnce, PacketID: 9, Properties: Properties{TopicAlias: 3}, Payload: []byte("x")})
	add("puback-reason", &Puback{Ack{PacketID: 1, ReasonCode: NoMatchingSubscribers}})
	add("pubrec-props", &Pubrec{Ack{PacketID: 2, ReasonCode: QuotaExceeded, Properties: Properties{ReasonString: "full", UserProperties: users}}})
	add("pubrel-reason", &Pubrel{Ack{PacketID: 3, ReasonCode: PacketIdentifierNotFound}})
	add("pubcomp-props", &Pubcomp{Ack{PacketID: 4, Properties: Properties{ReasonString: "ok"}}})
	add("subscribe-options", &Subscribe{PacketID: 12, Properties: Properties{SubscriptionIdentifiers: []int{268435455}, UserProperties: users},
		Subscriptions: []Subscription{{Filter: "a/#", QoS: ExactlyOnce, NoLocal: true, RetainAsPublished: true, RetainHandling: 2},
			{Filter: "$share/grp/+", QoS: AtLeastOnce, RetainHandling: 1}}})
	add("suback-props", &Suback{PacketID: 12, Properties: Properties{ReasonString: "partly"},
		ReasonCodes: []ReasonCode{GrantedQoS2, SharedSubscriptionsNotSupported, WildcardSubscriptionsNotSupported}})
	add("unsubscribe-props", &Unsubscribe{PacketID: 13, Properties: Properties{UserProperties: users}, Filters: []string{"a"}})
	add("unsuback-codes", &Unsuback{PacketID: 13, Properties: Properties{ReasonString: "r"},
		ReasonCodes: []ReasonCode{Success, NoSubscriptionExisted, TopicFilterInvalid}})
	add("disconnect-reason", &Disconnect{ReasonCode: DisconnectWithWillMessage})
	add("disconnect-props", &Disconnect{ReasonCode: ServerMoved, Properties: Properties{
		SessionExpiryInterval: 0, ReasonString: "moving", ServerReference: "b:1883", UserProperties: users}})
	add("auth", &Auth{})
	add("auth-props", &Auth{ReasonCode: ContinueAuthentication, Properties: Properties{
		AuthenticationMethod: "SCRAM-SHA-1", AuthenticationData: []byte("server-first"), ReasonString: "more"}})
	return seeds
}

// versionByte is the first byte of a FuzzDecode input: it picks the version.
func versionByte(v Version) byte {
	if v == V5 {
		return 1
	}
	return 0
}

// fuzzVersion maps any byte to one of the two versions.
func fuzzVersion(b byte) Version {
	if b%2 == 1 {
		return V5
	}
	return V311
}

// encodeVersion is the version a decoded packet is encoded in: a CONNECT
// carries its own. (Before a CONNECT, v is 0 and nothing else decodes.)
func encodeVersion(p Packet, v Version) Version {
	if c, ok := p.(*Connect); ok {
		return c.Version
	}
	return v
}

// checkRoundTrip encodes a decoded packet in version v, decodes the result
// and encodes that again: both encodings must succeed and agree. With deep
// set, the two decoded packets must also be deeply equal (not for packets
// from a Reader, whose reused slices are empty where Decode's are nil). It
// returns the encoding.
func checkRoundTrip(t *testing.T, p Packet, v Version, deep bool) []byte {
	t.Helper()
	v = encodeVersion(p, v)
	enc1, err := p.Append(nil, v)
	if err != nil {
		t.Fatalf("encoding a decoded %T in %v failed: %v\npacket: %+v", p, v, err, p)
	}
	p2, n, err := Decode(enc1, v, 0)
	if err != nil {
		t.Fatalf("decoding a re-encoded %T in %v failed: %v\nbytes: % x\npacket: %+v", p, v, err, enc1, p)
	}
	if n != len(enc1) {
		t.Fatalf("decoding %d re-encoded bytes used %d", len(enc1), n)
	}
	enc2, err := p2.Append(nil, v)
	if err != nil {
		t.Fatalf("encoding a twice-decoded %T in %v failed: %v", p2, v, err)
	}
	if !bytes.Equal(enc1, enc2) {
		t.Fatalf("%T in %v: encode(decode(encode(p))) differs from encode(p)\nfirst  % x\nsecond % x", p, v, enc1, enc2)
	}
	if deep && !reflect.DeepEqual(p, p2) {
		t.Fatalf("%T in %v: decode(encode(p)) differs from p\np:  %+v\np2: %+v", p, v, p, p2)
	}
	return enc1
}

// checkDecodeError checks the error of a failed Decode: ErrIncomplete or an
// *Error carrying a failure reason code.
func checkDecodeError(t *testing.T, err error) {
	t.Helper()
	if err == ErrIncomplete {
		return
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Decode returned %T %v, want *Error or ErrIncomplete", err, err)
	}
	if !e.Code.IsError() || e.Msg == "" || e.Error() == "" {
		t.Fatalf("Decode returned an *Error without a failure code or message: %#v", e)
	}
}

// fuzzDecode is the body of FuzzDecode: data[0] picks the version, the rest
// is decoded with Decode.
func fuzzDecode(t *testing.T, data []byte) {
	if len(data) == 0 {
		return
	}
	v, b := fuzzVersion(data[0]), data[1:]
	p, n, err := Decode(b, v, 0)
	if err != nil {
		if p != nil || n != 0 {
			t.Fatalf("Decode returned a packet or a length with error %v", err)
		}
		checkDecodeError(t, err)
		return
	}
	if n < 2 || n > len(b) {
		t.Fatalf("Decode used %d of %d bytes", n, len(b))
	}
	// The packet is decided by its own bytes: a shorter buffer is
	// incomplete, and the exact bytes decode the same.
	if _, _, err := Decode(b[:n-1], v, 0); err != ErrIncomplete {
		t.Fatalf("Decode of the packet less its last byte: %v, want ErrIncomplete", err)
	}
	if _, _, err := Decode(b[:n], v, n); err != nil {
		t.Fatalf("Decode with maxSize = the packet's size: %v", err)
	}
	enc := checkRoundTrip(t, p, v, true)
	if encodeVersion(p, v) == V311 {
		// 3.1.1 has exactly one encoding per packet.
		if !bytes.Equal(enc, b[:n]) {
			t.Fatalf("3.1.1 %T re-encoded differently\nin  % x\nout % x", p, b[:n], enc)
		}
	} else if len(enc) > n {
		// 5.0 may drop an empty Property Length or a Success reason code,
		// and orders properties by id, but never grows a packet.
		t.Fatalf("5.0 %T re-encoded into more bytes\nin  % x\nout % x", p, b[:n], enc)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range seedPackets() {
		f.Add(append([]byte{versionByte(s.v)}, mustAppend(f, s.p, s.v)...))
	}
	f.Fuzz(fuzzDecode)
}

// chunkReader hands out its data in two parts split at split, at most k
// bytes per Read (k == 0: no limit), so that a Reader sees packets and
// fixed headers cut at every position.
type chunkReader struct {
	data  []byte
	split int
	k     int
	off   int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if c.off >= len(c.data) {
		return 0, io.EOF
	}
	end := len(c.data)
	if c.off < c.split {
		end = c.split
	}
	if c.k > 0 {
		end = min(end, c.off+c.k)
	}
	n := copy(p, c.data[c.off:end])
	c.off += n
	return n, nil
}

// fuzzReader is the body of FuzzReader. The stream is decoded twice: with
// Decode, one packet after another, and with a Reader fed in chunks. Both
// must see the same packets and fail the same way.
func fuzzReader(t *testing.T, data []byte, split uint16, k uint8, maxSize uint16) {
	if len(data) == 0 {
		return
	}
	// The version the stream starts in: unset (a server before CONNECT),
	// 3.1.1 or 5.0 (a client after CONNECT).
	v := [...]Version{0, V311, V5}[data[0]%3]
	stream := data[1:]

	// What Decode makes of the stream.
	type result struct {
		enc []byte
		n   int // bytes the packet took on the wire
		err error
	}
	var want []result
	for b, dv := stream, v; ; {
		p, n, err := Decode(b, dv, int(maxSize))
		if err == ErrIncomplete {
			if len(b) == 0 {
				err = io.EOF
			} else {
				err = io.ErrUnexpectedEOF
			}
		}
		if err != nil {
			want = append(want, result{err: err})
			break
		}
		want = append(want, result{enc: checkRoundTrip(t, p, dv, true), n: n})
		if c, ok := p.(*Connect); ok {
			dv = c.Version
		}
		b = b[n:]
	}

	cr := &chunkReader{data: stream, split: int(split) % (len(stream) + 1), k: int(k)}
	r := NewReader(cr, int(maxSize))
	r.SetVersion(v)
	consumed := 0
	for i, w := range want {
		p, err := r.ReadPacket()
		if w.err != nil {
			if !sameError(err, w.err) {
				t.Fatalf("packet %d: ReadPacket error %v, Decode error %v", i, err, w.err)
			}
			return
		}
		if err != nil {
			t.Fatalf("packet %d: ReadPacket failed where Decode did not: %v", i, err)
		}
		if enc := checkRoundTrip(t, p, r.Version(), false); !bytes.Equal(enc, w.enc) {
			t.Fatalf("packet %d: Reader and Decode disagree\nReader % x\nDecode % x", i, enc, w.enc)
		}
		// Buffered is exactly what was read and not yet decoded.
		consumed += w.n
		if r.Buffered() != cr.off-consumed {
			t.Fatalf("packet %d: Buffered() = %d, but %d bytes were read and %d decoded", i, r.Buffered(), cr.off, consumed)
		}
	}
}

// sameError reports whether two decode errors say the same thing.
func sameError(a, b error) bool {
	var ea, eb *Error
	if errors.As(a, &ea) && errors.As(b, &eb) {
		return ea.Code == eb.Code && ea.Rule == eb.Rule && ea.Msg == eb.Msg
	}
	return a == b
}

func FuzzReader(f *testing.F) {
	// Each seed is a whole session's worth of packets in one version.
	var streams [2][]byte
	for _, s := range seedPackets() {
		i := 0
		if s.v == V5 {
			i = 1
		}
		streams[i] = append(streams[i], mustAppend(f, s.p, s.v)...)
	}
	for i := range streams {
		sel := byte(1 + i) // data[0]%3 picks V311 or V5
		f.Add(append([]byte{sel}, streams[i]...), uint16(len(streams[i])/2), uint8(0), uint16(0))
		f.Add(append([]byte{sel}, streams[i]...), uint16(7), uint8(3), uint16(0))
		// Unset version: CONNECT first, which sets it.
		f.Add(append([]byte{0}, streams[i]...), uint16(1), uint8(1), uint16(0))
		// A maximum packet size some packets exceed.
		f.Add(append([]byte{sel}, streams[i]...), uint16(100), uint8(0), uint16(40))
	}
	f.Fuzz(fuzzReader)
}

func FuzzParseFixedHeader(f *testing.F) {
	for _, s := range seedPackets() {
		b := mustAppend(f, s.p, s.v)
		f.Add(b[:min(len(b), 6)], s.v == V5)
	}
	f.Add([]byte{0x30, 0xff, 0xff, 0xff, 0x7f}, false)      // the largest Remaining Length
	f.Add([]byte{0x30, 0x80, 0x80, 0x80, 0x80, 0x01}, true) // five bytes of varint
	f.Add([]byte{0x30, 0x80, 0x00}, true)                   // not the minimum number of bytes
	f.Fuzz(func(t *testing.T, b []byte, v5 bool) {
		v := V311
		if v5 {
			v = V5
		}
		h, n, err := ParseFixedHeader(b, v)
		if err != nil {
			if n != 0 {
				t.Fatalf("n = %d with error %v", n, err)
			}
			checkDecodeError(t, err)
			if _, _, derr := Decode(b, v, 0); !sameError(derr, err) {
				t.Fatalf("Decode error %v, ParseFixedHeader error %v", derr, err)
			}
			return
		}
		if n == 0 {
			// Too short to tell: the header can be at most five bytes.
			if len(b) >= 5 {
				t.Fatalf("ParseFixedHeader(% x) wants more than five bytes", b)
			}
			return
		}
		if n < 2 || n > 5 || n > len(b) {
			t.Fatalf("header length %d of %d bytes", n, len(b))
		}
		if h.Type != PacketType(b[0]>>4) || h.Flags != b[0]&0x0F || h.RemainingLength > MaxRemainingLength {
			t.Fatalf("header %+v from % x", h, b[:n])
		}
		// The Remaining Length has one encoding [MQTT-5:1.5.5-1].
		enc, err := header(nil, h.Type, h.Flags, h.RemainingLength)
		if err != nil || !bytes.Equal(enc, b[:n]) {
			t.Fatalf("header re-encoded as % x, %v; read from % x", enc, err, b[:n])
		}
		if h2, n2, err := ParseFixedHeader(b[:n], v); h2 != h || n2 != n || err != nil {
			t.Fatalf("the header alone parses as %+v, %d, %v", h2, n2, err)
		}
	})
}

// refMatch is a plain MatchTopic to check the real one against: split both
// at '/' and compare level by level (section 4.7).
func refMatch(filter, topic string) bool {
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false // [MQTT-4.7.2-1]
	}
	fs, ts := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, f := range fs {
		if f == "#" {
			return true // also matches the parent level
		}
		if i >= len(ts) || (f != "+" && f != ts[i]) {
			return false
		}
	}
	return len(fs) == len(ts)
}

func FuzzTopicFilter(f *testing.F) {
	for _, s := range [][2]string{
		{"sport/tennis/player1/#", "sport/tennis/player1"},
		{"sport/+/player1", "sport//player1"},
		{"+/+", "/finance"},
		{"#", "$SYS/monitor/Clients"},
		{"$SYS/#", "$SYS/monitor/Clients"},
		{"+/monitor/Clients", "$SYS/monitor/Clients"},
		{"$share/consumer1/sport/tennis/+", "sport/tennis/player1"},
		{"$share//x", "x"},
		{"sport/tennis#", "sport/tennis"},
		{"sport+", "sport+"},
		{"a/b/c", "a/b/c"},
		{"Accounts payable", "accounts payable"},
		{"/", "/"},
		{"a\x00b", "a\x00b"},
		{"\xff", "\xed\xa0\x80"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, filter, topic string) {
		ferr, terr := ValidTopicFilter(filter), ValidTopicName(topic)
		for _, err := range []error{ferr, terr, ValidTopicName(filter)} {
			var e *Error
			if err != nil && (!errors.As(err, &e) || e.Rule == "" ||
				(e.Code != TopicFilterInvalid && e.Code != TopicNameInvalid)) {
				t.Fatalf("topic check returned %#v", err)
			}
		}
		group, shared, serr := ParseShared(filter)
		match := MatchTopic(filter, topic) // must not panic on any input
		switch {
		case !IsShared(filter):
			if serr != nil || group != "" || shared != filter {
				t.Fatalf("ParseShared(%q) = %q, %q, %v for a non-shared filter", filter, group, shared, serr)
			}
		case ferr == nil:
			// The filter after the ShareName is checked level by level: it
			// may itself start with "$share/" ("$share/g/$share/" shares the
			// filter "$share/").
			if serr != nil || group == "" || strings.ContainsAny(group, "/+#") || shared == "" ||
				validFilterLevels(shared) != nil {
				t.Fatalf("ParseShared(%q) = %q, %q, %v for a valid shared filter", filter, group, shared, serr)
			}
			if filter != sharePrefix+group+"/"+shared {
				t.Fatalf("ParseShared(%q) = %q, %q does not put back together", filter, group, shared)
			}
			return // MatchTopic is for the filter ParseShared returns
		}
		if ferr != nil || terr != nil {
			return
		}
		if want := refMatch(filter, topic); match != want {
			t.Fatalf("MatchTopic(%q, %q) = %v, want %v", filter, topic, match, want)
		}
		if !HasWildcard(filter) && ValidTopicName(filter) == nil && !MatchTopic(filter, filter) {
			t.Fatalf("MatchTopic(%q, itself) = false", filter)
		}
		// A filter without wildcards matches exactly one topic: itself
		// [MQTT-4.7.3-4], byte for byte.
		if !HasWildcard(filter) && match != (filter == topic) {
			t.Fatalf("MatchTopic(%q, %q) = %v", filter, topic, match)
		}
	})
}

// propertyContexts are the places properties appear, each with a way to
// build a 5.0 packet around a raw property block (Property Length not
// included).
var propertyContexts = []struct {
	t     PacketType // willContext for Will Properties
	build func(props []byte) []byte
}{
	{CONNECT, func(p []byte) []byte {
		return packetWithProps(CONNECT, 0, []byte{0, 4, 'M', 'Q', 'T', 'T', 5, 0, 0, 0}, p, []byte{0, 1, 'c'})
	}},
	{willContext, func(p []byte) []byte {
		return packetWithProps(CONNECT, 0, []byte{0, 4, 'M', 'Q', 'T', 'T', 5, flagWill, 0, 0, 0, 0, 1, 'c'}, p, []byte{0, 1, 't', 0, 0})
	}},
	{CONNACK, func(p []byte) []byte { return packetWithProps(CONNACK, 0, []byte{0, 0}, p, nil) }},
	{PUBLISH, func(p []byte) []byte {
		return packetWithProps(PUBLISH, 2, []byte{0, 1, 't', 0, 1}, p, []byte("payload"))
	}},
	{PUBACK, func(p []byte) []byte { return packetWithProps(PUBACK, 0, []byte{0, 1, 0x10}, p, nil) }},
	{PUBREC, func(p []byte) []byte { return packetWithProps(PUBREC, 0, []byte{0, 1, 0}, p, nil) }},
	{PUBREL, func(p []byte) []byte { return packetWithProps(PUBREL, 2, []byte{0, 1, 0x92}, p, nil) }},
	{PUBCOMP, func(p []byte) []byte { return packetWithProps(PUBCOMP, 0, []byte{0, 1, 0}, p, nil) }},
	{SUBSCRIBE, func(p []byte) []byte { return packetWithProps(SUBSCRIBE, 2, []byte{0, 1}, p, []byte{0, 1, '#', 1}) }},
	{SUBACK, func(p []byte) []byte { return packetWithProps(SUBACK, 0, []byte{0, 1}, p, []byte{0x80}) }},
	{UNSUBSCRIBE, func(p []byte) []byte { return packetWithProps(UNSUBSCRIBE, 2, []byte{0, 1}, p, []byte{0, 1, '#'}) }},
	{UNSUBACK, func(p []byte) []byte { return packetWithProps(UNSUBACK, 0, []byte{0, 1}, p, []byte{0x11}) }},
	{DISCONNECT, func(p []byte) []byte { return packetWithProps(DISCONNECT, 0, []byte{0x04}, p, nil) }},
	{AUTH, func(p []byte) []byte { return packetWithProps(AUTH, 0, []byte{0x18}, p, nil) }},
}

// packetWithProps assembles a packet: fixed header, the bytes before the properties,
// Property Length and properties, the bytes after.
func packetWithProps(t PacketType, flags byte, before, props, after []byte) []byte {
	var b []byte
	b = append(b, before...)
	b = appendVarint(b, len(props))
	b = append(b, props...)
	b = append(b, after...)
	return append(appendVarint([]byte{byte(t)<<4 | flags}, len(b)), b...)
}

// FuzzProperties decodes a fuzzed property block inside a 5.0 packet of
// each kind that carries properties.
func FuzzProperties(f *testing.F) {
	for _, s := range seedPackets() {
		if s.v != V5 {
			continue
		}
		props := propertiesOf(s.p)
		if props == nil || props.empty() {
			continue
		}
		t := s.p.Type()
		if c, ok := s.p.(*Connect); ok && c.Will != nil && !c.Will.Properties.empty() {
			props, t = &c.Will.Properties, willContext
		}
		n, err := props.size(t)
		if err != nil {
			f.Fatalf("%s: %v", s.name, err)
		}
		for i, pc := range propertyContexts {
			if pc.t == t {
				f.Add(props.appendTo(make([]byte, 0, n)), uint8(i))
			}
		}
	}
	f.Add([]byte{byte(PropUserProperty), 0, 0, 0, 0}, uint8(0))
	f.Add([]byte{byte(PropSubscriptionIdentifier), 0xff, 0xff, 0xff, 0x7f}, uint8(3))
	f.Add([]byte{byte(PropTopicAlias), 0, 0}, uint8(3))
	f.Fuzz(func(t *testing.T, props []byte, which uint8) {
		pc := propertyContexts[int(which)%len(propertyContexts)]
		pkt := pc.build(props)
		p, n, err := Decode(pkt, V5, 0)
		if err != nil {
			checkDecodeError(t, err)
			return
		}
		if n != len(pkt) {
			t.Fatalf("Decode used %d of %d bytes", n, len(pkt))
		}
		got := propertiesOf(p)
		if pc.t == willContext {
			got = &p.(*Connect).Will.Properties
		}
		for _, id := range propertyOrder {
			if got.Has(id) && !id.AllowedIn(pc.t) {
				t.Fatalf("decoded %v in %v", id, contextName(pc.t))
			}
		}
		checkRoundTrip(t, p, V5, true)
	})
}

// propertiesOf returns the packet's properties, or nil for a packet
// without any.
func propertiesOf(p Packet) *Properties {
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

// TestSeedPacketsRoundTrip runs the fuzz seeds as a plain test, so a broken
// seed shows up as a clear failure.
func TestSeedPacketsRoundTrip(t *testing.T) {
	types := map[Version]map[PacketType]bool{V311: {}, V5: {}}
	for _, s := range seedPackets() {
		t.Run(s.name, func(t *testing.T) {
			b := mustAppend(t, s.p, s.v)
			p, n, err := Decode(b, s.v, 0)
			if err != nil || n != len(b) {
				t.Fatalf("Decode = %v, %d of %d", err, n, len(b))
			}
			checkRoundTrip(t, p, s.v, true)
			types[s.v][s.p.Type()] = true
		})
	}
	for v, seen := range types {
		for pt := CONNECT; pt <= AUTH; pt++ {
			if !seen[pt] && (pt != AUTH || v == V5) {
				t.Errorf("no %v seed for %v", v, pt)
			}
		}
	}
}
