package testkit

import (
	"fmt"
	"strings"

	"github.com/ternmq/tern/codec"
)

// Describe renders a packet as one short line that tests compare with
// expected strings: the fields that matter to the protocol, without
// properties except the few named. For example
//
//	CONNACK sp=0 rc=0x00 assigned
//	PUBLISH q1 dup=0 retain=1 id=3 a/b "payload"
//	SUBACK id=1 [0x01 0x80]
func Describe(p codec.Packet) string {
	switch p := p.(type) {
	case *codec.Connack:
		s := fmt.Sprintf("CONNACK sp=%d rc=0x%02x", b2i(p.SessionPresent), byte(p.ReasonCode))
		if p.Properties.AssignedClientIdentifier != "" {
			s += " assigned"
		}
		return s
	case *codec.Publish:
		s := fmt.Sprintf("PUBLISH q%d dup=%d retain=%d", p.QoS, b2i(p.Dup), b2i(p.Retain))
		if p.QoS > 0 {
			s += fmt.Sprintf(" id=%d", p.PacketID)
		}
		return s + fmt.Sprintf(" %s %q", p.Topic, p.Payload)
	case *codec.Puback:
		return fmt.Sprintf("PUBACK id=%d rc=0x%02x", p.PacketID, byte(p.ReasonCode))
	case *codec.Pubrec:
		return fmt.Sprintf("PUBREC id=%d rc=0x%02x", p.PacketID, byte(p.ReasonCode))
	case *codec.Pubrel:
		return fmt.Sprintf("PUBREL id=%d rc=0x%02x", p.PacketID, byte(p.ReasonCode))
	case *codec.Pubcomp:
		return fmt.Sprintf("PUBCOMP id=%d rc=0x%02x", p.PacketID, byte(p.ReasonCode))
	case *codec.Suback:
		return fmt.Sprintf("SUBACK id=%d %s", p.PacketID, codes(p.ReasonCodes))
	case *codec.Unsuback:
		return fmt.Sprintf("UNSUBACK id=%d %s", p.PacketID, codes(p.ReasonCodes))
	case *codec.Disconnect:
		return fmt.Sprintf("DISCONNECT rc=0x%02x", byte(p.ReasonCode))
	case nil:
		return "<nil>"
	}
	return p.Type().String()
}

func codes(rcs []codec.ReasonCode) string {
	s := make([]string, len(rcs))
	for i, rc := range rcs {
		s[i] = fmt.Sprintf("0x%02x", byte(rc))
	}
	return "[" + strings.Join(s, " ") + "]"
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
