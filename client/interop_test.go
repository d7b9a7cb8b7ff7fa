package client_test

// The same scenarios against Tern and against a real mosquitto (the Debian
// package, started on free loopback ports), over TCP and WebSocket, in
// MQTT 3.1.1 and 5.0. Over WebSocket the client offers the subprotocol
// "mqtt" (Tern refuses a handshake without it, [MQTT-6.0.0-3]), sends
// binary messages only ([MQTT-6.0.0-1]), and reads the messages as one
// stream, whatever the framing: Tern puts many packets in one message
// ([MQTT-6.0.0-2]).

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/coder/websocket"

	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/internal/testkit"
	"github.com/ternmq/tern/internal/testkit/brokerkit"
)

// endpoint is one broker reached over one transport.
type endpoint struct {
	name string // "tern/tcp", "mosquitto/ws", ...
	url  string
}

// scenario runs against an endpoint in one protocol version; ids makes
// its topics and client ids unique on a broker shared by all scenarios.
type scenario struct {
	name string
	v5   bool // 5.0 only
	run  func(t *testing.T, url string, v codec.Version, id string)
}

var scenarios = []scenario{
	{"qos", false, scenarioQoS},
	{"retained", false, scenarioRetained},
	{"will", false, scenarioWill},
	{"overlapping", false, scenarioOverlapping},
	{"unsubscribe", false, scenarioUnsubscribe},
	{"properties", true, scenarioProperties},
	{"topic-aliases", true, scenarioTopicAliases},
}

// TestInterop runs every scenario with Tern's client against Tern and a
// real mosquitto, each over TCP and over WebSocket: the client works over
// either ordered, lossless byte stream [MQTT-3:7.1.2-1], with nothing
// beyond the specification on either side [MQTT-3:7.0.0-2].
func TestInterop(t *testing.T) {
	srv := brokerkit.Start(t, nil, broker.WebSocketOptions{})
	mq := startMosquitto(t)
	endpoints := []endpoint{
		{"tern/tcp", srv.TCP}, {"tern/ws", srv.WS},
		{"mosquitto/tcp", mq.TCP}, {"mosquitto/ws", mq.WS},
	}
	var seq atomic.Int64
	for _, ep := range endpoints {
		t.Run(ep.name, func(t *testing.T) {
			for _, v := range versions {
				t.Run(v.String(), func(t *testing.T) {
					for _, sc := range scenarios {
						if sc.v5 && v != codec.V5 {
							continue
						}
						t.Run(sc.name, func(t *testing.T) {
							sc.run(t, ep.url, v, fmt.Sprintf("it%d", seq.Add(1)))
						})
					}
				})
			}
		})
	}
}

// QoS 0, 1 and 2 round trips: each message arrives once, at the QoS it was
// published with (the subscription grants 2).
func scenarioQoS(t *testing.T, url string, v codec.Version, id string) {
	c := connect(t, url, client.Options{ClientID: id, Version: v})
	in := newInbox()
	sub(t, c, in, id+"/qos/#", 2)
	for q := codec.QoS(0); q <= 2; q++ {
		topic := fmt.Sprintf("%s/qos/%d", id, q)
		pub(t, c, &client.Message{Topic: topic, QoS: q, Payload: []byte("payload")})
		if m := in.expect(t, topic, "payload"); m.QoS != q || m.Retain {
			t.Errorf("got QoS %d retain %v, want QoS %d not retained", m.QoS, m.Retain, q)
		}
	}
}

