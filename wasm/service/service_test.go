package service

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/wasm/uistate"
)

// recorder collects the updates of a service with the time of each.
type recorder struct {
	mu      sync.Mutex
	updates []uistate.Update
	times   []time.Time
}

func (r *recorder) onUpdate(u uistate.Update) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.updates = append(r.updates, u)
	r.times = append(r.times, time.Now())
}

// count returns the number of updates so far.
func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.updates)
}

func (r *recorder) messages() []uistate.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	var all []uistate.Message
	for _, u := range r.updates {
		all = append(all, u.Messages...)
	}
	return all
}

// join registers sink's subscription id to filter without a broker.
func (s *Service) join(filter string, sink uistate.Sink, id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.subs[filter]
	if f == nil {
		f = &filterSubs{}
		s.subs[filter] = f
	}
	f.members = append(f.members, member{sink: sink, sub: uistate.Subscription{ID: id, Filter: filter}})
}

// TestBatching feeds 5,000 messages a second for two seconds (in fake
// time) and checks that the UI gets one update per interval, not one per
// message, and every message in order.
func TestBatching(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var r recorder
		s := New(Options{OnUpdate: r.onUpdate})
		s.join("load/+", uistate.SinkLog, 1)
		tick := time.NewTicker(time.Millisecond)
		const total = 10_000
		start := time.Now()
		for i := range total {
			if i > 0 && i%5 == 0 {
				<-tick.C
			}
			s.deliver("load/+", &client.Message{Topic: "load/" + strconv.Itoa(i%10), Payload: []byte(strconv.Itoa(i))})
		}
		tick.Stop()
		<-time.After(DefaultInterval) // the last batch
		synctest.Wait()
		s.Close()

		elapsed := r.times[len(r.times)-1].Sub(start)
		if max := int(elapsed/DefaultInterval) + 1; len(r.updates) > max || len(r.updates) < max-2 {
			t.Errorf("%d updates in %v, want about %d (one per %v)", len(r.updates), elapsed, max, DefaultInterval)
		}
		for i := 1; i < len(r.times); i++ {
			if gap := r.times[i].Sub(r.times[i-1]); gap < DefaultInterval {
				t.Errorf("updates %d and %d only %v apart", i-1, i, gap)
			}
		}
		msgs := r.messages()
		if len(msgs) != total {
			t.Fatalf("%d messages delivered, want %d", len(msgs), total)
		}
		var counted uint64
		for _, u := range r.updates {
			counted += u.Counts[1]
		}
		if counted != total {
			t.Errorf("counted %d, want %d", counted, total)
		}
		for i, m := range msgs {
			if string(m.Payload) != strconv.Itoa(i) || m.Sub != 1 || m.Time.IsZero() {
				t.Fatalf("message %d: %+v", i, m)
			}
		}
		t.Logf("%d messages in %d updates over %v", total, len(r.updates), elapsed)
	})
}

// TestFirstMessageAfterQuiet checks that a message after a quiet period
// reaches the UI at once, not after a full interval.
func TestFirstMessageAfterQuiet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var r recorder
		s := New(Options{OnUpdate: r.onUpdate, Interval: 100 * time.Millisecond})
		defer s.Close()
		<-time.After(time.Second)
		start := time.Now()
		s.event(uistate.ConnEvent{State: uistate.Connected})
		synctest.Wait()
		r.mu.Lock()
		if len(r.updates) != 1 || r.times[0] != start || len(r.updates[0].Conn) != 1 {
			t.Errorf("updates %+v at %v, want one at once", r.updates, r.times)
		}
		r.mu.Unlock()
		s.join("a", uistate.SinkLog, 2)
		s.deliver("a", &client.Message{Topic: "a"})
		synctest.Wait()
		if r.count() != 1 {
			t.Fatal("a second update came within the interval")
		}
		<-time.After(100 * time.Millisecond)
		synctest.Wait()
		if msgs := r.messages(); r.count() != 2 || len(msgs) != 1 {
			t.Fatalf("second update: %d updates, messages %+v", r.count(), msgs)
		}
	})
}

