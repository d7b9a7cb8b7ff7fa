package codec

import (
	"unicode/utf8"
)

// appendVarint appends x as a variable byte integer (section 1.5.5 of 5.0,
// 2.2.3 of 3.1.1). x must be at most MaxRemainingLength.
func appendVarint(dst []byte, x int) []byte {
	for {
		b := byte(x & 0x7F)
		x >>= 7
		if x == 0 {
			return append(dst, b)
		}
		dst = append(dst, b|0x80)
	}
}

// varintLen is the number of bytes appendVarint writes for x.
func varintLen(x int) int {
	switch {
	case x < 1<<7:
		return 1
	case x < 1<<14:
		return 2
	case x < 1<<21:
		return 3
	}
	return 4
}

// parseVarint reads a variable byte integer from b. It returns the value and
// the number of bytes used; n is 0 when b ends before the integer does and -1
// when the integer is malformed (a fifth byte, or not the minimum number of
// bytes [MQTT-1.5.5-1]).
func parseVarint(b []byte) (x, n int) {
	for i := 0; i < 4; i++ {
		if i >= len(b) {
			return 0, 0
		}
		c := b[i]
		x |= int(c&0x7F) << (7 * i)
		if c&0x80 == 0 {
			if c == 0 && i > 0 {
				return 0, -1 // a trailing zero byte means a longer encoding than needed
			}
			return x, i + 1
		}
	}
	return 0, -1
}

func appendUint16(dst []byte, x uint16) []byte { return append(dst, byte(x>>8), byte(x)) }

func appendUint32(dst []byte, x uint32) []byte {
	return append(dst, byte(x>>24), byte(x>>16), byte(x>>8), byte(x))
}

// appendString appends a length-prefixed UTF-8 string or binary field; the
// caller has checked the length.
func appendString(dst []byte, s string) []byte {
	dst = appendUint16(dst, uint16(len(s)))
	return append(dst, s...)
}

func appendBinary(dst []byte, b []byte) []byte {
	dst = appendUint16(dst, uint16(len(b)))
	return append(dst, b...)
}

// ValidUTF8 reports whether b is an MQTT UTF-8 encoded string: well-formed
// UTF-8 without surrogates ([MQTT-1.5.4-1]) and without U+0000
// ([MQTT-1.5.4-2]). A byte order mark is kept like any other character
// ([MQTT-1.5.4-3]).
func ValidUTF8(b []byte) bool {
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == 0 {
			return false
		}
		if c >= utf8.RuneSelf {
			// Go's decoder rejects surrogates and overlong forms.
			return utf8.Valid(b[i:]) && indexZero(b[i:]) < 0
		}
	}
	return true
}

// ValidUTF8String is ValidUTF8 for a string.
func ValidUTF8String(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == 0 {
			return false
		}
		if c >= utf8.RuneSelf {
			return utf8.ValidString(s[i:]) && indexZeroString(s[i:]) < 0
		}
	}
	return true
}

func indexZero(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

func indexZeroString(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return i
		}
	}
	return -1
}

// decoder reads the fields of one packet body. The first error sticks in
// err, so a packet's decode reads straight through and checks once.
type decoder struct {
	b   []byte // what is left of the body
	v   Version
	err error
	// strs interns decoded strings so a stream of packets with the same
	// topics does not allocate; nil means allocate each string.
	strs *interner
	// alias leaves binary fields pointing into the packet buffer instead of
	// copying them.
	alias bool
}

func (d *decoder) fail(e *Error) {
	if d.err == nil {
		if e.Version == 0 {
			e.Version = d.v
		}
		d.err = e
	}
}

func (d *decoder) short(field string) { d.fail(errTooShort(d.v, field)) }

func (d *decoder) byte(field string) byte {
	if len(d.b) < 1 {
		d.short(field)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uint16(field string) uint16 {
	if len(d.b) < 2 {
		d.short(field)
		d.b = nil
		return 0
	}
	x := uint16(d.b[0])<<8 | uint16(d.b[1])
	d.b = d.b[2:]
	return x
}

func (d *decoder) uint32(field string) uint32 {
	if len(d.b) < 4 {
		d.short(field)
		d.b = nil
		return 0
	}
	x := uint32(d.b[0])<<24 | uint32(d.b[1])<<16 | uint32(d.b[2])<<8 | uint32(d.b[3])
	d.b = d.b[4:]
	return x
}

func (d *decoder) varint(field string) int {
	x, n := parseVarint(d.b)
	switch {
	case n == 0:
		d.short(field)
		d.b = nil
		return 0
	case n < 0:
		d.fail(malformed("MQTT-1.5.5-1", field+" is not a valid variable byte integer"))
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return x
}

// rawBytes reads a length-prefixed field and returns it without copying.
func (d *decoder) rawBytes(field string) []byte {
	n := int(d.uint16(field))
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.short(field)
		d.b = nil
		return nil
	}
	b := d.b[:n:n]
	d.b = d.b[n:]
	return b
}

// string reads a UTF-8 encoded string and checks it.
func (d *decoder) string(field string) string {
	b := d.rawBytes(field)
	if d.err != nil {
		return ""
	}
	if !ValidUTF8(b) {
		if utf8.Valid(b) { // well-formed, so the fault is a U+0000
			d.fail(malformed(byVersion(d.v, "MQTT-1.5.3-2", "MQTT-1.5.4-2"), field+" contains U+0000"))
		} else {
			d.fail(malformed(byVersion(d.v, "MQTT-1.5.3-1", "MQTT-1.5.4-1"), field+" is not well-formed UTF-8"))
		}
		return ""
	}
	return d.str(b)
}

func (d *decoder) str(b []byte) string {
	if d.strs != nil {
		return d.strs.intern(b)
	}
	return string(b)
}

// binary reads Binary Data. Empty data decodes as a non-nil empty slice so
// that presence survives a round trip.
func (d *decoder) binary(field string) []byte {
	b := d.rawBytes(field)
	if d.err != nil {
		return nil
	}
	return d.bytes(b)
}

func (d *decoder) bytes(b []byte) []byte {
	if d.alias {
		return b
	}
	return append(make([]byte, 0, len(b)), b...)
}

// rest returns whatever is left of the body.
func (d *decoder) rest() []byte {
	b := d.b
	d.b = nil
	return b
}

// packetID reads a Packet Identifier, which must not be zero.
func (d *decoder) packetID() uint16 {
	id := d.uint16("Packet Identifier")
	if id == 0 && d.err == nil {
		d.fail(protocolErr(byVersion(d.v, "MQTT-2.3.1-1", "MQTT-2.2.1-3"), "Packet Identifier is zero"))
	}
	return id
}

// end checks that the body has been read exactly.
func (d *decoder) end(t PacketType) error {
	if d.err == nil && len(d.b) != 0 {
		d.fail(malformed(byVersion(d.v, "MQTT-4.8.0-1", "MQTT-4.13.1-1"),
			t.String()+" has bytes beyond its last field"))
	}
	return d.err
}

// interner keeps one copy of each recently decoded string.
type interner struct{ m map[string]string }

const (
	internMaxLen     = 256
	internMaxEntries = 4096
)

func (in *interner) intern(b []byte) string {
	if len(b) > internMaxLen {
		return string(b)
	}
	if s, ok := in.m[string(b)]; ok { // does not allocate
		return s
	}
	if in.m == nil || len(in.m) >= internMaxEntries {
		in.m = make(map[string]string, 8) // grows with the topics actually seen
	}
	s := string(b)
	in.m[s] = s
	return s
}
