package chat

import (
	"cmp"
	"slices"
	"time"
)

// Bounds of the state.
const (
	MaxEntries = 500 // messages and notices kept per room
	maxGone    = 20  // members shown as gone per room
	maxSeenIDs = 2 * MaxEntries
)

// EntryKind is the kind of a line in a room.
type EntryKind uint8

// The kinds of lines.
const (
	Chat   EntryKind = iota // a chat message
	Joined                  // a member came
	Left                    // a member went
)

// Entry is a line in a room: a message or a notice that a member came or
// went.
type Entry struct {
	Kind EntryKind
	ID   string
	From string // the sender's nickname, or the member who came or went
	// User is the username a message was published under
	// (chat/{room}/messages/{user}), "" for one on the bare topic. An ACL
	// binding that level to the username makes it the verified sender.
	User string
	Text string
	At   time.Time // when it was sent (see the package doc), or happened
	Seq  uint64    // arrival order, from 1
	Mine bool      // sent from this page
	// Pending is set on a message sent from this page until the broker
	// sends it back.
	Pending bool
}

// Member is someone whose presence the page has seen in a room.
type Member struct {
	ClientID string
	Nick     string
	Since    time.Time // when the page saw them come
	Online   bool
	Gone     time.Time // when they went, for members no longer online
}

// Room is a chat room as the page knows it.
type Room struct {
	Name   string
	Joined bool // the page is in the room (has a session for it)
	Unread int  // messages arrived while another room was shown

	entries []Entry // by At, then Seq
	seen    map[string]struct{}
	seenQ   []string
	members map[string]*Member
	histSeq uint64 // the highest history sequence number seen
}

func newRoom(name string) *Room {
	return &Room{Name: name, seen: make(map[string]struct{}), members: make(map[string]*Member)}
}

// Entries returns the room's lines in order. The slice is the room's own:
// do not modify it.
func (r *Room) Entries() []Entry { return r.entries }

// Online returns the members online, by nickname.
func (r *Room) Online() []Member {
	var out []Member
	for _, m := range r.members {
		if m.Online {
			out = append(out, *m)
		}
	}
	slices.SortFunc(out, func(a, b Member) int {
		return cmp.Or(cmp.Compare(a.Nick, b.Nick), cmp.Compare(a.ClientID, b.ClientID))
	})
	return out
}

// Gone returns the members seen going, most recent first.
func (r *Room) Gone() []Member {
	var out []Member
	for _, m := range r.members {
		if !m.Online {
			out = append(out, *m)
		}
	}
	slices.SortFunc(out, func(a, b Member) int {
		return cmp.Or(b.Gone.Compare(a.Gone), cmp.Compare(a.ClientID, b.ClientID))
	})
	return out
}

// OnlineCount returns the number of members online.
func (r *Room) OnlineCount() int {
	n := 0
	for _, m := range r.members {
		if m.Online {
			n++
		}
	}
	return n
}

// insert adds e in order and keeps at most MaxEntries lines.
func (r *Room) insert(e Entry) {
	i := len(r.entries)
	for i > 0 && r.entries[i-1].At.After(e.At) {
		i--
	}
	r.entries = slices.Insert(r.entries, i, e)
	if n := len(r.entries) - MaxEntries; n > 0 {
		r.entries = slices.Delete(r.entries, 0, n)
	}
}

// remember records a message id and reports whether it is new. It keeps
// the last maxSeenIDs ids.
func (r *Room) remember(id string) bool {
	if _, dup := r.seen[id]; dup {
		return false
	}
	r.seen[id] = struct{}{}
	r.seenQ = append(r.seenQ, id)
	if len(r.seenQ) > maxSeenIDs {
		delete(r.seen, r.seenQ[0])
		r.seenQ = slices.Delete(r.seenQ, 0, 1)
	}
	return true
}

// RoomInfo describes a room for the room list.
type RoomInfo struct {
	Name    string
	Joined  bool
	Current bool
	Online  int
	Unread  int
}

// State is the chat rooms of one page. It is not safe for concurrent use.
type State struct {
	Nick    string
	Current string // the room shown, "" for none

	rooms map[string]*Room
	seq   uint64
}

