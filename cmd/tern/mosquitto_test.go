package main

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// writeConf writes a mosquitto.conf into a new temporary directory.
func writeConf(t *testing.T, conf string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mosquitto.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestMosquittoConfMapping: what each mosquitto.conf becomes in Tern's
// configuration, and flags on the command line win over the file.
func TestMosquittoConfMapping(t *testing.T) {
	for _, tc := range []struct {
		name, conf string
		flags      []string
		check      func(c config) string
	}{
		{"no listener: Mosquitto's local-only default", "persistence false\n", nil, func(c config) string {
			if c.MQTT != "127.0.0.1:1883" || c.MQTTS != "" || c.HTTP != "" || !c.AllowAnonymous || c.Data != "" {
				return "want MQTT on 127.0.0.1:1883 only, anonymous, in memory"
			}
			return ""
		}},
		{"tcp, websockets, files, persistence, limits",
			"listener 1883\nlistener 9001 127.0.0.1\nprotocol websockets\npassword_file /p\nacl_file /a\npersistence true\npersistence_location /var/lib/mosquitto/\n" +
				"max_queued_messages 50\nmax_inflight_messages 0\nmax_packet_size 0\nmax_keepalive 60\nmax_connections 7\nqueue_qos0_messages true\n", nil,
			func(c config) string {
				switch {
				case c.MQTT != ":1883" || c.HTTP != "127.0.0.1:9001" || !c.HTTPPlain || c.MQTTS != "":
					return "listeners"
				case c.PasswordFile != "/p" || c.ACLFile != "/a" || c.AllowAnonymous:
					return "security"
				case c.Data != "/var/lib/mosquitto/tern-data":
					return "persistence"
				case c.MaxQueued != 50 || c.MaxInflight != 65535 || c.MaxPacketSize != codec.MaxPacketSize || c.MaxKeepAlive != 60 || !c.QueueQoS0:
					return "limits"
				case c.MaxConnections != 0 || len(c.mosquittoNote) != 1 || !strings.Contains(c.mosquittoNote[0], "another listener has no limit"):
					return "max_connections of one listener of two: no limit, and a note"
				}
				return ""
			}},
		{"tls listener and plain websockets", "listener 8883\ncertfile /c\nkeyfile /k\ncafile /ca\nrequire_certificate true\nlistener 8080\nprotocol websockets\nallow_anonymous true\n", nil,
			func(c config) string {
				if c.MQTTS != ":8883" || c.MQTT != "" || c.HTTP != ":8080" || !c.HTTPPlain || c.TLSCert != "/c" || c.TLSKey != "/k" || c.TLSClientCA != "/ca" {
					return "want MQTTS with client certificates and plain WebSocket"
				}
				return ""
			}},
		{"cafile without require_certificate asks for no client certificate", "listener 8883\ncertfile /c\nkeyfile /k\ncafile /ca\nallow_anonymous true\n", nil,
			func(c config) string {
				if c.TLSClientCA != "" {
					return "client CA set"
				}
				return ""
			}},
		{"message_size_limit bounds packets with room for the topic", "message_size_limit 1000\n", nil, func(c config) string {
			if c.MaxPacketSize != 1000+messageOverhead {
				return fmt.Sprint("max packet size ", c.MaxPacketSize)
			}
			return ""
		}},
		{"per-listener settings that agree", "per_listener_settings true\nlistener 1883\npassword_file /p\nlistener 9001\nprotocol websockets\npassword_file /p\n", nil,
			func(c config) string {
				if c.PasswordFile != "/p" || c.AllowAnonymous {
					return "security"
				}
				return ""
			}},
		{"flags win", "listener 1883\nallow_anonymous true\nmax_queued_messages 5\n", []string{"--mqtt", "127.0.0.1:0", "--max-queued", "9", "--http", "127.0.0.1:0"},
			func(c config) string {
				if c.MQTT != "127.0.0.1:0" || c.MaxQueued != 9 || c.HTTP != "127.0.0.1:0" {
					return "flags did not win"
				}
				return ""
			}},
		{"notes: unsupported options and values", "user mosquitto\nlistener 1883\nallow_anonymous true\nmax_queued_messages 0\nsys_interval 1\nlistener 0 /run/m.sock\n", nil,
			func(c config) string {
				if c.SysInterval != "1s" {
					return fmt.Sprintf("sys_interval 1 became --sys-interval %q", c.SysInterval)
				}
				want := []string{"user (", "listener (", "max_queued_messages ("}
				if len(c.mosquittoNote) != len(want) {
					return fmt.Sprintf("notes %q", c.mosquittoNote)
				}
				for i, w := range want {
					if !strings.HasPrefix(c.mosquittoNote[i], w) {
						return fmt.Sprintf("notes %q", c.mosquittoNote)
					}
				}
				return ""
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConf(t, tc.conf)
			c, err := parse(append([]string{"--mosquitto-conf", path}, tc.flags...), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if msg := tc.check(c); msg != "" {
				t.Errorf("%s: %+v", msg, c)
			}
		})
	}
}

// TestMosquittoConfRefused: files Tern cannot run as Mosquitto would are
// refused with a message that names the line and the reason.
func TestMosquittoConfRefused(t *testing.T) {
	for _, tc := range []struct{ name, conf, want string }{
		{"identity as username", "listener 8883\ncertfile /c\nkeyfile /k\ncafile /ca\nrequire_certificate true\nuse_identity_as_username true\n",
			"use_identity_as_username (" + "%s:6): takes the username from the client certificate"},
		{"plugin", "plugin /usr/lib/x.so\nplugin_opt_db x\n", "plugin (%[1]s:1): an authentication and authorization plugin; plugin_opt_db (%[1]s:2)"},
		{"anonymous off without passwords", "listener 1883\n", "allow_anonymous is false"},
		{"two TCP listeners", "listener 1883\nlisten 1\nlistener 1884\nallow_anonymous true\n", "%s:3: a second MQTT over TCP listener (:1883 and :1884)"},
		{"TLS listeners differ", "listener 8883\ncertfile /c\nkeyfile /k\nlistener 8884\nprotocol websockets\ncertfile /c2\nkeyfile /k\nallow_anonymous true\n",
			"%s:4: the TLS listeners on :8883 and :8884 differ"},
		{"per-listener security differs", "per_listener_settings true\nlistener 1883\npassword_file /p\nlistener 1884 ::1\nprotocol websockets\nallow_anonymous true\n",
			"%s:4: per_listener_settings true with allow_anonymous, password_file or acl_file different"},
		{"json config too", "listener 1883\n", "--config and --mosquitto-conf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConf(t, tc.conf)
			args := []string{"--mosquitto-conf", path}
			if strings.HasPrefix(tc.name, "json") {
				args = append(args, "--config", path)
			}
			_, err := parse(args, io.Discard)
			want := tc.want
			if strings.Contains(want, "%") {
				want = fmt.Sprintf(want, path)
			}
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("error %v, want one containing %q", err, want)
			}
		})
	}
}

