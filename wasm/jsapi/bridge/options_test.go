package bridge

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ternmq/tern/codec"
)

func TestDecodeConnectDefaults(t *testing.T) {
	c, err := DecodeConnect(Map{"url": "ws://127.0.0.1:8080/mqtt"})
	if err != nil {
		t.Fatal(err)
	}
	o := c.Options
	if c.URL != "ws://127.0.0.1:8080/mqtt" || o.Version != codec.V5 || !o.CleanStart ||
		o.KeepAlive != DefaultKeepAlive || !o.AutoReconnect || o.MinBackoff != DefaultReconnectPeriod ||
		o.MaxBackoff != DefaultMaxReconnect || c.Timeout != DefaultConnectTimeout || o.ConnectTimeout != c.Timeout ||
		o.Password != nil || o.Will != nil {
		t.Errorf("defaults: %+v", c)
	}
}

func TestDecodeConnectFull(t *testing.T) {
	c, err := DecodeConnect(Map{
		"url":                "wss://broker.example:443/mqtt",
		"protocolVersion":    4.0,
		"clientId":           "dash-1",
		"username":           "ann",
		"password":           []byte{0, 1, 2},
		"keepalive":          0.0,
		"clean":              false,
		"reconnectPeriod":    0.0,
		"maxReconnectPeriod": 5000.0,
		"connectTimeout":     2500.0,
		"will": map[string]any{
			"topic": "dash/status", "payload": "offline", "qos": 1.0, "retain": true,
			"properties": map[string]any{"willDelayInterval": 10.0, "contentType": "text/plain",
				"userProperties": []any{"a", "1", "a", "2"}},
		},
		"properties": map[string]any{
			"sessionExpiryInterval": 3600.0, "receiveMaximum": 10.0, "maximumPacketSize": 65536.0,
			"topicAliasMaximum": 8.0, "requestResponseInformation": true, "userProperties": []any{"app", "dash"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	o := c.Options
	switch {
	case o.Version != codec.V311, o.ClientID != "dash-1", o.Username != "ann", !bytes.Equal(o.Password, []byte{0, 1, 2}):
		t.Errorf("identity: %+v", o)
	case o.KeepAlive >= 0:
		t.Errorf("keepalive 0 must turn keep-alive off, got %v", o.KeepAlive)
	case o.CleanStart || o.AutoReconnect:
		t.Errorf("clean %v, auto-reconnect %v", o.CleanStart, o.AutoReconnect)
	case c.Timeout != 2500*time.Millisecond:
		t.Errorf("timeout %v", c.Timeout)
	}
	w := o.Will
	if w == nil || w.Topic != "dash/status" || string(w.Payload) != "offline" || w.QoS != 1 || !w.Retain ||
		w.Properties.WillDelayInterval != 10 || w.Properties.ContentType != "text/plain" ||
		len(w.Properties.UserProperties) != 2 || w.Properties.UserProperties[1] != (codec.UserProperty{Key: "a", Value: "2"}) {
		t.Errorf("will: %+v", w)
	}
	p := o.ConnectProperties
	if p.SessionExpiryInterval != 3600 || p.ReceiveMaximum != 10 || p.MaximumPacketSize != 65536 ||
		p.TopicAliasMaximum != 8 || p.RequestResponseInformation != 1 || len(p.UserProperties) != 1 {
		t.Errorf("properties: %+v", p)
	}
}

func TestDecodeConnectReconnect(t *testing.T) {
	c, err := DecodeConnect(Map{"url": "ws://h/mqtt", "reconnectPeriod": 50000.0, "maxReconnectPeriod": 1000.0})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Options.AutoReconnect || c.Options.MinBackoff != 50*time.Second || c.Options.MaxBackoff != 50*time.Second {
		t.Errorf("backoff %v..%v, want 50s..50s", c.Options.MinBackoff, c.Options.MaxBackoff)
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  Map
		want string
	}{
		{"no url", Map{}, "broker URL is required"},
		{"tcp url", Map{"url": "mqtt://h:1883"}, "ws:// or wss://"},
		{"http url", Map{"url": "http://h:8080/mqtt"}, "ws:// or wss://"},
		{"url type", Map{"url": 5.0}, "url must be a string, not a number"},
		{"version", Map{"url": "ws://h", "protocolVersion": 3.0}, "protocolVersion must be 4"},
		{"keepalive", Map{"url": "ws://h", "keepalive": -1.0}, "keepalive must be a whole number"},
		{"keepalive fraction", Map{"url": "ws://h", "keepalive": 1.5}, "whole number"},
		{"clean", Map{"url": "ws://h", "clean": "yes"}, "clean must be true or false"},
		{"password", Map{"url": "ws://h", "password": 1.0}, "password must be a string or a Uint8Array"},
		{"will topic", Map{"url": "ws://h", "will": map[string]any{"topic": "a/+"}}, "will.topic"},
		{"will qos", Map{"url": "ws://h", "will": map[string]any{"topic": "a", "qos": 3.0}}, "qos must be a whole number from 0 to 2"},
		{"receive max", Map{"url": "ws://h", "properties": map[string]any{"receiveMaximum": 0.0}}, "receiveMaximum"},
		{"user props", Map{"url": "ws://h", "properties": map[string]any{"userProperties": []any{"k"}}}, "userProperties"},
		{"auth", Map{"url": "ws://h", "username": "u", "auth": "plain"}, `auth must be "password" or "scram-sha-256"`},
		{"auth type", Map{"url": "ws://h", "auth": true}, "auth must be a string"},
		{"scram 3.1.1", Map{"url": "ws://h", "protocolVersion": 4.0, "username": "u", "auth": "scram-sha-256"}, "needs protocolVersion 5"},
		{"scram no user", Map{"url": "ws://h", "password": "p", "auth": "scram-sha-256"}, "needs a username"},
		{"properties type", Map{"url": "ws://h", "properties": "x"}, "properties must be an object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeConnect(tc.src)
			var ie *InvalidError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "tern: connect: ") {
				t.Errorf("err = %v, want an InvalidError containing %q", err, tc.want)
			}
		})
	}
}

func TestDecodePublish(t *testing.T) {
	m, err := DecodePublish("cmd/lamp", []byte("on"), Map{"qos": 2.0, "retain": true, "properties": map[string]any{
		"payloadFormatIndicator": true, "messageExpiryInterval": 60.0, "contentType": "text/plain",
		"responseTopic": "cmd/lamp/reply", "correlationData": []byte{7}, "userProperties": []any{"k", "v"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	p := m.Properties
	if m.Topic != "cmd/lamp" || string(m.Payload) != "on" || m.QoS != 2 || !m.Retain || p.PayloadFormatIndicator != 1 ||
		p.MessageExpiryInterval != 60 || p.ContentType != "text/plain" || p.ResponseTopic != "cmd/lamp/reply" ||
		!bytes.Equal(p.CorrelationData, []byte{7}) || len(p.UserProperties) != 1 {
		t.Errorf("message: %+v", m)
	}
	if m, err := DecodePublish("a", nil, nil); err != nil || m.QoS != 0 || m.Retain {
		t.Errorf("no options: %+v, %v", m, err)
	}
	_, err = DecodePublish("a/#", nil, nil)
	var ie *InvalidError
	if !errors.As(err, &ie) || ie.Code != codec.TopicNameInvalid {
		t.Errorf("wildcard topic: %v, want an InvalidError with Topic Name invalid", err)
	}
	if _, err := DecodePublish("a", nil, Map{"qos": "1"}); err == nil || !strings.Contains(err.Error(), "qos must be a number") {
		t.Errorf("qos as a string: %v", err)
	}
}

func TestDecodeSubscribe(t *testing.T) {
	s, err := DecodeSubscribe("sensors/#", Map{"qos": 1.0, "nl": true, "rap": true, "rh": 2.0})
	if err != nil {
		t.Fatal(err)
	}
	if s != (codec.Subscription{Filter: "sensors/#", QoS: 1, NoLocal: true, RetainAsPublished: true, RetainHandling: 2}) {
		t.Errorf("subscription %+v", s)
	}
	_, err = DecodeSubscribe("a/#/b", nil)
	var ie *InvalidError
	if !errors.As(err, &ie) || ie.Code != codec.TopicFilterInvalid {
		t.Errorf("bad filter: %v", err)
	}
	if _, err := DecodeSubscribe("a", Map{"rh": 3.0}); err == nil {
		t.Error("rh 3 accepted")
	}
}

func TestDecodeEnd(t *testing.T) {
	if rc, err := DecodeEnd(nil); err != nil || rc != codec.NormalDisconnection {
		t.Errorf("default: %v %v", rc, err)
	}
	if rc, err := DecodeEnd(Map{"reasonCode": 4.0}); err != nil || rc != codec.DisconnectWithWillMessage {
		t.Errorf("with will: %v %v", rc, err)
	}
	if _, err := DecodeEnd(Map{"reasonCode": 0x87 + 0.0}); err != nil {
		t.Errorf("0x87: %v", err)
	}
	if _, err := DecodeEnd(Map{"reasonCode": 0x01 + 0.0}); err == nil {
		t.Error("0x01 accepted for DISCONNECT")
	}
}

func TestDecodeSCRAM(t *testing.T) {
	c, err := DecodeConnect(Map{"url": "ws://h/mqtt", "username": "ann", "password": []byte("correct horse"), "auth": "SCRAM-SHA-256"})
	if err != nil {
		t.Fatal(err)
	}
	o := c.Options
	if o.Password != nil || o.Username != "ann" || o.Auth == nil || o.Auth.Method() != "SCRAM-SHA-256" {
		t.Fatalf("password %q, auth %v", o.Password, o.Auth)
	}
	if _, first, err := o.Auth.Begin(); err != nil || bytes.Contains(first, []byte("horse")) {
		t.Errorf("client-first %q, %v", first, err)
	}
	c, err = DecodeConnect(Map{"url": "ws://h/mqtt", "username": "ann", "password": "pw", "auth": "password"})
	if err != nil || c.Options.Auth != nil || string(c.Options.Password) != "pw" {
		t.Errorf("auth password: %+v, %v", c.Options, err)
	}
}
