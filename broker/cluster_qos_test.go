package broker

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// fakeDurable is a ClusterDurable and ClusterRetained that holds each
// done until the test answers it.
type fakeDurable struct {
	mu        sync.Mutex
	held      []func(error)
	published int         // Published calls
	calls     chan string // one per PublishedDurable: the topic
	retained  []*Message
}

func (f *fakeDurable) Subscribed(string)   {}
func (f *fakeDurable) Unsubscribed(string) {}
func (f *fakeDurable) Published(*Message) {
	f.mu.Lock()
	f.published++
	f.mu.Unlock()
}

func (f *fakeDurable) PublishedDurable(m *Message, done func(error)) {
	f.mu.Lock()
	f.held = append(f.held, done)
	f.mu.Unlock()
	f.calls <- m.Topic
}

func (f *fakeDurable) RetainedFor(_ string, _ time.Time, deliver func([]*Message, error)) {
	go deliver(f.retained, nil)
}

// answer answers the i-th held PublishedDurable.
func (f *fakeDurable) answer(i int, err error) {
	f.mu.Lock()
	done := f.held[i]
	f.mu.Unlock()
	done(err)
}

// TestClusterDurableAcks: with a ClusterDurable, a PUBACK or PUBREC waits
// for the cluster to keep the message [MQTT-4.3.2-2] [MQTT-4.3.3-2] (of
// 3.1.1: having accepted ownership), the acknowledgements keep the order
// of the PUBLISH packets however the cluster's answers come
// [MQTT-4.6.0-2] [MQTT-4.6.0-3], and a refusal gives a 5.0 publisher
// 0x97 and closes a 3.1.1 publisher's connection, never a success. QoS 0
// goes to Published.
func TestClusterDurableAcks(t *testing.T) {
	f := &fakeDurable{calls: make(chan string, 16)}
	srv := startServer(t, &Options{Cluster: f})
	pub := testkit.Dial(t, srv.Addr, codec.V5)
	pub.Connect(t, &codec.Connect{ClientID: "pub5", CleanStart: true})
	var pkts []codec.Packet
	for i := range 4 {
		q := codec.QoS(1)
		if i == 3 {
			q = 2
		}
		pkts = append(pkts, &codec.Publish{QoS: q, PacketID: uint16(i + 1), Topic: fmt.Sprintf("t/%d", i), Payload: []byte("x")})
	}
	pkts = append(pkts, &codec.Publish{Topic: "t/q0", Payload: []byte("x")})
	pub.SendRaw(t, testkit.Encode(codec.V5, pkts...))
	for i := range 4 {
		if got := testkit.WaitFor(t, f.calls, "PublishedDurable"); got != fmt.Sprintf("t/%d", i) {
			t.Fatalf("PublishedDurable %d got %q", i, got)
		}
	}
	pub.ExpectIdle(t) // nothing acknowledged before the cluster answers

	f.answer(2, nil) // the third first: held behind the first
	pub.ExpectIdle(t)
	f.answer(0, nil)
	pub.ExpectDescribed(t, "PUBACK id=1 rc=0x00")
	pub.ExpectIdle(t)
	f.answer(1, fmt.Errorf("no quorum: %w", ErrClusterRefused))
	pub.ExpectDescribed(t, "PUBACK id=2 rc=0x97", "PUBACK id=3 rc=0x00")
	f.answer(3, nil)
	pub.ExpectDescribed(t, "PUBREC id=4 rc=0x00")
	f.mu.Lock()
	if f.published != 1 {
		t.Errorf("Published called %d times, want 1 (the QoS 0 message)", f.published)
	}
	f.mu.Unlock()

	pub4 := testkit.Dial(t, srv.Addr, codec.V311)
	pub4.Connect(t, &codec.Connect{ClientID: "pub4", CleanStart: true})
	pub4.Send(t, &codec.Publish{QoS: 1, PacketID: 9, Topic: "t/4", Payload: []byte("x")})
	testkit.WaitFor(t, f.calls, "PublishedDurable")
	f.answer(4, fmt.Errorf("no quorum: %w", ErrClusterRefused))
	pub4.ExpectClosed(t)
}

// TestClusterRetainedOnSubscribe: with a ClusterRetained, a new
// subscription gets the retained messages the cluster reads, with RETAIN
// set [MQTT-3.3.1-6 of 3.1.1], not this node's own.
func TestClusterRetainedOnSubscribe(t *testing.T) {
	f := &fakeDurable{calls: make(chan string, 16), retained: []*Message{{Topic: "r/remote", Payload: []byte("from another node"), QoS: 1}}}
	srv := startServer(t, &Options{Cluster: f})
	if err := srv.Publish(&Message{Topic: "r/local", Payload: []byte("here"), Retain: true}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, f.calls, "PublishedDurable of the retained message")
	sub := testkit.Dial(t, srv.Addr, codec.V311)
	sub.Connect(t, &codec.Connect{ClientID: "sub", CleanStart: true})
	sub.Subscribe(t, 1, "r/#")
	sub.Ack(t, sub.ExpectPublish(t, `q1 dup=0 retain=1 r/remote "from another node"`))
	sub.ExpectIdle(t)
}
