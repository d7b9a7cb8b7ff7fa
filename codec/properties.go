package codec

import "strconv"

// PropertyID identifies an MQTT 5.0 property (section 2.2.2.2).
type PropertyID byte

// The MQTT 5.0 properties.
const (
	PropPayloadFormatIndicator          PropertyID = 0x01
	PropMessageExpiryInterval           PropertyID = 0x02
	PropContentType                     PropertyID = 0x03
	PropResponseTopic                   PropertyID = 0x08
	PropCorrelationData                 PropertyID = 0x09
	PropSubscriptionIdentifier          PropertyID = 0x0B
	PropSessionExpiryInterval           PropertyID = 0x11
	PropAssignedClientIdentifier        PropertyID = 0x12
	PropServerKeepAlive                 PropertyID = 0x13
	PropAuthenticationMethod            PropertyID = 0x15
	PropAuthenticationData              PropertyID = 0x16
	PropRequestProblemInformation       PropertyID = 0x17
	PropWillDelayInterval               PropertyID = 0x18
	PropRequestResponseInformation      PropertyID = 0x19
	PropResponseInformation             PropertyID = 0x1A
	PropServerReference                 PropertyID = 0x1C
	PropReasonString                    PropertyID = 0x1F
	PropReceiveMaximum                  PropertyID = 0x21
	PropTopicAliasMaximum               PropertyID = 0x22
	PropTopicAlias                      PropertyID = 0x23
	PropMaximumQoS                      PropertyID = 0x24
	PropRetainAvailable                 PropertyID = 0x25
	PropUserProperty                    PropertyID = 0x26
	PropMaximumPacketSize               PropertyID = 0x27
	PropWildcardSubscriptionAvailable   PropertyID = 0x28
	PropSubscriptionIdentifierAvailable PropertyID = 0x29
	PropSharedSubscriptionAvailable     PropertyID = 0x2A
)

// PropertyType is the data type of a property's value (section 1.5).
type PropertyType byte

// The property value types.
const (
	TypeByte PropertyType = iota + 1
	TypeTwoByteInt
	TypeFourByteInt
	TypeVarInt
	TypeString
	TypeBinary
	TypeStringPair
)

// Where a property may appear. Bits are indexed by PacketType; bit 0 (the
// reserved packet type) stands for the Will Properties of a CONNECT.
type contexts uint16

const willContext = 0

func in(types ...PacketType) contexts {
	var c contexts
	for _, t := range types {
		c |= 1 << t
	}
	return c
}

const (
	allPackets   = contexts(1<<CONNECT | 1<<CONNACK | 1<<PUBLISH | 1<<PUBACK | 1<<PUBREC | 1<<PUBREL | 1<<PUBCOMP | 1<<SUBSCRIBE | 1<<SUBACK | 1<<UNSUBSCRIBE | 1<<UNSUBACK | 1<<DISCONNECT | 1<<AUTH | 1<<willContext)
	publishLike  = contexts(1<<PUBLISH | 1<<willContext)
	reasonString = contexts(1<<CONNACK | 1<<PUBACK | 1<<PUBREC | 1<<PUBREL | 1<<PUBCOMP | 1<<SUBACK | 1<<UNSUBACK | 1<<DISCONNECT | 1<<AUTH)
)

type propertyInfo struct {
	name  string
	typ   PropertyType
	where contexts
}

