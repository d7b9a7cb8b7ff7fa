package codec

// Ack is the shape shared by PUBACK, PUBREC, PUBREL and PUBCOMP: a Packet
// Identifier and, in 5.0, a reason code and properties.
type Ack struct {
	PacketID   uint16
	ReasonCode ReasonCode
	Properties Properties
}

// Puback is the PUBACK packet (section 3.4), the answer to a QoS 1 PUBLISH.
type Puback struct{ Ack }

// Pubrec is the PUBREC packet (section 3.5), the first answer to a QoS 2 PUBLISH.
type Pubrec struct{ Ack }

// Pubrel is the PUBREL packet (section 3.6), the answer to a PUBREC.
type Pubrel struct{ Ack }

// Pubcomp is the PUBCOMP packet (section 3.7), the answer to a PUBREL.
type Pubcomp struct{ Ack }

// Type returns PUBACK.
func (*Puback) Type() PacketType { return PUBACK }

// Type returns PUBREC.
func (*Pubrec) Type() PacketType { return PUBREC }

// Type returns PUBREL.
func (*Pubrel) Type() PacketType { return PUBREL }

// Type returns PUBCOMP.
func (*Pubcomp) Type() PacketType { return PUBCOMP }

// Append encodes the PUBACK in version v.
func (a *Puback) Append(dst []byte, v Version) ([]byte, error) { return a.append(dst, PUBACK, v) }

// Append encodes the PUBREC in version v.
func (a *Pubrec) Append(dst []byte, v Version) ([]byte, error) { return a.append(dst, PUBREC, v) }

// Append encodes the PUBREL in version v.
func (a *Pubrel) Append(dst []byte, v Version) ([]byte, error) { return a.append(dst, PUBREL, v) }

// Append encodes the PUBCOMP in version v.
func (a *Pubcomp) Append(dst []byte, v Version) ([]byte, error) { return a.append(dst, PUBCOMP, v) }

func (a *Puback) decode(d *decoder, _ byte)  { a.decodeAck(d, PUBACK) }
func (a *Pubrec) decode(d *decoder, _ byte)  { a.decodeAck(d, PUBREC) }
func (a *Pubrel) decode(d *decoder, _ byte)  { a.decodeAck(d, PUBREL) }
func (a *Pubcomp) decode(d *decoder, _ byte) { a.decodeAck(d, PUBCOMP) }

// append writes the shortest form section 3.4.2.1 allows: no Property
// Length when there are no properties, and no reason code either (Remaining
// Length 2) when it is Success.
func (a *Ack) append(dst []byte, t PacketType, v Version) ([]byte, error) {
	if err := checkVersion(v, t); err != nil {
		return dst, err
	}
	if a.PacketID == 0 {
		return dst, protocolErr(byVersion(v, "MQTT-2.3.1-6", "MQTT-2.2.1-5"), t.String()+" without a Packet Identifier")
	}
	var pt, pn int
	if v == V5 {
		if !a.ReasonCode.ValidFor(t) {
			return dst, protocolErr(ackReasonRule[t], t.String()+" with reason code "+a.ReasonCode.String())
		}
		var err error
		if pt, pn, err = propsSize(&a.Properties, t, v); err != nil {
			return dst, err
		}
		if pn == 0 {
			pt = 0
		}
	}
	n := 2
	if pt > 0 {
		n += 1 + pt
	} else if v == V5 && a.ReasonCode != Success {
		n++
	}
	dst = appendVarint(append(dst, byte(t)<<4|requiredFlags[t]), n)
	dst = appendUint16(dst, a.PacketID)
	if n > 2 {
		dst = append(dst, byte(a.ReasonCode))
	}
	if pt > 0 {
		dst = a.Properties.appendWithLength(dst, pn)
	}
	return dst, nil
}

func (a *Ack) decodeAck(d *decoder, t PacketType) {
	a.PacketID = d.packetID()
	a.ReasonCode = Success
	if d.v != V5 || len(d.b) == 0 {
		return
	}
	a.ReasonCode = ReasonCode(d.byte("Reason Code"))
	if !a.ReasonCode.ValidFor(t) {
		d.fail(protocolErr(ackReasonRule[t], t.String()+" with reason code "+a.ReasonCode.String()))
		return
	}
	if len(d.b) > 0 {
		d.properties(&a.Properties, t)
	}
}

var ackReasonRule = [16]string{PUBACK: "MQTT-3.4.2-1", PUBREC: "MQTT-3.5.2-1", PUBREL: "MQTT-3.6.2-1", PUBCOMP: "MQTT-3.7.2-1"}
