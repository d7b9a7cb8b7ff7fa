package broker

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// sysTopics are the $SYS topics Mosquitto 2.0 publishes (mosquitto(8),
// checked against a running mosquitto 2.0.11) and Tern publishes under the
// same names, plus messages/inflight, which Mosquitto documents.
var sysTopics = []string{
	"version", "uptime",
	"clients/total", "clients/maximum", "clients/connected", "clients/disconnected", "clients/expired",
	"clients/active", "clients/inactive",
	"messages/received", "messages/sent", "messages/stored", "messages/inflight",
	"publish/messages/received", "publish/messages/sent", "publish/messages/dropped",
	"publish/bytes/received", "publish/bytes/sent",
	"bytes/received", "bytes/sent",
	"subscriptions/count", "shared_subscriptions/count", "retained messages/count",
	"store/messages/count", "store/messages/bytes",
	"tern/store/commit_latency_ms", "tern/drops/queue_full", "tern/drops/outbound_buffer_full",
}

func init() {
	for _, l := range []string{"messages/received", "messages/sent", "publish/received", "publish/sent",
		"publish/dropped", "bytes/received", "bytes/sent", "connections", "sockets"} {
		for _, w := range []string{"1min", "5min", "15min"} {
			sysTopics = append(sysTopics, "load/"+l+"/"+w)
		}
	}
}

// sysSentinel publishes a message that ends what a tick published: a
// subscriber to $SYS/# receives the messages of one session in order.
func sysSentinel(s *Server, n int) string {
	topic := fmt.Sprintf("%stest/sentinel/%d", SysPrefix, n)
	s.publish(&Message{Topic: topic, Payload: []byte("end")})
	return topic
}

// TestSysMosquittoSub: a real mosquitto_sub -t '$SYS/#' receives every
// listed topic with Mosquitto's name; after 1,000 QoS 1 PUBLISH packets
// publish/messages/received is 1,000 higher; a tick republishes only the
// values that changed (never the version again, not publish/messages/
// received when nothing was published). The ticks are driven by the test
// (SysInterval 0), so no clock is involved.
func TestSysMosquittoSub(t *testing.T) {
	srv := startServer(t, &Options{})
	srv.sysTick(time.Now())
	sub := startMosqSub(t, srv.Addr, "-V", "mqttv311", "-q", "0", "-t", "$SYS/#", "-W", "30")

	// The retained values arrive first, with RETAIN set.
	first := map[string]string{}
	sentinel := ""
	for sentinel == "" || first[sentinel] == "" {
		m := sub.msgs.next(t)
		first[m.Topic] = m.Payload
		if sentinel == "" && len(first) >= len(sysTopics) {
			sub.subscribed(t)
			sentinel = sysSentinel(srv.Server, 0)
		}
		if !m.Retain && !strings.Contains(m.Topic, "sentinel") {
			t.Errorf("%s arrived without RETAIN", m.Topic)
		}
	}
	for _, name := range sysTopics {
		if _, ok := first[SysPrefix+name]; !ok {
			t.Errorf("no %s%s", SysPrefix, name)
		}
	}
	if v := first[SysPrefix+"uptime"]; !strings.HasSuffix(v, " seconds") {
		t.Errorf("uptime %q, want \"N seconds\"", v)
	}
	before, _ := strconv.Atoi(first[SysPrefix+"publish/messages/received"])

	pub := testkit.Dial(t, srv.Addr, codec.V5)
	pub.Connect(t, &codec.Connect{ClientID: "sys-pub", CleanStart: true})
	for i := range 1000 {
		pub.Publish(t, 1, "load/t", strconv.Itoa(i))
	}
	tick := func(n int) map[string]string {
		srv.sysTick(time.Now())
		end := sysSentinel(srv.Server, n)
		got := map[string]string{}
		for {
			m := sub.msgs.next(t)
			if m.Topic == end {
				return got
			}
			got[strings.TrimPrefix(m.Topic, SysPrefix)] = m.Payload
		}
	}
	second := tick(1)
	if after, _ := strconv.Atoi(second["publish/messages/received"]); after-before != 1000 {
		t.Errorf("publish/messages/received went from %d to %q, want +1000", before, second["publish/messages/received"])
	}
	if v, ok := second["version"]; ok {
		t.Errorf("version republished (%q) though it did not change", v)
	}
	third := tick(2)
	for _, name := range []string{"version", "publish/messages/received", "publish/bytes/received", "clients/maximum", "subscriptions/count"} {
		if v, ok := third[name]; ok {
			t.Errorf("%s republished (%q) though it did not change", name, v)
		}
	}
}