// propertyTable is Table 2-4 of the 5.0 specification.
var propertyTable = [...]propertyInfo{
	PropPayloadFormatIndicator:          {"Payload Format Indicator", TypeByte, publishLike},
	PropMessageExpiryInterval:           {"Message Expiry Interval", TypeFourByteInt, publishLike},
	PropContentType:                     {"Content Type", TypeString, publishLike},
	PropResponseTopic:                   {"Response Topic", TypeString, publishLike},
	PropCorrelationData:                 {"Correlation Data", TypeBinary, publishLike},
	PropSubscriptionIdentifier:          {"Subscription Identifier", TypeVarInt, in(PUBLISH, SUBSCRIBE)},
	PropSessionExpiryInterval:           {"Session Expiry Interval", TypeFourByteInt, in(CONNECT, CONNACK, DISCONNECT)},
	PropAssignedClientIdentifier:        {"Assigned Client Identifier", TypeString, in(CONNACK)},
	PropServerKeepAlive:                 {"Server Keep Alive", TypeTwoByteInt, in(CONNACK)},
	PropAuthenticationMethod:            {"Authentication Method", TypeString, in(CONNECT, CONNACK, AUTH)},
	PropAuthenticationData:              {"Authentication Data", TypeBinary, in(CONNECT, CONNACK, AUTH)},
	PropRequestProblemInformation:       {"Request Problem Information", TypeByte, in(CONNECT)},
	PropWillDelayInterval:               {"Will Delay Interval", TypeFourByteInt, 1 << willContext},
	PropRequestResponseInformation:      {"Request Response Information", TypeByte, in(CONNECT)},
	PropResponseInformation:             {"Response Information", TypeString, in(CONNACK)},
	PropServerReference:                 {"Server Reference", TypeString, in(CONNACK, DISCONNECT)},
	PropReasonString:                    {"Reason String", TypeString, reasonString},
	PropReceiveMaximum:                  {"Receive Maximum", TypeTwoByteInt, in(CONNECT, CONNACK)},
	PropTopicAliasMaximum:               {"Topic Alias Maximum", TypeTwoByteInt, in(CONNECT, CONNACK)},
	PropTopicAlias:                      {"Topic Alias", TypeTwoByteInt, in(PUBLISH)},
	PropMaximumQoS:                      {"Maximum QoS", TypeByte, in(CONNACK)},
	PropRetainAvailable:                 {"Retain Available", TypeByte, in(CONNACK)},
	PropUserProperty:                    {"User Property", TypeStringPair, allPackets},
	PropMaximumPacketSize:               {"Maximum Packet Size", TypeFourByteInt, in(CONNECT, CONNACK)},
	PropWildcardSubscriptionAvailable:   {"Wildcard Subscription Available", TypeByte, in(CONNACK)},
	PropSubscriptionIdentifierAvailable: {"Subscription Identifier Available", TypeByte, in(CONNACK)},
	PropSharedSubscriptionAvailable:     {"Shared Subscription Available", TypeByte, in(CONNACK)},
}

// propertyOrder is the order properties are encoded in: ascending ids.
var propertyOrder = func() []PropertyID {
	var ids []PropertyID
	for id, info := range propertyTable {
		if info.typ != 0 {
			ids = append(ids, PropertyID(id))
		}
	}
	return ids
}()

func (id PropertyID) info() (propertyInfo, bool) {
	if int(id) < len(propertyTable) && propertyTable[id].typ != 0 {
		return propertyTable[id], true
	}
	return propertyInfo{}, false
}

// String returns the property's name as the specification spells it.
func (id PropertyID) String() string {
	if info, ok := id.info(); ok {
		return info.name
	}
	return "Property(0x" + strconv.FormatUint(uint64(id), 16) + ")"
}

// Type returns the data type of the property's value, or 0 for an unknown id.
func (id PropertyID) Type() PropertyType {
	info, _ := id.info()
	return info.typ
}

// AllowedIn reports whether the property may appear in a packet of type t.
// Will Properties are asked about with t == 0.
func (id PropertyID) AllowedIn(t PacketType) bool {
	info, ok := id.info()
	return ok && t < 16 && info.where&(1<<t) != 0
}

// UserProperty is one name/value pair of a User Property (0x26).
type UserProperty struct {
	Key, Value string
}