// TestOverlappingSubscriptions checks that a message handed to the
// handlers of two filters is queued once, with the sinks of both, and
// counted for each subscription; and that two sinks on one filter share
// it.
func TestOverlappingSubscriptions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var r recorder
		s := New(Options{OnUpdate: r.onUpdate, DefaultSink: uistate.SinkChat})
		s.join("a/#", uistate.SinkLog, 1)
		s.join("#", uistate.SinkTree, -1)
		s.join("a/b", uistate.SinkLog, 2)
		s.join("a/b", uistate.SinkTree, -2)
		m := &client.Message{Topic: "a/b", QoS: 1, Retain: true,
			Properties: codec.Properties{UserProperties: []codec.UserProperty{{Key: "k", Value: "v"}}}}
		s.deliver("#", m) // the tree's handler first: Sub is still the log's
		s.deliver("a/#", m)
		s.deliver("a/b", &client.Message{Topic: "a/b"})
		s.deliver("", &client.Message{Topic: "queued/for/the/session"})
		// The loop may have flushed the first message at once and hold
		// the rest for the interval; Close does not flush what is held.
		// (CI: this test got 2 of the 3 messages.)
		<-time.After(time.Second) // fake time (synctest), beyond any interval
		synctest.Wait()
		s.Close()
		msgs := r.messages()
		if len(msgs) != 3 || msgs[0].Sub != 1 || msgs[0].Props == nil || msgs[0].Props.UserProperties[0].Value != "v" ||
			!msgs[0].Retain || msgs[0].QoS != 1 || msgs[1].Props != nil {
			t.Fatalf("messages %+v", msgs)
		}
		for i, want := range []uistate.Sink{uistate.SinkLog | uistate.SinkTree, uistate.SinkLog | uistate.SinkTree, uistate.SinkChat} {
			if msgs[i].Sinks != want {
				t.Errorf("message %d (%s) for sinks %b, want %b", i, msgs[i].Topic, msgs[i].Sinks, want)
			}
		}
		c := map[int]int{} // over the updates: the first may have come before the rest
		for _, u := range r.updates {
			for id, n := range u.Counts {
				c[id] += int(n)
			}
		}
		if c[1] != 1 || c[-1] != 1 || c[2] != 1 || c[-2] != 1 {
			t.Errorf("counts %v", c)
		}
	})
}

// TestUnclaimed: without a DefaultSink, a message no subscription of the
// service claims (a persistent session's leftover) is not queued.
func TestUnclaimed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var r recorder
		s := New(Options{OnUpdate: r.onUpdate})
		s.join("a", uistate.SinkLog, 1)
		s.deliver("", &client.Message{Topic: "left/over"})
		s.deliver("a", &client.Message{Topic: "a"})
		synctest.Wait()
		s.Close()
		if msgs := r.messages(); len(msgs) != 1 || msgs[0].Topic != "a" {
			t.Errorf("messages %+v", msgs)
		}
	})
}

// TestMergedOptions checks the options a filter shared by two sinks is
// subscribed with.
func TestMergedOptions(t *testing.T) {
	f := &filterSubs{members: []member{
		{uistate.SinkLog, uistate.Subscription{Filter: "#", QoS: 0, NoLocal: true, RetainHandling: 2}},
		{uistate.SinkTree, uistate.Subscription{Filter: "#", QoS: 1, RetainAsPublished: true}},
	}}
	got := f.merged()
	if got.Filter != "#" || got.QoS != 1 || got.NoLocal || !got.RetainAsPublished || got.RetainHandling != 0 {
		t.Errorf("merged %+v", got)
	}
	f.remove(uistate.SinkTree)
	if got := f.merged(); got.QoS != 0 || !got.NoLocal || got.RetainHandling != 2 {
		t.Errorf("after the tree left: %+v", got)
	}
}

