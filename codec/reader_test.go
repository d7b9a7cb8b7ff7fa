package codec

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"
	"testing/iotest"
	"unsafe"
)

// countingReader counts the Read calls that reach r.
type countingReader struct {
	r     io.Reader
	reads int
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.reads++
	return c.r.Read(p)
}

// chunksReader returns one chunk per Read (each chunk must fit the
// caller's buffer), then io.EOF.
type chunksReader struct {
	t      *testing.T
	chunks [][]byte
}

func (c *chunksReader) Read(p []byte) (int, error) {
	if len(c.chunks) == 0 {
		return 0, io.EOF
	}
	if len(p) < len(c.chunks[0]) {
		c.t.Fatalf("Read into %d bytes, next chunk is %d", len(p), len(c.chunks[0]))
	}
	n := copy(p, c.chunks[0])
	c.chunks = c.chunks[1:]
	return n, nil
}

// stream encodes packets one after another in version v.
func stream(t *testing.T, v Version, pkts ...Packet) []byte {
	t.Helper()
	var b []byte
	for _, p := range pkts {
		var err error
		if b, err = p.Append(b, v); err != nil {
			t.Fatalf("encode %T: %v", p, err)
		}
	}
	return b
}

// readAll reads packets until an error and returns their encodings (in the
// Reader's version) and the error.
func readAll(t *testing.T, r *Reader) ([][]byte, error) {
	t.Helper()
	var out [][]byte
	for {
		p, err := r.ReadPacket()
		if err != nil {
			return out, err
		}
		b, err := p.Append(nil, encodeVersion(p, r.Version()))
		if err != nil {
			t.Fatalf("re-encode %T: %v", p, err)
		}
		out = append(out, b)
	}
}

// wantCode fails unless err is an *Error with the given code and rule.
func wantCode(t *testing.T, err error, code ReasonCode, rule string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want an *Error with %v", err, err, code)
	}
	if e.Code != code || e.Rule != rule {
		t.Fatalf("error %v: code %v rule %q, want %v %q", e, e.Code, e.Rule, code, rule)
	}
}

// TestReaderStreams reads a session's worth of packets of every type in
// both versions, handed over all at once, one byte per Read, with the last
// bytes and io.EOF together, and in odd-sized pieces.
func TestReaderStreams(t *testing.T) {
	for _, v := range []Version{V311, V5} {
		var want [][]byte
		var all []byte
		for _, s := range seedPackets() {
			if s.v == v {
				b := mustAppend(t, s.p, v)
				want = append(want, b)
				all = append(all, b...)
			}
		}
		for _, rc := range []struct {
			name string
			r    func() io.Reader
		}{
			{"whole", func() io.Reader { return bytes.NewReader(all) }},
			{"OneByteReader", func() io.Reader { return iotest.OneByteReader(bytes.NewReader(all)) }},
			{"DataErrReader", func() io.Reader { return iotest.DataErrReader(bytes.NewReader(all)) }},
			{"HalfReader", func() io.Reader { return iotest.HalfReader(bytes.NewReader(all)) }},
			{"chunks-of-7", func() io.Reader { return &chunkReader{data: all, k: 7} }},
		} {
			t.Run(v.String()+"/"+rc.name, func(t *testing.T) {
				r := NewReader(rc.r(), 0)
				// The stream starts with CONNECT, which sets the version.
				got, err := readAll(t, r)
				if err != io.EOF {
					t.Fatalf("after %d packets: %v, want io.EOF", len(got), err)
				}
				if r.Version() != v {
					t.Errorf("Version() = %v, want %v", r.Version(), v)
				}
				if len(got) != len(want) {
					t.Fatalf("read %d packets, want %d", len(got), len(want))
				}
				for i := range want {
					if !bytes.Equal(got[i], want[i]) {
						t.Errorf("packet %d:\ngot  % x\nwant % x", i, got[i], want[i])
					}
				}
			})
		}
	}
}

