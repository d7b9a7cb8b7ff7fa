package client

import (
	"errors"

	"github.com/ternmq/tern/codec"
)

// Errors returned by the Client. Test for them with errors.Is.
var (
	// ErrClosed is returned by operations on a Client after Disconnect,
	// or after the connection was lost without AutoReconnect.
	ErrClosed = errors.New("mqtt: client closed")
	// ErrNotConnected is returned by a QoS 0 Publish while the client is
	// reconnecting: a QoS 0 message is never queued.
	ErrNotConnected = errors.New("mqtt: not connected")
	// ErrConnectionLost wraps the cause of a lost connection when the
	// client does not reconnect; operations still pending fail with it.
	ErrConnectionLost = errors.New("mqtt: connection lost")
	// ErrKeepAliveTimeout is the cause of a connection declared dead
	// because the server did not answer a PINGREQ in time.
	ErrKeepAliveTimeout = errors.New("mqtt: no PINGRESP from the server: connection considered dead")
	// ErrNoPacketID is returned when all 65535 packet identifiers are in
	// use by unacknowledged operations.
	ErrNoPacketID = errors.New("mqtt: no free packet identifier")
)

// ReasonError is a failure reported with an MQTT reason code: the server
// refused a CONNECT, a PUBLISH (PUBACK or PUBREC 0x80 and above), a
// SUBSCRIBE or UNSUBSCRIBE, or ended the connection with a DISCONNECT; or
// the client refused to send something the server said it does not accept
// (Maximum QoS, Retain Available, Maximum Packet Size). For 3.1.1 CONNACK
// return codes the Code is the equivalent 5.0 reason code.
//
//	var re *client.ReasonError
//	if errors.As(err, &re) && re.Code == codec.NotAuthorized { ... }
type ReasonError struct {
	// Op is what failed: "connect", "publish", "subscribe", "unsubscribe"
	// or "disconnect" (the server ended the connection).
	Op string
	// Code is the reason code.
	Code codec.ReasonCode
	// Reason is the server's Reason String (5.0), or the client's
	// explanation when the client refused to send.
	Reason string
	// ServerReference is the 5.0 Server Reference of a CONNACK or
	// DISCONNECT asking the client to use another server.
	ServerReference string
}

// Error returns "mqtt: <op>: <reason code name> (0x..): <reason string>".
func (e *ReasonError) Error() string {
	s := "mqtt: " + e.Op + ": " + e.Code.String() + " (0x" + hexByte(byte(e.Code)) + ")"
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	if e.ServerReference != "" {
		s += " (server reference " + e.ServerReference + ")"
	}
	return s
}

func hexByte(b byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[b>>4], digits[b&15]})
}

// connackCode311 maps a 3.1.1 CONNACK return code to its 5.0 equivalent.
func connackCode311(rc codec.ReasonCode) codec.ReasonCode {
	switch rc {
	case codec.RefusedProtocolVersion:
		return codec.UnsupportedProtocolVersion
	case codec.RefusedIdentifierRejected:
		return codec.ClientIdentifierNotValid
	case codec.RefusedServerUnavailable:
		return codec.ServerUnavailable
	case codec.RefusedBadUserNameOrPassword:
		return codec.BadUserNameOrPassword
	case codec.RefusedNotAuthorized:
		return codec.NotAuthorized
	}
	return codec.UnspecifiedError
}

// protocolError is a violation by the server that makes the client close
// the connection, telling a 5.0 server why with a DISCONNECT.
type protocolError struct {
	code codec.ReasonCode
	msg  string
}

func (e *protocolError) Error() string {
	return "mqtt: server protocol violation: " + e.msg + " (" + e.code.String() + ")"
}
