package acl

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
	"github.com/ternmq/tern/internal/testkit/brokerkit"
)

// interopFile is given unchanged to a real mosquitto and to Parse.
// observer reads and publisher writes every topic the test uses.
const interopFile = `# anonymous clients
topic read public/#
topic readwrite anon/rw
topic write anon/wo
topic deny public/secret
topic read room/lobby chat
topic read $test/anon

user alice
topic readwrite alice/#
topic deny alice/private/#
topic read $test/#
topic read #

user bob
topic read +/news
topic deny sport/news
topic write bob/out

user alice
topic write shared/alice

user observer
topic read #
topic read $test/#
topic read $d/#

user publisher
topic write #
topic write $test/#
topic write $d/#

pattern readwrite clients/%c/#
pattern read users/%u/inbox
pattern deny clients/%c/blocked
pattern write dev/%u/%c
pattern read x%cy
pattern read %c/own/#
pattern read common/all
`

// interopClients: the identities whose decisions are compared.
var interopClients = []broker.Client{
	{ID: "a1"},
	{ID: "c+1"},
	{ID: "al", Username: "alice"},
	{ID: "a#b", Username: "alice"},
	{ID: "b1", Username: "bob"},
	{ID: "c1", Username: "carol"},
	{ID: "$d", Username: "carol"},
	{ID: "x/y", Username: "carol"},
	{ID: "d1", Username: "d#"},
}

