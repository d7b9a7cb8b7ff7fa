package ui

import (
	"strconv"
	"strings"

	"github.com/maxence-charriere/go-app/v9/pkg/app"

	"github.com/ternmq/tern/wasm/chat"
	"github.com/ternmq/tern/wasm/uistate"
)

// ChatPage is the chat: a nickname and rooms to join on the side, the
// current room's messages, who is online and who has gone, and the field
// to write in. Rooms are MQTT topics (see package chat for the format), so
// any MQTT client can take part.
type ChatPage struct {
	app.Compo
	Hub *Hub

	typed      typed
	nick, room string // the join form
	text       string // the message being written
	atBottom   bool
}

// OnMount claims the chat identity (rejoining the saved rooms) and
// observes the chat.
func (p *ChatPage) OnMount(ctx app.Context) {
	p.Hub.attach(ctx)
	x := p.Hub.chat
	p.atBottom = true
	observeKey(ctx, keyChat, func() { p.follow(ctx) })
	x.init(ctx)
	p.follow(ctx)
}

// follow keeps the newest message in view when the list was at its end.
func (p *ChatPage) follow(ctx app.Context) {
	if !p.atBottom {
		return
	}
	ctx.Defer(func(app.Context) {
		if e := elementByID("chat-messages"); e != nil {
			e.Set("scrollTop", e.Get("scrollHeight"))
		}
	})
}

func (p *ChatPage) onScroll(ctx app.Context, e app.Event) {
	el := ctx.JSSrc()
	p.atBottom = el.Get("scrollHeight").Float()-el.Get("scrollTop").Float()-el.Get("clientHeight").Float() < 24
	ctx.PreventUpdate()
}

// Render draws the page.
func (p *ChatPage) Render() app.UI {
	h := p.Hub
	x := h.chat
	st := x.st
	if p.nick == "" {
		p.nick = st.Nick
	}
	if p.room == "" {
		p.room = "lobby"
	}
	return app.Div().Class("page chat").Body(
		app.Div().Class("chat-cols").Body(
			app.Div().Class("side").Body(p.joinForm(x), p.roomList(x)),
			app.Div().Class("mainc").Body(p.current(x)),
		),
	)
}

func (p *ChatPage) joinForm(x *chatHub) app.UI {
	ready := x.base != ""
	return app.Section().ID("chat-join").Class("card").Aria("labelledby", "chat-join-title").Body(
		app.H2().ID("chat-join-title").Text("Join a room"),
		app.Form().Class("chat-form").OnSubmit(func(ctx app.Context, e app.Event) {
			e.PreventDefault()
			x.join(ctx, p.nick, p.room)
		}).Body(
			field("chat-nick", "Nickname", p.typed.input(app.Input().ID("chat-nick").Type("text"), "chat-nick", p.nick).
				MaxLength(chat.MaxNick).AutoComplete(false).Spellcheck(false).Placeholder("your name").
				OnInput(func(ctx app.Context, e app.Event) { p.nick = p.typed.read(ctx) })),
			field("chat-room", "Room", p.typed.input(app.Input().ID("chat-room").Type("text").Class("mono"), "chat-room", p.room).
				MaxLength(chat.MaxRoom).AutoComplete(false).Spellcheck(false).Placeholder("lobby").
				OnInput(func(ctx app.Context, e app.Event) { p.room = p.typed.read(ctx) })),
			app.Div().Class("row").Body(
				app.Span().ID("chat-identity").Class("muted small grow").Text(x.identity()),
				app.Button().ID("chat-join-btn").Type("submit").Class("btn primary").Disabled(!ready).Text("Join"),
			),
		),
		app.If(x.err != "", app.P().ID("chat-error").Class("st-failed small").Role("alert").Text(x.err)),
	)
}

// identity describes the page's chat identity.
func (x *chatHub) identity() string {
	if x.base == "" {
		return "Starting…"
	}
	id := "Session " + x.base + " on " + x.h.m.Form.URL
	if u := x.h.m.Form.Username; chat.ValidUser(u) {
		return id + ", signed in as " + u + ": your messages show ✓ " + u
	}
	return id + ", not signed in: your messages are unverified"
}

func (p *ChatPage) roomList(x *chatHub) app.UI {
	rooms := x.st.Rooms()
	return app.Section().ID("chat-rooms").Class("card").Aria("labelledby", "chat-rooms-title").Body(
		app.H2().ID("chat-rooms-title").Text("Rooms"),
		app.If(len(rooms) == 0, app.P().Class("muted small").Text("No rooms yet: join one, or wait for someone to be online in one.")),
		app.Ul().Class("list chat-roomlist").Body(
			app.Range(rooms).Slice(func(i int) app.UI {
				r := rooms[i]
				name := r.Name
				var state string
				if rc := x.rooms[name]; rc != nil && rc.state != uistate.Connected {
					state = strings.ToLower(rc.state.String())
				}
				li := app.Li().Class("chat-room").DataSet("room", name)
				if r.Current {
					li = li.Class("current").Aria("current", "true")
				}
				return li.Body(
					app.Button().Type("button").Class("btn ghost grow chat-room-open").
						Title("Show #"+name).
						OnClick(func(ctx app.Context, e app.Event) {
							if r := x.st.Room(name); r == nil || !r.Joined {
								x.join(ctx, x.st.Nick, name)
								return
							}
							x.selectRoom(ctx, name)
						}, name).Body(
						app.Span().Class("mono clip").Text("#"+name),
						app.Span().Class("muted small").Text(" "+strconv.Itoa(r.Online)+" online"),
						app.If(state != "", app.Span().Class("muted small").Text(" · "+state)),
					),
					app.If(r.Unread > 0, app.Span().Class("badge chat-unread").Text(strconv.Itoa(r.Unread))),
					app.If(r.Joined, app.Button().Type("button").Class("btn small chat-leave").Text("Leave").
						Aria("label", "Leave #"+name).
						OnClick(func(ctx app.Context, e app.Event) { x.leave(ctx, name) }, name)),
					app.If(!r.Joined, app.Span().Class("muted small").Text("not joined")),
				)
			}),
		),
	)
}

