// Package codec encodes and decodes MQTT 3.1.1 and 5.0 control packets.
//
// It is the only place in Tern that knows the bytes on the wire. The broker,
// the Go client and the browser client all speak MQTT through it, so it
// depends on the standard library alone and builds for GOOS=js GOARCH=wasm.
//
// # Packets
//
// Each of the fifteen control packets has its own struct (Connect, Connack,
// Publish, Puback, Pubrec, Pubrel, Pubcomp, Subscribe, Suback, Unsubscribe,
// Unsuback, Pingreq, Pingresp, Disconnect, Auth), all satisfying Packet.
// Encoding appends to a caller's buffer:
//
//	buf, err = pkt.Append(buf[:0], codec.V5)
//
// The protocol version is always passed in: V311 (protocol level 4) or V5
// (level 5). A CONNECT carries its own level, so decoding a CONNECT reads the
// version from the packet instead.
//
// # Decoding
//
// Decode parses one packet from a byte slice and returns a packet that owns
// all of its memory. Reader decodes a stream of packets from an io.Reader
// with one reusable buffer and without allocating in steady state; the
// packets it returns are valid only until the next call (strings are the
// exception: they are always safe to keep). Both refuse a packet larger than
// the maximum packet size before reading its body.
//
// # Errors
//
// Every violation of the specification that the decoder detects is an
// *Error carrying the ReasonCode the server must answer with (in CONNACK or
// DISCONNECT) and the id of the normative statement it violates, such as
// "MQTT-3.1.2-3". Use errors.As to branch on it.
//
// # Properties
//
// MQTT 5.0 properties live in the typed Properties struct; user properties
// keep their order. A property is sent when its value is non-zero or when it
// was marked present with Properties.Mark, so explicit zeros (a Maximum QoS
// of 0, say) can be expressed. After decoding, Properties.Has reports exactly
// which properties were on the wire.
//
// # Topics
//
// ValidTopicName, ValidTopicFilter, MatchTopic and ParseShared implement the
// topic rules of chapter 4.7 and shared subscriptions (4.8.2), including the
// rule that a filter starting with a wildcard does not match a topic starting
// with '$'.
package codec