// TestLogFormat: --log-format text writes key=value lines, json one JSON
// object a line; anything else is refused.
func TestLogFormat(t *testing.T) {
	var b bytes.Buffer
	log, err := newLogger(&b, "json", slog.LevelInfo)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hello", "client_id", "c1")
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil || m["msg"] != "hello" || m["client_id"] != "c1" {
		t.Errorf("json line %q: %v", b.String(), err)
	}
	b.Reset()
	log, _ = newLogger(&b, "text", slog.LevelInfo)
	log.Info("hello", "client_id", "c1")
	if !strings.Contains(b.String(), "msg=hello client_id=c1") {
		t.Errorf("text line %q", b.String())
	}
	if _, err := newLogger(&b, "xml", slog.LevelInfo); err == nil {
		t.Error("log-format xml accepted")
	}
	c, err := parse([]string{"--log-format", "json"}, io.Discard)
	if err != nil || c.LogFormat != "json" {
		t.Errorf("--log-format json: %q, %v", c.LogFormat, err)
	}
}

// TestMosquittoConfTLSAndPlainWebSocket: a TLS MQTT listener and a plain
// WebSocket listener from one mosquitto.conf run as the file says: MQTT
// over TLS with the file's certificate, and plain HTTP (ws://) on the
// WebSocket port although a certificate is configured.
func TestMosquittoConfTLSAndPlainWebSocket(t *testing.T) {
	dir := devCerts(t)
	tlsPort, wsPort := testkit.FreePort(t), testkit.FreePort(t)
	path := writeConf(t, fmt.Sprintf("listener %d 127.0.0.1\ncertfile %s\nkeyfile %s\nlistener %d 127.0.0.1\nprotocol websockets\nallow_anonymous true\n",
		tlsPort, filepath.Join(dir, serverCertFile), filepath.Join(dir, serverKeyFile), wsPort))
	cfg, err := parse([]string{"--mosquitto-conf", path}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, cfg)
	if code, body := get(t, httpClient(t, nil), fmt.Sprintf("http://127.0.0.1:%d/healthz", wsPort)); code != 200 || body != "ok" {
		t.Errorf("plain /healthz on the WebSocket port: %d %q", code, body)
	}
	if _, ok := d.addrs["mqtt"]; ok {
		t.Error("a plain MQTT listener the file does not have")
	}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: testTimeout}, "tcp", d.addrs["mqtts"], &tls.Config{RootCAs: caPool(t, dir)})
	if err != nil {
		t.Fatalf("MQTT over TLS on %d: %v", tlsPort, err)
	}
	defer conn.Close()
	if ack := mqttConnect(t, conn, "conf-tls"); ack.ReasonCode != 0 {
		t.Errorf("CONNACK %v", ack.ReasonCode)
	}
}