// Properties holds the MQTT 5.0 properties of one packet or of a Will
// Message. A property is encoded when its field is non-zero (non-empty for
// strings, non-nil for binary data) or when Mark(id) was called for it;
// after decoding, Has reports exactly which properties were present.
// Properties are ignored when encoding for MQTT 3.1.1.
type Properties struct {
	PayloadFormatIndicator          byte
	MessageExpiryInterval           uint32
	ContentType                     string
	ResponseTopic                   string
	CorrelationData                 []byte
	SubscriptionIdentifiers         []int // PUBLISH may carry several; SUBSCRIBE at most one
	SessionExpiryInterval           uint32
	AssignedClientIdentifier        string
	ServerKeepAlive                 uint16
	AuthenticationMethod            string
	AuthenticationData              []byte
	RequestProblemInformation       byte
	WillDelayInterval               uint32
	RequestResponseInformation      byte
	ResponseInformation             string
	ServerReference                 string
	ReasonString                    string
	ReceiveMaximum                  uint16
	TopicAliasMaximum               uint16
	TopicAlias                      uint16
	MaximumQoS                      byte
	RetainAvailable                 byte
	UserProperties                  []UserProperty
	MaximumPacketSize               uint32
	WildcardSubscriptionAvailable   byte
	SubscriptionIdentifierAvailable byte
	SharedSubscriptionAvailable     byte

	present uint64 // bit id: marked present (by Mark or by the decoder)
}

// Mark records that property id is present even if its value is zero, so
// that an explicit zero (Maximum QoS 0, Retain Available 0, Server Keep
// Alive 0, Message Expiry Interval 0) is encoded.
func (p *Properties) Mark(id PropertyID) { p.present |= 1 << (id & 63) }

// Unmark removes a mark set by Mark or by the decoder. A non-zero value is
// still encoded.
func (p *Properties) Unmark(id PropertyID) { p.present &^= 1 << (id & 63) }

// Has reports whether property id is present: marked, decoded, or holding a
// non-zero value.
func (p *Properties) Has(id PropertyID) bool {
	if p.present&(1<<(id&63)) != 0 {
		return true
	}
	switch id {
	case PropPayloadFormatIndicator:
		return p.PayloadFormatIndicator != 0
	case PropMessageExpiryInterval:
		return p.MessageExpiryInterval != 0
	case PropContentType:
		return p.ContentType != ""
	case PropResponseTopic:
		return p.ResponseTopic != ""
	case PropCorrelationData:
		return p.CorrelationData != nil
	case PropSubscriptionIdentifier:
		return len(p.SubscriptionIdentifiers) > 0
	case PropSessionExpiryInterval:
		return p.SessionExpiryInterval != 0
	case PropAssignedClientIdentifier:
		return p.AssignedClientIdentifier != ""
	case PropServerKeepAlive:
		return p.ServerKeepAlive != 0
	case PropAuthenticationMethod:
		return p.AuthenticationMethod != ""
	case PropAuthenticationData:
		return p.AuthenticationData != nil
	case PropRequestProblemInformation:
		return p.RequestProblemInformation != 0
	case PropWillDelayInterval:
		return p.WillDelayInterval != 0
	case PropRequestResponseInformation:
		return p.RequestResponseInformation != 0
	case PropResponseInformation:
		return p.ResponseInformation != ""
	case PropServerReference:
		return p.ServerReference != ""
	case PropReasonString:
		return p.ReasonString != ""
	case PropReceiveMaximum:
		return p.ReceiveMaximum != 0
	case PropTopicAliasMaximum:
		return p.TopicAliasMaximum != 0
	case PropTopicAlias:
		return p.TopicAlias != 0
	case PropMaximumQoS:
		return p.MaximumQoS != 0
	case PropRetainAvailable:
		return p.RetainAvailable != 0
	case PropUserProperty:
		return len(p.UserProperties) > 0
	case PropMaximumPacketSize:
		return p.MaximumPacketSize != 0
	case PropWildcardSubscriptionAvailable:
		return p.WildcardSubscriptionAvailable != 0
	case PropSubscriptionIdentifierAvailable:
		return p.SubscriptionIdentifierAvailable != 0
	case PropSharedSubscriptionAvailable:
		return p.SharedSubscriptionAvailable != 0
	}
	return false
}

// Reset clears every property but keeps the capacity of the slices, so a
// Properties value can be reused without allocating.
func (p *Properties) Reset() {
	subs, users := p.SubscriptionIdentifiers[:0], p.UserProperties[:0]
	*p = Properties{SubscriptionIdentifiers: subs, UserProperties: users}
}

