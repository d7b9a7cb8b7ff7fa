package broker

// Interop with the Debian mosquitto_pub and mosquitto_sub programs, over
// MQTT 3.1.1 (-V mqttv311) and 5.0 (-V mqttv5).

import (
	"syscall"
	"testing"

	"github.com/ternmq/tern/internal/testkit"
)

var cliVersions = []struct {
	name string // -V value
	tag  string // for topics and client ids
}{
	{"mqttv311", "v311"},
	{"mqttv5", "v5"},
}

// mosquitto_pub at QoS 0, 1 and 2 to mosquitto_sub subscribed at QoS 2 and
// QoS 1: each message arrives once, at the lower of the two QoS
// ([MQTT-3:3.8.4-6], [MQTT-5:3.8.4-8]), with RETAIN 0.
func TestMosquittoQoS(t *testing.T) {
	t.Parallel()
	testkit.RequireTool(t, "mosquitto_pub", "mosquitto-clients")
	testkit.RequireTool(t, "mosquitto_sub", "mosquitto-clients")
	srv := startServer(t, nil)
	for _, v := range cliVersions {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			topic := "cli/qos/" + v.tag
			sub2 := startMosqSub(t, srv.Addr, "-V", v.name, "-i", "sub2-"+v.tag, "-q", "2", "-t", topic, "-C", "3", "-W", "10")
			sub1 := startMosqSub(t, srv.Addr, "-V", v.name, "-i", "sub1-"+v.tag, "-q", "1", "-t", topic, "-C", "3", "-W", "10")
			sub2.subscribed(t)
			sub1.subscribed(t)
			for _, q := range []string{"0", "1", "2"} {
				mosqPub(t, srv.Addr, "-V", v.name, "-q", q, "-t", topic, "-m", "qos "+q)
			}
			for q := byte(0); q <= 2; q++ {
				payload := "qos " + string('0'+q)
				sub2.msgs.expect(t, topic, payload, q, false)
				sub1.msgs.expect(t, topic, payload, min(q, 1), false)
			}
			sub2.exited(t)
			sub1.exited(t)
		})
	}
}

// Retained messages with mosquitto_pub -r: set, replaced, delivered to a new
// mosquitto_sub with RETAIN 1 ([MQTT-3:3.3.1-8], [MQTT-5:3.3.1-9]), and
// cleared with an empty payload (-n) ([MQTT-3:3.3.1-11], [MQTT-5:3.3.1-7]).
func TestMosquittoRetained(t *testing.T) {
	t.Parallel()
	testkit.RequireTool(t, "mosquitto_pub", "mosquitto-clients")
	testkit.RequireTool(t, "mosquitto_sub", "mosquitto-clients")
	srv := startServer(t, nil)
	for _, v := range cliVersions {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			topic := "cli/ret/" + v.tag
			mosqPub(t, srv.Addr, "-V", v.name, "-r", "-q", "1", "-t", topic, "-m", "first")
			mosqPub(t, srv.Addr, "-V", v.name, "-r", "-q", "2", "-t", topic, "-m", "second")

			s := startMosqSub(t, srv.Addr, "-V", v.name, "-q", "2", "-t", topic, "-C", "2", "-W", "10")
			s.msgs.expect(t, topic, "second", 2, true)
			s.subscribed(t)
			mosqPub(t, srv.Addr, "-V", v.name, "-q", "1", "-t", topic, "-m", "live")
			s.msgs.expect(t, topic, "live", 1, false) // [MQTT-3:3.3.1-9] [MQTT-5:3.3.1-12]
			s.exited(t)

			mosqPub(t, srv.Addr, "-V", v.name, "-r", "-q", "1", "-t", topic, "-n")
			s = startMosqSub(t, srv.Addr, "-V", v.name, "-q", "1", "-t", topic, "-C", "1", "-W", "10")
			s.subscribed(t)
			mosqPub(t, srv.Addr, "-V", v.name, "-q", "1", "-t", topic, "-m", "sentinel")
			s.msgs.expect(t, topic, "sentinel", 1, false)
			s.exited(t)
		})
	}
}

