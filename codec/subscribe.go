package codec

// Subscription is one Topic Filter of a SUBSCRIBE with its Subscription
// Options (section 3.8.3.1). The 5.0 options are ignored for 3.1.1.
type Subscription struct {
	Filter            string
	QoS               QoS  // Maximum QoS the client accepts
	NoLocal           bool // 5.0: do not deliver the client's own messages
	RetainAsPublished bool // 5.0: keep the RETAIN flag when forwarding
	RetainHandling    byte // 5.0: 0 send retained, 1 only if new, 2 never
}

// Subscribe is the SUBSCRIBE packet (section 3.8).
type Subscribe struct {
	PacketID      uint16
	Properties    Properties // Subscription Identifier and User Properties
	Subscriptions []Subscription
}

// Type returns SUBSCRIBE.
func (*Subscribe) Type() PacketType { return SUBSCRIBE }

func (s *Subscription) options(v Version) byte {
	o := byte(s.QoS)
	if v == V5 {
		if s.NoLocal {
			o |= 1 << 2
		}
		if s.RetainAsPublished {
			o |= 1 << 3
		}
		o |= s.RetainHandling << 4
	}
	return o
}

// Append encodes the SUBSCRIBE in version v.
func (s *Subscribe) Append(dst []byte, v Version) ([]byte, error) {
	if err := checkVersion(v, SUBSCRIBE); err != nil {
		return dst, err
	}
	if s.PacketID == 0 {
		return dst, protocolErr(byVersion(v, "MQTT-2.3.1-1", "MQTT-2.2.1-3"), "SUBSCRIBE without a Packet Identifier")
	}
	if len(s.Subscriptions) == 0 {
		return dst, protocolErr(byVersion(v, "MQTT-3.8.3-3", "MQTT-3.8.3-2"), "SUBSCRIBE without a Topic Filter")
	}
	pt, pn, err := propsSize(&s.Properties, SUBSCRIBE, v)
	if err != nil {
		return dst, err
	}
	n := 2 + pt
	for i := range s.Subscriptions {
		sub := &s.Subscriptions[i]
		if sub.QoS > 2 || sub.RetainHandling > 2 {
			return dst, malformed(byVersion(v, "", "MQTT-3.8.3-5"), "invalid Subscription Options for "+quote(sub.Filter))
		}
		if err := checkString("Topic Filter", sub.Filter); err != nil {
			return dst, err
		}
		n += 3 + len(sub.Filter)
	}
	if dst, err = header(dst, SUBSCRIBE, requiredFlags[SUBSCRIBE], n); err != nil {
		return dst, err
	}
	dst = appendUint16(dst, s.PacketID)
	if v == V5 {
		dst = s.Properties.appendWithLength(dst, pn)
	}
	for i := range s.Subscriptions {
		sub := &s.Subscriptions[i]
		dst = append(appendString(dst, sub.Filter), sub.options(v))
	}
	return dst, nil
}

func (s *Subscribe) decode(d *decoder, _ byte) {
	s.PacketID = d.packetID()
	if d.v == V5 {
		d.properties(&s.Properties, SUBSCRIBE)
	}
	s.Subscriptions = s.Subscriptions[:0]
	for len(d.b) > 0 && d.err == nil {
		sub := Subscription{Filter: d.string("Topic Filter")}
		o := d.byte("Subscription Options")
		if d.err != nil {
			return
		}
		sub.QoS = QoS(o & 3)
		if d.v == V5 {
			sub.NoLocal = o&(1<<2) != 0
			sub.RetainAsPublished = o&(1<<3) != 0
			sub.RetainHandling = o >> 4 & 3
			switch {
			case o&0xC0 != 0:
				d.fail(malformed("MQTT-3.8.3-5", "reserved Subscription Options bits are set"))
			case sub.RetainHandling == 3:
				d.fail(protocolErr("", "Retain Handling 3"))
			case sub.NoLocal && IsShared(sub.Filter):
				d.fail(protocolErr("MQTT-3.8.3-4", "No Local on a Shared Subscription"))
			}
		} else if o&0xFC != 0 {
			d.fail(malformed("MQTT-3-8.3-4", "reserved bits of the requested QoS byte are set"))
		}
		if sub.QoS == 3 && d.err == nil {
			if d.v == V5 {
				d.fail(protocolErr("", "Maximum QoS 3 in the Subscription Options"))
			} else {
				d.fail(malformed("MQTT-3-8.3-4", "requested QoS 3"))
			}
		}
		s.Subscriptions = append(s.Subscriptions, sub)
	}
	if d.err == nil && len(s.Subscriptions) == 0 {
		d.fail(protocolErr(byVersion(d.v, "MQTT-3.8.3-3", "MQTT-3.8.3-2"), "SUBSCRIBE without a Topic Filter"))
	}
}

// Suback is the SUBACK packet (section 3.9): one reason code per Topic
// Filter, in order. In 3.1.1 the codes are GrantedQoS0..2 or SubackFailure.
type Suback struct {
	PacketID    uint16
	Properties  Properties
	ReasonCodes []ReasonCode
}

// Type returns SUBACK.
func (*Suback) Type() PacketType { return SUBACK }

// Append encodes the SUBACK in version v.
func (s *Suback) Append(dst []byte, v Version) ([]byte, error) {
	return appendCodes(dst, SUBACK, v, s.PacketID, &s.Properties, s.ReasonCodes)
}

