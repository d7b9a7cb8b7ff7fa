package codec

import "strconv"

// Version is an MQTT protocol level as carried in CONNECT.
type Version byte

// The protocol versions the codec speaks.
const (
	V311 Version = 4 // MQTT 3.1.1
	V5   Version = 5 // MQTT 5.0
)

// String returns "3.1.1", "5.0" or "level N".
func (v Version) String() string {
	switch v {
	case V311:
		return "3.1.1"
	case V5:
		return "5.0"
	}
	return "level " + strconv.Itoa(int(v))
}

// Valid reports whether v is a version the codec supports.
func (v Version) Valid() bool { return v == V311 || v == V5 }

// PacketType is the MQTT control packet type from the fixed header.
type PacketType byte

// The control packet types (MQTT 5.0 section 2.1.2). AUTH exists only in 5.0.
const (
	CONNECT     PacketType = 1
	CONNACK     PacketType = 2
	PUBLISH     PacketType = 3
	PUBACK      PacketType = 4
	PUBREC      PacketType = 5
	PUBREL      PacketType = 6
	PUBCOMP     PacketType = 7
	SUBSCRIBE   PacketType = 8
	SUBACK      PacketType = 9
	UNSUBSCRIBE PacketType = 10
	UNSUBACK    PacketType = 11
	PINGREQ     PacketType = 12
	PINGRESP    PacketType = 13
	DISCONNECT  PacketType = 14
	AUTH        PacketType = 15
)

var packetTypeNames = [...]string{
	"RESERVED", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
	"SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH",
}

// String returns the packet type's name as the specification spells it.
func (t PacketType) String() string {
	if int(t) < len(packetTypeNames) {
		return packetTypeNames[t]
	}
	return "PacketType(" + strconv.Itoa(int(t)) + ")"
}

// requiredFlags holds the fixed-header flag bits each packet type must carry
// (Table 2.2 in 3.1.1, section 2.1.3 in 5.0). PUBLISH is checked separately.
var requiredFlags = [16]byte{PUBREL: 0b0010, SUBSCRIBE: 0b0010, UNSUBSCRIBE: 0b0010}

// QoS is an MQTT quality of service level: 0, 1 or 2.
type QoS byte

// The quality of service levels.
const (
	AtMostOnce  QoS = 0
	AtLeastOnce QoS = 1
	ExactlyOnce QoS = 2
)

// Limits from the specification.
const (
	// MaxRemainingLength is the largest value a Remaining Length can carry
	// in four bytes of variable byte integer.
	MaxRemainingLength = 268_435_455
	// MaxPacketSize is the size of the largest possible packet: a
	// Remaining Length of MaxRemainingLength plus five header bytes.
	MaxPacketSize = MaxRemainingLength + 5
	// MaxStringLength is the longest UTF-8 string or binary field.
	MaxStringLength = 65_535
	// MaxSubscriptionIdentifier is the largest Subscription Identifier.
	MaxSubscriptionIdentifier = MaxRemainingLength
)
