package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/maxence-charriere/go-app/v9/pkg/app"

	"github.com/ternmq/tern/wasm/service"
	"github.com/ternmq/tern/wasm/uistate"
)

// Operation time limits.
const (
	connectTimeout = 20 * time.Second
	opTimeout      = 15 * time.Second
)

// stateKeys are the go-app states a component observes to learn that a
// part of the model changed; their values are change counters. The topic
// tree and the chat announce their changes under keys of their own
// (keyTree, keyChat...), through the same Hub.bump.
var stateKeys = []struct {
	part uistate.Changed
	key  string
}{
	{uistate.ChangedConn, "tern/conn"},
	{uistate.ChangedLog, "tern/log"},
	{uistate.ChangedSubs, "tern/subs"},
	{uistate.ChangedPublish, "tern/publish"},
	{uistate.ChangedProfiles, "tern/profiles"},
	{uistate.ChangedSettings, "tern/settings"},
}

// Local storage keys.
const (
	keyProfiles = "tern.profiles"
	keyHistory  = "tern.history"
	keyForm     = "tern.form" // the connection form of earlier versions
	keyPage     = "tern.page" // uistate.PageState
	keyPassword = "tern.password"

	keySettings = "tern.settings"
)

// Hub holds the page's state and its MQTT connection, and is shared by
// every route. It follows go-app's pattern of a handler that does the I/O and
// publishes state that components observe (docs/src/markdown.go in
// go-app): components call its methods from event handlers, and render
// its Model.
//
// One connection serves the message log and the topic tree: each
// subscription is for a uistate.Sink, each message arrives once and goes
// to the sinks that asked for it. The chat keeps connections of its own
// (chathub.go), since each room's presence needs its own Will.
//
// The Model, the tree and the chat are touched on the UI goroutine only.
// The MQTT services run on goroutines of their own and hand over batched
// updates through dispatch, which costs one Dispatch per batch (the
// dispatch queue holds 4096 and blocks when full, so never one per
// message). There is one notification path: bump, under a go-app state
// key that components observe.
type Hub struct {
	m    *uistate.Model
	disp app.Dispatcher // set when the first component mounts
	revs map[string]int // change counters, by state key

	svc        *service.Service // the current connection, nil when none
	subscribed *service.Service // the service whose subscriptions were sent

	tree *treeHub
	chat *chatHub
	brk  *brokerHub

	notice     string // the notice last scheduled for dismissal
	noticeSeen int    // counts notices, so that a timer clears only its own

	reconnect bool   // connect once the page is mounted (it was connected before a reload)
	savedPage string // the page state last written, to write only changes
}

// noticeLife is how long a notice stays up.
const noticeLife = 6 * time.Second

// Env is what the page needs to know about where it runs.
type Env struct {
	PageURL  string // the page's address
	MQTTPath string // where the broker serves MQTT over WebSocket
}

// BrowserEnv returns the Env of the running page: its URL and the MQTT
// path the server passed in (TERN_MQTT_PATH).
func BrowserEnv() Env {
	e := Env{MQTTPath: app.Getenv("TERN_MQTT_PATH")}
	if app.IsClient {
		e.PageURL = app.Window().URL().String()
	}
	return e
}

// NewHub returns the hub of a page, with the state saved in the browser's
// local storage (profiles, publish history, the last connection form and
// the settings).
func NewHub(env Env) *Hub {
	h := &Hub{m: uistate.NewModel(env.PageURL, env.MQTTPath), revs: map[string]int{}}
	h.tree, h.chat, h.brk = newTreeHub(h), newChatHub(h), newBrokerHub(h)
	h.load()
	return h
}

// Model returns the state; use it on the UI goroutine only.
func (h *Hub) Model() *uistate.Model { return h.m }

// attach is called by every component when it mounts; the first call
// keeps the dispatcher for updates from the service's goroutines.
func (h *Hub) attach(ctx app.Context) {
	if h.disp == nil {
		h.disp = ctx.Dispatcher()
		applyTheme(h.m.Theme)
		if h.reconnect {
			h.reconnect = false
			ctx.Defer(h.Connect)
		}
	}
}