// TestReaderManyPacketsOneRead: small packets that arrive together cost one
// Read between them.
func TestReaderManyPacketsOneRead(t *testing.T) {
	var pkts []Packet
	for i := range 20 {
		pkts = append(pkts, &Puback{Ack{PacketID: uint16(i + 1)}}, &Publish{Topic: "a/b", Payload: []byte("hi")})
	}
	b := stream(t, V5, pkts...)
	if len(b) > minReadBuffer {
		t.Fatalf("test stream of %d bytes does not fit the first buffer", len(b))
	}
	cr := &countingReader{r: bytes.NewReader(b)}
	r := NewReader(cr, 0)
	r.SetVersion(V5)
	for i := range pkts {
		p, err := r.ReadPacket()
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if p.Type() != pkts[i].Type() {
			t.Fatalf("packet %d is a %v, want a %v", i, p.Type(), pkts[i].Type())
		}
	}
	if cr.reads != 1 {
		t.Errorf("%d packets took %d reads, want 1", len(pkts), cr.reads)
	}
	if _, err := r.ReadPacket(); err != io.EOF {
		t.Errorf("after the last packet: %v, want io.EOF", err)
	}
}

// TestReaderOneByteReads reads a 5.0 PUBLISH with properties handed over one
// byte per Read.
func TestReaderOneByteReads(t *testing.T) {
	want := mustAppend(t, hotPublishV5(), V5)
	r := NewReader(iotest.OneByteReader(bytes.NewReader(want)), 0)
	r.SetVersion(V5)
	p, err := r.ReadPacket()
	if err != nil {
		t.Fatal(err)
	}
	pub := p.(*Publish)
	if pub.Topic != hotPublishV5().Topic || string(pub.Properties.CorrelationData) != "\xde\xad\xbe\xef\x00\x01" ||
		len(pub.Properties.UserProperties) != 2 || len(pub.Properties.SubscriptionIdentifiers) != 2 {
		t.Fatalf("read %+v", pub)
	}
	if got := mustAppend(t, p, V5); !bytes.Equal(got, want) {
		t.Fatalf("read back\n% x\nwant\n% x", got, want)
	}
}

// TestReaderLargePacket reads packets larger than the first 512-byte buffer.
func TestReaderLargePacket(t *testing.T) {
	for _, size := range []int{minReadBuffer - 10, minReadBuffer, minReadBuffer + 1, 3000, 100_000} {
		payload := bytes.Repeat([]byte("0123456789"), size/10)
		pkts := []Packet{
			&Publish{Topic: "big", Payload: payload},
			&Puback{Ack{PacketID: 1}},
			&Publish{QoS: AtLeastOnce, PacketID: 2, Topic: "big/2", Payload: payload},
		}
		for _, rd := range []func([]byte) io.Reader{
			func(b []byte) io.Reader { return bytes.NewReader(b) },
			func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) },
		} {
			r := NewReader(rd(stream(t, V311, pkts...)), 0)
			r.SetVersion(V311)
			for i, want := range pkts {
				p, err := r.ReadPacket()
				if err != nil {
					t.Fatalf("size %d, packet %d: %v", size, i, err)
				}
				if got, want := mustAppend(t, p, V311), mustAppend(t, want, V311); !bytes.Equal(got, want) {
					t.Fatalf("size %d, packet %d: read back %d bytes, want %d", size, i, len(got), len(want))
				}
			}
		}
	}
}

// headerOnlyReader hands out a packet's fixed header and fails the test if
// asked for more: a packet over the limit must be refused from its header.
type headerOnlyReader struct {
	t      *testing.T
	header []byte
}

func (h *headerOnlyReader) Read(p []byte) (int, error) {
	if h.header == nil {
		h.t.Fatal("the Reader read past the fixed header of a packet it must refuse")
	}
	n := copy(p, h.header)
	h.header = h.header[n:]
	if len(h.header) == 0 {
		h.header = nil
	}
	return n, nil
}

