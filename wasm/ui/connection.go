package ui

import (
	"strconv"
	"strings"

	"github.com/maxence-charriere/go-app/v9/pkg/app"

	"github.com/ternmq/tern/wasm/uistate"
)

// connectButton is the Connect / Disconnect button for the current state.
func connectButton(h *Hub) app.UI {
	if h.m.Conn.State.Live() {
		return app.Button().ID("conn-disconnect").Type("button").Class("btn").Text("Disconnect").
			OnClick(func(ctx app.Context, e app.Event) {
				// go-app patches this very button into the submit button
				// Connect before the click's default action runs: without
				// this, that action submits the form and connects again.
				e.PreventDefault()
				h.Disconnect(ctx)
			})
	}
	return app.Button().ID("conn-connect").Type("submit").Class("btn primary").Text("Connect")
}

// hints lists what to check after a failed connection.
func hints(c *uistate.Conn) app.UI {
	if len(c.Hints) == 0 && c.Failure == nil {
		return nil
	}
	title := "Connection failed"
	if c.State == uistate.Reconnecting {
		title = "Connection lost — reconnecting"
	}
	var text string
	if c.Failure != nil {
		text = c.Failure.Text
	}
	return app.Div().ID("conn-hints").Class("hints").Role("alert").Body(
		app.Strong().Text(title),
		app.If(text != "", app.P().Class("err").Text(text)),
		app.Ul().Body(app.Range(c.Hints).Slice(func(i int) app.UI { return app.Li().Text(c.Hints[i]) })),
	)
}

// ConnBar is the connection line of the Messages page: the URL in full,
// the Connect button, and the hints after a failure.
type ConnBar struct {
	app.Compo
	Hub *Hub
}

// OnMount observes the connection.
func (b *ConnBar) OnMount(ctx app.Context) { observe(ctx, uistate.ChangedConn, nil) }

// Render draws the bar.
func (b *ConnBar) Render() app.UI {
	h := b.Hub
	m := h.m
	live := m.Conn.State.Live()
	return app.Section().Class("card connbar").Aria("label", "Connection").Body(
		app.Form().Class("row").OnSubmit(func(ctx app.Context, e app.Event) {
			e.PreventDefault()
			h.Connect(ctx)
		}).Body(
			app.Label().For("conn-url").Class("sr-only").Text("Broker URL"),
			app.Input().ID("conn-url").Type("url").Class("grow mono").Value(m.Form.URL).
				Disabled(live).Spellcheck(false).AutoComplete(false).
				Title("The broker's WebSocket URL, shown in full").
				OnChange(func(ctx app.Context, e app.Event) { m.Form.URL = inputValue(ctx) }),
			app.Span().Class("muted small").Text("MQTT "+versionName(m.Form.Version)+" · "+m.ClientID()),
			connectButton(h),
			app.A().Href(PathConnection).Class("btn ghost").Text("Options…"),
		),
		hints(&m.Conn),
	)
}

func versionName(v int) string {
	if v == 4 {
		return "3.1.1"
	}
	return "5.0"
}

// ConnectionPage is the full connection form, the server's answer, and
// the saved profiles.
type ConnectionPage struct {
	app.Compo
	Hub *Hub

	typed typed
}

// OnMount observes the connection and the profiles.
func (p *ConnectionPage) OnMount(ctx app.Context) {
	observe(ctx, uistate.ChangedConn|uistate.ChangedProfiles, nil)
}

// Render draws the page.
func (p *ConnectionPage) Render() app.UI {
	return app.Div().Class("page connection").Body(
		p.form(),
		p.server(),
		p.profiles(),
	)
}

// field is a labelled form control.
func field(id, label string, control app.UI, help ...string) app.UI {
	return app.Div().Class("field").Body(
		app.Label().For(id).Text(label),
		control,
		app.If(len(help) > 0, app.Small().Class("muted").Text(strings.Join(help, " "))),
	)
}

