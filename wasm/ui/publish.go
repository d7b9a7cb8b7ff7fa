package ui

import (
	"strconv"

	"github.com/maxence-charriere/go-app/v9/pkg/app"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/wasm/uistate"
)

// PublishPanel is the publish form (Ctrl+Enter publishes) and the list of
// recent publishes, which can be sent again or edited. The form's content
// is the model's Draft, so that other parts of the page (the message
// detail, and later the topic tree) can fill it.
type PublishPanel struct {
	app.Compo
	Hub *Hub

	typed typed
}

// OnMount observes the draft, the history and the connection.
func (p *PublishPanel) OnMount(ctx app.Context) {
	observe(ctx, uistate.ChangedPublish|uistate.ChangedConn, nil)
}

func (p *PublishPanel) publish(ctx app.Context) {
	p.Hub.Publish(ctx, p.Hub.m.Draft)
}

// Render draws the form and the history.
func (p *PublishPanel) Render() app.UI {
	h := p.Hub
	m := h.m
	d := &m.Draft
	v5 := m.Form.Version == 5
	connected := m.Conn.State == uistate.Connected
	qos := func(q byte) app.UI {
		return app.Option().Value(strconv.Itoa(int(q))).Selected(d.QoS == q).Text("QoS " + strconv.Itoa(int(q)))
	}
	return app.Section().ID("publish").Class("card").Aria("labelledby", "pub-title").Body(
		app.H2().ID("pub-title").Text("Publish"),
		app.Form().ID("pub-form").
			OnSubmit(func(ctx app.Context, e app.Event) {
				e.PreventDefault()
				p.publish(ctx)
			}).
			OnKeyDown(func(ctx app.Context, e app.Event) {
				if isKey(e, "Enter", true) {
					e.PreventDefault()
					p.publish(ctx)
				}
			}).Body(
			app.Label().For("pub-topic").Class("sr-only").Text("Topic"),
			p.typed.input(app.Input().ID("pub-topic").Type("text").Class("mono").Placeholder("topic"), "pub-topic", d.Topic).
				Spellcheck(false).AutoComplete(false).
				OnInput(func(ctx app.Context, e app.Event) { d.Topic = p.typed.read(ctx) }),
			app.Label().For("pub-payload").Class("sr-only").Text("Payload"),
			p.typed.textarea(app.Textarea().ID("pub-payload").Class("mono").Rows(4).Placeholder("payload"), "pub-payload", d.Payload).
				Spellcheck(false).
				OnInput(func(ctx app.Context, e app.Event) { d.Payload = p.typed.read(ctx) }),
			app.Div().Class("row").Body(
				app.Label().For("pub-qos").Class("sr-only").Text("QoS"),
				app.Select().ID("pub-qos").OnChange(func(ctx app.Context, e app.Event) { d.QoS = byte(atoi(inputValue(ctx), 2)) }).
					Body(qos(0), qos(1), qos(2)),
				app.Label().Class("check").Body(
					app.Input().ID("pub-retain").Type("checkbox").Checked(d.Retain).
						OnChange(func(ctx app.Context, e app.Event) { d.Retain = checked(ctx) }),
					app.Span().Text("Retain"),
				),
				app.Span().Class("grow"),
				app.Button().ID("pub-send").Type("submit").Class("btn primary").Disabled(!connected).
					Title("Publish (Ctrl+Enter)").Text("Publish"),
			),
			app.Small().Class("muted").Text("Ctrl+Enter publishes from anywhere in the form."),
			app.If(v5, p.properties(d)),
		),
		p.history(),
	)
}