// TestReaderMaxSize: a packet of exactly the maximum size is read; one byte
// more is refused with Packet too large from the fixed header alone, before
// its body is read or a buffer for it is allocated [MQTT-5:3.2.2-15]
// [MQTT-5:3.1.2-24].
func TestReaderMaxSize(t *testing.T) {
	for _, v := range []Version{V311, V5} {
		for _, size := range []int{2, 127, 128, 1000, 20000} {
			pkt := mustAppend(t, &Publish{Topic: "t", Payload: make([]byte, size)}, v)
			h, n, err := ParseFixedHeader(pkt, v)
			if err != nil || n+h.RemainingLength != len(pkt) {
				t.Fatalf("header %+v, %d, %v", h, n, err)
			}

			r := NewReader(bytes.NewReader(pkt), len(pkt))
			r.SetVersion(v)
			if _, err := r.ReadPacket(); err != nil {
				t.Errorf("%v: a packet of exactly maxSize = %d bytes: %v", v, len(pkt), err)
			}

			r = NewReader(&headerOnlyReader{t: t, header: pkt[:n]}, len(pkt)-1)
			r.SetVersion(v)
			_, err = r.ReadPacket()
			wantCode(t, err, PacketTooLarge, byVersion(v, "", "MQTT-3.2.2-15"))
			if len(r.buf) > minReadBuffer {
				t.Errorf("refusing a %d-byte packet left a %d-byte buffer", len(pkt), len(r.buf))
			}

			// SetMaxSize changes the limit on an existing Reader.
			r = NewReader(bytes.NewReader(append(pkt[:len(pkt):len(pkt)], pkt...)), 0)
			r.SetVersion(v)
			if _, err := r.ReadPacket(); err != nil {
				t.Fatal(err)
			}
			r.SetMaxSize(len(pkt) - 1)
			_, err = r.ReadPacket()
			wantCode(t, err, PacketTooLarge, byVersion(v, "", "MQTT-3.2.2-15"))
		}
	}
}

// TestReaderAnnouncedSizeIsNotAllocated: a fixed header that announces a
// huge packet does not make the Reader allocate for it; the buffer grows
// with the bytes that actually arrive.
func TestReaderAnnouncedSizeIsNotAllocated(t *testing.T) {
	// A PUBLISH announcing the largest Remaining Length, then 100 bytes.
	b := append([]byte{0x30, 0xff, 0xff, 0xff, 0x7f, 0, 1, 't'}, make([]byte, 97)...)
	r := NewReader(bytes.NewReader(b), 0)
	r.SetVersion(V5)
	if _, err := r.ReadPacket(); err != io.ErrUnexpectedEOF {
		t.Fatalf("ReadPacket = %v, want io.ErrUnexpectedEOF", err)
	}
	if len(r.buf) > minReadBuffer {
		t.Errorf("a header announcing %d bytes and 105 bytes on the wire grew the buffer to %d bytes",
			MaxRemainingLength, len(r.buf))
	}
}

// TestReaderEOF: the stream may end between packets (io.EOF) but not inside
// one, header included (io.ErrUnexpectedEOF). Other read errors pass
// through.
func TestReaderEOF(t *testing.T) {
	pub := mustAppend(t, &Publish{QoS: AtLeastOnce, PacketID: 1, Topic: "a/b", Payload: []byte("payload")}, V311)
	for _, tc := range []struct {
		name string
		data []byte
		n    int // packets read before the error
		want error
	}{
		{"empty", nil, 0, io.EOF},
		{"one packet", pub, 1, io.EOF},
		{"two packets", append(pub[:len(pub):len(pub)], pub...), 2, io.EOF},
		{"first header byte", pub[:1], 0, io.ErrUnexpectedEOF},
		{"fixed header", pub[:2], 0, io.ErrUnexpectedEOF},
		{"inside the body", pub[:len(pub)-1], 0, io.ErrUnexpectedEOF},
		{"inside the second", append(pub[:len(pub):len(pub)], pub[:5]...), 1, io.ErrUnexpectedEOF},
		{"inside a long header", []byte{0x30, 0x80}, 0, io.ErrUnexpectedEOF},
	} {
		for _, oneByte := range []bool{false, true} {
			var src io.Reader = bytes.NewReader(tc.data)
			if oneByte {
				src = iotest.OneByteReader(src)
			}
			r := NewReader(src, 0)
			r.SetVersion(V311)
			got, err := readAll(t, r)
			if len(got) != tc.n || err != tc.want {
				t.Errorf("%s (one byte per read: %v): %d packets then %v, want %d then %v",
					tc.name, oneByte, len(got), err, tc.n, tc.want)
			}
		}
	}

	errBroken := errors.New("connection reset")
	r := NewReader(io.MultiReader(bytes.NewReader(pub[:4]), iotest.ErrReader(errBroken)), 0)
	r.SetVersion(V311)
	if _, err := r.ReadPacket(); err != errBroken {
		t.Errorf("read error: %v, want %v", err, errBroken)
	}
}

