package uistate

import (
	"encoding/json"
	"fmt"
)

// SavedSub is a subscription as a page or a profile keeps it: the filter,
// its options and its color (not its state or counts).
type SavedSub struct {
	Filter            string `json:"filter"`
	QoS               byte   `json:"qos,omitempty"`
	NoLocal           bool   `json:"no_local,omitempty"`
	RetainAsPublished bool   `json:"retain_as_published,omitempty"`
	RetainHandling    byte   `json:"retain_handling,omitempty"`
	Color             string `json:"color,omitempty"`
}

// Saved returns the subscriptions as they are kept, in order.
func (ss *Subscriptions) Saved() []SavedSub {
	if len(ss.list) == 0 {
		return nil
	}
	out := make([]SavedSub, len(ss.list))
	for i, s := range ss.list {
		out[i] = SavedSub{Filter: s.Filter, QoS: s.QoS, NoLocal: s.NoLocal,
			RetainAsPublished: s.RetainAsPublished, RetainHandling: s.RetainHandling, Color: s.Color}
	}
	return out
}

// Load replaces the subscriptions with saved ones, all pending. Invalid
// and duplicate entries (a file edited by hand) are skipped and reported
// in the error; the valid ones are loaded all the same.
func (ss *Subscriptions) Load(saved []SavedSub) error {
	ss.list = nil
	var bad error
	for _, s := range saved {
		_, err := ss.Add(Subscription{Filter: s.Filter, QoS: s.QoS, NoLocal: s.NoLocal,
			RetainAsPublished: s.RetainAsPublished, RetainHandling: s.RetainHandling, Color: s.Color})
		if err != nil && bad == nil {
			bad = fmt.Errorf("subscription %q: %w", s.Filter, err)
		}
	}
	return bad
}

// PageState is what a page keeps across a reload or a browser restart,
// in the browser's local storage: the connection form (the active
// profile), the subscriptions with their colors and options, whether it
// was connected (it connects again), the publish form and the log filter.
type PageState struct {
	Form    Profile    `json:"form"`
	Subs    []SavedSub `json:"subs,omitempty"`
	Connect bool       `json:"connect,omitempty"`
	Draft   *Publish   `json:"draft,omitempty"`
	Filter  Filter     `json:"filter,omitzero"`
}

// PageState returns the state to keep. The form keeps its password only
// when it is asked to (the page keeps it in session storage besides, see
// Password), and leaves out this tab's random client id so that each tab
// keeps its own.
func (m *Model) PageState() PageState {
	f := m.Form.forStorage()
	if f.ClientID == m.TabClientID {
		f.ClientID = ""
	}
	f.Subscriptions = nil
	d := m.Draft
	return PageState{Form: f, Subs: m.Subs.Saved(), Connect: m.WantConnected, Draft: &d, Filter: m.Log.Filter()}
}

// Restore applies a kept page state and reports whether the page should
// connect. A form that is no longer valid is left out.
func (m *Model) Restore(ps PageState) (connect bool) {
	if ps.Form.Validate() != nil {
		return false
	}
	m.LoadProfile(ps.Form)
	m.Subs.Load(ps.Subs)
	if ps.Draft != nil {
		m.Draft = *ps.Draft
	}
	m.Log.SetFilter(ps.Filter)
	m.WantConnected = ps.Connect
	return ps.Connect
}

// DecodePageState reads a kept page state.
func DecodePageState(data []byte) (PageState, error) {
	var ps PageState
	if err := json.Unmarshal(data, &ps); err != nil {
		return PageState{}, fmt.Errorf("page state: %w", err)
	}
	return ps, nil
}

// Encode returns the storage form of the page state.
func (ps PageState) Encode() []byte {
	b, _ := json.Marshal(ps) // plain data: cannot fail
	return b
}
