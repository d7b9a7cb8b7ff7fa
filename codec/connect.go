package codec

// Connect is the CONNECT packet (section 3.1), the first packet a client
// sends. Its Version is the protocol level the client asks for.
type Connect struct {
	Version    Version // protocol level: V311 or V5
	CleanStart bool    // Clean Session in 3.1.1
	KeepAlive  uint16  // seconds; 0 turns keep-alive off
	Properties Properties
	ClientID   string
	Will       *Will // nil when the Will Flag is 0
	// Username is sent when HasUsername is set or Username is not empty.
	Username    string
	HasUsername bool
	// Password is sent when it is not nil.
	Password []byte
	// Bridge sets the top bit of the Protocol Level (0x84 for 3.1.1), the
	// non-standard marker with which Mosquitto's bridges announce
	// themselves (its try_private option). A Mosquitto server then treats
	// every subscription of the connection as No Local and Retain As
	// Published, which 3.1.1 cannot ask for, so that a bridge does not get
	// its own messages back. A server that does not know the marker
	// refuses the CONNECT (3.1.1 return code 0x01). Encoding only, and
	// 3.1.1 only: 5.0 has the subscription options, and a CONNECT with
	// the bit set does not decode.
	Bridge bool
}

// bridgeBit is the Protocol Level bit that Connect.Bridge sets.
const bridgeBit = 0x80

// Will is the Will Message of a CONNECT.
type Will struct {
	Topic      string
	Payload    []byte
	QoS        QoS
	Retain     bool
	Properties Properties // the Will Properties (5.0)
}

// Type returns CONNECT.
func (*Connect) Type() PacketType { return CONNECT }

// CONNECT flag bits (section 3.1.2.3).
const (
	flagReserved   = 1 << 0
	flagCleanStart = 1 << 1
	flagWill       = 1 << 2
	flagWillQoS    = 3 << 3
	flagWillRetain = 1 << 5
	flagPassword   = 1 << 6
	flagUsername   = 1 << 7
)

// Append encodes the CONNECT in c.Version; v is ignored unless c.Version is
// zero, in which case v is used.
func (c *Connect) Append(dst []byte, v Version) ([]byte, error) {
	if c.Version != 0 {
		v = c.Version
	}
	if err := checkVersion(v, CONNECT); err != nil {
		return dst, err
	}
	level := byte(v)
	if c.Bridge {
		if v != V311 {
			return dst, &Error{Code: UnsupportedProtocolVersion, Msg: "the bridge bit of the Protocol Level is for 3.1.1 only"}
		}
		level |= bridgeBit
	}
	hasUser := c.HasUsername || c.Username != ""
	if v == V311 && c.Password != nil && !hasUser {
		return dst, malformed("MQTT-3.1.2-22", "a 3.1.1 CONNECT with a password must have a user name")
	}
	n := 2 + 4 + 1 + 1 + 2 + 2 + len(c.ClientID)
	pt, pn, err := propsSize(&c.Properties, CONNECT, v)
	if err != nil {
		return dst, err
	}
	n += pt
	var wt, wn int
	if w := c.Will; w != nil {
		if w.QoS > 2 {
			return dst, malformed(byVersion(v, "MQTT-3.1.2-14", "MQTT-3.1.2-12"), "Will QoS 3")
		}
		if wt, wn, err = propsSize(&w.Properties, willContext, v); err != nil {
			return dst, err
		}
		if err := checkString("Will Topic", w.Topic); err != nil {
			return dst, err
		}
		if err := checkString("Will Payload", string(w.Payload)); err != nil {
			return dst, err
		}
		n += wt + 4 + len(w.Topic) + len(w.Payload)
	}
	if hasUser {
		n += 2 + len(c.Username)
	}
	if c.Password != nil {
		n += 2 + len(c.Password)
	}
	for _, f := range [...]struct{ name, s string }{{"Client Identifier", c.ClientID}, {"User Name", c.Username}, {"Password", string(c.Password)}} {
		if err := checkString(f.name, f.s); err != nil {
			return dst, err
		}
	}
	if dst, err = header(dst, CONNECT, 0, n); err != nil {
		return dst, err
	}
	dst = appendString(dst, "MQTT")
	dst = append(dst, level, c.flags(hasUser))
	dst = appendUint16(dst, c.KeepAlive)
	if v == V5 {
		dst = c.Properties.appendWithLength(dst, pn)
	}
	dst = appendString(dst, c.ClientID)
	if w := c.Will; w != nil {
		if v == V5 {
			dst = w.Properties.appendWithLength(dst, wn)
		}
		dst = appendString(dst, w.Topic)
		dst = appendBinary(dst, w.Payload)
	}
	if hasUser {
		dst = appendString(dst, c.Username)
	}
	if c.Password != nil {
		dst = appendBinary(dst, c.Password)
	}
	return dst, nil
}

func (c *Connect) flags(hasUser bool) byte {
	var f byte
	if c.CleanStart {
		f |= flagCleanStart
	}
	if w := c.Will; w != nil {
		f |= flagWill | byte(w.QoS)<<3
		if w.Retain {
			f |= flagWillRetain
		}
	}
	if c.Password != nil {
		f |= flagPassword
	}
	if hasUser {
		f |= flagUsername
	}
	return f
}

