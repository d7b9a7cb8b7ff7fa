package e2e

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/broker/store/pebble"
	"github.com/ternmq/tern/internal/testkit"
	"github.com/ternmq/tern/web"
)

// durableSite is a site whose broker keeps its state in a pebble store
// and can be restarted under the same address, as tern with its default
// durable store.
type durableSite struct {
	*site
	dir  string
	st   *pebble.Store
	mqtt atomic.Pointer[http.Handler]
}

func newDurableSite(t *testing.T, clientDir string) *durableSite {
	t.Helper()
	d := &durableSite{site: &site{bytes: &counter{}}, dir: t.TempDir()}
	d.open(t)
	mux := http.NewServeMux()
	mux.Handle("/mqtt", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.mqttConns.Add(1)
		(*d.mqtt.Load()).ServeHTTP(w, r)
	}))
	mux.Handle("/", web.Secure(web.Handler(web.Options{Dir: clientDir, Logger: slog.New(slog.DiscardHandler)}), web.Policy{}))
	d.ts = httptest.NewServer(mux)
	d.ws = "ws" + strings.TrimPrefix(d.ts.URL, "http") + "/mqtt"
	t.Cleanup(func() {
		d.stop()
		d.ts.Close()
	})
	return d
}

// open opens the store and a broker on it, and routes /mqtt to it.
func (d *durableSite) open(t *testing.T) {
	t.Helper()
	st, err := pebble.Open(d.dir, pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := broker.Open(context.Background(), broker.Options{Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	d.st, d.srv = st, srv
	h := srv.WebSocketHandler(broker.WebSocketOptions{})
	d.mqtt.Store(&h)
}

func (d *durableSite) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d.srv.Shutdown(ctx)
	d.st.Close()
}

// restart stops the broker and starts it again from its store.
func (d *durableSite) restart(t *testing.T) {
	t.Helper()
	d.stop()
	d.open(t)
}

// TestChatHistory: alice sends three messages to a room and goes; the
// broker restarts; bob, who was never in the room, joins and sees them,
// read from the room's retained history slots.
func TestChatHistory(t *testing.T) {
	testkit.Chromium(t)
	dir := clientBuild(t)
	s := newDurableSite(t, dir)

	alice := newPage(t, s.site)
	joinChat(alice, "alice", "hist")
	for _, text := range []string{"one", "two", "three"} {
		alice.send(text)
	}
	alice.waitJS("sent", chatHas("alice", "three")+` && !document.querySelector("#chat-messages .pending")`, 15*time.Second)
	chromedp.Cancel(alice.ctx) // alice's browser goes: nobody is online

	s.restart(t)
	if n := s.srv.RetainedCount(); n < 3 {
		t.Fatalf("%d retained messages after the restart, want the 3 history slots at least", n)
	}

	bob := newPage(t, s.site)
	joinChat(bob, "bob", "hist")
	for _, text := range []string{"one", "two", "three"} {
		bob.waitJS("history: "+text, chatHas("alice", text), 15*time.Second)
	}
	bob.waitJS("in order", `[...document.querySelectorAll("#chat-messages .chat-text")].map(e => e.textContent).join(",") === "one,two,three"`, 5*time.Second)
}
