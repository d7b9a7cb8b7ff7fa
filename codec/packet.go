package codec

// Packet is one MQTT control packet. The concrete types are the structs in
// this package; switch on them with a type switch.
type Packet interface {
	// Type returns the control packet type.
	Type() PacketType
	// Append appends the encoded packet, fixed header included, to dst in
	// protocol version v. A CONNECT is encoded in its own Version.
	Append(dst []byte, v Version) ([]byte, error)
	// decode fills the packet from the body after the fixed header.
	decode(d *decoder, flags byte)
}

// header appends the fixed header of a packet whose body is n bytes.
func header(dst []byte, t PacketType, flags byte, n int) ([]byte, error) {
	if n > MaxRemainingLength {
		return dst, &Error{Code: PacketTooLarge, Msg: t.String() + " is larger than the largest Remaining Length"}
	}
	return appendVarint(append(dst, byte(t)<<4|flags), n), nil
}

// propsSize returns the size of the Property Length and properties of a 5.0
// packet, or 0 for 3.1.1.
func propsSize(p *Properties, t PacketType, v Version) (total, n int, err error) {
	if v != V5 {
		return 0, 0, nil
	}
	n, err = p.size(t)
	return varintLen(n) + n, n, err
}

func checkVersion(v Version, t PacketType) error {
	if !v.Valid() {
		return &Error{Code: UnsupportedProtocolVersion, Msg: "cannot encode " + t.String() + " for protocol " + v.String()}
	}
	return nil
}

func checkString(field, s string) error {
	if len(s) > MaxStringLength {
		return malformed("", field+" is longer than 65535 bytes")
	}
	return nil
}