func (p *ChatPage) current(x *chatHub) app.UI {
	st := x.st
	r := st.Room(st.Current)
	if r == nil || !r.Joined {
		return app.Section().ID("chat-room-view").Class("card").Body(
			app.P().Class("muted").Text("Choose a nickname and join a room. Rooms are MQTT topics: chat/{room}/messages/{user} (chat/{room}/messages when not signed in), with presence at chat/{room}/presence/{client id}."),
		)
	}
	rc := x.rooms[r.Name]
	state := "connecting"
	if rc != nil {
		state = strings.ToLower(rc.state.String())
		if rc.err != "" {
			state += ": " + rc.err
		}
	}
	entries := r.Entries()
	online, gone := r.Online(), r.Gone()
	return app.Div().Class("chat-view").Body(
		app.Section().ID("chat-room-view").Class("card chat-main").Aria("labelledby", "chat-title").Body(
			app.Div().Class("row").Body(
				app.H2().ID("chat-title").Class("grow mono").Text("#"+r.Name),
				app.Span().ID("chat-state").Class("muted small").Text(state),
			),
			app.Ol().ID("chat-messages").Class("chat-messages").Aria("live", "polite").OnScroll(p.onScroll).Body(
				app.Range(entries).Slice(func(i int) app.UI { return entry(&entries[i]) }),
			),
			app.Form().ID("chat-compose").Class("row chat-compose").OnSubmit(func(ctx app.Context, e app.Event) {
				e.PreventDefault()
				p.sendText(ctx, x)
			}).Body(
				app.Label().For("chat-text").Class("sr-only").Text("Message"),
				p.typed.textarea(app.Textarea().ID("chat-text").Class("grow").Rows(2).Placeholder("Message #"+r.Name+" (Enter sends, Shift+Enter for a new line)"), "chat-text", p.text).
					OnInput(func(ctx app.Context, e app.Event) { p.text = p.typed.read(ctx) }).
					OnKeyDown(func(ctx app.Context, e app.Event) {
						if e.Get("key").String() == "Enter" && !e.Get("shiftKey").Bool() {
							e.PreventDefault()
							p.sendText(ctx, x)
						}
					}),
				app.Button().ID("chat-send").Type("submit").Class("btn primary").Text("Send"),
			),
		),
		app.Section().ID("chat-people").Class("card chat-people").Aria("label", "People in #"+r.Name).Body(
			app.H3().Text("Online ("+strconv.Itoa(len(online))+")"),
			app.Ul().ID("chat-online").Class("list").Body(
				app.Range(online).Slice(func(i int) app.UI {
					m := online[i]
					return app.Li().Class("chat-member").DataSet("client", m.ClientID).Title(m.ClientID).Body(
						app.Span().Class("dot-ok").Aria("hidden", "true"),
						app.Span().Class("chat-nick").Text(m.Nick),
					)
				}),
			),
			app.If(len(gone) > 0, app.H3().Text("Gone")),
			app.Ul().ID("chat-gone").Class("list").Body(
				app.Range(gone).Slice(func(i int) app.UI {
					m := gone[i]
					return app.Li().Class("chat-member gone").DataSet("client", m.ClientID).Title(m.ClientID).Body(
						app.Span().Class("chat-nick").Text(m.Nick),
						app.Span().Class("muted small").Text(" left "+m.Gone.Format("15:04")),
					)
				}),
			),
		),
	)
}

func (p *ChatPage) sendText(ctx app.Context, x *chatHub) {
	if x.send(ctx, p.text) {
		p.text = ""
		p.atBottom = true
		if e := elementByID("chat-text"); e != nil {
			e.Set("value", "")
		}
	}
}

// entry renders a line of a room.
func entry(e *chat.Entry) app.UI {
	t := e.At.Format("15:04:05")
	switch e.Kind {
	case chat.Joined, chat.Left:
		verb := " joined"
		if e.Kind == chat.Left {
			verb = " left"
		}
		return app.Li().Class("chat-notice muted small").Body(
			app.Span().Class("chat-time").Text(t),
			app.Span().Text(" "+e.From+verb),
		)
	}
	li := app.Li().Class("chat-msg").DataSet("id", e.ID)
	if e.Mine {
		li = li.Class("mine")
	}
	if e.Pending {
		li = li.Class("pending").Title("Sending…")
	}
	return li.Body(
		app.Div().Class("chat-head").Body(
			app.Span().Class("chat-from").Text(e.From),
			app.If(e.User != "", app.Span().Class("chat-user small").
				Title("Sent by the user "+e.User+" (chat/{room}/messages/"+e.User+"; with the chat ACL only that user can publish there)").
				Text("✓ "+e.User)),
			app.Span().Class("chat-time muted small").Text(t),
		),
		app.Div().Class("chat-text").Text(e.Text),
	)
}
