package codec

// Pingreq is the PINGREQ packet (section 3.12).
type Pingreq struct{}

// Pingresp is the PINGRESP packet (section 3.13).
type Pingresp struct{}

// Type returns PINGREQ.
func (*Pingreq) Type() PacketType { return PINGREQ }

// Type returns PINGRESP.
func (*Pingresp) Type() PacketType { return PINGRESP }

// Append encodes the PINGREQ; it is the same in both versions.
func (*Pingreq) Append(dst []byte, _ Version) ([]byte, error) {
	return append(dst, byte(PINGREQ)<<4, 0), nil
}

// Append encodes the PINGRESP; it is the same in both versions.
func (*Pingresp) Append(dst []byte, _ Version) ([]byte, error) {
	return append(dst, byte(PINGRESP)<<4, 0), nil
}

func (*Pingreq) decode(*decoder, byte)  {}
func (*Pingresp) decode(*decoder, byte) {}

// Disconnect is the DISCONNECT packet (section 3.14). In 3.1.1 it has no
// body; in 5.0 it carries a reason code and properties.
type Disconnect struct {
	ReasonCode ReasonCode
	Properties Properties
}

// Type returns DISCONNECT.
func (*Disconnect) Type() PacketType { return DISCONNECT }

// Append encodes the DISCONNECT in version v, in its shortest form.
func (p *Disconnect) Append(dst []byte, v Version) ([]byte, error) {
	return appendReasoned(dst, DISCONNECT, v, p.ReasonCode, &p.Properties)
}

func (p *Disconnect) decode(d *decoder, _ byte) {
	p.ReasonCode = d.reasoned(DISCONNECT, &p.Properties, "MQTT-3.14.2-1")
}

// Auth is the AUTH packet (section 3.15), used for extended authentication
// in MQTT 5.0. It does not exist in 3.1.1.
type Auth struct {
	ReasonCode ReasonCode
	Properties Properties
}

// Type returns AUTH.
func (*Auth) Type() PacketType { return AUTH }

// Append encodes the AUTH; v must be V5.
func (p *Auth) Append(dst []byte, v Version) ([]byte, error) {
	if v != V5 {
		return dst, &Error{Code: ProtocolError, Msg: "AUTH exists only in MQTT 5.0"}
	}
	return appendReasoned(dst, AUTH, v, p.ReasonCode, &p.Properties)
}

func (p *Auth) decode(d *decoder, _ byte) {
	p.ReasonCode = d.reasoned(AUTH, &p.Properties, "MQTT-3.15.2-1")
}

// appendReasoned encodes a DISCONNECT or AUTH: nothing for Success without
// properties, the reason code alone without properties, else both.
func appendReasoned(dst []byte, t PacketType, v Version, rc ReasonCode, p *Properties) ([]byte, error) {
	if err := checkVersion(v, t); err != nil {
		return dst, err
	}
	if v == V311 {
		return append(dst, byte(t)<<4, 0), nil
	}
	if !rc.ValidFor(t) {
		rule := "MQTT-3.14.2-1"
		if t == AUTH {
			rule = "MQTT-3.15.2-1"
		}
		return dst, protocolErr(rule, t.String()+" with reason code "+rc.String())
	}
	pt, pn, err := propsSize(p, t, v)
	if err != nil {
		return dst, err
	}
	n := 0
	switch {
	case pn > 0:
		n = 1 + pt
	case rc != Success:
		n = 1
	}
	if dst, err = header(dst, t, 0, n); err != nil {
		return dst, err
	}
	if n > 0 {
		dst = append(dst, byte(rc))
	}
	if pn > 0 {
		dst = p.appendWithLength(dst, pn)
	}
	return dst, nil
}

func (d *decoder) reasoned(t PacketType, p *Properties, rule string) ReasonCode {
	if d.v != V5 || len(d.b) == 0 {
		return Success
	}
	rc := ReasonCode(d.byte("Reason Code"))
	if !rc.ValidFor(t) {
		d.fail(protocolErr(rule, t.String()+" with reason code "+rc.String()))
		return rc
	}
	if len(d.b) > 0 {
		d.properties(p, t)
	}
	return rc
}
