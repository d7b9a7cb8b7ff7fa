// Package bridge is the plain-Go half of Tern's JS API (the wasm
// program in wasm/jsapi, loaded by web/tern/tern.js): it turns the options
// a page passes to connect, subscribe, publish and end into client and
// codec values, describes errors for JavaScript, names the properties of
// received packets as MQTT.js does, and keeps the listeners of a
// connection's subscriptions. It knows nothing of syscall/js, so all of it
// is tested natively; the js/wasm glue only moves values across.
package bridge

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"
)

// Source reads the fields of a JavaScript object that the loader has
// normalised. Get returns nil for a field that is missing, undefined or
// null, and otherwise one of: string, float64, bool, []byte (a
// Uint8Array), []any (an Array, its elements converted the same way) or
// Source (any other object).
type Source interface {
	Get(key string) any
}

// Map is a Source backed by a Go map; nested map[string]any values are
// read as Sources. Tests use it, as can Go code building options.
type Map map[string]any

// Get returns m[key], a nested map as a Map.
func (m Map) Get(key string) any {
	switch v := m[key].(type) {
	case map[string]any:
		return Map(v)
	case nil:
		return nil
	default:
		return v
	}
}

// InvalidError is an argument the API refuses before anything is sent.
// Code is the reason code that goes with it (0 when there is none).
type InvalidError struct {
	Code codec.ReasonCode
	Msg  string
}

func (e *InvalidError) Error() string { return "tern: " + e.Msg }

func invalid(format string, args ...any) error {
	return &InvalidError{Msg: fmt.Sprintf(format, args...)}
}

// Defaults of the connect options, as in MQTT.js where it has them.
const (
	DefaultKeepAlive       = 60 * time.Second
	DefaultReconnectPeriod = time.Second
	DefaultMaxReconnect    = 30 * time.Second
	DefaultConnectTimeout  = 30 * time.Second
)

// Connect is a decoded connect call: where to connect, the client's
// options, and how long the first connection may take.
type Connect struct {
	URL     string
	Options client.Options
	Timeout time.Duration
}

