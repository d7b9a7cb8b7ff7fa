package store

import (
	"encoding/binary"

	"github.com/ternmq/tern/codec"
)

// Flags of a MessageRecord.
const (
	msgQoSMask  = 0b0011
	msgRetain   = 0b0100
	msgHasProps = 0b1000
)

// Presence bits of the forwarded properties.
const (
	propPFI = 1 << iota
	propContentType
	propResponseTopic
	propCorrelation
	propAll = 1<<iota - 1
)

// Append appends the encoding of r to dst and returns the extended
// buffer. Of r.Props only the forwarded properties are kept: Payload Format
// Indicator, Content Type, Response Topic, Correlation Data and User
// Properties (in order); a property marked present with a zero value stays
// present.
func (r *MessageRecord) Append(dst []byte) []byte {
	flags := byte(r.QoS) & msgQoSMask
	if r.Retain {
		flags |= msgRetain
	}
	if r.Props != nil {
		flags |= msgHasProps
	}
	dst = append(dst, recordFormat, flags)
	dst = appendString(dst, r.Topic)
	dst = appendBytes(dst, r.Payload)
	dst = binary.AppendVarint(dst, r.Expires)
	dst = appendString(dst, r.From)
	if r.Props != nil {
		dst = appendProps(dst, r.Props)
	}
	return dst
}

func appendProps(dst []byte, p *codec.Properties) []byte {
	var has byte
	if p.Has(codec.PropPayloadFormatIndicator) {
		has |= propPFI
	}
	if p.Has(codec.PropContentType) {
		has |= propContentType
	}
	if p.Has(codec.PropResponseTopic) {
		has |= propResponseTopic
	}
	if p.Has(codec.PropCorrelationData) {
		has |= propCorrelation
	}
	dst = append(dst, has)
	if has&propPFI != 0 {
		dst = append(dst, p.PayloadFormatIndicator)
	}
	if has&propContentType != 0 {
		dst = appendString(dst, p.ContentType)
	}
	if has&propResponseTopic != 0 {
		dst = appendString(dst, p.ResponseTopic)
	}
	if has&propCorrelation != 0 {
		dst = appendBytes(dst, p.CorrelationData)
	}
	dst = binary.AppendUvarint(dst, uint64(len(p.UserProperties)))
	for _, up := range p.UserProperties {
		dst = appendString(dst, up.Key)
		dst = appendString(dst, up.Value)
	}
	return dst
}

// DecodeMessage decodes a MessageRecord written by Append. The record
// owns its memory: b may be reused once DecodeMessage returns. Errors wrap
// ErrCorrupt.
func DecodeMessage(b []byte) (MessageRecord, error) {
	r := reader{b: b}
	m := r.message()
	if err := r.done("message"); err != nil {
		return MessageRecord{}, err
	}
	return m, nil
}

func (r *reader) message() MessageRecord {
	var m MessageRecord
	r.header("message")
	flags := r.byte("message flags")
	if flags&^(msgQoSMask|msgRetain|msgHasProps) != 0 || flags&msgQoSMask > 2 {
		r.fail("message flags")
	}
	m.QoS = codec.QoS(flags & msgQoSMask)
	m.Retain = flags&msgRetain != 0
	m.Topic = r.string("topic")
	m.Payload = r.bytes("payload")
	m.Expires = r.varint("expires")
	m.From = r.string("from")
	if flags&msgHasProps != 0 {
		m.Props = r.props()
	}
	if r.err != nil {
		return MessageRecord{}
	}
	return m
}

func (r *reader) props() *codec.Properties {
	p := new(codec.Properties)
	has := r.byte("property flags")
	if has&^propAll != 0 {
		r.fail("property flags")
	}
	if has&propPFI != 0 {
		p.PayloadFormatIndicator = r.byte("payload format indicator")
		p.Mark(codec.PropPayloadFormatIndicator)
	}
	if has&propContentType != 0 {
		p.ContentType = r.string("content type")
		p.Mark(codec.PropContentType)
	}
	if has&propResponseTopic != 0 {
		p.ResponseTopic = r.string("response topic")
		p.Mark(codec.PropResponseTopic)
	}
	if has&propCorrelation != 0 {
		p.CorrelationData = r.bytes("correlation data")
		p.Mark(codec.PropCorrelationData)
	}
	if n := r.count("user properties", 2); n > 0 {
		p.UserProperties = make([]codec.UserProperty, n)
		for i := range p.UserProperties {
			p.UserProperties[i] = codec.UserProperty{Key: r.string("user property"), Value: r.string("user property")}
		}
	}
	return p
}