func (p *ConnectionPage) form() app.UI {
	h := p.Hub
	m := h.m
	f := &m.Form
	live := m.Conn.State.Live()
	v5 := f.Version == 5
	will := f.Will
	text := func(id string, v *string) app.HTMLInput {
		return p.typed.input(app.Input().ID(id).Type("text"), id, *v).Disabled(live).Spellcheck(false).AutoComplete(false).
			OnInput(func(ctx app.Context, e app.Event) { *v = p.typed.read(ctx) })
	}
	number := func(id string, v uint64, max uint64, set func(uint64)) app.HTMLInput {
		return app.Input().ID(id).Type("number").Min(0).Max(max).Value(strconv.FormatUint(v, 10)).Disabled(live).
			OnInput(func(ctx app.Context, e app.Event) { set(atoi(inputValue(ctx), max)) })
	}
	return app.Section().Class("card").Aria("labelledby", "conn-title").Body(
		app.H2().ID("conn-title").Text("Connection"),
		app.Div().Class("row").Body(
			&StatusPill{Hub: h},
			app.Span().Class("mono small").Text(m.Conn.URL),
		),
		hints(&m.Conn),
		app.Form().ID("conn-form").Class("grid-form").OnSubmit(func(ctx app.Context, e app.Event) {
			e.PreventDefault()
			h.Connect(ctx)
		}).Body(
			field("conn-url", "Broker URL", text("conn-url", &f.URL).Type("url").Class("mono"),
				"ws:// or wss://, with the path (Tern: /mqtt). Shown in full."),
			field("conn-version", "MQTT version", app.Select().ID("conn-version").Disabled(live).
				OnChange(func(ctx app.Context, e app.Event) { f.Version = int(atoi(inputValue(ctx), 5)) }).Body(
				app.Option().Value("5").Selected(v5).Text("5.0"),
				app.Option().Value("4").Selected(!v5).Text("3.1.1"),
			)),
			field("conn-clientid", "Client ID", app.Div().Class("row").Body(
				text("conn-clientid", &f.ClientID).Class("grow mono"),
				app.Button().Type("button").Class("btn ghost small").Disabled(live).Text("New random").
					Title("Each tab gets its own random id, so two tabs never take over each other's session").
					OnClick(func(ctx app.Context, e app.Event) {
						m.TabClientID = uistate.RandomClientID()
						f.ClientID = m.TabClientID
					}),
			), "Random for each tab unless you set one."),
			field("conn-username", "User name", text("conn-username", &f.Username)),
			field("conn-password", "Password", app.Div().Class("row").Body(
				app.Input().ID("conn-password").Type("password").Class("grow").Value(f.Password).Disabled(live).
					AutoComplete(false).OnInput(func(ctx app.Context, e app.Event) { f.Password = inputValue(ctx) }),
				app.Label().Class("check").Body(
					app.Input().Type("checkbox").Checked(f.SavePassword).Disabled(live).
						OnChange(func(ctx app.Context, e app.Event) { f.SavePassword = checked(ctx) }),
					app.Span().Text("Save in profile"),
				),
			)),
			field("conn-auth", "Authentication", app.Select().ID("conn-auth").Disabled(live).
				OnChange(func(ctx app.Context, e app.Event) { f.Auth = inputValue(ctx) }).Body(
				app.Range(uistate.AuthMethods[:]).Slice(func(i int) app.UI {
					a := uistate.AuthMethods[i]
					return app.Option().Value(a[0]).Selected(f.Auth == a[0]).Text(a[1])
				}),
			), "Password sends it in the CONNECT; SCRAM-SHA-256 (MQTT 5.0) proves it without sending it."),
			field("conn-keepalive", "Keep alive (s)", number("conn-keepalive", uint64(f.KeepAlive), 65535,
				func(n uint64) { f.KeepAlive = uint16(n) }), "0 turns it off."),
			app.Div().Class("field").Body(
				app.Label().Class("check").Body(
					app.Input().ID("conn-clean").Type("checkbox").Checked(f.CleanStart).Disabled(live).
						OnChange(func(ctx app.Context, e app.Event) { f.CleanStart = checked(ctx) }),
					app.Span().Text("Clean start"),
				),
			),
			app.If(v5, field("conn-expiry", "Session expiry (s)", number("conn-expiry", uint64(f.SessionExpiry), 1<<32-1,
				func(n uint64) { f.SessionExpiry = uint32(n) }), "How long the broker keeps the session after a disconnect (5.0).")),
			app.Details().Class("field wide").Open(will != nil).Body(
				app.Summary().Text("Will message"),
				app.Label().Class("check").Body(
					app.Input().ID("will-on").Type("checkbox").Checked(will != nil).Disabled(live).
						OnChange(func(ctx app.Context, e app.Event) {
							if checked(ctx) {
								f.Will = &uistate.Will{Topic: "tern/will/" + m.ClientID(), Payload: "offline"}
							} else {
								f.Will = nil
							}
						}),
					app.Span().Text("Send a will when the connection ends without a DISCONNECT"),
				),
				when(will != nil, func() app.UI { return p.willFields(live) }),
			),
			app.Div().Class("row wide").Body(
				connectButton(h),
				app.Button().ID("profile-save").Type("button").Class("btn").Text("Save as profile").
					OnClick(func(ctx app.Context, e app.Event) {
						h.Change(ctx, func(m *uistate.Model) uistate.Changed {
							if err := m.SaveForm(); err != nil {
								m.Notice = "Cannot save the profile: " + err.Error()
							} else {
								m.Notice = "Saved profile " + m.Form.Name
							}
							return uistate.ChangedProfiles | uistate.ChangedSettings
						})
					}),
				app.Label().For("conn-name").Class("sr-only").Text("Profile name"),
				text("conn-name", &f.Name).Placeholder("Profile name").Disabled(false),
			),
		),
	)
}

