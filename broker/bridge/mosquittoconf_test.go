package bridge

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ternmq/tern/codec"
)

// confLines splits a mosquitto.conf text into lines of words, skipping
// comments and blank lines, as a reader would.
func confLines(text string) []ConfLine {
	var ls []ConfLine
	for i, s := range strings.Split(text, "\n") {
		w := strings.Fields(s)
		if len(w) == 0 || strings.HasPrefix(w[0], "#") {
			continue
		}
		ls = append(ls, ConfLine{Name: w[0], Args: w[1:], File: "m.conf", Line: i + 1})
	}
	return ls
}

func TestFromMosquitto(t *testing.T) {
	got, err := FromMosquitto(confLines(`
listener 1883
allow_anonymous false
connection site-a
address broker.example.com:8883 backup.example.com
bridge_cafile /etc/ca.pem
bridge_certfile /etc/c.pem
bridge_keyfile /etc/k.pem
remote_username user
remote_password pass word
remote_clientid site-a-bridge
local_clientid local-a
try_private false
cleansession true
keepalive_interval 30
restart_timeout 2 60
topic sensors/# out 1 "" site-a/
topic cmd/site-a/# in 2
notifications true
round_robin false
log_type all
connection cloud
addresses ws://cloud.example.com/mqtt
bridge_protocol_version mqttv50
topic # both 1
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Config{{
		Name:          "site-a",
		Addresses:     []string{"mqtts://broker.example.com:8883", "mqtts://backup.example.com:1883"},
		Version:       codec.V311,
		ClientID:      "site-a-bridge",
		Username:      "user",
		Password:      "pass word",
		TLS:           TLS{CAFile: "/etc/ca.pem", CertFile: "/etc/c.pem", KeyFile: "/etc/k.pem"},
		CleanStart:    true,
		KeepAlive:     30,
		NoTryPrivate:  true,
		Topics:        []Rule{{"sensors/#", Out, 1, "", "site-a/"}, {"cmd/site-a/#", In, 2, "", ""}},
		LocalClientID: "local-a",
		MinBackoff:    2 * time.Second,
		MaxBackoff:    time.Minute,
	}, {
		Name:          "cloud",
		Addresses:     []string{"ws://cloud.example.com/mqtt"},
		Version:       codec.V5,
		SessionExpiry: 0xFFFFFFFF, // cleansession false
		Topics:        []Rule{{"#", Both, 1, "", ""}},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

// Each error names its line.
func TestFromMosquittoErrors(t *testing.T) {
	for _, tc := range []struct{ conf, want string }{
		{"address a:1", `m.conf:1: address: a bridge option before any "connection" line`},
		{"connection a\nconnection a", `m.conf:2: connection: a second bridge named "a"`},
		{"connection a b", "m.conf:1: connection: want one name"},
		{"connection a\naddress h:1\naddress h:2", "m.conf:3: address: a second address line"},
		{"connection a\ntopic # sideways", "m.conf:2: topic: bridge: invalid topic rule"},
		{"connection a\nbridge_protocol_version mqttv31", "m.conf:2: bridge_protocol_version: want mqttv311 or mqttv50"},
		{"connection a\ncleansession yes", "m.conf:2: cleansession: want true or false"},
		{"connection a\nbridge_psk 00ff", "m.conf:2: bridge_psk: not supported: TLS-PSK"},
		{"connection a\nstart_type lazy", `m.conf:2: start_type: only "automatic" is supported`},
		{"connection a\nlocal_cleansession true", "m.conf:2: local_cleansession: not supported"},
		{"connection a\nkeepalive_interval 1", "m.conf:2: keepalive_interval: \"1\": want a number from 5 to 65535"},
		{"connection a\ntopic #", `m.conf:1: connection a: bridge: invalid configuration "a": no address`},
		{"connection a\naddress h", `m.conf:1: connection a: bridge: invalid configuration "a": no topic rule`},
		{"connection a/b\naddress h\ntopic #", `m.conf:1: connection a/b: bridge: invalid configuration "a/b": the name must be one topic level`},
	} {
		_, err := FromMosquitto(confLines(tc.conf))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q...", tc.conf, err, tc.want)
		}
	}
}

// FuzzFromMosquitto: any section either fails or gives configurations
// that pass Validate.
func FuzzFromMosquitto(f *testing.F) {
	f.Add("connection a\naddress h:1 ws://x/y\ntopic # both 1 a/ b/\ncleansession true")
	f.Add("connection b\naddresses h\nbridge_protocol_version mqttv50\ntopic \"\" in 0 l r\nrestart_timeout 1 2")
	f.Add("connection c\naddress [::1]:1883\ntopic x\nkeepalive_interval 65535\nbridge_cafile /x")
	f.Fuzz(func(t *testing.T, text string) {
		cfgs, err := FromMosquitto(confLines(text))
		if err != nil {
			return
		}
		for i := range cfgs {
			if err := cfgs[i].Validate(); err != nil {
				t.Fatalf("%q gave an invalid configuration: %v", text, err)
			}
		}
	})
}
