package ui

import (
	"strconv"

	"github.com/maxence-charriere/go-app/v9/pkg/app"

	"github.com/ternmq/tern/wasm/uistate"
)

// MessagesPage is the main page: subscriptions and the publish form beside
// the message log and the selected message.
type MessagesPage struct {
	app.Compo
	Hub *Hub
}

// Render lays the page out; each part renders itself.
func (p *MessagesPage) Render() app.UI {
	return app.Div().Class("page messages").Body(
		&ConnBar{Hub: p.Hub},
		app.Div().Class("cols").Body(
			app.Div().Class("side").Body(
				&SubsPanel{Hub: p.Hub},
				&PublishPanel{Hub: p.Hub},
			),
			app.Div().Class("mainc").Body(
				&LogView{Hub: p.Hub},
				&Detail{Hub: p.Hub},
			),
		),
	)
}

// SubsPanel adds and lists subscriptions.
type SubsPanel struct {
	app.Compo
	Hub *Hub

	// the form being filled in
	typed  typed
	filter string
	qos    byte
	noLoc  bool
	rap    bool
	rh     byte
}

// OnMount observes the subscriptions and the connection.
func (p *SubsPanel) OnMount(ctx app.Context) {
	observe(ctx, uistate.ChangedSubs|uistate.ChangedConn, nil)
}

// Render draws the form and the list.
func (p *SubsPanel) Render() app.UI {
	h := p.Hub
	subs := h.m.Subs.List()
	v5 := h.m.Form.Version == 5
	qosOpt := func(q byte, cur byte) app.UI {
		return app.Option().Value(strconv.Itoa(int(q))).Selected(cur == q).Text("QoS " + strconv.Itoa(int(q)))
	}
	return app.Section().ID("subs").Class("card").Aria("labelledby", "subs-title").Body(
		app.H2().ID("subs-title").Text("Subscriptions"),
		app.Form().ID("sub-form").OnSubmit(p.add).Body(
			app.Div().Class("row").Body(
				app.Label().For("sub-filter").Class("sr-only").Text("Topic filter"),
				p.typed.input(app.Input().ID("sub-filter").Type("text").Class("grow mono").Placeholder("topic/filter/#"), "sub-filter", p.filter).
					Spellcheck(false).AutoComplete(false).
					OnInput(func(ctx app.Context, e app.Event) { p.filter = p.typed.read(ctx) }),
				app.Label().For("sub-qos").Class("sr-only").Text("Maximum QoS"),
				app.Select().ID("sub-qos").OnChange(func(ctx app.Context, e app.Event) { p.qos = byte(atoi(inputValue(ctx), 2)) }).
					Body(qosOpt(0, p.qos), qosOpt(1, p.qos), qosOpt(2, p.qos)),
				app.Button().ID("sub-add").Type("submit").Class("btn primary").Text("Subscribe"),
			),
			app.If(v5, app.Details().Class("opts").Body(
				app.Summary().Text("MQTT 5.0 options"),
				app.Label().Class("check").Body(
					app.Input().ID("sub-nl").Type("checkbox").Checked(p.noLoc).
						OnChange(func(ctx app.Context, e app.Event) { p.noLoc = checked(ctx) }),
					app.Span().Text("No Local (not my own messages)"),
				),
				app.Label().Class("check").Body(
					app.Input().ID("sub-rap").Type("checkbox").Checked(p.rap).
						OnChange(func(ctx app.Context, e app.Event) { p.rap = checked(ctx) }),
					app.Span().Text("Retain As Published"),
				),
				app.Label().For("sub-rh").Text("Retain Handling "),
				app.Select().ID("sub-rh").OnChange(func(ctx app.Context, e app.Event) { p.rh = byte(atoi(inputValue(ctx), 2)) }).Body(
					app.Option().Value("0").Selected(p.rh == 0).Text("0: send retained messages"),
					app.Option().Value("1").Selected(p.rh == 1).Text("1: only if new"),
					app.Option().Value("2").Selected(p.rh == 2).Text("2: never"),
				),
			)),
		),
		app.If(len(subs) == 0, app.P().Class("muted small").Text("Subscribe to # to see everything.")),
		app.Ul().ID("sub-list").Class("list").Body(app.Range(subs).Slice(func(i int) app.UI {
			return p.item(&subs[i])
		})),
	)
}

func (p *SubsPanel) item(s *uistate.Subscription) app.UI {
	h := p.Hub
	id, filter := s.ID, s.Filter
	state := s.State.String()
	title := "QoS " + strconv.Itoa(int(s.QoS)) + " requested"
	if s.State == uistate.SubActive {
		title = "granted QoS " + strconv.Itoa(int(s.Granted))
	} else if s.Err != "" {
		title = s.Err
	}
	opts := ""
	if s.NoLocal {
		opts += " NL"
	}
	if s.RetainAsPublished {
		opts += " RAP"
	}
	if s.RetainHandling != 0 {
		opts += " RH" + strconv.Itoa(int(s.RetainHandling))
	}
	return app.Li().Class("sub", "sub-"+state).DataSet("filter", s.Filter).Style("--c", s.Color).Body(
		app.Input().Type("color").Class("swatch").Value(s.Color).Aria("label", "Color for "+s.Filter).
			OnChange(func(ctx app.Context, e app.Event) {
				v := inputValue(ctx)
				h.Change(ctx, func(m *uistate.Model) uistate.Changed {
					if s := m.Subs.Get(id); s != nil {
						s.Color = v
					}
					return uistate.ChangedSubs | uistate.ChangedLog
				})
			}),
		app.Span().Class("sub-filter mono grow").Title(title).Text(s.Filter),
		app.Span().Class("badge", "st-"+state).Title(title).Text(state+" Q"+strconv.Itoa(int(s.QoS))+opts),
		app.Span().Class("sub-count").Title("messages delivered").Text(strconv.FormatUint(s.Count, 10)),
		app.Button().Type("button").Class("btn ghost small").Text("Show").
			Title("Show only this subscription's messages").Aria("label", "Show only "+s.Filter).
			OnClick(func(ctx app.Context, e app.Event) {
				h.Change(ctx, func(m *uistate.Model) uistate.Changed {
					f := m.Log.Filter()
					f.Topic = filter
					m.Log.SetFilter(f)
					return uistate.ChangedLog
				})
			}),
		app.Button().Type("button").Class("btn ghost small").Text("×").
			Title("Unsubscribe").Aria("label", "Unsubscribe from "+s.Filter).
			OnClick(func(ctx app.Context, e app.Event) { h.Unsubscribe(ctx, id) }),
	)
}

func (p *SubsPanel) add(ctx app.Context, e app.Event) {
	e.PreventDefault()
	ok := p.Hub.Subscribe(ctx, uistate.Subscription{
		Filter: p.filter, QoS: p.qos, NoLocal: p.noLoc, RetainAsPublished: p.rap, RetainHandling: p.rh,
	})
	if ok {
		p.filter = ""
	}
}