func (p *PublishPanel) properties(d *uistate.Publish) app.UI {
	text := func(id, label, placeholder string, v *string) app.UI {
		return field(id, label, p.typed.input(app.Input().ID(id).Type("text").Class("mono").Placeholder(placeholder), id, *v).
			Spellcheck(false).OnInput(func(ctx app.Context, e app.Event) { *v = p.typed.read(ctx) }))
	}
	return app.Details().Class("opts").Open(len(d.UserProperties) > 0 || d.ContentType != "" || d.ResponseTopic != "").Body(
		app.Summary().Text("MQTT 5.0 properties"),
		text("pub-ctype", "Content type", "application/json", &d.ContentType),
		text("pub-resp", "Response topic", "replies/me", &d.ResponseTopic),
		text("pub-corr", "Correlation data", "request-42", &d.CorrelationData),
		field("pub-expiry", "Message expiry (s)", app.Input().ID("pub-expiry").Type("number").Min(0).
			Value(strconv.FormatUint(uint64(d.MessageExpiry), 10)).
			OnInput(func(ctx app.Context, e app.Event) { d.MessageExpiry = uint32(atoi(inputValue(ctx), 1<<32-1)) })),
		app.Label().Class("check").Body(
			app.Input().ID("pub-utf8").Type("checkbox").Checked(d.PayloadUTF8).
				OnChange(func(ctx app.Context, e app.Event) { d.PayloadUTF8 = checked(ctx) }),
			app.Span().Text("Payload is UTF-8 text (Payload Format Indicator)"),
		),
		app.Div().Class("userprops").Body(
			app.Range(d.UserProperties).Slice(func(i int) app.UI {
				return app.Div().Class("row").Body(
					app.Input().Type("text").Class("grow mono").Placeholder("name").Aria("label", "User property name").
						Value(d.UserProperties[i].Key).
						OnInput(func(ctx app.Context, e app.Event) { d.UserProperties[i].Key = inputValue(ctx) }),
					app.Input().Type("text").Class("grow mono").Placeholder("value").Aria("label", "User property value").
						Value(d.UserProperties[i].Value).
						OnInput(func(ctx app.Context, e app.Event) { d.UserProperties[i].Value = inputValue(ctx) }),
					app.Button().Type("button").Class("btn ghost small").Aria("label", "Remove user property").Text("×").
						OnClick(func(ctx app.Context, e app.Event) {
							d.UserProperties = append(d.UserProperties[:i:i], d.UserProperties[i+1:]...)
						}),
				)
			}),
			app.Button().ID("pub-addprop").Type("button").Class("btn small").Text("Add user property").
				OnClick(func(ctx app.Context, e app.Event) {
					d.UserProperties = append(d.UserProperties, codec.UserProperty{})
				}),
		),
	)
}

func (p *PublishPanel) history() app.UI {
	h := p.Hub
	list := h.m.History.List
	if len(list) == 0 {
		return nil
	}
	connected := h.m.Conn.State == uistate.Connected
	return app.Div().ID("pub-history").Body(
		app.H3().Text("Recent"),
		app.Ul().Class("list").Body(app.Range(list).Slice(func(i int) app.UI {
			pub := list[i]
			meta := "Q" + strconv.Itoa(int(pub.QoS))
			if pub.Retain {
				meta += " R"
			}
			if len(pub.UserProperties) > 0 || pub.ContentType != "" {
				meta += " P"
			}
			return app.Li().Class("hist").Body(
				app.Div().Class("grow clip").Body(
					app.Span().Class("mono").Text(pub.Topic),
					app.Span().Class("muted small").Text(" "+meta+" · "+clock(pub.Time)),
					app.Div().Class("muted small clip").Text(uistate.Preview([]byte(pub.Payload), 80)),
				),
				app.Button().Type("button").Class("btn small pub-resend").Disabled(!connected).Text("Send again").
					Aria("label", "Send again to "+pub.Topic).
					OnClick(func(ctx app.Context, e app.Event) { h.Publish(ctx, pub) }),
				app.Button().Type("button").Class("btn ghost small").Text("Edit").
					Aria("label", "Edit the publish to "+pub.Topic).
					OnClick(func(ctx app.Context, e app.Event) {
						h.Change(ctx, func(m *uistate.Model) uistate.Changed {
							m.Draft = pub
							return uistate.ChangedPublish
						})
						focus("pub-payload")
					}),
			)
		})),
	)
}