func (c *Connect) decode(d *decoder, _ byte) {
	name := d.rawBytes("Protocol Name")
	level := Version(d.byte("Protocol Level"))
	if d.err != nil {
		return
	}
	// The level decides how the rest is read, and which rule ids apply.
	d.v = level
	if string(name) != "MQTT" {
		d.fail(&Error{Code: UnsupportedProtocolVersion, Rule: "MQTT-3.1.2-1",
			Msg: "protocol name " + quote(string(name)) + " is not \"MQTT\""})
		return
	}
	if !level.Valid() {
		d.fail(&Error{Code: UnsupportedProtocolVersion, Rule: "MQTT-3.1.2-2",
			Msg: "unsupported protocol level " + level.String()})
		return
	}
	c.Version = level
	flags := d.byte("Connect Flags")
	c.KeepAlive = d.uint16("Keep Alive")
	if d.err != nil {
		return
	}
	if flags&flagReserved != 0 {
		d.fail(malformed("MQTT-3.1.2-3", "reserved Connect Flag is set"))
		return
	}
	c.CleanStart = flags&flagCleanStart != 0
	willQoS := QoS(flags & flagWillQoS >> 3)
	if flags&flagWill == 0 {
		if willQoS != 0 {
			d.fail(malformed(byVersion(level, "MQTT-3.1.2-13", "MQTT-3.1.2-11"), "Will QoS set without the Will Flag"))
		} else if flags&flagWillRetain != 0 {
			d.fail(malformed(byVersion(level, "MQTT-3.1.2-15", "MQTT-3.1.2-13"), "Will Retain set without the Will Flag"))
		}
	} else if willQoS > 2 {
		d.fail(malformed(byVersion(level, "MQTT-3.1.2-14", "MQTT-3.1.2-12"), "Will QoS 3"))
	}
	if level == V311 && flags&flagPassword != 0 && flags&flagUsername == 0 {
		d.fail(malformed("MQTT-3.1.2-22", "Password Flag set without the User Name Flag"))
	}
	if d.err != nil {
		return
	}
	if level == V5 {
		d.properties(&c.Properties, CONNECT)
	}
	c.ClientID = d.string("Client Identifier")
	if flags&flagWill != 0 {
		w := &Will{QoS: willQoS, Retain: flags&flagWillRetain != 0}
		if level == V5 {
			d.properties(&w.Properties, willContext)
		}
		w.Topic = d.string("Will Topic")
		w.Payload = d.binary("Will Payload")
		if d.err == nil && !isTopicName(w.Topic) {
			rule := byVersion(level, "MQTT-4.7.1-1", "MQTT-4.7.0-1") // no wildcards in a Topic Name
			if w.Topic == "" {
				rule = "MQTT-4.7.3-1"
			}
			d.fail(&Error{Code: TopicNameInvalid, Rule: rule,
				Msg: "Will Topic " + quote(w.Topic) + " is not a valid Topic Name"})
		}
		c.Will = w
	}
	if flags&flagUsername != 0 {
		c.HasUsername = true
		c.Username = d.string("User Name")
	}
	if flags&flagPassword != 0 {
		c.Password = d.binary("Password")
	}
}

// Connack is the CONNACK packet (section 3.2). For 3.1.1, ReasonCode holds
// the return code (ConnectionAccepted, RefusedProtocolVersion, ...).
type Connack struct {
	SessionPresent bool
	ReasonCode     ReasonCode
	Properties     Properties
}

// Type returns CONNACK.
func (*Connack) Type() PacketType { return CONNACK }

// Append encodes the CONNACK in version v.
func (c *Connack) Append(dst []byte, v Version) ([]byte, error) {
	if err := checkVersion(v, CONNACK); err != nil {
		return dst, err
	}
	if v == V5 && !c.ReasonCode.ValidFor(CONNACK) {
		return dst, protocolErr("MQTT-3.2.2-8", "CONNACK with reason code "+c.ReasonCode.String())
	}
	if v == V311 && c.ReasonCode > RefusedNotAuthorized {
		return dst, protocolErr("", "CONNACK return code "+c.ReasonCode.String()+" is reserved")
	}
	if c.SessionPresent && c.ReasonCode != Success {
		return dst, protocolErr(byVersion(v, "MQTT-3.2.2-4", "MQTT-3.2.2-6"), "Session Present with a non-zero reason code")
	}
	pt, pn, err := propsSize(&c.Properties, CONNACK, v)
	if err != nil {
		return dst, err
	}
	if dst, err = header(dst, CONNACK, 0, 2+pt); err != nil {
		return dst, err
	}
	var f byte
	if c.SessionPresent {
		f = 1
	}
	dst = append(dst, f, byte(c.ReasonCode))
	if v == V5 {
		dst = c.Properties.appendWithLength(dst, pn)
	}
	return dst, nil
}

func (c *Connack) decode(d *decoder, _ byte) {
	f := d.byte("Connect Acknowledge Flags")
	c.ReasonCode = ReasonCode(d.byte("Connect Reason Code"))
	if d.err != nil {
		return
	}
	if f&^1 != 0 {
		d.fail(malformed(byVersion(d.v, "", "MQTT-3.2.2-1"), "reserved Connect Acknowledge Flags are set"))
		return
	}
	c.SessionPresent = f == 1
	if d.v == V5 {
		if !c.ReasonCode.ValidFor(CONNACK) {
			d.fail(protocolErr("MQTT-3.2.2-8", "CONNACK with reason code "+c.ReasonCode.String()))
			return
		}
		d.properties(&c.Properties, CONNACK)
	} else if c.ReasonCode > RefusedNotAuthorized {
		d.fail(protocolErr("", "CONNACK return code "+c.ReasonCode.String()+" is reserved"))
		return
	}
	if c.SessionPresent && c.ReasonCode != Success {
		d.fail(protocolErr(byVersion(d.v, "MQTT-3.2.2-4", "MQTT-3.2.2-6"), "Session Present with a non-zero reason code"))
	}
}
