// Package uistate is the state of Tern's web client as plain Go: the
// message log (a bounded ring buffer with a filter and a pause), the
// subscriptions with their colors and counts, the connection status and
// the hints shown when a connection fails, saved connection profiles with
// JSON import and export, the publish form and its history, and payload
// formatting. It has no browser code and is tested natively; the go-app
// components in wasm/ui only render it, and the MQTT service in
// wasm/service feeds it batched updates.
package uistate

import (
	"strconv"
	"time"
)

// Changed says which parts of the Model an operation changed, so that only
// the components showing them render again.
type Changed uint8

// The parts of the Model.
const (
	ChangedConn Changed = 1 << iota
	ChangedLog
	ChangedSubs
	ChangedPublish // the publish form or its history
	ChangedProfiles
	ChangedSettings // theme, payload format, notices

	ChangedAll Changed = 1<<iota - 1
)

// Update is what the MQTT service hands the UI at most once per batch
// interval: the messages received since the last one, in order, counts by
// subscription, and connection events.
type Update struct {
	Messages []Message
	// Counts holds the messages delivered by subscription ID; a message
	// matching two subscriptions counts for both but is logged once.
	Counts map[int]uint64
	// Dropped counts messages the service dropped because more arrived in
	// one interval than the log holds.
	Dropped uint64
	Conn    []ConnEvent
}

// Empty reports whether u carries nothing.
func (u *Update) Empty() bool {
	return len(u.Messages) == 0 && len(u.Counts) == 0 && u.Dropped == 0 && len(u.Conn) == 0
}

// Sink is a set of consumers of one connection's messages: what each page
// builds from the stream (the message log, the topic tree, the chat). A
// subscription belongs to one sink; a message carries the sinks of every
// subscription that matched it.
type Sink uint8

// The sinks of the web client.
const (
	SinkLog Sink = 1 << iota
	SinkTree
	SinkChat
	SinkSys // the Broker page's $SYS/#
)

// Theme is the color theme: "" follows the system, or "light" or "dark".
type Theme string

// The themes.
const (
	ThemeSystem Theme = ""
	ThemeLight  Theme = "light"
	ThemeDark   Theme = "dark"
)

// Next returns the theme a toggle moves to: system → light → dark → system.
func (t Theme) Next() Theme {
	switch t {
	case ThemeSystem:
		return ThemeLight
	case ThemeLight:
		return ThemeDark
	}
	return ThemeSystem
}

// Label names the theme for the toggle.
func (t Theme) Label() string {
	switch t {
	case ThemeLight:
		return "Light"
	case ThemeDark:
		return "Dark"
	}
	return "System"
}

// Model is the whole state of one page. It is not safe for concurrent
// use: the web client changes it on the UI goroutine only.
type Model struct {
	// PageURL is the page's address, MQTTPath where its broker serves MQTT
	// over WebSocket; they give the default URL and the hints.
	PageURL  string
	MQTTPath string
	// TabClientID is this tab's random client id, used when the form's
	// client id is left as it is.
	TabClientID string

	Conn     Conn
	Form     Profile // the connection form
	Profiles Profiles
	Subs     Subscriptions
	Log      *Log
	Selected uint64 // Seq of the message shown in detail, 0 for none
	Format   Format // how payloads are shown
	Draft    Publish
	History  History
	Theme    Theme
	// Dropped counts messages dropped before reaching the log (the
	// service's batch overflowed).
	Dropped uint64
	// Notice is a short message for the user (an error or a confirmation).
	Notice string
	// WantConnected is set while the user wants the page connected (from
	// Connect to Disconnect): a reloaded page connects again.
	WantConnected bool
}

// NewModel returns the state of a fresh page at pageURL whose broker
// serves MQTT over WebSocket at mqttPath.
func NewModel(pageURL, mqttPath string) *Model {
	m := &Model{
		PageURL:     pageURL,
		MQTTPath:    mqttPath,
		TabClientID: RandomClientID(),
		Log:         NewLog(DefaultLogCapacity),
		Draft:       Publish{Topic: "tern/hello", Payload: "hello from the browser"},
	}
	m.Form = DefaultProfile(pageURL, mqttPath)
	m.Form.ClientID = m.TabClientID
	return m
}