// empty reports whether no property would be encoded: nothing is marked
// and every field is zero. It compares the fields directly rather than
// asking Has about each id, because every 5.0 PUBACK encodes through it.
func (p *Properties) empty() bool {
	return p.present == 0 && len(p.UserProperties) == 0 && len(p.SubscriptionIdentifiers) == 0 &&
		p.CorrelationData == nil && p.AuthenticationData == nil &&
		p.ContentType == "" && p.ResponseTopic == "" && p.AssignedClientIdentifier == "" &&
		p.AuthenticationMethod == "" && p.ResponseInformation == "" && p.ServerReference == "" &&
		p.ReasonString == "" &&
		p.MessageExpiryInterval == 0 && p.SessionExpiryInterval == 0 && p.WillDelayInterval == 0 &&
		p.MaximumPacketSize == 0 &&
		p.ServerKeepAlive == 0 && p.ReceiveMaximum == 0 && p.TopicAliasMaximum == 0 && p.TopicAlias == 0 &&
		p.PayloadFormatIndicator == 0 && p.RequestProblemInformation == 0 && p.RequestResponseInformation == 0 &&
		p.MaximumQoS == 0 && p.RetainAvailable == 0 && p.WildcardSubscriptionAvailable == 0 &&
		p.SubscriptionIdentifierAvailable == 0 && p.SharedSubscriptionAvailable == 0
}

// scalar returns the value of a numeric property.
func (p *Properties) scalar(id PropertyID) uint32 {
	switch id {
	case PropPayloadFormatIndicator:
		return uint32(p.PayloadFormatIndicator)
	case PropMessageExpiryInterval:
		return p.MessageExpiryInterval
	case PropSessionExpiryInterval:
		return p.SessionExpiryInterval
	case PropServerKeepAlive:
		return uint32(p.ServerKeepAlive)
	case PropRequestProblemInformation:
		return uint32(p.RequestProblemInformation)
	case PropWillDelayInterval:
		return p.WillDelayInterval
	case PropRequestResponseInformation:
		return uint32(p.RequestResponseInformation)
	case PropReceiveMaximum:
		return uint32(p.ReceiveMaximum)
	case PropTopicAliasMaximum:
		return uint32(p.TopicAliasMaximum)
	case PropTopicAlias:
		return uint32(p.TopicAlias)
	case PropMaximumQoS:
		return uint32(p.MaximumQoS)
	case PropRetainAvailable:
		return uint32(p.RetainAvailable)
	case PropMaximumPacketSize:
		return p.MaximumPacketSize
	case PropWildcardSubscriptionAvailable:
		return uint32(p.WildcardSubscriptionAvailable)
	case PropSubscriptionIdentifierAvailable:
		return uint32(p.SubscriptionIdentifierAvailable)
	case PropSharedSubscriptionAvailable:
		return uint32(p.SharedSubscriptionAvailable)
	}
	return 0
}

func (p *Properties) setScalar(id PropertyID, x uint32) {
	switch id {
	case PropPayloadFormatIndicator:
		p.PayloadFormatIndicator = byte(x)
	case PropMessageExpiryInterval:
		p.MessageExpiryInterval = x
	case PropSessionExpiryInterval:
		p.SessionExpiryInterval = x
	case PropServerKeepAlive:
		p.ServerKeepAlive = uint16(x)
	case PropRequestProblemInformation:
		p.RequestProblemInformation = byte(x)
	case PropWillDelayInterval:
		p.WillDelayInterval = x
	case PropRequestResponseInformation:
		p.RequestResponseInformation = byte(x)
	case PropReceiveMaximum:
		p.ReceiveMaximum = uint16(x)
	case PropTopicAliasMaximum:
		p.TopicAliasMaximum = uint16(x)
	case PropTopicAlias:
		p.TopicAlias = uint16(x)
	case PropMaximumQoS:
		p.MaximumQoS = byte(x)
	case PropRetainAvailable:
		p.RetainAvailable = byte(x)
	case PropMaximumPacketSize:
		p.MaximumPacketSize = x
	case PropWildcardSubscriptionAvailable:
		p.WildcardSubscriptionAvailable = byte(x)
	case PropSubscriptionIdentifierAvailable:
		p.SubscriptionIdentifierAvailable = byte(x)
	case PropSharedSubscriptionAvailable:
		p.SharedSubscriptionAvailable = byte(x)
	}
}