// TestReaderConnectSetsVersion: a server's Reader starts without a version;
// a 5.0 CONNECT sets it, so the 5.0 PUBLISH with properties that follows
// decodes as 5.0. The CONNECT is not reused by later reads.
func TestReaderConnectSetsVersion(t *testing.T) {
	connect := &Connect{Version: V5, CleanStart: true, ClientID: "c1",
		Properties: Properties{SessionExpiryInterval: 60, ReceiveMaximum: 10}}
	pub := hotPublishV5()
	b := stream(t, V5, connect, pub, &Connect{Version: V5, ClientID: "c2"})
	r := NewReader(bytes.NewReader(b), 0)
	if r.Version() != 0 {
		t.Fatalf("new Reader has version %v", r.Version())
	}
	p, err := r.ReadPacket()
	if err != nil {
		t.Fatal(err)
	}
	c1 := p.(*Connect)
	if r.Version() != V5 || c1.Version != V5 || c1.Properties.ReceiveMaximum != 10 {
		t.Fatalf("after CONNECT: Reader version %v, packet %+v", r.Version(), c1)
	}
	p, err = r.ReadPacket()
	if err != nil {
		t.Fatal(err)
	}
	got := p.(*Publish)
	if got.Properties.ContentType != "application/json" || got.Properties.TopicAlias != 12 ||
		got.Properties.MessageExpiryInterval != 3600 || !bytes.Equal(got.Payload, pub.Payload) {
		t.Fatalf("5.0 PUBLISH read as %+v", got)
	}
	if enc := mustAppend(t, got, V5); !bytes.Equal(enc, mustAppend(t, pub, V5)) {
		t.Fatalf("5.0 PUBLISH re-encoded as % x", enc)
	}
	if p, err = r.ReadPacket(); err != nil || p == Packet(c1) || c1.ClientID != "c1" {
		t.Fatalf("second CONNECT: %v, %v; the first now has client id %q", p, err, c1.ClientID)
	}

	// And 3.1.1 after a 3.1.1 CONNECT: the same PUBLISH bytes would carry
	// no properties.
	b = stream(t, V311, &Connect{Version: V311, ClientID: "c3"}, hotPublishV311())
	r = NewReader(bytes.NewReader(b), 0)
	got311, err := readAll(t, r)
	if err != io.EOF || len(got311) != 2 || r.Version() != V311 {
		t.Fatalf("3.1.1 session: %d packets, %v, version %v", len(got311), err, r.Version())
	}
}

// TestReaderPacketBeforeConnect: until a CONNECT has set the version, any
// other packet is a Protocol Error [MQTT-3.1.0-1].
func TestReaderPacketBeforeConnect(t *testing.T) {
	for _, p := range []Packet{&Publish{Topic: "a"}, &Pingreq{}, &Subscribe{PacketID: 1, Subscriptions: []Subscription{{Filter: "#"}}}} {
		r := NewReader(bytes.NewReader(mustAppend(t, p, V311)), 0)
		_, err := r.ReadPacket()
		wantCode(t, err, ProtocolError, "MQTT-3.1.0-1")
		_, _, err = Decode(mustAppend(t, p, V311), 0, 0)
		wantCode(t, err, ProtocolError, "MQTT-3.1.0-1")
	}
}

// TestReaderBadFixedHeader: a malformed fixed header stops the stream, even
// when it arrives one byte at a time.
func TestReaderBadFixedHeader(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    Version
		b    []byte
		rule string // "" to check the code only
	}{
		// The Remaining Length is at most four bytes, in the fewest bytes
		// that hold it [MQTT-5:1.5.5-1].
		{"five-byte length", V5, []byte{0x30, 0x80, 0x80, 0x80, 0x80, 0x01}, "MQTT-1.5.5-1"},
		{"overlong length", V5, []byte{0x30, 0x80, 0x00}, "MQTT-1.5.5-1"},
		{"reserved type 0", V5, []byte{0x00, 0x00}, ""},
		{"AUTH in 3.1.1", V311, []byte{0xF0, 0x00}, ""},
		// The flags of PUBREL must be 0010 [MQTT-3.6.1-1].
		{"PUBREL flags 3.1.1", V311, []byte{0x60, 0x02, 0x00, 0x01}, "MQTT-3.6.1-1"},
		{"PUBREL flags 5.0", V5, []byte{0x60, 0x02, 0x00, 0x01}, "MQTT-3.6.1-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(iotest.OneByteReader(bytes.NewReader(tc.b)), 0)
			r.SetVersion(tc.v)
			_, err := r.ReadPacket()
			var e *Error
			if !errors.As(err, &e) || e.Code != MalformedPacket {
				t.Fatalf("ReadPacket = %v, want a Malformed Packet error", err)
			}
			if tc.rule != "" && e.Rule != tc.rule {
				t.Errorf("rule %q, want %q", e.Rule, tc.rule)
			}
		})
	}
}