// NewState returns an empty state.
func NewState() *State { return &State{rooms: make(map[string]*Room)} }

// Room returns a room, nil if the page has not seen it.
func (s *State) Room(name string) *Room { return s.rooms[name] }

func (s *State) room(name string) *Room {
	r := s.rooms[name]
	if r == nil {
		r = newRoom(name)
		s.rooms[name] = r
	}
	return r
}

// Join marks a room as joined and shows it.
func (s *State) Join(name string) error {
	if err := ValidRoom(name); err != nil {
		return err
	}
	s.room(name).Joined = true
	s.Select(name)
	return nil
}

// Leave marks a room as left; the room stays in the list while members are
// online in it.
func (s *State) Leave(name string) {
	r := s.rooms[name]
	if r == nil {
		return
	}
	r.Joined = false
	if s.Current == name {
		s.Current = ""
		if j := s.Joined(); len(j) > 0 {
			s.Select(j[0])
		}
	}
}

// Select shows a room and clears its unread count.
func (s *State) Select(name string) {
	s.Current = name
	if r := s.rooms[name]; r != nil {
		r.Unread = 0
	}
}

// Joined returns the names of the joined rooms, sorted.
func (s *State) Joined() []string {
	var out []string
	for _, r := range s.rooms {
		if r.Joined {
			out = append(out, r.Name)
		}
	}
	slices.Sort(out)
	return out
}

