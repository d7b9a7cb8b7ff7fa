package codec

// Publish is the PUBLISH packet (section 3.3). When it comes from a Reader,
// Payload and CorrelationData point into the Reader's buffer and are valid
// only until the next read; copy them to keep them.
type Publish struct {
	Dup        bool
	QoS        QoS
	Retain     bool
	Topic      string // may be empty in 5.0 when Properties.TopicAlias is set
	PacketID   uint16 // zero for QoS 0
	Properties Properties
	Payload    []byte
}

// Type returns PUBLISH.
func (*Publish) Type() PacketType { return PUBLISH }

// Size returns the number of bytes Append would write for version v, or an
// error if the packet cannot be encoded. Use it to honour a peer's Maximum
// Packet Size before encoding.
func (p *Publish) Size(v Version) (int, error) {
	n, _, err := p.bodySize(v)
	if err != nil {
		return 0, err
	}
	return 1 + varintLen(n) + n, nil
}

// bodySize returns the Remaining Length n and, for 5.0, the length pn of
// the properties, so that Append computes the properties' size only once.
func (p *Publish) bodySize(v Version) (n, pn int, err error) {
	if err := checkVersion(v, PUBLISH); err != nil {
		return 0, 0, err
	}
	if p.QoS > 2 {
		return 0, 0, malformed("MQTT-3.3.1-4", "PUBLISH with QoS 3")
	}
	if p.QoS == 0 && p.Dup {
		return 0, 0, malformed("MQTT-3.3.1-2", "DUP set on a QoS 0 PUBLISH")
	}
	if p.QoS > 0 && p.PacketID == 0 {
		return 0, 0, protocolErr(byVersion(v, "MQTT-2.3.1-1", "MQTT-2.2.1-3"), "QoS > 0 PUBLISH without a Packet Identifier")
	}
	if len(p.Topic) > MaxStringLength {
		return 0, 0, &Error{Code: TopicNameInvalid, Rule: "MQTT-4.7.3-3", Msg: "Topic Name longer than 65535 bytes"}
	}
	n = 2 + len(p.Topic) + len(p.Payload)
	if p.QoS > 0 {
		n += 2
	}
	pt, pn, err := propsSize(&p.Properties, PUBLISH, v)
	if err != nil {
		return 0, 0, err
	}
	n += pt
	if n > MaxRemainingLength {
		return 0, 0, &Error{Code: PacketTooLarge, Msg: "PUBLISH is larger than the largest Remaining Length"}
	}
	return n, pn, nil
}

func (p *Publish) flags() byte {
	f := byte(p.QoS) << 1
	if p.Dup {
		f |= 0b1000
	}
	if p.Retain {
		f |= 0b0001
	}
	return f
}

// Append encodes the PUBLISH in version v. It does not allocate when dst
// has room.
func (p *Publish) Append(dst []byte, v Version) ([]byte, error) {
	n, pn, err := p.bodySize(v)
	if err != nil {
		return dst, err
	}
	dst = appendVarint(append(dst, byte(PUBLISH)<<4|p.flags()), n)
	dst = appendString(dst, p.Topic)
	if p.QoS > 0 {
		dst = appendUint16(dst, p.PacketID)
	}
	if v == V5 {
		dst = p.Properties.appendWithLength(dst, pn)
	}
	return append(dst, p.Payload...), nil
}

func (p *Publish) decode(d *decoder, flags byte) {
	p.Dup = flags&0b1000 != 0
	p.QoS = QoS(flags >> 1 & 3)
	p.Retain = flags&1 != 0
	if p.QoS == 3 {
		d.fail(malformed("MQTT-3.3.1-4", "PUBLISH with both QoS bits set"))
		return
	}
	if p.QoS == 0 && p.Dup {
		d.fail(malformed("MQTT-3.3.1-2", "DUP set on a QoS 0 PUBLISH"))
		return
	}
	p.Topic = d.string("Topic Name")
	if p.QoS > 0 {
		p.PacketID = d.packetID()
	} else {
		p.PacketID = 0
	}
	if d.v == V5 {
		d.properties(&p.Properties, PUBLISH)
	}
	if d.err != nil {
		return
	}
	if !isTopicName(p.Topic) {
		switch {
		case p.Topic != "":
			d.fail(&Error{Code: TopicNameInvalid, Rule: "MQTT-3.3.2-2", Msg: "wildcard in Topic Name " + quote(p.Topic)})
		case d.v != V5:
			d.fail(&Error{Code: TopicNameInvalid, Rule: "MQTT-4.7.3-1", Msg: "empty Topic Name"})
		case p.Properties.TopicAlias == 0:
			d.fail(protocolErr("MQTT-3.3.2-1", "empty Topic Name without a Topic Alias"))
		}
	}
	if d.alias {
		p.Payload = d.rest()
	} else {
		p.Payload = d.bytes(d.rest())
	}
}