// DecodeConnect reads the options of Tern.connect(url, opts). The loader
// puts the URL into opts.url and turns string payloads and passwords into
// UTF-8 bytes (both forms are accepted here). Fields, named as in MQTT.js:
//
//	url                 ws:// or wss:// (required)
//	protocolVersion     4 (MQTT 3.1.1) or 5 (default)
//	clientId, username, password
//	auth                "password" (default: the password goes in the
//	                    CONNECT) or "scram-sha-256" (5.0 enhanced
//	                    authentication: the password never leaves the page)
//	keepalive           seconds, default 60; 0 turns keep-alive off
//	clean               Clean Start, default true
//	reconnectPeriod     ms before the first reconnect, default 1000; 0: never reconnect
//	maxReconnectPeriod  ms, the backoff's cap, default 30000
//	connectTimeout      ms for each connection attempt, default 30000
//	will                {topic, payload, qos, retain, properties}
//	properties          CONNECT properties (5.0): sessionExpiryInterval,
//	                    receiveMaximum, maximumPacketSize, topicAliasMaximum,
//	                    requestResponseInformation, requestProblemInformation,
//	                    userProperties
func DecodeConnect(src Source) (Connect, error) {
	r := reader{op: "connect"}
	var c Connect
	o := &c.Options

	c.URL, _ = r.str(src, "url")
	if c.URL == "" && r.err == nil {
		r.fail("a broker URL is required (ws://host:port/mqtt or wss://...)")
	}
	if r.err == nil {
		scheme, _, _ := strings.Cut(c.URL, "://")
		if s := strings.ToLower(scheme); s != "ws" && s != "wss" {
			r.fail("the broker URL must start with ws:// or wss:// (a browser has no raw TCP), got %q", c.URL)
		}
	}

	o.Version = codec.V5
	if v, ok := r.uint(src, "protocolVersion", 5); ok {
		switch v {
		case 4:
			o.Version = codec.V311
		case 5:
			o.Version = codec.V5
		default:
			r.fail("protocolVersion must be 4 (MQTT 3.1.1) or 5 (MQTT 5.0), got %d", v)
		}
	}
	o.ClientID, _ = r.str(src, "clientId")
	o.Username, _ = r.str(src, "username")
	if b, ok := r.bytes(src, "password"); ok {
		o.Password = b
		if o.Password == nil {
			o.Password = []byte{}
		}
	}
	if a, ok := r.str(src, "auth"); ok {
		switch strings.ToLower(a) {
		case "", "password":
		case "scram-sha-256":
			switch {
			case o.Version != codec.V5:
				r.fail("auth %q needs protocolVersion 5 (enhanced authentication)", a)
			case o.Username == "":
				r.fail("auth %q needs a username", a)
			}
			// The password stays in the page: the server gets a proof.
			o.Auth = client.SCRAM(o.Username, o.Password)
			o.Password = nil
		default:
			r.fail(`auth must be "password" or "scram-sha-256", got %q`, a)
		}
	}

	o.KeepAlive = DefaultKeepAlive
	if s, ok := r.uint(src, "keepalive", 65535); ok {
		if s == 0 {
			o.KeepAlive = -1 // off
		} else {
			o.KeepAlive = time.Duration(s) * time.Second
		}
	}
	o.CleanStart = true
	if b, ok := r.boolean(src, "clean"); ok {
		o.CleanStart = b
	}

	period := DefaultReconnectPeriod
	if ms, ok := r.uint(src, "reconnectPeriod", math.MaxInt32); ok {
		period = time.Duration(ms) * time.Millisecond
	}
	maxPeriod := DefaultMaxReconnect
	if ms, ok := r.uint(src, "maxReconnectPeriod", math.MaxInt32); ok && ms > 0 {
		maxPeriod = time.Duration(ms) * time.Millisecond
	}
	if period > 0 {
		o.AutoReconnect = true
		o.MinBackoff = period
		o.MaxBackoff = max(period, maxPeriod)
	}
	c.Timeout = DefaultConnectTimeout
	if ms, ok := r.uint(src, "connectTimeout", math.MaxInt32); ok && ms > 0 {
		c.Timeout = time.Duration(ms) * time.Millisecond
	}
	o.ConnectTimeout = c.Timeout

	if w, ok := r.obj(src, "will"); ok {
		o.Will = r.will(w)
	}
	if p, ok := r.obj(src, "properties"); ok {
		pr := &o.ConnectProperties
		if v, ok := r.uint(p, "sessionExpiryInterval", math.MaxUint32); ok {
			pr.SessionExpiryInterval = uint32(v)
		}
		if v, ok := r.uint(p, "receiveMaximum", 65535); ok {
			if v == 0 {
				r.fail("properties.receiveMaximum must be 1 to 65535")
			}
			pr.ReceiveMaximum = uint16(v)
		}
		if v, ok := r.uint(p, "maximumPacketSize", math.MaxUint32); ok {
			if v == 0 {
				r.fail("properties.maximumPacketSize must be at least 1")
			}
			pr.MaximumPacketSize = uint32(v)
		}
		if v, ok := r.uint(p, "topicAliasMaximum", 65535); ok {
			pr.TopicAliasMaximum = uint16(v)
		}
		if v, ok := r.flag(p, "requestResponseInformation"); ok {
			pr.RequestResponseInformation = v
			pr.Mark(codec.PropRequestResponseInformation)
		}
		if v, ok := r.flag(p, "requestProblemInformation"); ok {
			pr.RequestProblemInformation = v
			pr.Mark(codec.PropRequestProblemInformation)
		}
		pr.UserProperties = r.userProps(p)
	}
	return c, r.err
}