// A retained message reaches a later subscriber with RETAIN set; an empty
// retained message clears it.
func scenarioRetained(t *testing.T, url string, v codec.Version, id string) {
	p := connect(t, url, client.Options{ClientID: id + "-p", Version: v})
	topic := id + "/ret"
	pub(t, p, &client.Message{Topic: topic, QoS: 1, Retain: true, Payload: []byte("kept")})

	s := connect(t, url, client.Options{ClientID: id + "-s", Version: v})
	in := newInbox()
	sub(t, s, in, id+"/#", 1)
	if m := in.expect(t, topic, "kept"); !m.Retain {
		t.Error("retained message delivered without RETAIN")
	}
	pub(t, p, &client.Message{Topic: topic, QoS: 1, Retain: true}) // clear
	in.expect(t, topic, "")                                        // forwarded to the existing subscriber

	s2 := connect(t, url, client.Options{ClientID: id + "-s2", Version: v})
	in2 := newInbox()
	sub(t, s2, in2, id+"/#", 1)
	pub(t, p, &client.Message{Topic: id + "/marker", QoS: 1, Payload: []byte("m")})
	in2.expect(t, id+"/marker", "m") // and nothing retained before it
}

// A client whose connection breaks without DISCONNECT has its will
// published; one that disconnects normally does not.
func scenarioWill(t *testing.T, url string, v codec.Version, id string) {
	w := connect(t, url, client.Options{ClientID: id + "-w", Version: v})
	in := newInbox()
	sub(t, w, in, id+"/will/#", 1)

	d := newRecordingDialer()
	polite := connect(t, url, client.Options{ClientID: id + "-polite", Version: v,
		Will: &codec.Will{Topic: id + "/will/polite", Payload: []byte("unexpected"), QoS: 1}})
	disconnect(t, polite)
	connect(t, url, client.Options{ClientID: id + "-rude", Version: v, Dialer: d.dial,
		Will: &codec.Will{Topic: id + "/will/rude", Payload: []byte("gone"), QoS: 1}})
	d.next(t).Close() // the network connection breaks
	in.expect(t, id+"/will/rude", "gone")
}

// Overlapping subscriptions each get the message once: Tern sends one
// copy, mosquitto one per subscription in 5.0, and the client routes by
// Subscription Identifier (5.0) or topic.
func scenarioOverlapping(t *testing.T, url string, v codec.Version, id string) {
	c := connect(t, url, client.Options{ClientID: id, Version: v})
	hash, plus := newInbox(), newInbox()
	sub(t, c, hash, id+"/o/#", 1)
	sub(t, c, plus, id+"/o/+", 1)
	pub(t, c, &client.Message{Topic: id + "/o/x", QoS: 1, Payload: []byte("both")})
	pub(t, c, &client.Message{Topic: id + "/o/x/y", QoS: 1, Payload: []byte("deep")})
	pub(t, c, &client.Message{Topic: id + "/o/end", QoS: 1, Payload: []byte("end")})
	hash.expect(t, id+"/o/x", "both")
	hash.expect(t, id+"/o/x/y", "deep")
	hash.expect(t, id+"/o/end", "end")
	plus.expect(t, id+"/o/x", "both")
	plus.expect(t, id+"/o/end", "end")
}

// After Unsubscribe the handler gets nothing more.
func scenarioUnsubscribe(t *testing.T, url string, v codec.Version, id string) {
	c := connect(t, url, client.Options{ClientID: id, Version: v})
	gone, kept := newInbox(), newInbox()
	sub(t, c, gone, id+"/u/gone", 1)
	sub(t, c, kept, id+"/u/kept", 1)
	if err := c.Unsubscribe(testkit.Context(t), id+"/u/gone"); err != nil {
		t.Fatal(err)
	}
	pub(t, c, &client.Message{Topic: id + "/u/gone", QoS: 1, Payload: []byte("x")})
	pub(t, c, &client.Message{Topic: id + "/u/kept", QoS: 1, Payload: []byte("y")})
	kept.expect(t, id+"/u/kept", "y")
	if len(gone) != 0 {
		t.Errorf("unsubscribed handler got %s", (<-gone).Topic)
	}
}

