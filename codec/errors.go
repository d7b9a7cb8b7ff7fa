package codec

import (
	"errors"
	"strconv"
)

// Error is a violation of the MQTT specification found while decoding or
// encoding a packet. Code is the reason code a server answers with (in a
// CONNACK during connect, in a DISCONNECT after it, or none for 3.1.1, where
// the connection is simply closed); Rule names the normative statement, such
// as "MQTT-3.1.2-3", or is empty when the specification numbers none.
// Version is the protocol version the packet was read in, when known: for
// a CONNECT it is the level the packet asked for, so a server can answer in
// the client's version.
type Error struct {
	Code    ReasonCode
	Rule    string
	Msg     string
	Version Version
}

// Error formats the violation with its reason code and rule.
func (e *Error) Error() string {
	s := "mqtt: " + e.Msg + " (" + e.Code.String()
	if e.Rule != "" {
		s += ", " + e.Rule
	}
	return s + ")"
}

// ErrIncomplete is returned by Decode when the buffer holds only part of a
// packet. It is not a protocol error.
var ErrIncomplete = errors.New("mqtt: incomplete packet")

func malformed(rule, msg string) *Error { return &Error{Code: MalformedPacket, Rule: rule, Msg: msg} }

func protocolErr(rule, msg string) *Error { return &Error{Code: ProtocolError, Rule: rule, Msg: msg} }

// byVersion picks the statement id for the version in use: the two
// specifications often number the same rule differently.
func byVersion(v Version, rule311, rule5 string) string {
	if v == V5 {
		return rule5
	}
	return rule311
}

// errTooShort reports a packet whose Remaining Length ends inside a field.
func errTooShort(v Version, field string) *Error {
	return malformed(byVersion(v, "MQTT-4.8.0-1", "MQTT-4.13.1-1"), field+" runs past the end of the packet")
}

func errPacketTooLarge(v Version, size, max int) *Error {
	return &Error{Code: PacketTooLarge, Rule: byVersion(v, "", "MQTT-3.2.2-15"),
		Msg: "packet of " + strconv.Itoa(size) + " bytes exceeds the maximum packet size of " + strconv.Itoa(max)}
}