// observe makes the component update when one of the parts changes, and
// calls onChange first (on the UI goroutine) when it is not nil.
func observe(ctx app.Context, parts uistate.Changed, onChange func()) {
	for _, s := range stateKeys {
		if parts&s.part != 0 {
			observeKey(ctx, s.key, onChange)
		}
	}
}

// observeKey makes the component update when the go-app state key is set,
// calling onChange first (on the UI goroutine) when it is not nil.
func observeKey(ctx app.Context, key string, onChange func()) {
	var rev int
	o := ctx.ObserveState(key)
	if onChange != nil {
		o = o.OnChange(onChange)
	}
	o.Value(&rev)
}

// bump tells the components observing key that it changed (a nil ctx,
// from dispatch without a page, only counts).
func (h *Hub) bump(ctx app.Context, key string) {
	h.revs[key]++
	if ctx != nil {
		ctx.SetState(key, h.revs[key])
	}
}

// notify tells the observing components which parts changed, and saves
// the parts that persist. It runs on the UI goroutine.
func (h *Hub) notify(ctx app.Context, ch uistate.Changed) {
	if ch == 0 {
		return
	}
	h.save(ch)
	if n := h.m.Notice; n != "" && n != h.notice {
		h.dismissLater()
	}
	h.notice = h.m.Notice
	for _, s := range stateKeys {
		if ch&s.part != 0 {
			h.bump(ctx, s.key)
		}
	}
}

// dismissLater clears the current notice after noticeLife unless another
// one replaced it.
func (h *Hub) dismissLater() {
	if h.disp == nil {
		return
	}
	h.noticeSeen++
	seen := h.noticeSeen
	time.AfterFunc(noticeLife, func() {
		h.post(func(m *uistate.Model) uistate.Changed {
			if h.noticeSeen != seen || m.Notice == "" {
				return 0
			}
			m.Notice = ""
			return uistate.ChangedSettings
		})
	})
}

// post runs fn on the UI goroutine and notifies what it changed. Use it
// from other goroutines: it costs one Dispatch.
func (h *Hub) post(fn func(m *uistate.Model) uistate.Changed) {
	h.dispatch(func(ctx app.Context) { h.notify(ctx, fn(h.m)) })
}

// dispatch runs fn on the UI goroutine with one Dispatch (from any
// goroutine). Before the page has a dispatcher (server-side rendering,
// tests) it runs fn at once with a nil context.
func (h *Hub) dispatch(fn func(ctx app.Context)) {
	if h.disp == nil {
		fn(nil)
		return
	}
	h.disp.Dispatch(app.Dispatch{Mode: app.Update, Function: fn})
}

// say shows a short notice.
func (h *Hub) say(ctx app.Context, format string, args ...any) {
	h.m.Notice = fmt.Sprintf(format, args...)
	h.notify(ctx, uistate.ChangedSettings)
}

// Connect connects with the connection form, replacing any connection.
func (h *Hub) Connect(ctx app.Context) {
	m := h.m
	if err := m.Form.Validate(); err != nil {
		h.say(ctx, "Cannot connect: %v", err)
		return
	}
	h.stopService()
	m.StartConnecting(time.Now())
	m.WantConnected = true
	m.Notice = ""
	var svc *service.Service
	o := service.ProfileOptions(m.Form, m.ClientID())
	o.MaxPending = treeMaxPending
	o.OnUpdate = func(u uistate.Update) { h.dispatch(func(ctx app.Context) { h.apply(ctx, svc, u) }) }
	svc = service.New(o)
	h.svc = svc
	h.tree.restart(ctx)
	h.notify(ctx, uistate.ChangedConn|uistate.ChangedSubs|uistate.ChangedSettings)
	if m.Form.Password != "" {
		// For this tab only: a reload connects again without asking.
		saveSession(keyPassword, m.Form.Password)
	}
	go dial(svc)
}

