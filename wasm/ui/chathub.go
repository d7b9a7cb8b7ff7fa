package ui

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/maxence-charriere/go-app/v9/pkg/app"

	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/wasm/chat"
	"github.com/ternmq/tern/wasm/service"
	"github.com/ternmq/tern/wasm/uistate"
)

// keyChat is the go-app state key of the chat.
const keyChat = "tern/chat"

// chatSlots is how many chat identities a browser keeps (one per tab open
// at the same time).
const chatSlots = 32

// chatHub is the chat's state, identity and connections: a clean one for
// every room's presence (the lobby), and a persistent one per joined room.
//
// Identity: the room sessions' client ids derive from a base id, which
// must be the same when the page comes back (so that the broker's queued
// messages arrive) and differ between tabs open at the same time (so that
// they do not take over each other's sessions). The page takes the first
// free of chatSlots Web Locks ("tern-chat-{i}"), held until the page goes,
// and uses the base id saved in local storage for that slot, with the
// nickname and the joined rooms. Without Web Locks (a page not in a secure
// context) it keeps them in session storage: a reload comes back, a new
// tab starts afresh.
type chatHub struct {
	h  *Hub
	st *chat.State

	claiming bool
	base     string // "" until the identity is claimed
	slot     int    // the lock slot, -1 for session storage

	lobby      *service.Service
	lobbyState uistate.ConnState
	rooms      map[string]*roomConn
	err        string
}

// roomConn is the connection of a joined room.
type roomConn struct {
	c     *service.Service
	user  string // the username it logs in with
	state uistate.ConnState
	err   string
}

// chatSaved is what a slot keeps in storage.
type chatSaved struct {
	Base string `json:"base"`
	chat.Saved
}

func newChatHub(h *Hub) *chatHub {
	return &chatHub{h: h, st: chat.NewState(), rooms: map[string]*roomConn{}, slot: -1}
}

func (x *chatHub) changed(ctx app.Context) { x.h.bump(ctx, keyChat) }

// init claims the page's chat identity (once) and rejoins the rooms it
// had joined.
func (x *chatHub) init(ctx app.Context) {
	if x.claiming || x.base != "" || !app.IsClient {
		return
	}
	x.claiming = true
	go func() {
		slot, saved := claimChatIdentity()
		x.h.dispatch(func(ctx app.Context) {
			x.claiming = false
			x.slot, x.base = slot, saved.Base
			x.st.Load(saved.Saved)
			x.save()
			if x.st.Nick != "" {
				for _, room := range x.st.Joined() {
					x.connectRoom(room)
				}
				x.connectLobby()
			}
			x.changed(ctx)
		})
	}()
}

// claimChatIdentity takes a lock slot and returns it with what it saved
// (a new base id for a new slot). It blocks: call it off the UI goroutine.
func claimChatIdentity() (int, chatSaved) {
	var saved chatSaved
	if !haveWebLocks() {
		loadSession("tern.chat", &saved)
		if saved.Base == "" {
			saved.Base = chat.NewBaseID()
		}
		return -1, saved
	}
	for i := range chatSlots {
		if holdLock("tern-chat-" + strconv.Itoa(i)) {
			loadJSON(chatSlotKey(i), &saved)
			if saved.Base == "" {
				saved.Base = chat.NewBaseID()
			}
			return i, saved
		}
	}
	// Every slot is taken: a fresh identity for this page only.
	return -1, chatSaved{Base: chat.NewBaseID()}
}

func chatSlotKey(i int) string { return "tern.chat.slot." + strconv.Itoa(i) }

// save keeps the nickname and the joined rooms for the next visit.
func (x *chatHub) save() {
	s := chatSaved{Base: x.base, Saved: x.st.Save()}
	if x.slot < 0 {
		saveSession("tern.chat", s)
		return
	}
	saveJSON(chatSlotKey(x.slot), s)
}

// connOptions returns the options shared by the chat's connections: the
// page's broker URL and credentials, MQTT 5.0, the chat's subscriptions
// at QoS 1.
func (x *chatHub) connOptions(id string, filters ...string) service.Options {
	f := &x.h.m.Form
	o := service.Options{URL: f.URL, DefaultSink: uistate.SinkChat,
		Client: client.Options{ClientID: id, Username: f.Username, KeepAlive: 30 * time.Second, CleanStart: true}}
	if f.Password != "" {
		o.Client.Password = []byte(f.Password)
	}
	for _, flt := range filters {
		o.Subscribe = append(o.Subscribe, uistate.Subscription{Filter: flt, QoS: 1})
	}
	return o
}

// connectLobby starts the presence connection, once.
func (x *chatHub) connectLobby() {
	if x.lobby != nil {
		return
	}
	o := x.connOptions(x.base+"-lobby", chat.PresenceFilter)
	var c *service.Service
	o.OnUpdate = func(u uistate.Update) { x.h.dispatch(func(ctx app.Context) { x.applyLobby(ctx, c, u) }) }
	c = service.New(o)
	x.lobby, x.lobbyState = c, uistate.Connecting
	go dial(c)
}

func (x *chatHub) applyLobby(ctx app.Context, c *service.Service, u uistate.Update) {
	if x.lobby != c {
		return
	}
	for _, e := range u.Conn {
		x.lobbyState = e.State
		if e.State == uistate.Reconnecting {
			// The retained presence comes again after the reconnection.
			x.st.ResetPresence()
		}
		x.err = ""
		if e.Failure != nil {
			x.err = "Presence: " + e.Failure.Text
		}
	}
	for _, m := range u.Messages {
		x.st.Receive(m.Topic, m.Payload, m.Retain, m.Time)
	}
	x.changed(ctx)
}

