package cluster

import (
	"errors"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/codec"
)

var now = time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)

func TestHeadersRoundTrip(t *testing.T) {
	for _, m := range []*broker.Message{
		{Topic: "a/b", Payload: []byte("x")},
		{Topic: "a b/.", Payload: nil, QoS: 1, Retain: true},
		{Topic: "$SYS/x", Payload: []byte{0}, QoS: 2, Expires: now.Add(90 * time.Second)},
		{Topic: "p", Payload: []byte("{}"), Props: &codec.Properties{
			PayloadFormatIndicator: 1,
			ContentType:            "application/json; q=1\r\n",
			ResponseTopic:          "re/ply %",
			CorrelationData:        []byte{},
			UserProperties:         []codec.UserProperty{{Key: "a=b", Value: "c&d"}, {Key: "a=b", Value: ""}, {Key: "日本", Value: "+ +"}},
		}},
		{Topic: "q", Props: &codec.Properties{CorrelationData: []byte{0xFF, 0}}},
	} {
		msg := encode(m, "n1-00", 7, now)
		got, origin, seq, err := decode(msg, now)
		if err != nil || origin != "n1-00" || seq != 7 {
			t.Fatalf("decode(encode(%+v)) = %q %d %v", m, origin, seq, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("decode(encode(%+v)) = %+v; props %+v", m, got, got.Props)
		}
	}
}

func TestDecodeRefuses(t *testing.T) {
	ok := func() nats.Header { return nats.Header{hOrigin: {"n1"}, hSeq: {"1"}} }
	for name, msg := range map[string]*nats.Msg{
		"bad subject": {Subject: "tern.m.a b", Header: ok()},
		"no origin":   {Subject: "tern.m.a", Header: nats.Header{hSeq: {"1"}}},
		"seq 0":       {Subject: "tern.m.a", Header: nats.Header{hOrigin: {"n1"}, hSeq: {"0"}}},
		"qos 3":       {Subject: "tern.m.a", Header: with(ok(), hQoS, "3")},
		"expiry -1":   {Subject: "tern.m.a", Header: with(ok(), hExpiry, "-1")},
		"format 2":    {Subject: "tern.m.a", Header: with(ok(), hFormat, "2")},
		"bad type":    {Subject: "tern.m.a", Header: with(ok(), hType, "%zz")},
		"bad corr":    {Subject: "tern.m.a", Header: with(ok(), hCorr, "!!")},
		"user no =":   {Subject: "tern.m.a", Header: with(ok(), hUser, "k")},
	} {
		if _, _, _, err := decode(msg, now); !errors.Is(err, ErrHeader) && !errors.Is(err, ErrSubject) {
			t.Errorf("%s: decode = %v, want ErrHeader or ErrSubject", name, err)
		}
	}
}

func with(h nats.Header, k, v string) nats.Header { h[k] = []string{v}; return h }

// FuzzDecode feeds decode what another node (or anything on the subject
// space) could send: it must refuse or produce a message that encodes
// back to the same headers' meaning.
func FuzzDecode(f *testing.F) {
	f.Add("tern.m.a", "1", "0", "", "", "text%2F", "k=v")
	f.Add("tern.d.$SYS.%", "99", "2", "1", "1", "", "=")
	f.Fuzz(func(t *testing.T, subject, seq, qos, retain, format, ctype, user string) {
		h := nats.Header{hOrigin: {"n9"}, hSeq: {seq}, hQoS: {qos}, hRetain: {retain}, hFormat: {format}, hType: {ctype}, hUser: {user}}
		m, _, s, err := decode(&nats.Msg{Subject: subject, Header: h}, now)
		if err != nil {
			return
		}
		again, _, s2, err := decode(encode(m, "n9", s, now), now)
		if err != nil || s2 != s || !reflect.DeepEqual(again, m) {
			t.Fatalf("re-decoding %+v: %+v %v", m, again, err)
		}
	})
}

func TestWindow(t *testing.T) {
	var w window
	for i, tc := range []struct {
		seq   uint64
		fresh bool
	}{
		{1, true}, {1, false}, {3, true}, {2, true}, {2, false}, {3, false},
		{windowSize + 3, true}, {3, false}, {4, true}, {4, false}, // 3 is too old: dropped
		{windowSize + 4, true}, {windowSize + 2, true}, {windowSize + 2, false},
		{3 * windowSize, true}, {3*windowSize - 1, true}, {2 * windowSize, false},
	} {
		if got := w.fresh(tc.seq); got != tc.fresh {
			t.Fatalf("step %d: fresh(%d) = %v, want %v", i, tc.seq, got, tc.fresh)
		}
	}
}

// TestEchoDropped shows that a node drops its own messages and second
// copies without routing them.
func TestEchoDropped(t *testing.T) {
	n := &Node{id: "n1-00", seen: map[string]*window{}, log: logger()}
	n.receive(encode(&broker.Message{Topic: "a"}, "n1-00", 1, now))
	n.receive(encode(&broker.Message{Topic: "a"}, "n2-00", 1, now)) // no Server attached: dropped after counting
	n.receive(encode(&broker.Message{Topic: "a"}, "n2-00", 1, now))
	n.receive(&nats.Msg{Subject: "tern.m.a"})
	if e, d, b := n.stats.Echoes.Load(), n.stats.Duplicates.Load(), n.stats.Bad.Load(); e != 1 || d != 1 || b != 1 {
		t.Errorf("echoes %d, duplicates %d, bad %d; want 1, 1, 1", e, d, b)
	}
}

// TestPruneSeen: the dedup window of an origin not heard from for
// windowIdle is dropped (node ids change at every start), the others
// stay.
func TestPruneSeen(t *testing.T) {
	n := &Node{seen: map[string]*window{
		"gone-1a2b3c4d":  {last: now.Add(-windowIdle - time.Second)},
		"alive-5e6f7a8b": {last: now.Add(-time.Second)},
	}}
	n.pruneSeen(now)
	if _, ok := n.seen["gone-1a2b3c4d"]; ok || len(n.seen) != 1 {
		t.Errorf("windows after pruning: %v", slices.Collect(maps.Keys(n.seen)))
	}
}
