package broker

import (
	"slices"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// fakeSharedCluster is a ClusterShared that records the hooks.
type fakeSharedCluster struct {
	mu        sync.Mutex
	joined    []string // "group filter" per SharedSubscribed
	left      []string // per SharedUnsubscribed
	published []*Message
}

func (f *fakeSharedCluster) Subscribed(string)   {}
func (f *fakeSharedCluster) Unsubscribed(string) {}
func (f *fakeSharedCluster) Published(m *Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.published = append(f.published, m)
}
func (f *fakeSharedCluster) SharedSubscribed(group, filter string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.joined = append(f.joined, group+" "+filter)
}
func (f *fakeSharedCluster) SharedUnsubscribed(group, filter string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.left = append(f.left, group+" "+filter)
}

func (f *fakeSharedCluster) calls() (joined, left []string, published []*Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.joined), slices.Clone(f.left), slices.Clone(f.published)
}

// TestClusterSharedSeam: with a ClusterShared cluster, a node's group is
// announced once when its first member joins and once when its last
// leaves; a QoS 0 message published here goes to the cluster, not to the
// group directly, and reaches one member through InjectShared (5.0
// section 4.8.2) at the granted QoS [MQTT-4.8.2-3]; a QoS 1 message goes
// to a member here directly; a message from another node (InjectRemote)
// never reaches the group here.
func TestClusterSharedSeam(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fc := &fakeSharedCluster{}
		srv := startPipeServer(t, &Options{Cluster: fc})
		a := member(t, srv, codec.V5, "a", nil, "$share/g/s/+", 1)
		b := member(t, srv, codec.V311, "b", nil, "$share/g/s/+", 0)
		plain := member(t, srv, codec.V5, "plain", nil, "s/#", 1)
		if joined, _, _ := fc.calls(); !slices.Equal(joined, []string{"g s/+"}) {
			t.Fatalf("SharedSubscribed calls %q, want one for g s/+", joined)
		}

		pub, _ := pipeConnect(t, srv, codec.V5, clean5("pub"))
		pub.Publish(t, 0, "s/x", "zero")
		plain.ExpectPublish(t, `q0 dup=0 retain=0 s/x "zero"`)
		a.ExpectIdle(t)
		b.ExpectIdle(t)
		_, _, published := fc.calls()
		if len(published) != 1 || string(published[0].Payload) != "zero" {
			t.Fatalf("the cluster got %d messages, want the one published", len(published))
		}
		// The cluster picked this node for it, twice (two messages): one
		// member each, in turn.
		if !srv.InjectShared("g", "s/+", published[0]) || !srv.InjectShared("g", "s/+", &Message{Topic: "s/y", Payload: []byte("two")}) {
			t.Fatal("InjectShared found no member")
		}
		a.ExpectPublish(t, `q0 dup=0 retain=0 s/x "zero"`)
		b.ExpectPublish(t, `q0 dup=0 retain=0 s/y "two"`)
		for _, tt := range []struct{ group, filter, topic string }{
			{"g", "s/+", "t/x"},   // not a topic of the filter
			{"h", "s/+", "s/x"},   // no such group here
			{"g", "s/#", "s/x"},   // nor this one
			{"g", "s/+", "s/x/y"}, // too deep
		} {
			if srv.InjectShared(tt.group, tt.filter, &Message{Topic: tt.topic}) {
				t.Errorf("InjectShared(%q, %q) took a message to %q", tt.group, tt.filter, tt.topic)
			}
		}

		pub.Publish(t, 1, "s/x", "one")
		plain.Ack(t, plain.ExpectPublish(t, `q1 dup=0 retain=0 s/x "one"`))
		synctest.Wait()
		got := 0
		for _, m := range []struct {
			p   *testkit.Peer
			qos codec.QoS // granted
		}{{a, 1}, {b, 0}} {
			if q, ok := m.p.Poll(); ok {
				p, ok := q.(*codec.Publish)
				if !ok || p.QoS != m.qos || string(p.Payload) != "one" {
					t.Fatalf("a member got %s, want \"one\" at QoS %d", testkit.Describe(q), m.qos)
				}
				m.p.Ack(t, p)
				got++
			}
		}
		if got != 1 {
			t.Fatalf("the QoS 1 message reached %d members here, want 1", got)
		}

		srv.InjectRemote(&Message{Topic: "s/x", QoS: 1, Payload: []byte("remote")})
		plain.Ack(t, plain.ExpectPublish(t, `q1 dup=0 retain=0 s/x "remote"`))
		a.ExpectIdle(t)
		b.ExpectIdle(t)

		a.Disconnect(t)
		synctest.Wait()
		if _, left, _ := fc.calls(); len(left) != 0 {
			t.Fatalf("SharedUnsubscribed %q with a member left", left)
		}
		b.Send(t, &codec.Unsubscribe{PacketID: 5, Filters: []string{"$share/g/s/+"}})
		synctest.Wait()
		if _, left, _ := fc.calls(); !slices.Equal(left, []string{"g s/+"}) {
			t.Fatalf("SharedUnsubscribed calls %q, want one for g s/+", left)
		}
	})
}