// ClientID returns the client id to connect with: the form's, or this
// tab's random one when the form's is empty.
func (m *Model) ClientID() string {
	if m.Form.ClientID != "" {
		return m.Form.ClientID
	}
	return m.TabClientID
}

// LoadProfile fills the connection form from a saved profile; a profile
// without a client id gets this tab's random one. The profile's
// subscriptions replace the page's when it has some and the page is not
// connected (a live connection keeps its own); it reports whether they
// did.
func (m *Model) LoadProfile(p Profile) (subs bool) {
	saved := p.Subscriptions
	p.Subscriptions = nil
	m.Form = p
	if m.Form.ClientID == "" {
		m.Form.ClientID = m.TabClientID
	}
	if len(saved) == 0 || m.Conn.State.Live() {
		return false
	}
	m.Subs.Load(saved)
	return true
}

// SaveForm saves the connection form as a profile, with the page's
// subscriptions. A client id equal to this tab's random one is saved
// empty, so that each tab keeps its own.
func (m *Model) SaveForm() error {
	p := m.Form
	if p.ClientID == m.TabClientID {
		p.ClientID = ""
	}
	p.Subscriptions = m.Subs.Saved()
	return m.Profiles.Save(p)
}

// StartConnecting records that the page starts connecting with the form.
func (m *Model) StartConnecting(t time.Time) {
	m.Conn.URL = m.Form.URL
	m.Conn.ClientID = m.ClientID()
	m.Conn.apply(ConnEvent{State: Connecting, Time: t}, m.PageURL)
	m.Subs.SetPending()
}

// SetConn records a connection event. Subscriptions keep their state
// across automatic reconnections: the client makes them again itself when
// the server has lost the session.
func (m *Model) SetConn(e ConnEvent) {
	m.Conn.apply(e, m.PageURL)
}

// Apply adds an update from the MQTT service and reports what changed.
func (m *Model) Apply(u Update) Changed {
	var ch Changed
	for _, e := range u.Conn {
		m.SetConn(e)
		ch |= ChangedConn | ChangedSubs
	}
	if msgs := ForSink(u.Messages, SinkLog); len(msgs) > 0 || u.Dropped > 0 {
		m.Log.Append(msgs...)
		m.Dropped += u.Dropped
		ch |= ChangedLog
	}
	if len(u.Counts) > 0 {
		m.Subs.AddCounts(u.Counts)
		ch |= ChangedSubs
	}
	return ch
}

// ForSink returns the messages of msgs for sink (and those for no sink in
// particular). It returns msgs itself when all are, and a new slice
// otherwise.
func ForSink(msgs []Message, sink Sink) []Message {
	for i := range msgs {
		if !msgs[i].For(sink) {
			out := append([]Message(nil), msgs[:i]...)
			for j := i + 1; j < len(msgs); j++ {
				if msgs[j].For(sink) {
					out = append(out, msgs[j])
				}
			}
			return out
		}
	}
	return msgs
}

// For reports whether the message is for sink: one of its subscriptions
// is, or it carries no sink at all.
func (m *Message) For(sink Sink) bool { return m.Sinks == 0 || m.Sinks&sink != 0 }

// LogSummary describes the log's counts for its header: how many rows of
// the log are shown, how many messages were received, and how many were
// lost (a batch or a pause overflowed). The oldest rows leaving a full log
// are the log working as meant and are not counted as lost.
func (m *Model) LogSummary(shown int) string {
	l := m.Log
	s := strconv.Itoa(shown) + " shown"
	if shown != l.Len() {
		s += " of " + strconv.Itoa(l.Len())
	}
	s += " · " + strconv.FormatUint(l.Received(), 10) + " received"
	if l.Len() == l.Cap() && l.Evicted() > l.Lost() {
		s += " (the newest " + strconv.Itoa(l.Cap()) + " kept)"
	}
	if d := l.Lost() + m.Dropped; d > 0 {
		s += " · " + strconv.FormatUint(d, 10) + " dropped"
	}
	return s
}

// SelectedMessage returns the message shown in detail, or nil.
func (m *Model) SelectedMessage() *Message {
	if m.Selected == 0 {
		return nil
	}
	return m.Log.Get(m.Selected)
}

// ClearLog empties the log, the selection and the subscription counts.
func (m *Model) ClearLog() {
	m.Log.Clear()
	m.Selected = 0
	m.Dropped = 0
	m.Subs.ResetCounts()
}