func (p *ConnectionPage) willFields(live bool) app.UI {
	w := p.Hub.m.Form.Will
	qos := func(q byte) app.UI {
		return app.Option().Value(strconv.Itoa(int(q))).Selected(w.QoS == q).Text("QoS " + strconv.Itoa(int(q)))
	}
	return app.Div().Class("grid-form").Body(
		field("will-topic", "Topic", p.typed.input(app.Input().ID("will-topic").Type("text").Class("mono"), "will-topic", w.Topic).Disabled(live).
			OnInput(func(ctx app.Context, e app.Event) { w.Topic = p.typed.read(ctx) })),
		field("will-payload", "Payload", p.typed.input(app.Input().ID("will-payload").Type("text"), "will-payload", w.Payload).Disabled(live).
			OnInput(func(ctx app.Context, e app.Event) { w.Payload = p.typed.read(ctx) })),
		field("will-qos", "QoS", app.Select().ID("will-qos").Disabled(live).
			OnChange(func(ctx app.Context, e app.Event) { w.QoS = byte(atoi(inputValue(ctx), 2)) }).
			Body(qos(0), qos(1), qos(2))),
		app.Label().Class("check").Body(
			app.Input().Type("checkbox").Checked(w.Retain).Disabled(live).
				OnChange(func(ctx app.Context, e app.Event) { w.Retain = checked(ctx) }),
			app.Span().Text("Retain"),
		),
	)
}

