package bridge_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ternmq/tern/broker/bridge"
	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit/brokerkit"
)

var versions = []struct {
	name string
	v    codec.Version
}{{"5.0", codec.V5}, {"3.1.1", codec.V311}}

// TestMosquittoDirections bridges Tern to a real mosquitto, as a 5.0 and
// as a 3.1.1 client (the latter with the bridge marker), with out, in and
// both rules with prefixes and a single-topic rule: each message arrives
// on the other side once, on its mapped topic, retained ones with their
// RETAIN flag; what no rule takes stays home; nothing comes back. Tern
// both serves its own clients and connects out to another server here,
// and the real mosquitto takes it as any client [MQTT-3:7.0.0-1].
func TestMosquittoDirections(t *testing.T) {
	for _, ver := range versions {
		t.Run(ver.name, func(t *testing.T) {
			_, port := mosquitto(t)
			remoteURL := fmt.Sprintf("mqtt://127.0.0.1:%d", port)
			tern := brokerkit.Start(t, nil, brokerOpts())
			st := watchState(t, tern.TCP, "mosq")
			b := run(t, tern.Server, bridge.Config{
				Name: "mosq", Addresses: []string{fmt.Sprintf("127.0.0.1:%d", port)}, Version: ver.v,
				Topics: rules(t,
					"out/# out 1 tern/ mosq/",
					"in/# in 1 local/ remote/",
					"both/# both 1 l/ r/",
					`"" out 1 tern/one mosq/one`,
				),
			})
			st.wait(t, "1")

			local, remote := newInbox(), newInbox()
			lc := connect(t, tern.TCP, client.Options{ClientID: "l", CleanStart: true})
			subscribe(t, lc, "#", 1, local.handle)
			rc := connect(t, remoteURL, client.Options{ClientID: "r", CleanStart: true, Version: ver.v})
			subscribe(t, rc, "#", 1, remote.handle)

			publish(t, lc, "tern/out/x", "1", false)
			publish(t, lc, "tern/out/kept", "r1", true)
			publish(t, lc, "tern/skip", "not bridged", false)
			publish(t, lc, "l/both/a", "2", false)
			publish(t, lc, "tern/one", "3", false)
			publish(t, rc, "remote/in/x", "4", false)
			publish(t, rc, "r/both/b", "5", false)
			publish(t, rc, "in/x", "not bridged", false)
			// Markers: anything echoed back would come before them.
			publish(t, lc, "l/both/end", "L", false)
			gotR := remote.until(t, "r/both/end L")
			publish(t, rc, "r/both/end2", "R", false)
			gotL := local.until(t, "l/both/end2 R")
			b.stop()

			sameSet(t, "mosquitto's subscriber", gotR, []string{
				"mosq/out/x 1", "mosq/out/kept r1", "r/both/a 2", "mosq/one 3",
				"remote/in/x 4", "r/both/b 5", "in/x not bridged", "r/both/end L",
			})
			sameSet(t, "Tern's subscriber", gotL, []string{
				"tern/out/x 1", "tern/out/kept r1", "tern/skip not bridged", "l/both/a 2", "tern/one 3",
				"local/in/x 4", "l/both/b 5", "l/both/end L", "l/both/end2 R",
			})
			checkStats(t, b.Bridge, 5, 3)

			// A retained message forwarded keeps its flag on mosquitto.
			late := newInbox()
			lr := connect(t, remoteURL, client.Options{ClientID: "late", CleanStart: true, Version: ver.v})
			subscribe(t, lr, "mosq/out/kept", 1, late.handle)
			late.until(t, "mosq/out/kept r1 (retained)")
		})
	}
}

// TestMosquittoNoLoop bridges "# both 1" with no prefixes, the loop
// Mosquitto's manual warns about: 100 messages from each side arrive once
// on each side, and none comes back to the bridge (5.0: No Local on both
// brokers; 3.1.1: No Local locally and the bridge marker remotely).
func TestMosquittoNoLoop(t *testing.T) {
	const n = 100
	for _, ver := range versions {
		t.Run(ver.name, func(t *testing.T) {
			_, port := mosquitto(t)
			remoteURL := fmt.Sprintf("mqtt://127.0.0.1:%d", port)
			tern := brokerkit.Start(t, nil, brokerOpts())
			st := watchState(t, tern.TCP, "loop")
			b := run(t, tern.Server, bridge.Config{Name: "loop", Addresses: []string{remoteURL}, Version: ver.v, Topics: rules(t, "# both 1")})
			st.wait(t, "1")

			local, remote := newInbox(), newInbox()
			lc := connect(t, tern.TCP, client.Options{ClientID: "l", CleanStart: true})
			subscribe(t, lc, "#", 1, local.handle)
			rc := connect(t, remoteURL, client.Options{ClientID: "r", CleanStart: true, Version: ver.v})
			subscribe(t, rc, "#", 1, remote.handle)
			var want []string
			for i := range n {
				publish(t, lc, fmt.Sprintf("from/tern/%d", i), "t", false)
				publish(t, rc, fmt.Sprintf("from/mosquitto/%d", i), "m", false)
				want = append(want, fmt.Sprintf("from/tern/%d t", i), fmt.Sprintf("from/mosquitto/%d m", i))
			}
			publish(t, lc, "end/tern", "L", false)
			gotR := remote.until(t, "end/tern L")
			publish(t, rc, "end/mosquitto", "R", false)
			gotL := local.until(t, "end/mosquitto R")
			b.stop()
			sameSet(t, "mosquitto's subscriber", gotR, append(want, "end/tern L"))
			sameSet(t, "Tern's subscriber", gotL, append(want, "end/tern L", "end/mosquitto R"))
			checkStats(t, b.Bridge, n+1, n+1)
		})
	}
}

// TestMosquittoSection runs a bridge written as a Mosquitto bridge
// section, read by FromMosquitto, against a real mosquitto: a message
// crosses each way with its prefixes.
func TestMosquittoSection(t *testing.T) {
	_, port := mosquitto(t)
	var lines []bridge.ConfLine
	for i, l := range strings.Split(fmt.Sprintf(`connection site
address 127.0.0.1:%d
remote_clientid site-bridge
topic # both 1 tern/ mosq/
cleansession false
try_private true
restart_timeout 1 5`, port), "\n") {
		w := strings.Fields(l)
		lines = append(lines, bridge.ConfLine{Name: w[0], Args: w[1:], File: "mosquitto.conf", Line: i + 1})
	}
	cfgs, err := bridge.FromMosquitto(lines)
	if err != nil || len(cfgs) != 1 {
		t.Fatalf("FromMosquitto: %v, %v", cfgs, err)
	}
	tern := brokerkit.Start(t, nil, brokerOpts())
	st := watchState(t, tern.TCP, "site")
	run(t, tern.Server, cfgs[0])
	st.wait(t, "1")
	local, remote := newInbox(), newInbox()
	lc := connect(t, tern.TCP, client.Options{ClientID: "l", CleanStart: true})
	subscribe(t, lc, "tern/#", 1, local.handle)
	rc := connect(t, fmt.Sprintf("mqtt://127.0.0.1:%d", port), client.Options{ClientID: "r", CleanStart: true, Version: codec.V311})
	subscribe(t, rc, "mosq/#", 1, remote.handle)
	publish(t, lc, "tern/a", "out", false)
	remote.until(t, "mosq/a out")
	publish(t, rc, "mosq/b", "in", false)
	local.until(t, "tern/b in")
}