// TestOverflow checks that a batch is bounded: the newest messages are
// kept and the rest counted as dropped.
func TestOverflow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var r recorder
		s := New(Options{OnUpdate: r.onUpdate, MaxPending: 100})
		s.join("#", uistate.SinkLog, 1)
		s.deliver("#", &client.Message{Topic: "first"})
		synctest.Wait() // the first message goes at once
		for i := range 1000 {
			s.deliver("#", &client.Message{Topic: strconv.Itoa(i)})
		}
		<-time.After(DefaultInterval)
		synctest.Wait()
		s.Close()
		if len(r.updates) != 2 {
			t.Fatalf("%d updates", len(r.updates))
		}
		u := r.updates[1]
		if len(u.Messages) < 100 || len(u.Messages) >= 200 || u.Dropped+uint64(len(u.Messages)) != 1000 {
			t.Errorf("%d messages and %d dropped, want 100..199 kept of 1000", len(u.Messages), u.Dropped)
		}
		if last := u.Messages[len(u.Messages)-1].Topic; last != "999" {
			t.Errorf("last kept message %q, want the newest", last)
		}
	})
}

func TestNotConnected(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	if _, err := s.Subscribe(t.Context(), uistate.SinkLog, uistate.Subscription{Filter: "a"}); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Subscribe: %v", err)
	}
	if err := s.Publish(t.Context(), uistate.Publish{Topic: "a"}); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Publish: %v", err)
	}
	if err := s.Publish(t.Context(), uistate.Publish{Topic: "a/#"}); err == nil || errors.Is(err, ErrNotConnected) {
		t.Errorf("Publish to a wildcard: %v", err)
	}
	if err := s.Unsubscribe(t.Context(), uistate.SinkLog, "a"); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Unsubscribe: %v", err)
	}
	s.Close() // twice is fine
}

func TestClientOptions(t *testing.T) {
	p := uistate.DefaultProfile("http://localhost:8080/", "/mqtt")
	p.Username, p.Password, p.SessionExpiry, p.KeepAlive = "u", "pw", 300, 0
	p.Will = &uistate.Will{Topic: "w", Payload: "bye", QoS: 1, Retain: true}
	s := New(ProfileOptions(p, "tab1"))
	defer s.Close()
	o := s.copts
	if o.ClientID != "tab1" || o.Username != "u" || string(o.Password) != "pw" || o.Version != codec.V5 ||
		!o.CleanStart || o.KeepAlive >= 0 || !o.AutoReconnect || o.ConnectProperties.SessionExpiryInterval != 300 ||
		o.Will == nil || o.Will.Topic != "w" || o.Will.QoS != 1 || !o.Will.Retain {
		t.Errorf("client options %+v", o)
	}
}

func TestClientOptionsSCRAM(t *testing.T) {
	p := uistate.DefaultProfile("http://localhost:8080/", "/mqtt")
	p.Username, p.Password, p.Auth = "u", "correct horse", uistate.AuthSCRAM
	s := New(ProfileOptions(p, "tab1"))
	defer s.Close()
	o := s.copts
	if o.Password != nil || o.Username != "u" || o.Auth == nil || o.Auth.Method() != "SCRAM-SHA-256" {
		t.Fatalf("SCRAM client options: password %q, auth %v", o.Password, o.Auth)
	}
	_, first, err := o.Auth.Begin()
	if err != nil || bytes.Contains(first, []byte("horse")) || !bytes.Contains(first, []byte("n=u,")) {
		t.Errorf("client-first %q, %v", first, err)
	}
}

func TestFailure(t *testing.T) {
	if f := failure(fmt.Errorf("connect: %w", client.ErrServerNotAuthenticated), true); !f.ServerNotAuthenticated || f.Dial {
		t.Errorf("server not authenticated: %+v", f)
	}
	f := failure(&client.ReasonError{Op: "connect", Code: codec.NotAuthorized}, true)
	if f.Code != codec.NotAuthorized || f.Dial {
		t.Errorf("reason error: %+v", f)
	}
	if f := failure(errors.New("mqtt: cannot open WebSocket"), true); !f.Dial {
		t.Errorf("dial error: %+v", f)
	}
	if f := failure(errors.New("EOF"), false); f.Dial {
		t.Errorf("lost connection marked as dial: %+v", f)
	}
}