// will reads a Will Message.
func (r *reader) will(src Source) *codec.Will {
	w := &codec.Will{}
	w.Topic, _ = r.str(src, "topic")
	if r.err == nil {
		if err := codec.ValidTopicName(w.Topic); err != nil {
			r.failCode(codec.TopicNameInvalid, "will.topic: %v", err)
		}
	}
	w.Payload, _ = r.bytes(src, "payload")
	if w.Payload == nil {
		w.Payload = []byte{}
	}
	w.QoS = r.qos(src, "qos")
	w.Retain, _ = r.boolean(src, "retain")
	if p, ok := r.obj(src, "properties"); ok {
		if v, ok := r.uint(p, "willDelayInterval", math.MaxUint32); ok {
			w.Properties.WillDelayInterval = uint32(v)
		}
		r.messageProps(p, &w.Properties)
	}
	return w
}

// DecodePublish builds the message of c.publish(topic, payload, opts):
// opts.qos (0, 1, 2), opts.retain, and opts.properties (5.0):
// payloadFormatIndicator, messageExpiryInterval, contentType,
// responseTopic, correlationData, userProperties. opts may be nil.
func DecodePublish(topic string, payload []byte, opts Source) (*client.Message, error) {
	r := reader{op: "publish"}
	if err := codec.ValidTopicName(topic); err != nil {
		r.failCode(codec.TopicNameInvalid, "topic %q: %v", topic, err)
	}
	m := &client.Message{Topic: topic, Payload: payload}
	if opts != nil {
		m.QoS = r.qos(opts, "qos")
		m.Retain, _ = r.boolean(opts, "retain")
		if p, ok := r.obj(opts, "properties"); ok {
			r.messageProps(p, &m.Properties)
		}
	}
	return m, r.err
}

// DecodeSubscribe reads the options of c.subscribe(filter, opts, cb):
// qos (default 0), nl (No Local), rap (Retain As Published) and rh
// (Retain Handling 0, 1 or 2), as MQTT.js names them. opts may be nil.
func DecodeSubscribe(filter string, opts Source) (codec.Subscription, error) {
	r := reader{op: "subscribe"}
	if err := codec.ValidTopicFilter(filter); err != nil {
		r.failCode(codec.TopicFilterInvalid, "topic filter %q: %v", filter, err)
	}
	s := codec.Subscription{Filter: filter}
	if opts != nil {
		s.QoS = r.qos(opts, "qos")
		s.NoLocal, _ = r.boolean(opts, "nl")
		s.RetainAsPublished, _ = r.boolean(opts, "rap")
		if v, ok := r.uint(opts, "rh", 2); ok {
			s.RetainHandling = byte(v)
		}
	}
	return s, r.err
}

// DecodeEnd reads the options of c.end(opts): reasonCode, the DISCONNECT
// reason code (default 0, Normal disconnection; 4 asks the server to
// publish the Will). opts may be nil.
func DecodeEnd(opts Source) (codec.ReasonCode, error) {
	r := reader{op: "end"}
	rc := codec.NormalDisconnection
	if opts != nil {
		if v, ok := r.uint(opts, "reasonCode", 255); ok {
			rc = codec.ReasonCode(v)
			if !rc.ValidFor(codec.DISCONNECT) {
				r.fail("reasonCode 0x%02x is not a DISCONNECT reason code", v)
			}
		}
	}
	return rc, r.err
}

// reader reads typed fields and keeps the first error.
type reader struct {
	op  string
	err error
}

func (r *reader) fail(format string, args ...any) {
	r.failCode(0, format, args...)
}

func (r *reader) failCode(code codec.ReasonCode, format string, args ...any) {
	if r.err == nil {
		r.err = &InvalidError{Code: code, Msg: r.op + ": " + fmt.Sprintf(format, args...)}
	}
}

func typeName(v any) string {
	switch v := v.(type) {
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	case []byte:
		return "a Uint8Array"
	case []any:
		return "an array"
	case Source:
		return "an object"
	case Other:
		return "a " + string(v)
	}
	return fmt.Sprintf("%T", v)
}

func (r *reader) str(src Source, key string) (string, bool) {
	switch v := src.Get(key).(type) {
	case nil:
		return "", false
	case string:
		return v, true
	default:
		r.fail("%s must be a string, not %s", key, typeName(v))
		return "", false
	}
}

