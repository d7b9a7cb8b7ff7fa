// Package ui holds the go-app components of Tern's web client and the Hub
// they share. Components are thin: they render a uistate.Model and call
// the Hub from their event handlers; the Hub owns the MQTT service (one
// per connection, in wasm/service) and applies its batched updates.
//
// Only the browser program (wasm/cmd/app) registers these components;
// the broker's web handler answers the same routes (uistate.Routes) with
// a placeholder and does not link this package. It builds natively too,
// so that components are checked with go-app's testers.
package ui

import (
	"strconv"

	"github.com/maxence-charriere/go-app/v9/pkg/app"

	"github.com/ternmq/tern/wasm/uistate"
)

// Page is one route of the client: a tab in the header.
type Page struct {
	Path  string
	Title string
	Key   string // accesskey (Alt+Shift+key in most browsers)
	New   func(h *Hub) app.UI
}

// The route paths.
const (
	PathMessages   = "/"
	PathConnection = "/connection"
	PathTree       = "/tree"
	PathChat       = "/chat"
)

// Pages lists the routes in tab order, each a component that renders the
// Hub's state: the Messages page and the topic tree read the Hub's one
// connection, the chat has its own (chathub.go).
var Pages = []Page{
	{Path: PathMessages, Title: "Messages", Key: "m", New: func(h *Hub) app.UI { return &MessagesPage{Hub: h} }},
	{Path: PathConnection, Title: "Connection", Key: "c", New: func(h *Hub) app.UI { return &ConnectionPage{Hub: h} }},
	{Path: PathTree, Title: "Topic tree", Key: "t", New: func(h *Hub) app.UI { return &TreePage{Hub: h} }},
	{Path: PathChat, Title: "Chat", Key: "h", New: func(h *Hub) app.UI { return &ChatPage{Hub: h} }},
	{Path: PathBroker, Title: "Broker", Key: "b", New: func(h *Hub) app.UI { return &BrokerPage{Hub: h} }}, // broker.go
}

// Register registers every page with app.RouteFunc, so that each gets the
// shared Hub. All routes build the same Shell type, which go-app updates
// in place on navigation: the shell, and the connection, stay.
func Register(h *Hub) {
	for _, p := range Pages {
		path := p.Path
		app.RouteFunc(path, func() app.Composer { return &Shell{Hub: h, Page: path} })
	}
}

// Shell is the page frame: header with the tabs, the connection status
// and the theme toggle, notices, the current page and the footer.
type Shell struct {
	app.Compo
	Hub  *Hub
	Page string

	updateReady bool
	closeKeys   func()
}

// OnMount attaches the Hub and listens for the keyboard shortcuts.
func (s *Shell) OnMount(ctx app.Context) {
	observe(ctx, uistate.ChangedSettings, nil)
	s.Hub.attach(ctx)
	s.closeKeys = app.Window().AddEventListener("keydown", s.onKey)
}

// OnDismount releases the keyboard listener.
func (s *Shell) OnDismount() {
	if s.closeKeys != nil {
		s.closeKeys()
		s.closeKeys = nil
	}
}

// OnAppUpdate shows the banner when a new version has been installed by
// the service worker.
func (s *Shell) OnAppUpdate(ctx app.Context) {
	s.updateReady = ctx.AppUpdateAvailable()
}

// onKey handles the page-wide shortcuts: "/" focuses the log filter,
// Escape dismisses the notice.
func (s *Shell) onKey(ctx app.Context, e app.Event) {
	tag := e.Get("target").Get("tagName").String()
	typing := tag == "INPUT" || tag == "TEXTAREA" || tag == "SELECT"
	switch {
	case isKey(e, "/", false) && !typing && s.Page == PathMessages:
		e.PreventDefault()
		focus("log-filter-topic")
	case isKey(e, "Escape", false) && s.Hub.m.Notice != "":
		s.Hub.Change(ctx, func(m *uistate.Model) uistate.Changed { m.Notice = ""; return uistate.ChangedSettings })
	}
}