// The command-line tools and the Go clients of the other version exchange
// messages at QoS 2: mosquitto_pub -V mqttv311 to a paho.golang 5.0
// subscriber and mosquitto_pub -V mqttv5 to a paho.mqtt.golang 3.1.1
// subscriber; paho clients publishing to mosquitto_sub of both versions.
func TestMosquittoWithPaho(t *testing.T) {
	t.Parallel()
	testkit.RequireTool(t, "mosquitto_pub", "mosquitto-clients")
	testkit.RequireTool(t, "mosquitto_sub", "mosquitto-clients")
	srv := startServer(t, nil)
	s3 := connectP3(t, srv.Addr, "cli-s3", true)
	s3.sub(t, "cli/paho/#", 2)
	s5 := connectP5(t, srv.Addr, v5conn("cli-s5", true, 0))
	s5.sub(t, "cli/paho/#", 2)

	mosqPub(t, srv.Addr, "-V", "mqttv311", "-q", "2", "-t", "cli/paho/a", "-m", "from mosquitto 3.1.1")
	s3.msgs.expect(t, "cli/paho/a", "from mosquitto 3.1.1", 2, false)
	s5.msgs.expect(t, "cli/paho/a", "from mosquitto 3.1.1", 2, false)
	mosqPub(t, srv.Addr, "-V", "mqttv5", "-q", "2", "-t", "cli/paho/b", "-m", "from mosquitto 5.0")
	s3.msgs.expect(t, "cli/paho/b", "from mosquitto 5.0", 2, false)
	s5.msgs.expect(t, "cli/paho/b", "from mosquitto 5.0", 2, false)

	m311 := startMosqSub(t, srv.Addr, "-V", "mqttv311", "-q", "2", "-t", "cli/to/#", "-C", "2", "-W", "10")
	m5 := startMosqSub(t, srv.Addr, "-V", "mqttv5", "-q", "2", "-t", "cli/to/#", "-C", "2", "-W", "10")
	m311.subscribed(t)
	m5.subscribed(t)
	connectP3(t, srv.Addr, "cli-p3", true).pub(t, "cli/to/x", 2, false, "from paho 3.1.1")
	connectP5(t, srv.Addr, v5conn("cli-p5", true, 0)).pubSimple(t, "cli/to/y", 2, false, "from paho 5.0")
	for _, s := range []*mosqSub{m311, m5} {
		s.msgs.expect(t, "cli/to/x", "from paho 3.1.1", 2, false)
		s.msgs.expect(t, "cli/to/y", "from paho 5.0", 2, false)
		s.exited(t)
	}
}

// A mosquitto_sub killed with SIGKILL loses its connection without
// DISCONNECT, so its will (--will-topic) is published ([MQTT-3:3.1.2-8],
// [MQTT-5:3.1.2-8]).
func TestMosquittoWill(t *testing.T) {
	t.Parallel()
	testkit.RequireTool(t, "mosquitto_sub", "mosquitto-clients")
	srv := startServer(t, nil)
	watcher := connectP5(t, srv.Addr, v5conn("cli-will-watch", true, 0))
	watcher.sub(t, "cli/will/#", 1)
	for _, v := range cliVersions {
		topic := "cli/will/" + v.tag
		s := startMosqSub(t, srv.Addr, "-V", v.name, "-t", "cli/nothing", "-W", "20",
			"--will-topic", topic, "--will-payload", "killed", "--will-qos", "1")
		s.subscribed(t)
		if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		watcher.msgs.expect(t, topic, "killed", 1, false)
		testkit.WaitFor(t, s.done, "mosquitto_sub to die")
	}
}

// Persistent sessions with mosquitto_sub -c: it subscribes and exits (-E),
// QoS 1 and 2 messages are published while it is away, and a second
// mosquitto_sub -c with the same client id receives them
// ([MQTT-3:3.1.2-5], [MQTT-5:3.1.2-5]).
func TestMosquittoPersistentSession(t *testing.T) {
	t.Parallel()
	testkit.RequireTool(t, "mosquitto_pub", "mosquitto-clients")
	testkit.RequireTool(t, "mosquitto_sub", "mosquitto-clients")
	srv := startServer(t, nil)
	for _, v := range cliVersions {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			topic := "cli/ps/" + v.tag
			id := "cli-ps-" + v.tag
			s := startMosqSub(t, srv.Addr, "-V", v.name, "-c", "-i", id, "-q", "2", "-t", topic, "-E", "-W", "10")
			s.exited(t)
			mosqPub(t, srv.Addr, "-V", v.name, "-q", "1", "-t", topic, "-m", "offline 1")
			mosqPub(t, srv.Addr, "-V", v.name, "-q", "2", "-t", topic, "-m", "offline 2")
			s = startMosqSub(t, srv.Addr, "-V", v.name, "-c", "-i", id, "-q", "2", "-t", topic, "-C", "2", "-W", "10")
			s.msgs.expect(t, topic, "offline 1", 1, false)
			s.msgs.expect(t, topic, "offline 2", 2, false)
			s.exited(t)
		})
	}
}