// interopTopics are the topic names tried for c: fixed ones and those
// its patterns name.
func interopTopics(c broker.Client) []string {
	ts := []string{"public/x", "public", "public/secret", "anon/rw", "anon/wo",
		"room/lobby chat", "$test/anon", "$test/x", "alice/x", "alice/private/y",
		"other/z", "shared/alice", "sport/news", "tv/news", "bob/out", "common/all",
		"$d/own/x", "users/alice/inbox", "users/bob/inbox", "users/carol/inbox",
		"clients/zz/t"}
	for _, t := range []string{"clients/%c/t", "clients/%c/blocked", "dev/%u/%c", "x%cy", "%c/own/x"} {
		t = strings.ReplaceAll(strings.ReplaceAll(t, "%c", c.ID), "%u", c.Username)
		if codec.ValidTopicName(t) == nil {
			ts = append(ts, t)
		}
	}
	seen := map[string]bool{}
	out := ts[:0]
	for _, t := range ts {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

var interopFilters = []string{"#", "+/+", "public/#", "public/+", "public/secret", "anon/wo",
	"alice/private/#", "alice/+/y", "+/news", "sport/#", "$test/#", "$d/#", "nothing/#",
	"clients/+/blocked", "users/+/inbox"}

// TestInteropMosquitto runs the same ACL file in a real mosquitto and
// compares, for every identity and topic, mosquitto's decision on a
// PUBLISH (its 5.0 PUBACK code, and whether an observer gets the message)
// and on a delivery (whether a subscriber to the exact topic gets what a
// privileged publisher sends) with Authorize's Write and Read. It also
// records that mosquitto grants every SUBSCRIBE, and checks that each
// filter Authorize refuses delivers nothing on mosquitto either. Then a
// Tern broker with the file as its Authorizer must decide every publish
// and delivery as mosquitto did, refusing (SUBACK 0x87) exactly the
// subscriptions Authorize refuses.
func TestInteropMosquitto(t *testing.T) {
	addr := startMosquitto(t, interopFile, []string{"alice", "bob", "carol", "d#", "observer", "publisher"})
	a, err := Parse(strings.NewReader(interopFile))
	if err != nil {
		t.Fatal(err)
	}
	mosq := probe(t, addr, a, false)
	var writes, reads int
	for k, v := range mosq {
		c, acc, topic := k.c, k.a, k.topic
		if acc == broker.Write && v {
			writes++
		}
		if acc == broker.Read && v {
			reads++
		}
		if got := a.Authorize(c, acc, topic); got != v {
			t.Errorf("%v %+v %q: Authorize %v, mosquitto %v", acc, c, topic, got, v)
		}
	}
	t.Logf("mosquitto: %d decisions agree with Authorize (%d publishes and %d deliveries allowed)", len(mosq), writes, reads)

	b := brokerkit.Start(t, &broker.Options{Authorizer: a}, broker.WebSocketOptions{})
	tern := probe(t, b.Addr, a, true)
	for k, v := range mosq {
		if tern[k] != v {
			t.Errorf("%v %+v %q: tern %v, mosquitto %v", k.a, k.c, k.topic, tern[k], v)
		}
	}
	if len(tern) != len(mosq) {
		t.Errorf("tern made %d decisions, mosquitto %d", len(tern), len(mosq))
	}
}

type decision struct {
	c     broker.Client
	a     broker.Access
	topic string
}

// probe asks the broker at addr for every publish and delivery decision
// of interopClients on their topics. Then it subscribes each client to the
// interopFilters that a refuses: mosquitto (tern false) must grant them
// all, Tern must refuse them all, and neither may deliver through them.
func probe(t *testing.T, addr string, a *ACL, tern bool) map[decision]bool {
	t.Helper()
	out := map[decision]bool{}
	observer := connect(t, addr, broker.Client{ID: "observer", Username: "observer"})
	observer.Subscribe(t, 1, "#", "$test/#", "$d/#")
	publisher := connect(t, addr, broker.Client{ID: "publisher", Username: "publisher"})
	for _, c := range interopClients {
		topics := interopTopics(c)

		// Write: the PUBACK code and the observer agree.
		w := connect(t, addr, c)
		for _, tp := range topics {
			w.Send(t, &codec.Publish{QoS: 1, PacketID: w.PID(), Topic: tp, Payload: []byte("w")})
			ack := w.ExpectAck(t, codec.PUBACK)
			ok := ack.ReasonCode == codec.Success
			if !ok && ack.ReasonCode != codec.NotAuthorized {
				t.Fatalf("%+v publish %q: PUBACK 0x%02x", c, tp, byte(ack.ReasonCode))
			}
			if ok {
				observer.ExpectMessage(t, tp, "w")
			}
			out[decision{c, broker.Write, tp}] = ok
		}
		observer.ExpectIdle(t)
		w.Disconnect(t)

		// Read: subscribe to each topic exactly, publish as publisher,
		// see whether it arrives.
		r := connect(t, addr, c)
		subscribe(t, r, c, a, tern, topics)
		for _, tp := range topics {
			publisher.Publish(t, 1, tp, "r")
			observer.ExpectMessage(t, tp, "r")
			out[decision{c, broker.Read, tp}] = received(t, r, tp)
		}
		r.Disconnect(t)

		// Subscribe: a filter Authorize refuses delivers nothing.
		var no []string
		for _, f := range interopFilters {
			if !a.Authorize(c, broker.Subscribe, f) {
				no = append(no, f)
			}
		}
		if len(no) == 0 {
			continue
		}
		s := connect(t, addr, c)
		subscribe(t, s, c, a, tern, no)
		for _, tp := range topics {
			publisher.Publish(t, 1, tp, "s")
			observer.ExpectMessage(t, tp, "s")
		}
		if received(t, s, "") {
			t.Errorf("%+v: delivered through a filter Tern refuses (%q)", c, no)
		}
		s.Disconnect(t)
	}
	observer.Disconnect(t)
	publisher.Disconnect(t)
	return out
}

// subscribe subscribes p to filters at QoS 1. Mosquitto's acl_file grants
// every subscription; Tern refuses those Authorize refuses.
func subscribe(t *testing.T, p *testkit.Peer, c broker.Client, a *ACL, tern bool, filters []string) {
	t.Helper()
	s := &codec.Subscribe{PacketID: p.PID()}
	for _, f := range filters {
		s.Subscriptions = append(s.Subscriptions, codec.Subscription{Filter: f, QoS: 1})
	}
	p.Send(t, s)
	ack := testkit.Expect[*codec.Suback](t, p)
	if len(ack.ReasonCodes) != len(filters) {
		t.Fatalf("got %s", testkit.Describe(ack))
	}
	for i, rc := range ack.ReasonCodes {
		want := codec.ReasonCode(1)
		if tern && !a.Authorize(c, broker.Subscribe, filters[i]) {
			want = codec.NotAuthorized
		}
		if rc != want {
			t.Errorf("%+v SUBSCRIBE %q: SUBACK 0x%02x, want 0x%02x (tern %v)", c, filters[i], byte(rc), byte(want), tern)
		}
	}
}

// received proves with a PINGREQ whether a PUBLISH (to topic, unless
// topic is "") is pending on p: mosquitto queues a delivery before it
// acknowledges the publisher, and answers the PINGREQ after it.
func received(t *testing.T, p *testkit.Peer, topic string) bool {
	t.Helper()
	p.Send(t, &codec.Pingreq{})
	got := false
	for {
		switch pk := p.Recv(t).(type) {
		case *codec.Pingresp:
			return got
		case *codec.Publish:
			if topic != "" && pk.Topic != topic {
				t.Fatalf("got a PUBLISH to %q, want %q or nothing", pk.Topic, topic)
			}
			p.Ack(t, pk)
			got = true
		default:
			t.Fatalf("got %s, want PUBLISH or PINGRESP", testkit.Describe(pk))
		}
	}
}

// connect opens a 5.0 session for c (password = username) on mosquitto.
func connect(t *testing.T, addr string, c broker.Client) *testkit.Peer {
	t.Helper()
	p := testkit.Dial(t, addr, codec.V5)
	cp := &codec.Connect{ClientID: c.ID, CleanStart: true, Username: c.Username}
	if c.Username != "" {
		cp.Password = []byte("pw-" + c.Username)
	}
	p.Connect(t, cp)
	return p
}

// startMosquitto runs mosquitto on a free loopback port with acl as its
// acl_file and a password file for users (password "pw-" + name), and
// stops it by PID when the test ends. It returns host:port.
func startMosquitto(t *testing.T, acl string, users []string) string {
	t.Helper()
	passwd := testkit.RequireTool(t, "mosquitto_passwd", "mosquitto")
	dir := t.TempDir()
	aclPath, pwPath := filepath.Join(dir, "acl"), filepath.Join(dir, "passwd")
	if err := os.WriteFile(aclPath, []byte(acl), 0o600); err != nil {
		t.Fatal(err)
	}
	for i, u := range users {
		args := []string{"-b", pwPath, u, "pw-" + u}
		if i == 0 {
			args = append([]string{"-c"}, args...)
		}
		if out, err := exec.Command(passwd, args...).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd %q: %v\n%s", args, err, out)
		}
	}
	port := testkit.FreePort(t)
	testkit.StartMosquitto(t, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npassword_file %s\nacl_file %s\nsys_interval 0",
		port, pwPath, aclPath))
	return fmt.Sprintf("127.0.0.1:%d", port)
}