// text returns the value of a string or binary property.
func (p *Properties) text(id PropertyID) (string, []byte) {
	switch id {
	case PropContentType:
		return p.ContentType, nil
	case PropResponseTopic:
		return p.ResponseTopic, nil
	case PropCorrelationData:
		return "", p.CorrelationData
	case PropAssignedClientIdentifier:
		return p.AssignedClientIdentifier, nil
	case PropAuthenticationMethod:
		return p.AuthenticationMethod, nil
	case PropAuthenticationData:
		return "", p.AuthenticationData
	case PropResponseInformation:
		return p.ResponseInformation, nil
	case PropServerReference:
		return p.ServerReference, nil
	case PropReasonString:
		return p.ReasonString, nil
	}
	return "", nil
}

func (p *Properties) setText(id PropertyID, s string, b []byte) {
	switch id {
	case PropContentType:
		p.ContentType = s
	case PropResponseTopic:
		p.ResponseTopic = s
	case PropCorrelationData:
		p.CorrelationData = b
	case PropAssignedClientIdentifier:
		p.AssignedClientIdentifier = s
	case PropAuthenticationMethod:
		p.AuthenticationMethod = s
	case PropAuthenticationData:
		p.AuthenticationData = b
	case PropResponseInformation:
		p.ResponseInformation = s
	case PropServerReference:
		p.ServerReference = s
	case PropReasonString:
		p.ReasonString = s
	}
}

var scalarSize = [...]int{TypeByte: 1, TypeTwoByteInt: 2, TypeFourByteInt: 4}

// size returns the encoded length of the properties (without the Property
// Length) for a packet of type t, and checks that each property may appear
// there and fits its field.
func (p *Properties) size(t PacketType) (int, error) {
	if p.empty() {
		return 0, nil
	}
	n := 0
	for _, id := range propertyOrder {
		if !p.Has(id) {
			continue
		}
		info := propertyTable[id]
		if info.where&(1<<t) == 0 {
			return 0, protocolErr("", info.name+" is not allowed in "+contextName(t))
		}
		switch info.typ {
		case TypeByte, TypeTwoByteInt, TypeFourByteInt:
			n += 1 + scalarSize[info.typ]
		case TypeVarInt:
			if t == SUBSCRIBE && len(p.SubscriptionIdentifiers) > 1 {
				return 0, protocolErr("", "SUBSCRIBE may carry only one Subscription Identifier")
			}
			for _, x := range p.SubscriptionIdentifiers {
				if x < 1 || x > MaxSubscriptionIdentifier {
					return 0, protocolErr("", "Subscription Identifier out of range: "+strconv.Itoa(x))
				}
				n += 1 + varintLen(x)
			}
		case TypeString, TypeBinary:
			s, b := p.text(id)
			if len(s) > MaxStringLength || len(b) > MaxStringLength {
				return 0, malformed("", info.name+" is longer than 65535 bytes")
			}
			n += 3 + len(s) + len(b)
		case TypeStringPair:
			for _, u := range p.UserProperties {
				if len(u.Key) > MaxStringLength || len(u.Value) > MaxStringLength {
					return 0, malformed("", "User Property is longer than 65535 bytes")
				}
				n += 5 + len(u.Key) + len(u.Value)
			}
		}
	}
	return n, nil
}

func contextName(t PacketType) string {
	if t == willContext {
		return "Will Properties"
	}
	return t.String()
}

// appendTo appends the properties (without the Property Length). The caller
// has called size.
func (p *Properties) appendTo(dst []byte) []byte {
	for _, id := range propertyOrder {
		if !p.Has(id) {
			continue
		}
		switch typ := propertyTable[id].typ; typ {
		case TypeByte:
			dst = append(dst, byte(id), byte(p.scalar(id)))
		case TypeTwoByteInt:
			dst = appendUint16(append(dst, byte(id)), uint16(p.scalar(id)))
		case TypeFourByteInt:
			dst = appendUint32(append(dst, byte(id)), p.scalar(id))
		case TypeVarInt:
			for _, x := range p.SubscriptionIdentifiers {
				dst = appendVarint(append(dst, byte(id)), x)
			}
		case TypeString, TypeBinary:
			s, b := p.text(id)
			if typ == TypeString {
				dst = appendString(append(dst, byte(id)), s)
			} else {
				dst = appendBinary(append(dst, byte(id)), b)
			}
		case TypeStringPair:
			for _, u := range p.UserProperties {
				dst = appendString(append(dst, byte(id)), u.Key)
				dst = appendString(dst, u.Value)
			}
		}
	}
	return dst
}