// dial connects svc; the outcome arrives as an update. It blocks: run it
// on a goroutine of its own.
func dial(svc *service.Service) {
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	svc.Connect(ctx)
}

// apply applies an update of svc to the log and the tree, unless svc was
// replaced since, and sends the subscriptions once svc is first connected.
func (h *Hub) apply(ctx app.Context, svc *service.Service, u uistate.Update) {
	if h.svc != svc {
		return
	}
	ch := h.m.Apply(u)
	if h.m.Conn.State == uistate.Connected && h.subscribed != svc {
		// The client makes the subscriptions again by itself on later
		// reconnections if the server lost the session.
		h.subscribed = svc
		for _, s := range h.m.Subs.List() {
			h.sendSubscribe(svc, s)
		}
	}
	h.notify(ctx, ch)
	h.tree.apply(ctx, svc, u)
	h.brk.apply(ctx, svc, u)
}

// Disconnect ends the connection.
func (h *Hub) Disconnect(ctx app.Context) {
	h.stopService()
	h.m.WantConnected = false
	h.m.SetConn(uistate.ConnEvent{State: uistate.Disconnected, Time: time.Now()})
	h.m.Subs.SetPending()
	h.notify(ctx, uistate.ChangedConn|uistate.ChangedSubs)
	h.tree.follow(ctx)
	h.brk.follow(ctx)
}

func (h *Hub) stopService() {
	if svc := h.svc; svc != nil {
		h.svc, h.subscribed = nil, nil
		tree, sys := h.tree.subscribed == svc, h.brk.subscribed == svc
		go func() {
			// A persistent session would otherwise keep "#" and $SYS/#
			// and have the broker queue everything for them.
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			if tree {
				svc.Unsubscribe(ctx, uistate.SinkTree, "#")
				svc.Unsubscribe(ctx, uistate.SinkTree, "$SYS/#")
			}
			if sys {
				svc.Unsubscribe(ctx, uistate.SinkSys, uistate.SysFilter)
			}
			cancel()
			svc.Close() // it waits for the DISCONNECT to be written
		}()
	}
}

// connected returns the service when the page is connected.
func (h *Hub) connected() *service.Service {
	if h.m.Conn.State == uistate.Connected {
		return h.svc
	}
	return nil
}

// Subscribe adds a subscription, and sends it when connected.
func (h *Hub) Subscribe(ctx app.Context, s uistate.Subscription) bool {
	id, err := h.m.Subs.Add(s)
	if err != nil {
		h.say(ctx, "Cannot subscribe to %q: %v", s.Filter, err)
		return false
	}
	if svc := h.connected(); svc != nil {
		h.sendSubscribe(svc, *h.m.Subs.Get(id))
	}
	h.m.Notice = ""
	h.notify(ctx, uistate.ChangedSubs|uistate.ChangedSettings)
	return true
}

func (h *Hub) sendSubscribe(svc *service.Service, s uistate.Subscription) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		code, err := svc.Subscribe(ctx, uistate.SinkLog, s)
		h.post(func(m *uistate.Model) uistate.Changed {
			if h.svc != svc {
				return 0
			}
			m.Subs.SetResult(s.ID, code, err)
			return uistate.ChangedSubs
		})
	}()
}

// Unsubscribe removes a subscription.
func (h *Hub) Unsubscribe(ctx app.Context, id int) {
	s := h.m.Subs.Get(id)
	if s == nil {
		return
	}
	filter := s.Filter
	h.m.Subs.Remove(id)
	h.notify(ctx, uistate.ChangedSubs)
	svc := h.connected()
	if svc == nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		if err := svc.Unsubscribe(ctx, uistate.SinkLog, filter); err != nil {
			h.post(func(m *uistate.Model) uistate.Changed {
				m.Notice = fmt.Sprintf("Unsubscribe from %q failed: %v", filter, err)
				return uistate.ChangedSettings
			})
		}
	}()
}

