package codec

// FixedHeader is the first part of every packet: type, flags and the length
// of the rest.
type FixedHeader struct {
	Type            PacketType
	Flags           byte
	RemainingLength int
}

// ParseFixedHeader reads the fixed header at the start of b. It returns the
// header and its length in bytes, or n == 0 when b is too short to tell. It
// checks the packet type and its flags for version v ([MQTT-2.2.2-2] of
// 3.1.1, [MQTT-2.1.3-1] of 5.0) and the Remaining Length encoding.
func ParseFixedHeader(b []byte, v Version) (h FixedHeader, n int, err error) {
	if len(b) < 2 {
		return h, 0, nil
	}
	rl, m := parseVarint(b[1:])
	if m == 0 {
		return h, 0, nil
	}
	if m < 0 {
		return h, 0, malformed(byVersion(v, "", "MQTT-1.5.5-1"), "Remaining Length is not a valid variable byte integer")
	}
	h = FixedHeader{Type: PacketType(b[0] >> 4), Flags: b[0] & 0x0F, RemainingLength: rl}
	if err := h.check(v); err != nil {
		return h, 0, err
	}
	return h, 1 + m, nil
}

func (h FixedHeader) check(v Version) error {
	switch {
	case h.Type == 0 || (h.Type == AUTH && v != V5):
		// Table 2.1 (3.1.1) / 2-1 (5.0) mark these types Forbidden; no
		// statement is numbered for them (2.2.2-1 and 2.1.3-1 are about flags).
		return malformed("", "reserved packet type "+h.Type.String())
	case h.Type == PUBLISH:
		return nil // flags checked by Publish.decode
	case h.Flags != requiredFlags[h.Type]:
		rule := byVersion(v, "MQTT-2.2.2-2", "MQTT-2.1.3-1")
		switch h.Type {
		case PUBREL:
			rule = "MQTT-3.6.1-1"
		case SUBSCRIBE:
			rule = "MQTT-3.8.1-1"
		case UNSUBSCRIBE:
			rule = "MQTT-3.10.1-1"
		case DISCONNECT:
			rule = "MQTT-3.14.1-1"
		case AUTH:
			rule = "MQTT-3.15.1-1"
		}
		return malformed(rule, "invalid fixed header flags for "+h.Type.String())
	}
	return nil
}

// newPacket returns an empty packet of type t.
func newPacket(t PacketType) Packet {
	switch t {
	case CONNECT:
		return new(Connect)
	case CONNACK:
		return new(Connack)
	case PUBLISH:
		return new(Publish)
	case PUBACK:
		return new(Puback)
	case PUBREC:
		return new(Pubrec)
	case PUBREL:
		return new(Pubrel)
	case PUBCOMP:
		return new(Pubcomp)
	case SUBSCRIBE:
		return new(Subscribe)
	case SUBACK:
		return new(Suback)
	case UNSUBSCRIBE:
		return new(Unsubscribe)
	case UNSUBACK:
		return new(Unsuback)
	case PINGREQ:
		return new(Pingreq)
	case PINGRESP:
		return new(Pingresp)
	case DISCONNECT:
		return new(Disconnect)
	case AUTH:
		return new(Auth)
	}
	return nil
}

// Decode parses the packet at the start of b for version v (the version of
// a CONNECT is read from the packet itself, so v may be 0 for the first
// packet a server reads; any other packet is refused then). It returns the
// packet and the number of bytes it used, ErrIncomplete when b holds only
// part of a packet, or an *Error. A maxSize above zero bounds the size of
// the whole packet; a larger packet is refused before its body is read. The
// returned packet owns its memory: nothing in it points into b.
func Decode(b []byte, v Version, maxSize int) (Packet, int, error) {
	h, n, err := ParseFixedHeader(b, v)
	if err != nil {
		return nil, 0, err
	}
	if n == 0 {
		return nil, 0, ErrIncomplete
	}
	total := n + h.RemainingLength
	if maxSize > 0 && total > maxSize {
		return nil, 0, errPacketTooLarge(v, total, maxSize)
	}
	if len(b) < total {
		return nil, 0, ErrIncomplete
	}
	p := newPacket(h.Type)
	d := decoder{b: b[n:total], v: v}
	if err := decodeBody(&d, p, h); err != nil {
		return nil, 0, err
	}
	return p, total, nil
}

func decodeBody(d *decoder, p Packet, h FixedHeader) error {
	if !d.v.Valid() && h.Type != CONNECT {
		// No CONNECT has told which version is spoken, and a packet read
		// in no version is read in none: a server gets this when a client
		// starts with anything but CONNECT.
		d.fail(protocolErr("MQTT-3.1.0-1", h.Type.String()+" before CONNECT: the protocol version is not known"))
		return d.err
	}
	p.decode(d, h.Flags)
	return d.end(h.Type)
}
