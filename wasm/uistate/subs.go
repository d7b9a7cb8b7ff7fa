package uistate

import (
	"errors"
	"fmt"
	"slices"

	"github.com/ternmq/tern/codec"
)

// SubState is where a subscription stands with the server.
type SubState uint8

// The subscription states.
const (
	SubPending SubState = iota // not acknowledged yet (or not connected)
	SubActive                  // granted by the server
	SubFailed                  // refused by the server or failed to send
)

// String returns "pending", "active" or "failed".
func (s SubState) String() string {
	switch s {
	case SubActive:
		return "active"
	case SubFailed:
		return "failed"
	}
	return "pending"
}

// Subscription is one topic filter the page subscribes to, with its MQTT
// 5.0 options, its color in the log and how many messages it delivered.
type Subscription struct {
	ID                int
	Filter            string
	QoS               byte
	NoLocal           bool
	RetainAsPublished bool
	RetainHandling    byte // 0 send retained, 1 only for a new subscription, 2 never
	Color             string
	Count             uint64
	State             SubState
	Granted           codec.ReasonCode // the SUBACK reason code once answered
	Err               string
}

// Codec returns the subscription as the codec sends it.
func (s *Subscription) Codec() codec.Subscription {
	return codec.Subscription{Filter: s.Filter, QoS: codec.QoS(s.QoS), NoLocal: s.NoLocal,
		RetainAsPublished: s.RetainAsPublished, RetainHandling: s.RetainHandling}
}

// Palette holds the subscription colors, chosen to read on light and dark
// backgrounds alike.
var Palette = []string{
	"#2f7fd8", "#e0702b", "#2ea06a", "#c64b8c", "#8a63d2",
	"#c9a227", "#1aa3a3", "#d24b4b", "#6b8e23", "#7a7f8c",
}

// Subscriptions is the page's list of subscriptions, in the order they
// were added. IDs start at 1 and are not reused.
type Subscriptions struct {
	list   []Subscription
	nextID int
}

// ErrDuplicateFilter is returned by Add for a filter already in the list.
var ErrDuplicateFilter = errors.New("already subscribed to this topic filter")

// Add validates s, gives it an ID and, when s.Color is empty, the first
// palette color not in use, and appends it as pending. It returns the ID.
func (ss *Subscriptions) Add(s Subscription) (int, error) {
	if err := codec.ValidTopicFilter(s.Filter); err != nil {
		return 0, err
	}
	if s.QoS > 2 || s.RetainHandling > 2 {
		return 0, fmt.Errorf("invalid QoS %d or Retain Handling %d", s.QoS, s.RetainHandling)
	}
	if slices.ContainsFunc(ss.list, func(x Subscription) bool { return x.Filter == s.Filter }) {
		return 0, ErrDuplicateFilter
	}
	ss.nextID++
	s.ID = ss.nextID
	if s.Color == "" {
		s.Color = ss.freeColor()
	}
	s.Count, s.State, s.Granted, s.Err = 0, SubPending, 0, ""
	ss.list = append(ss.list, s)
	return s.ID, nil
}

// freeColor returns the first palette color no subscription uses, or
// cycles through the palette when all are taken.
func (ss *Subscriptions) freeColor() string {
	for _, c := range Palette {
		if !slices.ContainsFunc(ss.list, func(x Subscription) bool { return x.Color == c }) {
			return c
		}
	}
	return Palette[(ss.nextID-1)%len(Palette)]
}

// Remove deletes the subscription with the given ID.
func (ss *Subscriptions) Remove(id int) {
	ss.list = slices.DeleteFunc(ss.list, func(x Subscription) bool { return x.ID == id })
}

// Get returns the subscription with the given ID, or nil.
func (ss *Subscriptions) Get(id int) *Subscription {
	for i := range ss.list {
		if ss.list[i].ID == id {
			return &ss.list[i]
		}
	}
	return nil
}

// List returns the subscriptions; the slice must not be modified.
func (ss *Subscriptions) List() []Subscription { return ss.list }

// Len returns the number of subscriptions.
func (ss *Subscriptions) Len() int { return len(ss.list) }

// Color returns the color of subscription id, or "" when there is none.
func (ss *Subscriptions) Color(id int) string {
	if s := ss.Get(id); s != nil {
		return s.Color
	}
	return ""
}

// SetPending marks every subscription as waiting for the server, as after
// a new connection.
func (ss *Subscriptions) SetPending() {
	for i := range ss.list {
		ss.list[i].State, ss.list[i].Err = SubPending, ""
	}
}

// SetResult records the server's answer to subscription id: a granted QoS
// or a failure code, or err when the SUBSCRIBE did not complete.
func (ss *Subscriptions) SetResult(id int, code codec.ReasonCode, err error) {
	s := ss.Get(id)
	if s == nil {
		return
	}
	s.Granted = code
	switch {
	case err != nil:
		s.State, s.Err = SubFailed, err.Error()
	case code.IsError():
		s.State, s.Err = SubFailed, code.String()
	default:
		s.State, s.Err = SubActive, ""
	}
}

// AddCounts adds delivered-message counts by subscription ID.
func (ss *Subscriptions) AddCounts(counts map[int]uint64) {
	for id, n := range counts {
		if s := ss.Get(id); s != nil {
			s.Count += n
		}
	}
}

// ResetCounts sets every count to zero.
func (ss *Subscriptions) ResetCounts() {
	for i := range ss.list {
		ss.list[i].Count = 0
	}
}

// Matching returns the subscriptions whose filter matches topic.
func (ss *Subscriptions) Matching(topic string) []Subscription {
	var out []Subscription
	for _, s := range ss.list {
		f := s.Filter
		if codec.IsShared(f) {
			_, f, _ = codec.ParseShared(f)
		}
		if codec.MatchTopic(f, topic) {
			out = append(out, s)
		}
	}
	return out
}
