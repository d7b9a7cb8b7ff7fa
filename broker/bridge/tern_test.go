package bridge_test

import (
	"fmt"
	"testing"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/broker/bridge"
	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
	"github.com/ternmq/tern/internal/testkit/brokerkit"
)

// TestTernOverWebSocket bridges two in-process Tern brokers over ws://,
// with a dead first address that the bridge passes over: messages go both
// ways under their prefixes once each, and none comes back. With 3.1.1,
// Tern refuses Mosquitto's bridge marker and the bridge connects again
// without it (out and in rules only: a 3.1.1 remote that does not know
// the marker cannot be asked for No Local).
func TestTernOverWebSocket(t *testing.T) {
	for _, ver := range versions {
		t.Run(ver.name, func(t *testing.T) {
			a := brokerkit.Start(t, nil, brokerOpts())
			b := brokerkit.Start(t, nil, brokerOpts())
			dead := fmt.Sprintf("ws://127.0.0.1:%d/mqtt", testkit.FreePort(t))
			topics := rules(t, "# both 1 a/ b/")
			if ver.v == codec.V311 {
				topics = rules(t, "up/# out 1 a/ b/", "down/# in 1 a/ b/")
			}
			st := watchState(t, a.TCP, "ws")
			br := run(t, a.Server, bridge.Config{Name: "ws", Addresses: []string{dead, b.WS}, Version: ver.v, Topics: topics})
			st.wait(t, "1")

			local, remote := newInbox(), newInbox()
			ac := connect(t, a.TCP, client.Options{ClientID: "l", CleanStart: true})
			subscribe(t, ac, "#", 1, local.handle)
			bc := connect(t, b.WS, client.Options{ClientID: "r", CleanStart: true, Version: ver.v})
			subscribe(t, bc, "#", 1, remote.handle)

			publish(t, ac, "a/up/1", "x", false)
			gotB := remote.until(t, "b/up/1 x")
			publish(t, bc, "b/down/1", "y", false)
			gotA := local.until(t, "a/down/1 y")
			br.stop()
			sameSet(t, "B's subscriber", gotB, []string{"b/up/1 x"})
			sameSet(t, "A's subscriber", gotA, []string{"a/up/1 x", "a/down/1 y"})
			checkStats(t, br.Bridge, 1, 1)
		})
	}
}

// QoS 2 goes end to end both ways: a QoS 2 message crosses at QoS 2 and
// arrives once (the bridge sends its PUBREC to the side it came from only
// once the other side has sent PUBCOMP).
func TestTernQoS2(t *testing.T) {
	a := brokerkit.Start(t, nil, brokerOpts())
	b := brokerkit.Start(t, nil, brokerOpts())
	st := watchState(t, a.TCP, "q2")
	br := run(t, a.Server, bridge.Config{Name: "q2", Addresses: []string{b.TCP}, Topics: rules(t, "q/# both 2")})
	st.wait(t, "1")
	got := map[string]chan *client.Message{"a": make(chan *client.Message, 4), "b": make(chan *client.Message, 4)}
	clients := map[string]*client.Client{}
	for side, url := range map[string]string{"a": a.TCP, "b": b.TCP} {
		c := connect(t, url, client.Options{ClientID: side, CleanStart: true})
		subscribe(t, c, "q/#", 2, func(m *client.Message) { got[side] <- m })
		clients[side] = c
	}
	for _, from := range []string{"a", "b"} {
		to := map[string]string{"a": "b", "b": "a"}[from]
		if err := clients[from].Publish(testkit.Context(t), &client.Message{Topic: "q/" + from, Payload: []byte("x"), QoS: 2}); err != nil {
			t.Fatal(err)
		}
		testkit.WaitFor(t, (<-chan *client.Message)(got[from]), "the publisher's own copy")
		m := testkit.WaitFor(t, (<-chan *client.Message)(got[to]), "the bridged message")
		if m.Topic != "q/"+from || m.QoS != 2 {
			t.Errorf("%s got %s at QoS %d, want q/%s at QoS 2", to, m.Topic, m.QoS, from)
		}
	}
	br.stop()
	checkStats(t, br.Bridge, 1, 1)
	for side, ch := range got {
		if len(ch) > 0 {
			t.Errorf("%s got a message more: %s", side, (<-ch).Topic)
		}
	}
}

// The local broker's Authorizer applies to the bridge like to any client.
// A refused subscription forwards nothing of its own, and does not stop
// the next matching rule from forwarding a message it also matches.
func TestTernRefusedSubscription(t *testing.T) {
	auth := broker.AuthorizerFunc(func(c broker.Client, a broker.Access, topic string) bool {
		return !(a == broker.Subscribe && topic == "x/a/#")
	})
	a := brokerkit.Start(t, &broker.Options{Authorizer: auth}, brokerOpts())
	b := brokerkit.Start(t, nil, brokerOpts())
	st := watchState(t, a.TCP, "acl")
	br := run(t, a.Server, bridge.Config{Name: "acl", Addresses: []string{b.TCP}, Topics: rules(t, "a/# out 1 x/ y/", "# out 1")})
	st.wait(t, "1")
	remote := newInbox()
	bc := connect(t, b.TCP, client.Options{ClientID: "r", CleanStart: true})
	subscribe(t, bc, "#", 1, remote.handle)
	ac := connect(t, a.TCP, client.Options{ClientID: "l", CleanStart: true})
	publish(t, ac, "x/a/1", "x", false)
	remote.until(t, "y/a/1 x") // mapped by the first rule all the same: Mosquitto's mapping
	br.stop()
	checkStats(t, br.Bridge, 1, 0)
}

// A broker that supports less than a bridged message asks for (Maximum
// QoS 1 and no retained messages, as Mosquitto's max_qos and
// retain_available) gets it at its Maximum QoS and without RETAIN,
// not dropped [MQTT-5:3.2.2-11] [MQTT-5:3.2.2-14].
func TestTernFitsLimits(t *testing.T) {
	a := brokerkit.Start(t, &broker.Options{MaxQoS: new(codec.AtLeastOnce), DisableRetain: true}, brokerOpts())
	b := brokerkit.Start(t, nil, brokerOpts())
	st := watchState(t, a.TCP, "fit")
	br := run(t, a.Server, bridge.Config{Name: "fit", Addresses: []string{b.TCP}, Topics: rules(t, "q/# in 2")})
	st.wait(t, "1")
	got := make(chan *client.Message, 4)
	ac := connect(t, a.TCP, client.Options{ClientID: "a", CleanStart: true})
	subscribe(t, ac, "q/#", 1, func(m *client.Message) { got <- m })
	bc := connect(t, b.TCP, client.Options{ClientID: "b", CleanStart: true})
	if err := bc.Publish(testkit.Context(t), &client.Message{Topic: "q/x", Payload: []byte("x"), QoS: 2, Retain: true}); err != nil {
		t.Fatal(err)
	}
	m := testkit.WaitFor(t, (<-chan *client.Message)(got), "the bridged message")
	if m.Topic != "q/x" || m.QoS != 1 {
		t.Errorf("got %s at QoS %d, want q/x at QoS 1", m.Topic, m.QoS)
	}
	br.stop()
	checkStats(t, br.Bridge, 0, 1)
}