// presence returns the member's presence message for a room.
func (x *chatHub) presence(room string) *client.Message {
	id := chat.RoomClientID(x.base, room)
	return &client.Message{Topic: chat.PresenceTopic(room, id), Retain: true,
		Payload: chat.Presence{Nick: x.st.Nick, TS: time.Now().UnixMilli()}.Encode()}
}

// connectRoom starts a joined room's connection: a persistent session
// subscribed to its messages, with the presence as Hello and its clearing
// as Will.
func (x *chatHub) connectRoom(room string) {
	if x.rooms[room] != nil {
		return
	}
	id := chat.RoomClientID(x.base, room)
	o := x.connOptions(id, chat.MessagesFilter(room), chat.HistoryFilter(room))
	o.Client.ConnectProperties.SessionExpiryInterval = chat.SessionExpiry
	o.Client.CleanStart = false
	o.Unsubscribe = []string{chat.MessagesTopic(room)} // before the user topics
	o.Client.Will = &codec.Will{Topic: chat.PresenceTopic(room, id), QoS: codec.AtLeastOnce, Retain: true}
	o.Hello = x.presence(room)
	rc := &roomConn{state: uistate.Connecting, user: o.Client.Username}
	o.OnUpdate = func(u uistate.Update) { x.h.dispatch(func(ctx app.Context) { x.applyRoom(ctx, room, rc, u) }) }
	rc.c = service.New(o)
	x.rooms[room] = rc
	go dial(rc.c)
}

func (x *chatHub) applyRoom(ctx app.Context, room string, rc *roomConn, u uistate.Update) {
	if x.rooms[room] != rc {
		return
	}
	for _, e := range u.Conn {
		rc.state, rc.err = e.State, ""
		if e.Failure != nil {
			rc.err = e.Failure.Text
		}
	}
	for _, m := range u.Messages {
		x.st.Receive(m.Topic, m.Payload, m.Retain, m.Time)
	}
	x.changed(ctx)
}

// connState returns the state of the chat's connections taken together
// (the worst of them) and their number.
func (x *chatHub) connState() (uistate.ConnState, int) {
	if x.lobby == nil && len(x.rooms) == 0 {
		return uistate.Disconnected, 0
	}
	rank := func(s uistate.ConnState) int {
		return map[uistate.ConnState]int{uistate.Connected: 0, uistate.Connecting: 1, uistate.Reconnecting: 2, uistate.Failed: 3}[s]
	}
	worst, n := uistate.Connected, 0
	add := func(s uistate.ConnState) {
		n++
		if rank(s) > rank(worst) {
			worst = s
		}
	}
	if x.lobby != nil {
		add(x.lobbyState)
	}
	for _, rc := range x.rooms {
		add(rc.state)
	}
	return worst, n
}

// join sets the nickname and joins a room.
func (x *chatHub) join(ctx app.Context, nick, room string) {
	if x.base == "" {
		return
	}
	if err := chat.ValidNick(nick); err != nil {
		x.err = err.Error()
		x.changed(ctx)
		return
	}
	if err := chat.ValidRoom(room); err != nil {
		x.err = err.Error()
		x.changed(ctx)
		return
	}
	x.err = ""
	if nick != x.st.Nick {
		x.st.Nick = nick
		for r, rc := range x.rooms {
			go rc.c.SetHello(context.Background(), x.presence(r))
		}
	}
	x.st.Join(room)
	x.save()
	x.connectLobby()
	x.connectRoom(room)
	x.changed(ctx)
}

// leave leaves a room for good: the presence is cleared, the session's
// subscription removed and the connection closed.
func (x *chatHub) leave(ctx app.Context, room string) {
	if rc := x.rooms[room]; rc != nil {
		delete(x.rooms, room)
		id := chat.RoomClientID(x.base, room)
		bye := &client.Message{Topic: chat.PresenceTopic(room, id), QoS: codec.AtLeastOnce, Retain: true}
		go func() {
			cctx, cancel := context.WithTimeout(context.Background(), opTimeout)
			defer cancel()
			rc.c.Leave(cctx, bye)
		}()
	}
	x.st.Leave(room)
	x.save()
	x.changed(ctx)
}

// send sends a message to the current room.
func (x *chatHub) send(ctx app.Context, text string) bool {
	room := x.st.Current
	rc := x.rooms[room]
	if rc == nil || text == "" {
		return false
	}
	m := chat.NewMessage(x.st.Nick, text, time.Now())
	topic := chat.SendTopic(room, rc.user)
	x.st.Sent(room, rc.user, m)
	// The history copy: retained in the room's next slot, so that whoever
	// joins later sees it (see chat.HistoryTopic).
	htopic, hm := x.st.NextHistory(room, m)
	go func() {
		cctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		err := rc.c.PublishMessage(cctx, &client.Message{Topic: topic, Payload: m.Encode(), QoS: codec.AtLeastOnce})
		if err == nil {
			// The message is said; a broker that refuses the history copy
			// (an ACL without the history topics) only keeps it out of the
			// history.
			if err := rc.c.PublishMessage(cctx, &client.Message{Topic: htopic, Payload: hm.Encode(), QoS: codec.AtLeastOnce, Retain: true}); err != nil {
				slog.Warn("chat: history copy", "topic", htopic, "err", err)
			}
			return
		}
		if err != nil {
			x.h.dispatch(func(ctx app.Context) {
				x.err = fmt.Sprintf("Sending to %s failed: %v", room, err)
				x.changed(ctx)
			})
		}
	}()
	x.changed(ctx)
	return true
}

// selectRoom shows a room.
func (x *chatHub) selectRoom(ctx app.Context, room string) {
	x.st.Select(room)
	x.save()
	x.changed(ctx)
}