// Publish publishes p and records it in the history once sent.
func (h *Hub) Publish(ctx app.Context, p uistate.Publish) {
	if err := p.Validate(); err != nil {
		h.say(ctx, "Cannot publish: %v", err)
		return
	}
	svc := h.connected()
	if svc == nil {
		h.say(ctx, "Not connected: connect first, then publish.")
		return
	}
	go func() {
		cctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		err := svc.Publish(cctx, p)
		h.post(func(m *uistate.Model) uistate.Changed {
			if err != nil {
				m.Notice = fmt.Sprintf("Publish to %q failed: %v", p.Topic, err)
				return uistate.ChangedSettings
			}
			m.History.Add(p, time.Now())
			m.Notice = fmt.Sprintf("Published to %s", p.Topic)
			return uistate.ChangedPublish | uistate.ChangedSettings
		})
	}()
}

// Change runs fn on the model and notifies what it changed; for event
// handlers that edit the state directly.
func (h *Hub) Change(ctx app.Context, fn func(m *uistate.Model) uistate.Changed) {
	h.notify(ctx, fn(h.m))
}

// settings is what is saved of the settings.
type settings struct {
	Theme  uistate.Theme `json:"theme,omitempty"`
	Format string        `json:"format,omitempty"`
}

// load reads the saved state from local storage.
func (h *Hub) load() {
	m := h.m
	loadJSON(keyProfiles, &m.Profiles)
	loadJSON(keyHistory, &m.History.List)
	var ps uistate.PageState
	if loadJSON(keyPage, &ps) {
		if ps.Form.Password == "" {
			loadSession(keyPassword, &ps.Form.Password)
		}
		h.reconnect = m.Restore(ps)
	} else if loadJSON(keyForm, &ps.Form) && ps.Form.Validate() == nil {
		m.LoadProfile(ps.Form)
	}
	h.savedPage = string(m.PageState().Encode())
	var s settings
	if loadJSON(keySettings, &s) {
		m.Theme, m.Format = s.Theme, uistate.ParseFormat(s.Format)
	}
}

// save writes the parts of the state that persist.
func (h *Hub) save(ch uistate.Changed) {
	m := h.m
	if ch&uistate.ChangedProfiles != 0 {
		saveJSON(keyProfiles, m.Profiles)
	}
	if ch&uistate.ChangedPublish != 0 {
		saveJSON(keyHistory, m.History.List)
	}
	if ch&uistate.ChangedSettings != 0 {
		saveJSON(keySettings, settings{Theme: m.Theme, Format: m.Format.String()})
	}
	if ch&(uistate.ChangedConn|uistate.ChangedSubs|uistate.ChangedPublish|uistate.ChangedLog) != 0 {
		h.savePage()
	}
}

// savePage keeps the page state for the next visit, when it changed.
func (h *Hub) savePage() {
	b := h.m.PageState().Encode()
	if string(b) == h.savedPage {
		return
	}
	h.savedPage = string(b)
	saveTo("localStorage", keyPage, json.RawMessage(b))
}

// loadJSON reads key from local storage into v.
func loadJSON(key string, v any) bool { return loadFrom("localStorage", key, v) }

// saveJSON writes v to local storage under key.
func saveJSON(key string, v any) { saveTo("localStorage", key, v) }

// loadSession reads key from session storage into v.
func loadSession(key string, v any) bool { return loadFrom("sessionStorage", key, v) }

// saveSession writes v to session storage under key.
func saveSession(key string, v any) { saveTo("sessionStorage", key, v) }

// loadFrom reads key from the browser's storage area into v.
func loadFrom(area, key string, v any) (ok bool) {
	if !app.IsClient {
		return false
	}
	defer func() {
		if recover() != nil { // storage disabled
			ok = false
		}
	}()
	s := app.Window().Get(area).Call("getItem", key)
	if s.IsNull() || s.IsUndefined() {
		return false
	}
	return json.Unmarshal([]byte(s.String()), v) == nil
}

// saveTo writes v to the browser's storage area under key.
func saveTo(area, key string, v any) {
	if !app.IsClient {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	defer func() { recover() }() // storage disabled or full: not fatal
	app.Window().Get(area).Call("setItem", key, string(b))
}