// server shows what the broker said in its CONNACK.
func (p *ConnectionPage) server() app.UI {
	s := p.Hub.m.Conn.Server
	if s == nil || p.Hub.m.Conn.State != uistate.Connected {
		return nil
	}
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	limit := func(n uint64) string {
		if n == 0 {
			return "none"
		}
		return strconv.FormatUint(n, 10)
	}
	rows := [][2]string{
		{"Protocol", "MQTT " + versionName(s.Version)},
		{"Client ID", s.ClientID + map[bool]string{true: " (assigned by the server)"}[s.AssignedID]},
		{"Session present", yes(s.SessionPresent)},
		{"Keep alive", strconv.Itoa(int(s.KeepAlive)) + " s"},
	}
	if s.Version == 5 {
		rows = append(rows,
			[2]string{"Session expiry", strconv.FormatUint(uint64(s.SessionExpiry), 10) + " s"},
			[2]string{"Receive maximum", strconv.Itoa(int(s.ReceiveMaximum))},
			[2]string{"Maximum QoS", strconv.Itoa(int(s.MaximumQoS))},
			[2]string{"Retain available", yes(s.RetainAvailable)},
			[2]string{"Maximum packet size", limit(uint64(s.MaximumPacketSize))},
			[2]string{"Topic alias maximum", strconv.Itoa(int(s.TopicAliasMaximum))},
		)
		for _, x := range [][2]string{{"Response information", s.ResponseInfo}, {"Server reference", s.ServerReference}, {"Reason", s.ReasonString}} {
			if x[1] != "" {
				rows = append(rows, x)
			}
		}
	}
	return app.Section().ID("server-info").Class("card").Aria("labelledby", "server-title").Body(
		app.H2().ID("server-title").Text("Server"),
		app.Table().Class("kv").Body(app.TBody().Body(app.Range(rows).Slice(func(i int) app.UI {
			return app.Tr().Body(app.Th().Scope("row").Text(rows[i][0]), app.Td().Text(rows[i][1]))
		}))),
	)
}

// profiles lists the saved profiles, with import and export.
func (p *ConnectionPage) profiles() app.UI {
	h := p.Hub
	list := h.m.Profiles.List
	live := h.m.Conn.State.Live()
	return app.Section().ID("profiles").Class("card").Aria("labelledby", "profiles-title").Body(
		app.H2().ID("profiles-title").Text("Saved profiles"),
		app.If(len(list) == 0, app.P().Class("muted").Text("No saved profiles yet: fill in the form, name it and save it.")),
		app.Ul().Class("list").Body(app.Range(list).Slice(func(i int) app.UI {
			pr := list[i]
			return app.Li().Class("row").Body(
				app.Strong().Text(pr.Name),
				app.Span().Class("mono small grow").Text(pr.URL),
				app.Button().Type("button").Class("btn small").Disabled(live).Text("Load").
					Aria("label", "Load profile "+pr.Name).
					OnClick(func(ctx app.Context, e app.Event) {
						h.Change(ctx, func(m *uistate.Model) uistate.Changed {
							m.LoadProfile(pr)
							return uistate.ChangedConn | uistate.ChangedSubs
						})
					}),
				app.Button().Type("button").Class("btn ghost small").Text("Delete").
					Aria("label", "Delete profile "+pr.Name).
					OnClick(func(ctx app.Context, e app.Event) {
						h.Change(ctx, func(m *uistate.Model) uistate.Changed { m.Profiles.Delete(pr.Name); return uistate.ChangedProfiles })
					}),
			)
		})),
		app.Div().Class("row").Body(
			app.Button().ID("profiles-export").Type("button").Class("btn").Disabled(len(list) == 0).Text("Export JSON").
				OnClick(func(ctx app.Context, e app.Event) {
					data, err := h.m.Profiles.Export()
					if err != nil {
						h.say(ctx, "Export failed: %v", err)
						return
					}
					download("tern-profiles.json", "application/json", data)
				}),
			app.Label().For("profiles-import").Class("btn").Text("Import JSON…"),
			app.Input().ID("profiles-import").Type("file").Class("sr-only").Accept(".json,application/json").
				OnChange(func(ctx app.Context, e app.Event) {
					readFile(ctx, func(text string, err error) {
						h.post(func(m *uistate.Model) uistate.Changed {
							if err != nil {
								m.Notice = "Import failed: " + err.Error()
							} else if n, err := m.Profiles.Import([]byte(text)); err != nil {
								m.Notice = "Import failed: " + err.Error()
							} else {
								m.Notice = "Imported " + strconv.Itoa(n) + " profile(s)"
							}
							return uistate.ChangedProfiles | uistate.ChangedSettings
						})
					})
				}),
		),
	)
}