// TestReaderBuffered: Buffered counts the bytes read ahead, so a server can
// flush its replies once per batch of packets.
func TestReaderBuffered(t *testing.T) {
	a := mustAppend(t, &Publish{Topic: "a", Payload: []byte("1")}, V311)
	b := mustAppend(t, &Puback{Ack{PacketID: 9}}, V311)
	c := mustAppend(t, &Pingreq{}, V311)
	all := bytes.Join([][]byte{a, b, c}, nil)
	r := NewReader(&chunksReader{t: t, chunks: [][]byte{all[:len(a)+len(b)+1], all[len(a)+len(b)+1:]}}, 0)
	r.SetVersion(V311)
	if r.Buffered() != 0 {
		t.Fatalf("new Reader: Buffered() = %d", r.Buffered())
	}
	for i, want := range []int{len(b) + 1, 1, 0} {
		if _, err := r.ReadPacket(); err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if got := r.Buffered(); got != want {
			t.Errorf("after packet %d: Buffered() = %d, want %d", i, got, want)
		}
	}
}

// TestReaderDropsLargeBuffer: a buffer grown for a big packet is let go once
// the packet has been used, so an idle connection holds little memory.
func TestReaderDropsLargeBuffer(t *testing.T) {
	big := mustAppend(t, &Publish{Topic: "big", Payload: make([]byte, 4*maxIdleBuffer)}, V5)
	small := mustAppend(t, &Publish{Topic: "small", Payload: []byte("x")}, V5)
	var chunks [][]byte
	for b := big; len(b) > 0; {
		n := min(len(b), minReadBuffer) // fits every buffer the Reader has
		chunks, b = append(chunks, b[:n]), b[n:]
	}
	r := NewReader(&chunksReader{t: t, chunks: append(chunks, small)}, 0)
	r.SetVersion(V5)
	p, err := r.ReadPacket()
	if err != nil {
		t.Fatal(err)
	}
	if len(p.(*Publish).Payload) != 4*maxIdleBuffer {
		t.Fatalf("big payload of %d bytes", len(p.(*Publish).Payload))
	}
	if len(r.buf) < len(big) {
		t.Fatalf("buffer of %d bytes holds a %d-byte packet?", len(r.buf), len(big))
	}
	p, err = r.ReadPacket()
	if err != nil {
		t.Fatal(err)
	}
	if p.(*Publish).Topic != "small" {
		t.Fatalf("read %+v", p)
	}
	if len(r.buf) > maxIdleBuffer {
		t.Errorf("after a small packet the Reader still holds a %d-byte buffer", len(r.buf))
	}
	if _, err := r.ReadPacket(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}

	// A buffer up to maxIdleBuffer is kept: it is not reallocated per packet.
	mid := mustAppend(t, &Publish{Topic: "mid", Payload: make([]byte, maxIdleBuffer/2)}, V5)
	r = NewReader(bytes.NewReader(append(mid[:len(mid):len(mid)], mid...)), 0)
	r.SetVersion(V5)
	if _, err := r.ReadPacket(); err != nil {
		t.Fatal(err)
	}
	kept := &r.buf[0]
	if _, err := r.ReadPacket(); err != nil {
		t.Fatal(err)
	}
	if &r.buf[0] != kept {
		t.Error("a buffer within maxIdleBuffer was replaced")
	}
}

