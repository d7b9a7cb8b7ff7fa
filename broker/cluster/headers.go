package cluster

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/codec"
)

// The NATS headers of a message between nodes. String values are
// query-escaped (a header value holds no CR or LF), binary ones base64.
const (
	hOrigin   = "Tern-Origin"   // the ingress node's id (Node.ID)
	hSeq      = "Tern-Seq"      // the ingress node's sequence number of the message, from 1
	hQoS      = "Tern-Qos"      // 1 or 2; absent for 0
	hRetain   = "Tern-Retain"   // "1" when RETAIN is set
	hExpiry   = "Tern-Expiry"   // milliseconds left of the Message Expiry Interval
	hFormat   = "Tern-Format"   // Payload Format Indicator
	hType     = "Tern-Type"     // Content Type
	hResponse = "Tern-Response" // Response Topic
	hCorr     = "Tern-Corr"     // Correlation Data
	hUser     = "Tern-User"     // one value per User Property, key=value, in order
	hFrom     = "Tern-From"     // the publisher's client id (stream messages only), query-escaped
)

// ErrHeader is returned (wrapped) by decode for a message whose headers
// are not those encode writes.
var ErrHeader = errors.New("cluster: bad message header")

// encode returns the NATS message that carries m from origin with
// sequence number seq; now is the time m's expiry is counted from.
func encode(m *broker.Message, origin string, seq uint64, now time.Time) *nats.Msg {
	h := nats.Header{
		hOrigin: {origin},
		hSeq:    {strconv.FormatUint(seq, 10)},
	}
	if m.QoS > 0 {
		h[hQoS] = []string{strconv.Itoa(int(m.QoS))}
	}
	if m.Retain {
		h[hRetain] = []string{"1"}
	}
	if !m.Expires.IsZero() {
		h[hExpiry] = []string{strconv.FormatInt(max(m.Expires.Sub(now).Milliseconds(), 0), 10)}
	}
	if p := m.Props; p != nil {
		if p.PayloadFormatIndicator != 0 {
			h[hFormat] = []string{strconv.Itoa(int(p.PayloadFormatIndicator))}
		}
		if p.ContentType != "" {
			h[hType] = []string{url.QueryEscape(p.ContentType)}
		}
		if p.ResponseTopic != "" {
			h[hResponse] = []string{url.QueryEscape(p.ResponseTopic)}
		}
		if p.CorrelationData != nil {
			h[hCorr] = []string{"b" + base64.RawStdEncoding.EncodeToString(p.CorrelationData)}
		}
		if len(p.UserProperties) > 0 {
			v := make([]string, len(p.UserProperties))
			for i, u := range p.UserProperties {
				v[i] = url.QueryEscape(u.Key) + "=" + url.QueryEscape(u.Value)
			}
			h[hUser] = v
		}
	}
	return &nats.Msg{Subject: Subject(m.Topic), Header: h, Data: m.Payload}
}

// decode returns the message msg carries, its origin and its sequence
// number; now is the time its expiry is counted from.
func decode(msg *nats.Msg, now time.Time) (m *broker.Message, origin string, seq uint64, err error) {
	topic, err := Topic(msg.Subject)
	if err != nil {
		return nil, "", 0, err
	}
	h := msg.Header
	origin = h.Get(hOrigin)
	if origin == "" {
		return nil, "", 0, fmt.Errorf("%w: no %s", ErrHeader, hOrigin)
	}
	if seq, err = strconv.ParseUint(h.Get(hSeq), 10, 64); err != nil || seq == 0 {
		return nil, "", 0, fmt.Errorf("%w: %s %q", ErrHeader, hSeq, h.Get(hSeq))
	}
	m = &broker.Message{Topic: topic, Payload: msg.Data}
	if v := h.Get(hQoS); v != "" {
		q, err := strconv.ParseUint(v, 10, 8)
		if err != nil || q < 1 || q > 2 {
			return nil, "", 0, fmt.Errorf("%w: %s %q", ErrHeader, hQoS, v)
		}
		m.QoS = codec.QoS(q)
	}
	m.Retain = h.Get(hRetain) == "1"
	if v := h.Get(hExpiry); v != "" {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil || ms < 0 {
			return nil, "", 0, fmt.Errorf("%w: %s %q", ErrHeader, hExpiry, v)
		}
		m.Expires = now.Add(time.Duration(ms) * time.Millisecond)
	}
	var p codec.Properties
	var has bool
	if v := h.Get(hFormat); v != "" {
		f, err := strconv.ParseUint(v, 10, 8)
		if err != nil || f > 1 {
			return nil, "", 0, fmt.Errorf("%w: %s %q", ErrHeader, hFormat, v)
		}
		p.PayloadFormatIndicator, has = byte(f), true
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{hType, &p.ContentType}, {hResponse, &p.ResponseTopic}} {
		if v := h.Get(f.name); v != "" {
			if *f.dst, err = url.QueryUnescape(v); err != nil || *f.dst == "" {
				return nil, "", 0, fmt.Errorf("%w: %s %q", ErrHeader, f.name, v)
			}
			has = true
		}
	}
	if v := h.Get(hCorr); v != "" {
		b, ok := strings.CutPrefix(v, "b")
		if p.CorrelationData, err = base64.RawStdEncoding.DecodeString(b); !ok || err != nil {
			return nil, "", 0, fmt.Errorf("%w: %s %q", ErrHeader, hCorr, v)
		}
		has = true
	}
	for _, v := range h[hUser] {
		k, val, ok := strings.Cut(v, "=")
		var u codec.UserProperty
		if ok {
			u.Key, err = url.QueryUnescape(k)
			if err == nil {
				u.Value, err = url.QueryUnescape(val)
			}
		}
		if !ok || err != nil {
			return nil, "", 0, fmt.Errorf("%w: %s %q", ErrHeader, hUser, v)
		}
		p.UserProperties = append(p.UserProperties, u)
		has = true
	}
	if has {
		m.Props = &p
	}
	return m, origin, seq, nil
}