// TestSysNotMatchedByWildcards: "#" and "+/..." do not match $SYS topics
// [MQTT-4.7.2-1]; "$SYS/#" does.
func TestSysNotMatchedByWildcards(t *testing.T) {
	srv := startServer(t, &Options{SysPresence: true})
	c := testkit.Dial(t, srv.Addr, codec.V5)
	c.Connect(t, &codec.Connect{ClientID: "wild", CleanStart: true})
	c.Subscribe(t, 0, "#", "+/broker/#", "+/+/+")
	srv.sysTick(time.Now())
	c.Publish(t, 0, "plain", "x")
	c.ExpectMessage(t, "plain", "x") // the first message: no $SYS before it
}

// TestSysPresence: with SysPresence, connecting and disconnecting
// publish JSON events on $SYS/broker/clients/<id>/{connected,disconnected}.
func TestSysPresence(t *testing.T) {
	srv := startServer(t, &Options{SysPresence: true})
	watch := testkit.Dial(t, srv.Addr, codec.V5)
	watch.Connect(t, &codec.Connect{ClientID: "watch", CleanStart: true})
	watch.Subscribe(t, 0, "$SYS/broker/clients/+/+")
	c := testkit.Dial(t, srv.Addr, codec.V311)
	c.Connect(t, &codec.Connect{ClientID: "dev-1", Username: "u1", HasUsername: true, CleanStart: true})
	var ev struct {
		ClientID, Username, Address, Reason string
		Protocol                            int
	}
	p := expectTopic(t, watch, "$SYS/broker/clients/dev-1/connected")
	if err := json.Unmarshal(p.Payload, &ev); err != nil || ev.ClientID != "dev-1" || ev.Username != "u1" || ev.Protocol != 4 || ev.Address == "" {
		t.Errorf("connected event %s (%v)", p.Payload, err)
	}
	c.Disconnect(t)
	p = expectTopic(t, watch, "$SYS/broker/clients/dev-1/disconnected")
	if err := json.Unmarshal(p.Payload, &ev); err != nil || ev.Reason != "client" {
		t.Errorf("disconnected event %s (%v)", p.Payload, err)
	}
}

// TestSysReadsAuthorized: a client the Authorizer does not let read $SYS
// cannot subscribe to it and receives none of it.
func TestSysReadsAuthorized(t *testing.T) {
	deny := AuthorizerFunc(func(c Client, a Access, topic string) bool {
		return c.ID == "admin" || !strings.HasPrefix(topic, "$SYS")
	})
	srv := startServer(t, &Options{Authorizer: deny})
	srv.sysTick(time.Now())
	c := testkit.Dial(t, srv.Addr, codec.V5)
	c.Connect(t, &codec.Connect{ClientID: "user", CleanStart: true})
	c.Send(t, &codec.Subscribe{PacketID: 1, Subscriptions: []codec.Subscription{{Filter: "$SYS/#"}}})
	if ack := testkit.Expect[*codec.Suback](t, c); ack.ReasonCodes[0] != codec.NotAuthorized {
		t.Errorf("SUBACK %v, want 0x87", ack.ReasonCodes)
	}
	a := testkit.Dial(t, srv.Addr, codec.V5)
	a.Connect(t, &codec.Connect{ClientID: "admin", CleanStart: true})
	a.Subscribe(t, 0, "$SYS/broker/version")
	expectTopic(t, a, "$SYS/broker/version")
}

// TestSysTickerStops: the publisher runs every SysInterval and Shutdown
// stops it (goleak in TestMain checks that nothing is left).
func TestSysTickerStops(t *testing.T) {
	srv := startServer(t, &Options{SysInterval: time.Millisecond})
	c := testkit.Dial(t, srv.Addr, codec.V5)
	c.Connect(t, &codec.Connect{ClientID: "w", CleanStart: true})
	c.Subscribe(t, 0, "$SYS/broker/uptime")
	expectTopic(t, c, "$SYS/broker/uptime")
}

// expectTopic receives a PUBLISH and checks its topic.
func expectTopic(t *testing.T, c *testkit.Peer, topic string) *codec.Publish {
	t.Helper()
	p := testkit.Expect[*codec.Publish](t, c)
	if p.Topic != topic {
		t.Fatalf("got %s, want a PUBLISH to %s", testkit.Describe(p), topic)
	}
	return p
}