// uint reads a whole number from 0 to max.
func (r *reader) uint(src Source, key string, max uint64) (uint64, bool) {
	switch v := src.Get(key).(type) {
	case nil:
		return 0, false
	case float64:
		if v < 0 || v > float64(max) || v != math.Trunc(v) {
			r.fail("%s must be a whole number from 0 to %d, got %v", key, max, v)
			return 0, false
		}
		return uint64(v), true
	default:
		r.fail("%s must be a number, not %s", key, typeName(v))
		return 0, false
	}
}

func (r *reader) boolean(src Source, key string) (bool, bool) {
	switch v := src.Get(key).(type) {
	case nil:
		return false, false
	case bool:
		return v, true
	default:
		r.fail("%s must be true or false, not %s", key, typeName(v))
		return false, false
	}
}

// flag reads a boolean, or 0 or 1, as a property byte.
func (r *reader) flag(src Source, key string) (byte, bool) {
	switch v := src.Get(key).(type) {
	case nil:
		return 0, false
	case bool:
		if v {
			return 1, true
		}
		return 0, true
	case float64:
		if v == 0 || v == 1 {
			return byte(v), true
		}
	}
	r.fail("%s must be true, false, 0 or 1", key)
	return 0, false
}

// bytes reads a Uint8Array, or a string as UTF-8.
func (r *reader) bytes(src Source, key string) ([]byte, bool) {
	switch v := src.Get(key).(type) {
	case nil:
		return nil, false
	case []byte:
		return v, true
	case string:
		return []byte(v), true
	default:
		r.fail("%s must be a string or a Uint8Array, not %s", key, typeName(v))
		return nil, false
	}
}

func (r *reader) obj(src Source, key string) (Source, bool) {
	switch v := src.Get(key).(type) {
	case nil:
		return nil, false
	case Source:
		return v, true
	default:
		r.fail("%s must be an object, not %s", key, typeName(v))
		return nil, false
	}
}

func (r *reader) qos(src Source, key string) codec.QoS {
	v, _ := r.uint(src, key, 2)
	return codec.QoS(v)
}

// userProps reads userProperties, which the loader flattens to
// [key, value, key, value, ...] in the order given.
func (r *reader) userProps(src Source) []codec.UserProperty {
	v := src.Get("userProperties")
	if v == nil {
		return nil
	}
	list, ok := v.([]any)
	if !ok || len(list)%2 != 0 {
		r.fail("userProperties must be an object of string values (or arrays of them)")
		return nil
	}
	ups := make([]codec.UserProperty, 0, len(list)/2)
	for i := 0; i < len(list); i += 2 {
		k, ok1 := list[i].(string)
		val, ok2 := list[i+1].(string)
		if !ok1 || !ok2 {
			r.fail("userProperties must be an object of string values (or arrays of them)")
			return nil
		}
		ups = append(ups, codec.UserProperty{Key: k, Value: val})
	}
	return ups
}

// messageProps reads the properties a PUBLISH or a Will carries.
func (r *reader) messageProps(src Source, p *codec.Properties) {
	if v, ok := r.flag(src, "payloadFormatIndicator"); ok {
		p.PayloadFormatIndicator = v
		p.Mark(codec.PropPayloadFormatIndicator)
	}
	if v, ok := r.uint(src, "messageExpiryInterval", math.MaxUint32); ok {
		p.MessageExpiryInterval = uint32(v) // 0: the message does not expire
	}
	p.ContentType, _ = r.str(src, "contentType")
	p.ResponseTopic, _ = r.str(src, "responseTopic")
	if p.ResponseTopic != "" && r.err == nil {
		if err := codec.ValidTopicName(p.ResponseTopic); err != nil {
			r.failCode(codec.TopicNameInvalid, "properties.responseTopic: %v", err)
		}
	}
	if b, ok := r.bytes(src, "correlationData"); ok {
		p.CorrelationData = b
		if p.CorrelationData == nil {
			p.CorrelationData = []byte{}
		}
	}
	p.UserProperties = r.userProps(src)
}

// Other is a JavaScript value of a type that no option takes (a function,
// a symbol, a bigint), named by its type, as a Source returns it.
type Other string