func (s *Suback) decode(d *decoder, _ byte) {
	s.PacketID, s.ReasonCodes = d.codes(SUBACK, &s.Properties, s.ReasonCodes[:0])
}

// Unsubscribe is the UNSUBSCRIBE packet (section 3.10).
type Unsubscribe struct {
	PacketID   uint16
	Properties Properties
	Filters    []string
}

// Type returns UNSUBSCRIBE.
func (*Unsubscribe) Type() PacketType { return UNSUBSCRIBE }

// Append encodes the UNSUBSCRIBE in version v.
func (u *Unsubscribe) Append(dst []byte, v Version) ([]byte, error) {
	if err := checkVersion(v, UNSUBSCRIBE); err != nil {
		return dst, err
	}
	if u.PacketID == 0 {
		return dst, protocolErr(byVersion(v, "MQTT-2.3.1-1", "MQTT-2.2.1-3"), "UNSUBSCRIBE without a Packet Identifier")
	}
	if len(u.Filters) == 0 {
		return dst, protocolErr("MQTT-3.10.3-2", "UNSUBSCRIBE without a Topic Filter")
	}
	pt, pn, err := propsSize(&u.Properties, UNSUBSCRIBE, v)
	if err != nil {
		return dst, err
	}
	n := 2 + pt
	for _, f := range u.Filters {
		if err := checkString("Topic Filter", f); err != nil {
			return dst, err
		}
		n += 2 + len(f)
	}
	if dst, err = header(dst, UNSUBSCRIBE, requiredFlags[UNSUBSCRIBE], n); err != nil {
		return dst, err
	}
	dst = appendUint16(dst, u.PacketID)
	if v == V5 {
		dst = u.Properties.appendWithLength(dst, pn)
	}
	for _, f := range u.Filters {
		dst = appendString(dst, f)
	}
	return dst, nil
}

func (u *Unsubscribe) decode(d *decoder, _ byte) {
	u.PacketID = d.packetID()
	if d.v == V5 {
		d.properties(&u.Properties, UNSUBSCRIBE)
	}
	u.Filters = u.Filters[:0]
	for len(d.b) > 0 && d.err == nil {
		u.Filters = append(u.Filters, d.string("Topic Filter"))
	}
	if d.err == nil && len(u.Filters) == 0 {
		d.fail(protocolErr("MQTT-3.10.3-2", "UNSUBSCRIBE without a Topic Filter"))
	}
}

// Unsuback is the UNSUBACK packet (section 3.11). In 3.1.1 it carries only
// the Packet Identifier; ReasonCodes and Properties are 5.0 only.
type Unsuback struct {
	PacketID    uint16
	Properties  Properties
	ReasonCodes []ReasonCode
}

// Type returns UNSUBACK.
func (*Unsuback) Type() PacketType { return UNSUBACK }

// Append encodes the UNSUBACK in version v.
func (u *Unsuback) Append(dst []byte, v Version) ([]byte, error) {
	return appendCodes(dst, UNSUBACK, v, u.PacketID, &u.Properties, u.ReasonCodes)
}

func (u *Unsuback) decode(d *decoder, _ byte) {
	u.PacketID, u.ReasonCodes = d.codes(UNSUBACK, &u.Properties, u.ReasonCodes[:0])
}

// appendCodes encodes a SUBACK or UNSUBACK.
func appendCodes(dst []byte, t PacketType, v Version, id uint16, p *Properties, codes []ReasonCode) ([]byte, error) {
	if err := checkVersion(v, t); err != nil {
		return dst, err
	}
	if id == 0 {
		return dst, protocolErr(byVersion(v, "MQTT-2.3.1-7", "MQTT-2.2.1-6"), t.String()+" without a Packet Identifier")
	}
	if t == UNSUBACK && v == V311 {
		codes = nil // 3.1.1 UNSUBACK has no payload
	}
	for _, c := range codes {
		if v == V5 && !c.ValidFor(t) || v == V311 && !validSubackV311(c) {
			rule := "MQTT-3.9.3-2"
			if t == UNSUBACK {
				rule = "MQTT-3.11.3-2"
			}
			return dst, protocolErr(rule, t.String()+" with reason code "+c.String())
		}
	}
	pt, pn, err := propsSize(p, t, v)
	if err != nil {
		return dst, err
	}
	if dst, err = header(dst, t, 0, 2+pt+len(codes)); err != nil {
		return dst, err
	}
	dst = appendUint16(dst, id)
	if v == V5 {
		dst = p.appendWithLength(dst, pn)
	}
	for _, c := range codes {
		dst = append(dst, byte(c))
	}
	return dst, nil
}

func validSubackV311(c ReasonCode) bool { return c <= GrantedQoS2 || c == SubackFailure }

// codes decodes the body of a SUBACK or UNSUBACK.
func (d *decoder) codes(t PacketType, p *Properties, codes []ReasonCode) (uint16, []ReasonCode) {
	id := d.packetID()
	if t == UNSUBACK && d.v == V311 {
		return id, codes
	}
	if d.v == V5 {
		d.properties(p, t)
	}
	for _, c := range d.rest() {
		rc := ReasonCode(c)
		if d.v == V5 && !rc.ValidFor(t) || d.v == V311 && !validSubackV311(rc) {
			rule := "MQTT-3.9.3-2"
			if t == UNSUBACK {
				rule = "MQTT-3.11.3-2"
			}
			d.fail(protocolErr(rule, t.String()+" with reason code "+rc.String()))
		}
		codes = append(codes, rc)
	}
	return id, codes
}