// TestReaderStringsOutliveReads: strings from a Reader are safe to keep,
// and repeated topics share one copy.
func TestReaderStringsOutliveReads(t *testing.T) {
	b := stream(t, V5,
		&Publish{Topic: "a/b", Properties: Properties{UserProperties: []UserProperty{{"k", "v"}}}},
		&Publish{Topic: "c/d"},
		&Publish{Topic: "a/b"})
	r := NewReader(bytes.NewReader(b), 0)
	r.SetVersion(V5)
	p, _ := r.ReadPacket()
	topic, user := p.(*Publish).Topic, p.(*Publish).Properties.UserProperties[0]
	p, _ = r.ReadPacket()
	if p.(*Publish).Topic != "c/d" || topic != "a/b" || user != (UserProperty{"k", "v"}) {
		t.Fatalf("kept topic %q and user property %v changed", topic, user)
	}
	p, _ = r.ReadPacket()
	if got := p.(*Publish).Topic; got != topic || unsafe.StringData(got) != unsafe.StringData(topic) {
		t.Fatalf("third topic %q is not the interned copy of the first", got)
	}
	if len(p.(*Publish).Properties.UserProperties) != 0 {
		t.Fatalf("user properties of a reused packet were not cleared: %v", p.(*Publish).Properties.UserProperties)
	}
}

// TestReaderConnectOutlivesReads: a server keeps the CONNECT for the whole
// connection (its Will above all), so nothing in it may point into the
// Reader's buffer, which later reads overwrite.
func TestReaderConnectOutlivesReads(t *testing.T) {
	will := &Will{Topic: "clients/c1/status", Payload: []byte("offline"), QoS: AtLeastOnce,
		Properties: Properties{CorrelationData: []byte("corr")}}
	connect := &Connect{Version: V5, ClientID: "c1", Will: will, Username: "u", Password: []byte("secret"),
		Properties: Properties{AuthenticationMethod: "m", AuthenticationData: []byte("auth")}}
	pkts := []Packet{connect}
	for range 200 {
		pkts = append(pkts, &Publish{Topic: "x", Payload: []byte("XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX")})
	}
	r := NewReader(iotest.HalfReader(bytes.NewReader(stream(t, V5, pkts...))), 0)
	p, err := r.ReadPacket()
	if err != nil {
		t.Fatal(err)
	}
	c := p.(*Connect)
	for {
		if _, err := r.ReadPacket(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if got := mustAppend(t, c, V5); !bytes.Equal(got, mustAppend(t, connect, V5)) {
		t.Errorf("the CONNECT changed under later reads: will payload %q, password %q, auth data %q, correlation %q",
			c.Will.Payload, c.Password, c.Properties.AuthenticationData, c.Will.Properties.CorrelationData)
	}
}

// TestReaderRelease hands the buffer and packet cache to the pool between
// packets, and refuses while part of a packet is buffered: a server's
// idle connections hold neither, and reading goes on after each release.
func TestReaderRelease(t *testing.T) {
	pub := mustAppend(t, &Publish{Topic: "a/b", Payload: []byte("hi")}, V311)
	tests := []struct {
		name        string
		chunks      [][]byte
		wantRelease []bool // after each ReadPacket
	}{
		{"packet per read", [][]byte{pub, pub}, []bool{true, true}},
		{"two packets in one read", [][]byte{append(slices.Clone(pub), pub...)}, []bool{false, true}},
		{"a packet and a half", [][]byte{append(slices.Clone(pub), pub[:3]...), pub[3:]}, []bool{false, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(&chunksReader{t: t, chunks: tt.chunks}, 0)
			r.SetVersion(V311)
			if !r.Release() {
				t.Fatal("Release before the first read: false, want true")
			}
			for i, want := range tt.wantRelease {
				p, err := r.ReadPacket()
				if err != nil {
					t.Fatalf("packet %d: %v", i, err)
				}
				if got := p.(*Publish); got.Topic != "a/b" || string(got.Payload) != "hi" {
					t.Fatalf("packet %d: %s %q", i, got.Topic, got.Payload)
				}
				if got := r.Release(); got != want {
					t.Fatalf("Release after packet %d = %v, want %v", i, got, want)
				}
				if want && (r.buf != nil || r.cache != nil) {
					t.Fatalf("after Release the Reader keeps a %d-byte buffer or its cache", cap(r.buf))
				}
			}
			if _, err := r.ReadPacket(); err != io.EOF {
				t.Fatalf("at the end: %v, want io.EOF", err)
			}
		})
	}
}
