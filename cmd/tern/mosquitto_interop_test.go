package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/ternmq/tern/internal/testkit"
)

// warnUnsupported is the message of the one warning about a
// mosquitto.conf's unsupported options.
const warnUnsupported = "mosquitto.conf: these options are not supported and have no effect"

// TestMosquittoConfInterop runs one mosquitto.conf (listeners on TCP and
// WebSocket, a password file, an ACL file, persistence, and options Tern
// does not support) unchanged under tern --mosquitto-conf and under a
// real mosquitto -c, one after the other on the same ports, and drives
// both with the same clients and credentials: mosquitto_pub and
// mosquitto_sub over TCP, paho.mqtt.golang over WebSocket. Tern logs the
// unsupported options in one warning; its store in persistence_location
// keeps a retained message across a restart.
func TestMosquittoConfInterop(t *testing.T) {
	pub := testkit.RequireTool(t, "mosquitto_pub", "mosquitto-clients")
	sub := testkit.RequireTool(t, "mosquitto_sub", "mosquitto-clients")
	dir := t.TempDir()
	pw := filepath.Join(dir, "passwd")
	if err := os.WriteFile(pw, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tpasswd(t, "", "-b", pw, "alice", "alice-pw")
	tpasswd(t, "", "-b", pw, "bob", "bob-pw")
	acl := filepath.Join(dir, "acl")
	os.WriteFile(acl, []byte("user alice\ntopic readwrite shared/#\n\nuser bob\ntopic read shared/#\n"), 0o600)
	data := filepath.Join(dir, "data")
	os.Mkdir(data, 0o700)
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	tcp, ws := testkit.FreePort(t), testkit.FreePort(t)
	conf := writeConf(t, fmt.Sprintf(`# Mosquitto 2.0: MQTT on TCP and WebSocket, users and ACLs, persistence.
user %s
per_listener_settings false
log_dest stderr
log_type all

listener %d 127.0.0.1
protocol mqtt
max_connections 100

listener %d 127.0.0.1
protocol websockets

allow_anonymous false
password_file %s
acl_file %s

persistence true
persistence_location %s/
autosave_interval 1800
max_queued_messages 1000
max_inflight_messages 20
max_keepalive 300
`, me.Username, tcp, ws, pw, acl, data))
	cli := clis{t: t, pub: pub, sub: sub, port: fmt.Sprint(tcp), ws: fmt.Sprintf("ws://127.0.0.1:%d/mqtt", ws)}

	t.Run("tern", func(t *testing.T) {
		p := startTernConf(t, conf)
		warns := p.warnings("mosquitto.conf")
		if len(warns) != 1 || warns[0]["msg"] != warnUnsupported {
			t.Fatalf("warnings %v, want the one about unsupported options", warns)
		}
		opts := fmt.Sprint(warns[0]["options"])
		for _, o := range []string{"user (" + conf + ":2)", "log_dest (" + conf + ":4)", "log_type (" + conf + ":5)",
			"autosave_interval (" + conf + ":20)", "max_connections is per listener"} {
			if !strings.Contains(opts, o) {
				t.Errorf("warning %q does not name %s", opts, o)
			}
		}
		cli.in(t).exercise()
		p.stop(t)
		if _, err := os.Stat(filepath.Join(data, "tern-data")); err != nil {
			t.Fatalf("no durable store in persistence_location: %v", err)
		}
		// The retained messages are still there after a restart.
		startTernConf(t, conf)
		if got := cli.in(t).subOne("bob", "bob-pw", "shared/r"); got != "hello" {
			t.Errorf("retained shared/r after a restart: %q, want hello", got)
		}
	})
	t.Run("mosquitto", func(t *testing.T) {
		testkit.StartMosquittoFile(t, conf)
		cli.in(t).exercise()
	})
}

// clis runs the clients against one broker.
type clis struct {
	t        *testing.T
	pub, sub string // mosquitto_pub, mosquitto_sub
	port, ws string // the TCP port, the WebSocket URL
}

func (c clis) in(t *testing.T) clis { c.t = t; return c }

// exercise: a retained message from mosquitto_pub (alice) reaches a paho
// subscriber over WebSocket (bob); paho (alice) publishes over WebSocket
// to mosquitto_sub (bob); bob may not publish (ACL), a wrong password and
// no username are refused.
func (c clis) exercise() {
	t := c.t
	t.Helper()
	if err := c.pubRun("alice", "alice-pw", "shared/r", "hello", "-r"); err != nil {
		t.Fatal(err)
	}
	got := make(chan [2]string, 16)
	bob := c.paho("bob", "bob-pw", "bob-ws")
	if tok := bob.Subscribe("shared/#", 1, func(_ paho.Client, m paho.Message) {
		got <- [2]string{m.Topic(), string(m.Payload())}
	}); !tok.WaitTimeout(testkit.Timeout) || tok.Error() != nil {
		t.Fatalf("bob subscribes over WebSocket: %v", tok.Error())
	}
	want := func(topic, payload string) {
		t.Helper()
		for {
			m := testkit.WaitFor(t, got, "bob's message on "+topic)
			if m[0] == "shared/denied" {
				t.Fatalf("bob received %q, which the ACL does not let him publish", m)
			}
			if m == [2]string{topic, payload} {
				return
			}
		}
	}
	want("shared/r", "hello")
	alice := c.paho("alice", "alice-pw", "alice-ws")
	if tok := alice.Publish("shared/w", 1, true, "from-ws"); !tok.WaitTimeout(testkit.Timeout) || tok.Error() != nil {
		t.Fatalf("alice publishes over WebSocket: %v", tok.Error())
	}
	want("shared/w", "from-ws")
	if s := c.subOne("bob", "bob-pw", "shared/w"); s != "from-ws" {
		t.Errorf("mosquitto_sub (bob) got %q, want from-ws", s)
	}
	// bob's publish is acknowledged (3.1.1) and dropped; the marker alice
	// publishes after it arrives alone.
	if tok := bob.Publish("shared/denied", 1, false, "x"); !tok.WaitTimeout(testkit.Timeout) || tok.Error() != nil {
		t.Fatalf("bob's publish: %v", tok.Error())
	}
	if err := c.pubRun("alice", "alice-pw", "shared/marker", "end"); err != nil {
		t.Fatal(err)
	}
	want("shared/marker", "end")
	if err := c.pubRun("alice", "wrong", "shared/x", "x"); err == nil {
		t.Error("a wrong password was accepted")
	}
	if err := c.pubRun("", "", "shared/x", "x"); err == nil {
		t.Error("a client without a username was accepted")
	}
}

// pubRun runs mosquitto_pub with QoS 1 as user (none when "").
func (c clis) pubRun(user, password, topic, msg string, extra ...string) error {
	args := []string{"-h", "127.0.0.1", "-p", c.port, "-q", "1", "-t", topic, "-m", msg}
	if user != "" {
		args = append(args, "-u", user, "-P", password)
	}
	out, err := exec.Command(c.pub, append(args, extra...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("mosquitto_pub as %q: %v: %s", user, err, out)
	}
	return nil
}

// subOne runs mosquitto_sub until it has one message of topic.
func (c clis) subOne(user, password, topic string) string {
	c.t.Helper()
	out, err := exec.Command(c.sub, "-h", "127.0.0.1", "-p", c.port, "-u", user, "-P", password, "-q", "1",
		"-t", topic, "-C", "1", "-W", fmt.Sprint(int(testkit.Timeout/time.Second))).CombinedOutput()
	if err != nil {
		c.t.Fatalf("mosquitto_sub as %s on %s: %v: %s", user, topic, err, out)
	}
	return strings.TrimSpace(string(out))
}

// paho connects a paho.mqtt.golang client (3.1.1) over WebSocket.
func (c clis) paho(user, password, id string) paho.Client {
	c.t.Helper()
	o := paho.NewClientOptions().AddBroker(c.ws).SetClientID(id).SetUsername(user).SetPassword(password).
		SetAutoReconnect(false).SetProtocolVersion(4).SetConnectTimeout(testkit.Timeout)
	cl := paho.NewClient(o)
	if tok := cl.Connect(); !tok.WaitTimeout(testkit.Timeout) || tok.Error() != nil {
		c.t.Fatalf("paho %s over WebSocket %s: %v", user, c.ws, tok.Error())
	}
	c.t.Cleanup(func() { cl.Disconnect(100) })
	return cl
}

// confProc is tern started with --mosquitto-conf and JSON logs.
type confProc struct {
	*ternProc
	lines []map[string]any // the log up to the HTTP listener's line
}

// startTernConf runs tern --mosquitto-conf conf --log-format json and
// returns once it has logged its HTTP listener, the last one it starts.
func startTernConf(t *testing.T, conf string) *confProc {
	t.Helper()
	cmd := exec.Command(ternBinary(t), "--mosquitto-conf", conf, "--log-format", "json")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &confProc{ternProc: &ternProc{cmd: cmd, logs: new(lockedBuffer), done: make(chan struct{})}}
	ready := make(chan []map[string]any, 1)
	go func() {
		var lines []map[string]any
		sent := false
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.logs.WriteString(sc.Text() + "\n")
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				continue // not a log line
			}
			if lines = append(lines, m); m["msg"] == "HTTP" && !sent {
				ready <- lines
				sent = true
			}
		}
	}()
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.kill)
	select {
	case p.lines = <-ready:
	case <-p.done:
		t.Fatalf("tern exited before listening:\n%s", p.logs)
	case <-time.After(time.Minute):
		t.Fatalf("tern did not listen within a minute:\n%s", p.logs)
	}
	return p
}

// warnings returns the lines logged at WARN and above that mention s.
func (p *confProc) warnings(s string) []map[string]any {
	var w []map[string]any
	for _, m := range p.lines {
		if (m["level"] == "WARN" || m["level"] == "ERROR") && strings.Contains(fmt.Sprint(m), s) {
			w = append(w, m)
		}
	}
	return w
}
