package e2e

import (
	"context"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
	"github.com/ternmq/tern/internal/testkit/brokerkit"
	"github.com/ternmq/tern/wasm/chat"
	"github.com/ternmq/tern/wasm/service"
	"github.com/ternmq/tern/wasm/uistate"
)

// chatUpdates applies a chat connection's updates to a chat.State and lets a
// test wait for a condition on it.
type chatUpdates struct {
	mu     sync.Mutex
	cond   *sync.Cond
	st     *chat.State
	events []uistate.ConnEvent
}

func newChatUpdates() *chatUpdates {
	u := &chatUpdates{st: chat.NewState()}
	u.cond = sync.NewCond(&u.mu)
	return u
}

func (u *chatUpdates) apply(up uistate.Update) {
	u.mu.Lock()
	u.events = append(u.events, up.Conn...)
	for _, m := range up.Messages {
		u.st.Receive(m.Topic, m.Payload, m.Retain, m.Time)
	}
	u.mu.Unlock()
	u.cond.Broadcast()
}

// wait blocks until ok holds, or fails the test after 10 s.
func (u *chatUpdates) wait(t *testing.T, what string, ok func(u *chatUpdates) bool) {
	t.Helper()
	timer := time.AfterFunc(10*time.Second, u.cond.Broadcast)
	defer timer.Stop()
	deadline := time.Now().Add(10 * time.Second)
	u.mu.Lock()
	defer u.mu.Unlock()
	for !ok(u) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; the room holds %q, events %+v", what, texts(u.st.Room("r")), u.events)
		}
		u.cond.Wait()
	}
}

func texts(r *chat.Room) []string {
	var out []string
	if r == nil {
		return nil
	}
	for _, e := range r.Entries() {
		if e.Kind == chat.Chat {
			from := e.From
			if e.User != "" {
				from += " ✓" + e.User
			}
			out = append(out, from+": "+e.Text)
		}
	}
	return out
}

func onlineNicks(r *chat.Room) []string {
	var out []string
	if r == nil {
		return nil
	}
	for _, m := range r.Online() {
		out = append(out, m.Nick)
	}
	return out
}

// TestChatConnWithBroker runs the chat's connections natively against the
// broker, over TCP: a room session publishes its presence, keeps the
// messages sent while it is away (a new Conn with the same client id gets
// them, before it has subscribed again), its Will clears the presence when
// its connection vanishes, and leaving clears it too.
func TestChatConnWithBroker(t *testing.T) {
	s := newSite(t, t.TempDir()) // no client build needed
	port := s.tcp(t)
	brokerURL := "mqtt://127.0.0.1:" + port
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	lobbyUp := newChatUpdates()
	lobby := service.New(service.Options{URL: brokerURL, Client: client.Options{ClientID: "lobby-test", CleanStart: true},
		Subscribe: []uistate.Subscription{{Filter: chat.PresenceFilter, QoS: 1}}, DefaultSink: uistate.SinkChat, OnUpdate: lobbyUp.apply})
	defer lobby.Close()
	if err := lobby.Connect(ctx); err != nil {
		t.Fatal(err)
	}

	// Alice joins room "r" through a connection the test can cut.
	var mu sync.Mutex
	var conns []net.Conn
	dial := func(ctx context.Context, u *url.URL) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", u.Host)
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
		return c, err
	}
	id := chat.RoomClientID("tctest", "r")
	roomOpts := func(up *chatUpdates) service.Options {
		o := service.Options{URL: brokerURL, DefaultSink: uistate.SinkChat,
			Client:    client.Options{ClientID: id, Dialer: dial, Will: &codec.Will{Topic: chat.PresenceTopic("r", id), QoS: 1, Retain: true}},
			Subscribe: []uistate.Subscription{{Filter: chat.MessagesFilter("r"), QoS: 1}},
			Hello: &client.Message{Topic: chat.PresenceTopic("r", id), Retain: true,
				Payload: chat.Presence{Nick: "alice"}.Encode()},
			OnUpdate: up.apply}
		o.Client.ConnectProperties.SessionExpiryInterval = 600
		return o
	}
	aliceUp := newChatUpdates()
	alice := service.New(roomOpts(aliceUp))
	if err := alice.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	lobbyUp.wait(t, "alice online", func(u *chatUpdates) bool {
		return len(onlineNicks(u.st.Room("r"))) == 1 && onlineNicks(u.st.Room("r"))[0] == "alice"
	})

	bob, err := client.Connect(ctx, brokerURL, client.Options{ClientID: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Disconnect(context.Background(), codec.NormalDisconnection)
	say := func(text, user string) {
		t.Helper()
		m := chat.NewMessage("bob", text, time.Now())
		if err := bob.Publish(ctx, &client.Message{Topic: chat.SendTopic("r", user), QoS: 1, Payload: m.Encode()}); err != nil {
			t.Fatal(err)
		}
	}
	say("one", "")
	aliceUp.wait(t, "one", func(u *chatUpdates) bool { return len(texts(u.st.Room("r"))) == 1 })

	// Alice goes away normally (the session stays); bob talks meanwhile.
	alice.Close()
	testkit.WaitFor(t, brokerkit.Offline(t, s.srv, id), "alice's session offline")
	say("two", "")
	say("three", "bob") // on chat/r/messages/bob, which the filter matches too
	backUp := newChatUpdates()
	back := service.New(roomOpts(backUp))
	defer back.Close()
	if err := back.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	backUp.wait(t, "the messages sent while away", func(u *chatUpdates) bool {
		got := texts(u.st.Room("r"))
		return len(got) == 2 && got[0] == "bob: two" && got[1] == "bob ✓bob: three"
	})
	backUp.wait(t, "connected", func(u *chatUpdates) bool { return len(u.events) > 0 })
	backUp.mu.Lock()
	if e := backUp.events[0]; e.State != uistate.Connected || e.Server == nil || !e.Server.SessionPresent {
		t.Errorf("event %+v: the session was not resumed", e)
	}
	backUp.mu.Unlock()

	// The connection vanishes: the broker publishes the Will.
	mu.Lock()
	last := conns[len(conns)-1]
	mu.Unlock()
	last.Close()
	// (The Conn comes back at once, so look for the notice, which stays.)
	lobbyUp.wait(t, "alice gone (Will)", func(u *chatUpdates) bool {
		for _, e := range u.st.Room("r").Entries() {
			if e.Kind == chat.Left && e.From == "alice" {
				return true
			}
		}
		return false
	})
	// The Conn reconnects by itself and says hello again.
	lobbyUp.wait(t, "alice back", func(u *chatUpdates) bool { return len(onlineNicks(u.st.Room("r"))) == 1 })

	// Leaving clears the presence and the session's subscription.
	back.Leave(ctx, &client.Message{Topic: chat.PresenceTopic("r", id), QoS: 1, Retain: true})
	lobbyUp.wait(t, "alice left", func(u *chatUpdates) bool { return len(onlineNicks(u.st.Room("r"))) == 0 })
	if got := retained(t, s.ws, "chat/#"); len(got) != 0 {
		t.Errorf("retained chat messages after leaving: %v", got)
	}
}
