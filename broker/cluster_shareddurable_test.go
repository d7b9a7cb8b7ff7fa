package broker

import (
	"sync"
	"testing"
	"testing/synctest"

	"github.com/ternmq/tern/codec"
)

// fakeSharedDurable is a ClusterSharedDurable (and ClusterDurable) that
// keeps every QoS 1/2 message at once and records it; on is its
// SharedDurable.
type fakeSharedDurable struct {
	fakeSharedCluster
	on   bool
	dmu  sync.Mutex
	kept []*Message
}

func (f *fakeSharedDurable) PublishedDurable(m *Message, done func(error)) {
	f.dmu.Lock()
	f.kept = append(f.kept, m)
	f.dmu.Unlock()
	done(nil)
}

func (f *fakeSharedDurable) SharedDurable() bool { return f.on }

func (f *fakeSharedDurable) last() *Message {
	f.dmu.Lock()
	defer f.dmu.Unlock()
	return f.kept[len(f.kept)-1]
}

// TestClusterSharedDurableSeam: with a ClusterSharedDurable that says so,
// a QoS 1 message published here reaches this node's shared group only
// through InjectSharedDurable, not on the path of the node's own messages
// (InjectDurable with own set), which still delivers it to a plain
// subscriber; InjectSharedDurable gives it to one member in turn at the
// granted QoS [MQTT-4.8.2-3] and calls done, and refuses (without done) a
// group or topic it does not have. When SharedDurable is false the group
// gets its node's QoS 1 messages on the own path, as before.
func TestClusterSharedDurableSeam(t *testing.T) {
	for _, on := range []bool{true, false} {
		t.Run(map[bool]string{true: "on", false: "off"}[on], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fc := &fakeSharedDurable{on: on}
				srv := startPipeServer(t, &Options{Cluster: fc})
				a := member(t, srv, codec.V5, "a", nil, "$share/g/s/+", 1)
				b := member(t, srv, codec.V311, "b", nil, "$share/g/s/+", 0)
				plain := member(t, srv, codec.V5, "plain", nil, "s/#", 1)
				pub, _ := pipeConnect(t, srv, codec.V5, clean5("pub"))

				pub.Publish(t, 1, "s/x", "one")
				plain.ExpectIdle(t) // not routed before the cluster brings it back
				done := make(chan error, 1)
				srv.InjectDurable(fc.last(), true, func(err error) { done <- err })
				if err := <-done; err != nil {
					t.Fatal(err)
				}
				plain.Ack(t, plain.ExpectPublish(t, `q1 dup=0 retain=0 s/x "one"`))
				if !on {
					a.Ack(t, a.ExpectPublish(t, `q1 dup=0 retain=0 s/x "one"`))
					b.ExpectIdle(t)
					return
				}
				a.ExpectIdle(t)
				b.ExpectIdle(t)

				// The cluster picked this node for two messages: one member each.
				for _, p := range []string{"one", "two"} {
					called := false
					if !srv.InjectSharedDurable("g", "s/+", &Message{Topic: "s/x", QoS: 1, Payload: []byte(p)}, func(err error) {
						called = err == nil
					}) || !called {
						t.Fatalf("InjectSharedDurable of %q: not taken, or done not called", p)
					}
				}
				a.Ack(t, a.ExpectPublish(t, `q1 dup=0 retain=0 s/x "one"`))
				b.ExpectPublish(t, `q0 dup=0 retain=0 s/x "two"`)
				for _, tt := range []struct{ group, filter, topic string }{
					{"g", "s/+", "t/x"}, // not a topic of the filter
					{"h", "s/+", "s/x"}, // no such group here
				} {
					if srv.InjectSharedDurable(tt.group, tt.filter, &Message{Topic: tt.topic, QoS: 1}, func(error) {
						t.Errorf("done called for a message not taken")
					}) {
						t.Errorf("InjectSharedDurable(%q, %q) took a message to %q", tt.group, tt.filter, tt.topic)
					}
				}
				a.ExpectIdle(t)
				b.ExpectIdle(t)
				plain.ExpectIdle(t)
			})
		})
	}
}
