package broker

// Tests of Options.MaxQoS and Options.DisableRetain (Mosquitto's max_qos
// and retain_available).

import (
	"fmt"
	"testing"
	"testing/synctest"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// TestMaxQoSConnack: a 5.0 CONNACK carries Maximum QoS when the broker
// supports less than QoS 2 [MQTT-5:3.2.2-9], and Retain Available 0 when
// retained messages are off; with the defaults it carries neither (both
// mean "everything supported" when absent).
func TestMaxQoSConnack(t *testing.T) {
	for _, tc := range []struct {
		name        string
		opts        Options
		maxQoS      int // -1: absent
		retainAvail int // -1: absent
	}{
		{"defaults", Options{}, -1, -1},
		{"max 0", Options{MaxQoS: new(codec.AtMostOnce)}, 0, -1},
		{"max 1", Options{MaxQoS: new(codec.AtLeastOnce)}, 1, -1},
		{"max 2", Options{MaxQoS: new(codec.ExactlyOnce)}, -1, -1},
		{"max above 2 counts as 2", Options{MaxQoS: new(codec.QoS(7))}, -1, -1},
		{"retain off", Options{DisableRetain: true}, -1, 0},
		{"both", Options{MaxQoS: new(codec.AtMostOnce), DisableRetain: true}, 0, 0},
	} {
		inBubble(t, tc.name, func(t *testing.T) {
			srv := startPipeServer(t, &tc.opts)
			_, ack := pipeConnect(t, srv, codec.V5, clean5("mq"))
			if got := prop(ack, codec.PropMaximumQoS, ack.Properties.MaximumQoS); got != tc.maxQoS {
				t.Errorf("Maximum QoS %d, want %d (-1: absent)", got, tc.maxQoS)
			}
			if got := prop(ack, codec.PropRetainAvailable, ack.Properties.RetainAvailable); got != tc.retainAvail {
				t.Errorf("Retain Available %d, want %d (-1: absent)", got, tc.retainAvail)
			}
		})
	}
}

// prop is the value of a byte property of a CONNACK, -1 when absent.
func prop(ack *codec.Connack, id codec.PropertyID, v byte) int {
	if !ack.Properties.Has(id) {
		return -1
	}
	return int(v)
}

// TestMaxQoSSubscribe: a SUBSCRIBE asking for any QoS is accepted and
// granted at most the Maximum QoS [MQTT-5:3.2.2-10] [MQTT-3:3.8.4-6], the
// SUBACK showing the QoS granted [MQTT-3:3.8.4-5] [MQTT-5:3.8.4-7]; a
// message is then delivered at the minimum of its own QoS and the granted
// one [MQTT-3:3.8.4-6] [MQTT-5:3.8.4-8].
func TestMaxQoSSubscribe(t *testing.T) {
	for _, v := range []codec.Version{codec.V311, codec.V5} {
		for _, max := range []codec.QoS{0, 1, 2} {
			inBubble(t, fmt.Sprintf("%s/max%d", v, max), func(t *testing.T) {
				srv := startPipeServer(t, &Options{MaxQoS: new(max)})
				sub, _ := pipeConnect(t, srv, v, &codec.Connect{ClientID: "sub", CleanStart: true})
				sub.Send(t, &codec.Subscribe{PacketID: 1, Subscriptions: []codec.Subscription{
					{Filter: "q/0", QoS: 0}, {Filter: "q/1", QoS: 1}, {Filter: "q/2", QoS: 2}}})
				ack := testkit.Expect[*codec.Suback](t, sub)
				want := []codec.ReasonCode{0, codec.ReasonCode(min(1, max)), codec.ReasonCode(max)}
				if fmt.Sprint(ack.ReasonCodes) != fmt.Sprint(want) {
					t.Fatalf("SUBACK %v, want %v", ack.ReasonCodes, want)
				}

				pub, _ := pipeConnect(t, srv, v, &codec.Connect{ClientID: "pub", CleanStart: true})
				pub.Publish(t, max, "q/2", "at the maximum")
				sub.ExpectPublish(t, fmt.Sprintf("q%d dup=0 retain=0 q/2 %q", max, "at the maximum"))
			})
		}
	}
}

// TestMaxQoSRefusals: a will above the Maximum QoS, or retained while
// retained messages are off, refuses the CONNECT (5.0: CONNACK 0x9B
// [MQTT-5:3.2.2-12], 0x9A [MQTT-5:3.2.2-13]; 3.1.1, which has no code for
// it: closed without a CONNACK, as Mosquitto 2.0 does); a PUBLISH above the
// Maximum QoS, or retained while retained messages are off, is a protocol
// error (5.0: DISCONNECT 0x9B, 0x9A and close [MQTT-5:4.13.1-1]
// [MQTT-5:4.13.2-1]; 3.1.1: closed, as Mosquitto). What stays within the
// limits is accepted.
func TestMaxQoSRefusals(t *testing.T) {
	retainOff := Options{DisableRetain: true}
	max0, max1 := Options{MaxQoS: new(codec.AtMostOnce)}, Options{MaxQoS: new(codec.AtLeastOnce)}
	willOf := func(qos codec.QoS, retain bool) *codec.Will {
		return &codec.Will{Topic: "w", Payload: []byte("gone"), QoS: qos, Retain: retain}
	}
	for _, tc := range []struct {
		name string
		opts Options
		will *codec.Will      // in the CONNECT
		pub  *codec.Publish   // sent once connected, when the CONNECT is accepted
		rc   codec.ReasonCode // 5.0 CONNACK or DISCONNECT; 0: accepted
	}{
		{"will QoS 1 above max 0", max0, willOf(1, false), nil, codec.QoSNotSupported},
		{"will QoS 2 above max 1", max1, willOf(2, false), nil, codec.QoSNotSupported},
		{"will QoS at max 1", max1, willOf(1, false), nil, 0},
		{"will retained, retain off", retainOff, willOf(0, true), nil, codec.RetainNotSupported},
		{"will not retained, retain off", retainOff, willOf(1, false), nil, 0},
		{"will QoS 2 retained, defaults", Options{}, willOf(2, true), nil, 0},
		{"PUBLISH QoS 1 above max 0", max0, nil, pub5(1, "t", "x", nil), codec.QoSNotSupported},
		{"PUBLISH QoS 2 above max 1", max1, nil, pub5(2, "t", "x", nil), codec.QoSNotSupported},
		{"PUBLISH QoS 1 at max 1", max1, nil, pub5(1, "t", "x", nil), 0},
		{"PUBLISH retained, retain off", retainOff, nil, &codec.Publish{Topic: "t", Payload: []byte("x"), Retain: true}, codec.RetainNotSupported},
		{"PUBLISH QoS 2 retained, retain off", retainOff, nil, &codec.Publish{QoS: 2, Topic: "t", Payload: []byte("x"), Retain: true}, codec.RetainNotSupported},
		{"PUBLISH not retained, retain off", retainOff, nil, pub5(2, "t", "x", nil), 0},
	} {
		for _, v := range []codec.Version{codec.V311, codec.V5} {
			inBubble(t, v.String()+"/"+tc.name, func(t *testing.T) {
				srv := startPipeServer(t, &tc.opts)
				c := pipeRaw(t, srv, v)
				connect := &codec.Connect{Version: v, ClientID: "r", CleanStart: true, Will: tc.will}
				if tc.pub == nil {
					c.Send(t, connect)
					switch {
					case tc.rc == 0:
						c.ExpectDescribed(t, "CONNACK sp=0 rc=0x00")
						c.ExpectIdle(t)
					case v == codec.V5:
						c.ExpectDescribed(t, fmt.Sprintf("CONNACK sp=0 rc=0x%02x", byte(tc.rc)))
						c.ExpectClosed(t)
					default:
						c.ExpectClosed(t) // no CONNACK code in 3.1.1
					}
					return
				}
				c.Connect(t, connect)
				p := *tc.pub
				switch {
				case tc.rc == 0:
					c.PublishWith(t, &p)
					c.ExpectIdle(t)
				case v == codec.V5:
					if p.QoS > 0 {
						p.PacketID = 1
					}
					c.Send(t, &p)
					expectDisconnect(t, c, tc.rc)
				default:
					if p.QoS > 0 {
						p.PacketID = 1
					}
					c.Send(t, &p)
					c.ExpectClosed(t)
				}
			})
		}
	}
}

// TestRetainOffKeepsNothing: a client refused for a retained PUBLISH left
// no retained message behind, and its will (not retained) is published,
// as for any connection closed by a protocol error [MQTT-3:3.1.2-8].
func TestRetainOffKeepsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := startPipeServer(t, &Options{DisableRetain: true})
		watcher := willWatcher(t, srv)
		c := pipeRaw(t, srv, codec.V5)
		c.Connect(t, &codec.Connect{ClientID: "r", CleanStart: true, Will: will("will/r", "gone", 0)})
		c.Send(t, &codec.Publish{Topic: "kept/t", Payload: []byte("x"), Retain: true})
		expectDisconnect(t, c, codec.RetainNotSupported)
		watcher.ExpectMessage(t, "will/r", "gone")

		late, _ := pipeConnect(t, srv, codec.V5, clean5("late"))
		late.Subscribe(t, 0, "kept/#")
		late.ExpectIdle(t)
	})
}