// Render draws the frame around the current page.
func (s *Shell) Render() app.UI {
	m := s.Hub.m
	var page app.UI = app.P().Text("Not found")
	for _, p := range Pages {
		if p.Path == s.Page {
			page = p.New(s.Hub)
		}
	}
	return app.Div().ID("tern-app").Class("app").Body(
		app.A().Href("#main").Class("skip").Text("Skip to content"),
		app.Header().Class("top").Body(
			app.A().Href(PathMessages).Class("brand").Title("Tern MQTT web client").Body(
				app.Img().Src("/web/icon.svg").Alt("").Width(28).Height(28),
				app.Span().Text("Tern"),
			),
			app.Nav().Class("tabs").Aria("label", "Pages").Body(
				app.Range(Pages).Slice(func(i int) app.UI {
					p := Pages[i]
					a := app.A().Href(p.Path).Class("tab").AccessKey(p.Key).Text(p.Title)
					if p.Path == s.Page {
						a = a.Class("active").Aria("current", "page")
					}
					return a
				}),
			),
			app.Div().Class("top-end").Body(
				&StatusPill{Hub: s.Hub},
				app.Button().ID("theme-toggle").Type("button").Class("btn ghost").
					Title("Color theme: "+m.Theme.Label()+" (click to change)").
					Aria("label", "Color theme: "+m.Theme.Label()).
					Text("◐ "+m.Theme.Label()).
					OnClick(s.toggleTheme),
			),
		),
		app.If(s.updateReady,
			app.Div().ID("update-banner").Class("banner").Role("status").Body(
				app.Span().Text("A new version of the web client is ready."),
				app.Button().Type("button").Class("btn primary").Text("Reload").
					OnClick(func(ctx app.Context, e app.Event) { ctx.Reload() }),
			),
		),
		app.If(m.Notice != "",
			app.Div().ID("notice").Class("notice").Role("status").Body(
				app.Span().Text(m.Notice),
				app.Button().Type("button").Class("btn ghost small").Aria("label", "Dismiss").Text("×").
					OnClick(func(ctx app.Context, e app.Event) {
						s.Hub.Change(ctx, func(m *uistate.Model) uistate.Changed { m.Notice = ""; return uistate.ChangedSettings })
					}),
			),
		),
		app.Main().ID("main").Body(page),
		app.Footer().Class("foot").Body(
			app.Span().Text("MQTT over WebSocket at "),
			app.Code().Text(uistate.DefaultMQTTPath),
			app.Span().Text(` on this server (subprotocol "mqtt"). Press / to filter the log.`),
		),
	)
}

func (s *Shell) toggleTheme(ctx app.Context, e app.Event) {
	s.Hub.Change(ctx, func(m *uistate.Model) uistate.Changed {
		m.Theme = m.Theme.Next()
		applyTheme(m.Theme)
		return uistate.ChangedSettings
	})
}

// StatusPill shows in the header the state of each connection the page
// holds: the one of the Messages page and the topic tree, and, once a
// room is joined, the chat's.
type StatusPill struct {
	app.Compo
	Hub *Hub
}

// OnMount observes the connections.
func (p *StatusPill) OnMount(ctx app.Context) {
	observe(ctx, uistate.ChangedConn, nil)
	observeKey(ctx, keyChat, nil)
}

// Render draws the pills.
func (p *StatusPill) Render() app.UI {
	c := &p.Hub.m.Conn
	title := "Messages and topic tree: " + c.State.String()
	if c.URL != "" {
		title += ": " + c.URL
	}
	if c.Failure != nil {
		title += " — " + c.Failure.Text
	}
	chatState, chatConns := p.Hub.chat.connState()
	return app.Span().Class("pills").Body(
		app.Span().ID("conn-status").Class("pill", "state-"+stateClass(c.State)).
			Role("status").Aria("live", "polite").Title(title).Body(
			app.Span().Class("dot").Aria("hidden", "true"),
			app.Span().ID("conn-status-text").Text(c.State.String()),
		),
		app.If(chatConns > 0,
			app.Span().ID("chat-status").Class("pill", "state-"+stateClass(chatState)).
				Role("status").Aria("live", "polite").
				Title("Chat: "+strconv.Itoa(chatConns)+" "+plural(chatConns, "connection", "connections")+", "+chatState.String()).Body(
				app.Span().Class("dot").Aria("hidden", "true"),
				app.Span().ID("chat-status-text").Text("Chat "+chatState.String()),
			),
		),
	)
}

func stateClass(s uistate.ConnState) string {
	switch s {
	case uistate.Connected:
		return "ok"
	case uistate.Connecting, uistate.Reconnecting:
		return "busy"
	case uistate.Failed:
		return "bad"
	}
	return "off"
}
