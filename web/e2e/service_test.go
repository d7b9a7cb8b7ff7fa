package e2e

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/wasm/service"
	"github.com/ternmq/tern/wasm/uistate"
)

// updates collects a service's updates and lets a test wait for a
// condition on them.
type updates struct {
	mu   sync.Mutex
	cond *sync.Cond
	m    *uistate.Model
	n    int
}

func newUpdates(pageURL string) *updates {
	u := &updates{m: uistate.NewModel(pageURL, "/mqtt")}
	u.cond = sync.NewCond(&u.mu)
	return u
}

func (u *updates) apply(up uistate.Update) {
	u.mu.Lock()
	u.m.Apply(up)
	u.n++
	u.mu.Unlock()
	u.cond.Broadcast()
}

// wait blocks until ok holds for the model, or fails the test after 10 s.
func (u *updates) wait(t *testing.T, what string, ok func(m *uistate.Model) bool) {
	t.Helper()
	timer := time.AfterFunc(10*time.Second, func() { u.cond.Broadcast() })
	defer timer.Stop()
	deadline := time.Now().Add(10 * time.Second)
	u.mu.Lock()
	defer u.mu.Unlock()
	for !ok(u.m) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; connection %+v", what, u.m.Conn)
		}
		u.cond.Wait()
	}
}

// TestServiceWithBroker runs the web client's MQTT service natively over
// WebSocket against the broker: connect, overlapping subscriptions (one
// log entry, two counts), 5.0 properties, publish, and a failed dial with
// its hints.
func TestServiceWithBroker(t *testing.T) {
	s := newSite(t, t.TempDir()) // no client build needed
	up := newUpdates(s.ts.URL + "/")
	prof := uistate.DefaultProfile(s.ts.URL+"/", "/mqtt")
	if prof.URL != s.ws {
		t.Fatalf("default URL %q, want %q", prof.URL, s.ws)
	}
	svc := service.New(withUpdates(service.ProfileOptions(prof, "svc-test"), up.apply))
	defer svc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := svc.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	up.wait(t, "Connected", func(m *uistate.Model) bool { return m.Conn.State == uistate.Connected })
	up.mu.Lock()
	if srv := up.m.Conn.Server; srv == nil || srv.Version != 5 || srv.ClientID != "svc-test" {
		t.Errorf("server info %+v", srv)
	}
	id1, _ := up.m.Subs.Add(uistate.Subscription{Filter: "e2e/#", QoS: 1})
	id2, _ := up.m.Subs.Add(uistate.Subscription{Filter: "e2e/+/temp"})
	s1, s2 := *up.m.Subs.Get(id1), *up.m.Subs.Get(id2)
	up.mu.Unlock()
	for _, sub := range []uistate.Subscription{s1, s2} {
		code, err := svc.Subscribe(ctx, uistate.SinkLog, sub)
		if err != nil || code.IsError() {
			t.Fatalf("subscribe %q: %v %v", sub.Filter, code, err)
		}
	}

	pub, err := client.Connect(ctx, s.ws, client.Options{ClientID: "svc-test-pub"})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Disconnect(context.Background(), codec.NormalDisconnection)
	err = pub.Publish(ctx, &client.Message{Topic: "e2e/kitchen/temp", Payload: []byte(`{"c":21.5}`), QoS: 1,
		Properties: codec.Properties{ContentType: "application/json",
			UserProperties: []codec.UserProperty{{Key: "source", Value: "go"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Publish(ctx, uistate.Publish{Topic: "e2e/page", Payload: "from the service", QoS: 2}); err != nil {
		t.Fatal(err)
	}
	up.wait(t, "two messages", func(m *uistate.Model) bool { return m.Log.Len() >= 2 })
	up.mu.Lock()
	var kitchen, page *uistate.Message
	for i := range up.m.Log.ViewLen() {
		msg := up.m.Log.ViewAt(i)
		switch msg.Topic {
		case "e2e/kitchen/temp":
			if kitchen != nil {
				t.Error("a message matching two subscriptions was logged twice")
			}
			kitchen = msg
		case "e2e/page":
			page = msg
		}
	}
	if kitchen == nil || kitchen.Props == nil || kitchen.Props.ContentType != "application/json" ||
		len(kitchen.Props.UserProperties) != 1 || kitchen.QoS != 1 {
		t.Errorf("kitchen message %+v", kitchen)
	}
	if page == nil || string(page.Payload) != "from the service" {
		t.Errorf("own message %+v", page)
	}
	if c1, c2 := up.m.Subs.Get(id1).Count, up.m.Subs.Get(id2).Count; c1 != 2 || c2 != 1 {
		t.Errorf("counts %d and %d, want 2 and 1", c1, c2)
	}
	up.mu.Unlock()
	svc.Close()

	// A wrong path fails the WebSocket handshake: Failed, with hints.
	bad := prof
	bad.URL = strings.TrimSuffix(s.ws, "/mqtt") + "/nope"
	up2 := newUpdates(s.ts.URL + "/")
	up2.m.Form = bad
	up2.m.StartConnecting(time.Now())
	svc2 := service.New(withUpdates(service.ProfileOptions(bad, "svc-test-2"), up2.apply))
	defer svc2.Close()
	if err := svc2.Connect(ctx); err == nil {
		t.Fatal("connected to a wrong path")
	}
	up2.wait(t, "Failed", func(m *uistate.Model) bool { return m.Conn.State == uistate.Failed })
	up2.mu.Lock()
	defer up2.mu.Unlock()
	f := up2.m.Conn.Failure
	if f == nil || !f.Dial {
		t.Fatalf("failure %+v", f)
	}
	joined := strings.Join(up2.m.Conn.Hints, "\n")
	for _, want := range []string{bad.URL, `“/nope”`, `subprotocol "mqtt"`} {
		if !strings.Contains(joined, want) {
			t.Errorf("hints lack %q:\n%s", want, joined)
		}
	}
}

// withUpdates returns o with OnUpdate set.
func withUpdates(o service.Options, fn func(uistate.Update)) service.Options {
	o.OnUpdate = fn
	return o
}