// 5.0 PUBLISH properties survive the round trip through the broker, user
// properties in order.
func scenarioProperties(t *testing.T, url string, v codec.Version, id string) {
	c := connect(t, url, client.Options{ClientID: id, Version: v})
	in := newInbox()
	sub(t, c, in, id+"/p", 2)
	m := &client.Message{Topic: id + "/p", QoS: 2, Payload: []byte(`{"t":21.5}`)}
	m.Properties.PayloadFormatIndicator = 1
	m.Properties.ContentType = "application/json"
	m.Properties.ResponseTopic = id + "/reply"
	m.Properties.CorrelationData = []byte{1, 2, 3}
	m.Properties.MessageExpiryInterval = 3600
	m.Properties.UserProperties = []codec.UserProperty{{Key: "a", Value: "1"}, {Key: "b", Value: "2"}, {Key: "a", Value: "3"}}
	pub(t, c, m)
	got := in.expect(t, id+"/p", `{"t":21.5}`)
	p := &got.Properties
	if p.PayloadFormatIndicator != 1 || p.ContentType != "application/json" || p.ResponseTopic != id+"/reply" ||
		string(p.CorrelationData) != "\x01\x02\x03" || !slices.Equal(p.UserProperties, m.Properties.UserProperties) {
		t.Errorf("properties changed in transit:\n got %+v\nwant %+v", *p, m.Properties)
	}
	if e := p.MessageExpiryInterval; e == 0 || e > 3600 {
		t.Errorf("Message Expiry Interval %d, want 1..3600", e)
	}
}

// Topic aliases both ways: the client aliases topics it publishes again
// within the server's maximum, and accepts the server's aliases within its
// own; the handler always sees the full topic.
func scenarioTopicAliases(t *testing.T, url string, v codec.Version, id string) {
	opts := client.Options{ClientID: id, Version: v}
	opts.ConnectProperties.TopicAliasMaximum = 10
	c := connect(t, url, opts)
	in := newInbox()
	sub(t, c, in, id+"/a/#", 1)
	for i := range 5 {
		for _, topic := range []string{id + "/a/one", id + "/a/two"} {
			payload := fmt.Sprint(i)
			pub(t, c, &client.Message{Topic: topic, QoS: 1, Payload: []byte(payload)})
			in.expect(t, topic, payload)
		}
	}
}

// recordingDialer dials like the client would (TCP, or WebSocket with the
// "mqtt" subprotocol) and hands each connection to the test, which can
// break it.
type recordingDialer struct{ conns chan net.Conn }

func newRecordingDialer() *recordingDialer { return &recordingDialer{conns: make(chan net.Conn, 16)} }

func (d *recordingDialer) dial(ctx context.Context, u *url.URL) (net.Conn, error) {
	var nc net.Conn
	switch u.Scheme {
	case "ws", "wss":
		ws, _, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{Subprotocols: []string{"mqtt"}})
		if err != nil {
			return nil, err
		}
		nc = websocket.NetConn(context.Background(), ws, websocket.MessageBinary)
	default:
		var err error
		if nc, err = (&net.Dialer{}).DialContext(ctx, "tcp", u.Host); err != nil {
			return nil, err
		}
	}
	d.conns <- nc
	return nc, nil
}

func (d *recordingDialer) next(t testing.TB) net.Conn {
	t.Helper()
	return testkit.WaitFor(t, (<-chan net.Conn)(d.conns), "a dial")
}

// mosquitto is a mosquitto process listening on loopback.
type mosquitto struct {
	TCP, WS string
}

// startMosquitto starts the Debian mosquitto with a generated
// configuration on two free loopback ports (MQTT and MQTT over WebSocket)
// and stops it when the test ends. Without mosquitto the test is skipped,
// or fails under CI=true.
func startMosquitto(t testing.TB) *mosquitto {
	t.Helper()
	tcpPort, wsPort := testkit.FreePort(t), testkit.FreePort(t)
	testkit.StartMosquitto(t, fmt.Sprintf("listener %d 127.0.0.1\nlistener %d 127.0.0.1\nprotocol websockets\nallow_anonymous true", tcpPort, wsPort))
	return &mosquitto{
		TCP: fmt.Sprintf("mqtt://127.0.0.1:%d", tcpPort),
		WS:  fmt.Sprintf("ws://127.0.0.1:%d/mqtt", wsPort),
	}
}