// appendWithLength appends Property Length and the properties.
func (p *Properties) appendWithLength(dst []byte, n int) []byte {
	dst = appendVarint(dst, n)
	if n == 0 {
		return dst
	}
	return p.appendTo(dst)
}

// decodeProperties reads a Property Length and the properties that follow
// into p, for a packet of type t (0 for Will Properties). p must be reset.
func (d *decoder) properties(p *Properties, t PacketType) {
	n := d.varint("Property Length")
	if d.err != nil {
		return
	}
	if n > len(d.b) {
		d.short("Properties")
		d.b = nil
		return
	}
	body, rest := d.b[:n], d.b[n:]
	d.b = body
	for len(d.b) > 0 && d.err == nil {
		d.property(p, t)
	}
	d.b = rest
	// Presence, not value: an Authentication Method may be the empty string.
	if d.err == nil && p.present&(1<<PropAuthenticationData) != 0 && p.present&(1<<PropAuthenticationMethod) == 0 {
		d.fail(protocolErr("", "Authentication Data without an Authentication Method"))
	}
}

func (d *decoder) property(p *Properties, t PacketType) {
	raw := d.varint("Property Identifier")
	if d.err != nil {
		return
	}
	id := PropertyID(raw)
	info, ok := id.info()
	if raw > 0x7F || !ok {
		d.fail(malformed("", "unknown property identifier 0x"+strconv.FormatInt(int64(raw), 16)))
		return
	}
	if info.where&(1<<t) == 0 {
		d.fail(protocolErr("", info.name+" is not allowed in "+contextName(t)))
		return
	}
	repeatable := id == PropUserProperty || (id == PropSubscriptionIdentifier && t == PUBLISH)
	if !repeatable && p.present&(1<<id) != 0 {
		d.fail(protocolErr("", "It is a Protocol Error to include "+info.name+" more than once"))
		return
	}
	p.present |= 1 << id
	switch info.typ {
	case TypeByte:
		x := d.byte(info.name)
		if d.err == nil && x > 1 {
			d.fail(protocolErr("", info.name+" must be 0 or 1, not "+strconv.Itoa(int(x))))
		}
		p.setScalar(id, uint32(x))
	case TypeTwoByteInt:
		x := d.uint16(info.name)
		if d.err == nil && x == 0 {
			switch id {
			case PropReceiveMaximum:
				d.fail(protocolErr("", "Receive Maximum of 0"))
			case PropTopicAlias:
				d.fail(&Error{Code: TopicAliasInvalid, Rule: "MQTT-3.3.2-8", Msg: "Topic Alias of 0"})
			}
		}
		p.setScalar(id, uint32(x))
	case TypeFourByteInt:
		x := d.uint32(info.name)
		if d.err == nil && x == 0 && id == PropMaximumPacketSize {
			d.fail(protocolErr("", "Maximum Packet Size of 0"))
		}
		p.setScalar(id, x)
	case TypeVarInt:
		x := d.varint(info.name)
		if d.err == nil && x == 0 {
			d.fail(protocolErr("", "Subscription Identifier of 0"))
		}
		p.SubscriptionIdentifiers = append(p.SubscriptionIdentifiers, x)
	case TypeString:
		s := d.string(info.name)
		if d.err == nil && id == PropResponseTopic && !isTopicName(s) {
			d.fail(protocolErr("MQTT-3.3.2-14", "Response Topic is not a valid Topic Name"))
		}
		p.setText(id, s, nil)
	case TypeBinary:
		p.setText(id, "", d.binary(info.name))
	case TypeStringPair:
		k := d.string("User Property name")
		v := d.string("User Property value")
		p.UserProperties = append(p.UserProperties, UserProperty{Key: k, Value: v})
	}
}