// Rooms lists the rooms for the room list: the joined ones, then those
// with members online, each group by name.
func (s *State) Rooms() []RoomInfo {
	var out []RoomInfo
	for _, r := range s.rooms {
		n := r.OnlineCount()
		if !r.Joined && n == 0 {
			continue
		}
		out = append(out, RoomInfo{Name: r.Name, Joined: r.Joined, Current: r.Name == s.Current, Online: n, Unread: r.Unread})
	}
	slices.SortFunc(out, func(a, b RoomInfo) int {
		if a.Joined != b.Joined {
			if a.Joined {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return out
}

// Receive applies a message received on a chat topic at time now, and
// returns the room it changed ("" when it changed nothing). Presence that
// arrives retained is the state when the page subscribed, so it adds no
// "joined" notice.
func (s *State) Receive(topic string, payload []byte, retained bool, now time.Time) string {
	room, kind, who := ParseTopic(topic)
	switch kind {
	case KindMessages:
		if s.receiveMessage(room, who, DecodeMessage(payload), now) {
			return room
		}
	case KindPresence:
		if s.receivePresence(room, who, payload, retained, now) {
			return room
		}
	case KindHistory:
		if s.receiveHistory(room, payload, now) {
			return room
		}
	}
	return ""
}

// receiveHistory applies a message of a room's history: shown like any
// message (once: the live copy and the history copy share the id), and
// its sequence number remembered so that the page's next message takes
// the next slot. An empty payload is a cleared slot.
func (s *State) receiveHistory(name string, payload []byte, now time.Time) bool {
	if len(payload) == 0 {
		return false
	}
	m := DecodeMessage(payload)
	r := s.room(name)
	if m.Seq <= maxHistorySeq { // a larger one would wrap the next around
		r.histSeq = max(r.histSeq, m.Seq)
	}
	unread := r.Unread
	changed := s.receiveMessage(name, "", m, now)
	r.Unread = unread // the past is not news
	return changed
}

// NextHistory returns the history copy of m, a message the page sends to
// room, and its topic: the slot after the highest the page has seen. Two
// pages that send at the same moment may take the same slot; the history
// then keeps one of the two (the live message reaches everyone anyway).
func (s *State) NextHistory(room string, m Message) (string, Message) {
	r := s.room(room)
	r.histSeq++
	m.Seq = r.histSeq
	return HistoryTopic(room, m.Seq), m
}

func (s *State) receiveMessage(name, user string, m Message, now time.Time) bool {
	r := s.room(name)
	if m.ID != "" && !r.remember(m.ID) {
		// Seen: our own message coming back, or a QoS 1 duplicate.
		for i := range r.entries {
			if e := &r.entries[i]; e.ID == m.ID && e.Pending && e.User == user {
				e.Pending = false
				return true
			}
		}
		return false
	}
	// The sender's time orders the room, clamped to the arrival: a clock
	// ahead of ours does not put a line below the ones still to come. The
	// clamp compares whole milliseconds, as TS counts them; a message sent
	// in the millisecond it arrives in keeps its TS, so that it does not
	// sort below the next message of that millisecond (which it did when
	// it took the finer arrival time).
	at := now
	if m.TS > 0 && m.TS <= now.UnixMilli() {
		at = time.UnixMilli(m.TS)
	}
	from := m.From
	if from == "" {
		from = "anonymous"
	}
	s.seq++
	r.insert(Entry{Kind: Chat, ID: m.ID, From: from, User: user, Text: m.Text, At: at, Seq: s.seq})
	if name != s.Current {
		r.Unread++
	}
	return true
}

func (s *State) receivePresence(name, clientID string, payload []byte, retained bool, now time.Time) bool {
	p, online := DecodePresence(payload)
	r := s.rooms[name]
	if r == nil && !online {
		return false
	}
	r = s.room(name)
	m := r.members[clientID]
	switch {
	case online && m != nil && m.Online:
		if m.Nick == p.Nick {
			return false
		}
		m.Nick = p.Nick // a new nickname
	case online:
		if m == nil {
			m = &Member{ClientID: clientID}
			r.members[clientID] = m
		}
		m.Nick, m.Online, m.Since, m.Gone = p.Nick, true, now, time.Time{}
		if !retained {
			s.notice(r, Joined, m.Nick, now)
		}
	case m == nil || !m.Online:
		return false
	default:
		m.Online, m.Gone = false, now
		s.notice(r, Left, m.Nick, now)
		s.pruneGone(r)
	}
	return true
}

func (s *State) notice(r *Room, k EntryKind, nick string, now time.Time) {
	s.seq++
	r.insert(Entry{Kind: k, From: nick, At: now, Seq: s.seq})
}

// pruneGone forgets the members gone longest ago beyond maxGone.
func (s *State) pruneGone(r *Room) {
	gone := r.Gone()
	for _, m := range gone[min(len(gone), maxGone):] {
		delete(r.members, m.ClientID)
	}
}

// Sent adds a message sent from this page to its room, published at
// SendTopic(room, user), marked pending until the broker sends it back.
func (s *State) Sent(room, user string, m Message) {
	r := s.room(room)
	if !r.remember(m.ID) {
		return
	}
	s.seq++
	r.insert(Entry{Kind: Chat, ID: m.ID, From: m.From, User: sendUser(user), Text: m.Text, At: time.UnixMilli(m.TS), Seq: s.seq, Mine: true, Pending: true})
}

// sendUser is the user a message sent as user is published under.
func sendUser(user string) string {
	if ValidUser(user) {
		return user
	}
	return ""
}

// ResetPresence forgets who is online in every room, before the presence
// subscription delivers the current state again (after a reconnection).
func (s *State) ResetPresence() {
	for _, r := range s.rooms {
		clear(r.members)
	}
}

// Saved is what the page remembers of the chat between visits.
type Saved struct {
	Nick    string   `json:"nick,omitempty"`
	Rooms   []string `json:"rooms,omitempty"`
	Current string   `json:"current,omitempty"`
}

// Save returns what to remember.
func (s *State) Save() Saved {
	return Saved{Nick: s.Nick, Rooms: s.Joined(), Current: s.Current}
}

// Load restores what was remembered: the nickname and the joined rooms.
func (s *State) Load(v Saved) {
	if ValidNick(v.Nick) == nil {
		s.Nick = v.Nick
	}
	for _, name := range v.Rooms {
		if ValidRoom(name) == nil {
			s.room(name).Joined = true
		}
	}
	if r := s.rooms[v.Current]; r != nil && r.Joined {
		s.Current = v.Current
	} else if j := s.Joined(); len(j) > 0 {
		s.Current = j[0]
	}
}
