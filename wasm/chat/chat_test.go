package chat

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2025, 3, 4, 12, 0, 0, 0, time.UTC)

func TestTopics(t *testing.T) {
	if got := MessagesTopic("lobby"); got != "chat/lobby/messages" {
		t.Errorf("MessagesTopic = %q", got)
	}
	if got := MessagesFilter("lobby"); got != "chat/lobby/messages/#" {
		t.Errorf("MessagesFilter = %q", got)
	}
	for user, want := range map[string]string{"alice": "chat/lobby/messages/alice", "": "chat/lobby/messages",
		"a/b": "chat/lobby/messages", "a+": "chat/lobby/messages", "#": "chat/lobby/messages"} {
		if got := SendTopic("lobby", user); got != want {
			t.Errorf("SendTopic(%q) = %q, want %q", user, got, want)
		}
	}
	if got := PresenceTopic("lobby", "tcabc-1"); got != "chat/lobby/presence/tcabc-1" {
		t.Errorf("PresenceTopic = %q", got)
	}
	tests := []struct {
		topic, room string
		kind        Kind
		id          string
	}{
		{"chat/lobby/messages", "lobby", KindMessages, ""},
		{"chat/lobby/messages/alice", "lobby", KindMessages, "alice"},
		{"chat/lobby/messages/", "", KindNone, ""},
		{"chat/lobby/messages/a/b", "", KindNone, ""},
		{"chat/Café ☕/messages", "Café ☕", KindMessages, ""},
		{"chat/lobby/presence/c1", "lobby", KindPresence, "c1"},
		{"chat/lobby/presence/", "", KindNone, ""},
		{"chat/lobby/presence/a/b", "", KindNone, ""},
		{"chat/lobby/other", "", KindNone, ""},
		{"chat//messages", "", KindNone, ""},
		{"chat/$x/messages", "", KindNone, ""},
		{"other/lobby/messages", "", KindNone, ""},
		{"chat", "", KindNone, ""},
	}
	for _, tt := range tests {
		room, kind, id := ParseTopic(tt.topic)
		if room != tt.room || kind != tt.kind || id != tt.id {
			t.Errorf("ParseTopic(%q) = %q, %v, %q", tt.topic, room, kind, id)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, r := range []string{"lobby", "Café ☕", "a b", strings.Repeat("x", MaxRoom)} {
		if err := ValidRoom(r); err != nil {
			t.Errorf("ValidRoom(%q): %v", r, err)
		}
	}
	for _, r := range []string{"", "a/b", "a+", "#", "$sys", "a\nb", strings.Repeat("x", MaxRoom+1), "\xff"} {
		if ValidRoom(r) == nil {
			t.Errorf("ValidRoom(%q) accepted", r)
		}
	}
	for _, n := range []string{"", "  ", "a\tb", strings.Repeat("n", MaxNick+1)} {
		if ValidNick(n) == nil {
			t.Errorf("ValidNick(%q) accepted", n)
		}
	}
	if ValidNick("Alice 🙂") != nil {
		t.Error("ValidNick refused a nickname")
	}
}

func TestMessageCodec(t *testing.T) {
	m := NewMessage("alice", "hi \"there\"", now)
	if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(m.ID) || m.TS != now.UnixMilli() {
		t.Errorf("NewMessage = %+v", m)
	}
	if got := DecodeMessage(m.Encode()); got != m {
		t.Errorf("round trip: %+v != %+v", got, m)
	}
	tests := []struct {
		payload string
		want    Message
	}{
		{`{"from":"sensor-7","text":"hello"}`, Message{From: "sensor-7", Text: "hello"}},
		{` {"text":"x","ts":5,"extra":[1]} `, Message{Text: "x", TS: 5}},
		{`plain words`, Message{Text: "plain words"}},
		{`{"text":`, Message{Text: `{"text":`}},
		{"bad\xffutf", Message{Text: "bad\uFFFDutf"}},
	}
	for _, tt := range tests {
		if got := DecodeMessage([]byte(tt.payload)); got != tt.want {
			t.Errorf("DecodeMessage(%q) = %+v, want %+v", tt.payload, got, tt.want)
		}
	}
	long := DecodeMessage([]byte(strings.Repeat("é", MaxText+10)))
	if n := len([]rune(long.Text)); n != MaxText {
		t.Errorf("long text cut to %d runes", n)
	}
}

func TestPresenceCodec(t *testing.T) {
	tests := []struct {
		payload string
		nick    string
		ok      bool
	}{
		{`{"nick":"alice","ts":1}`, "alice", true},
		{`sensor 7`, "sensor 7", true},
		{``, "", false},
		{`  `, "", false},
	}
	for _, tt := range tests {
		p, ok := DecodePresence([]byte(tt.payload))
		if p.Nick != tt.nick || ok != tt.ok {
			t.Errorf("DecodePresence(%q) = %+v, %v", tt.payload, p, ok)
		}
	}
	if p, _ := DecodePresence(Presence{Nick: "bob", TS: 9}.Encode()); p != (Presence{"bob", 9}) {
		t.Errorf("round trip %+v", p)
	}
}

func TestRoomClientID(t *testing.T) {
	a, b := RoomClientID("tcbase", "lobby"), RoomClientID("tcbase", "Lobby")
	if a == b || a != RoomClientID("tcbase", "lobby") || !strings.HasPrefix(a, "tcbase-") || len(a) != len("tcbase-")+8 {
		t.Errorf("RoomClientID: %q %q", a, b)
	}
	if id := NewBaseID(); !regexp.MustCompile(`^tc[a-z0-9]{10}$`).MatchString(id) || len(RoomClientID(id, "x")) > 23 {
		t.Errorf("NewBaseID = %q", id)
	}
}

func texts(r *Room) []string {
	var out []string
	for _, e := range r.Entries() {
		switch e.Kind {
		case Chat:
			s := e.From + ": " + e.Text
			if e.Pending {
				s += " (pending)"
			}
			out = append(out, s)
		case Joined:
			out = append(out, e.From+" joined")
		case Left:
			out = append(out, e.From+" left")
		}
	}
	return out
}

func chatMsg(id, from, text string, ts time.Time) []byte {
	return Message{ID: id, From: from, Text: text, TS: ts.UnixMilli()}.Encode()
}

func TestOrderingAndDedupe(t *testing.T) {
	s := NewState()
	s.Nick = "me"
	if err := s.Join("lobby"); err != nil {
		t.Fatal(err)
	}
	mine := NewMessage("me", "mine", now.Add(2*time.Second))
	s.Sent("lobby", "", mine)
	steps := []struct {
		topic, payload string
		changed        bool
	}{
		{"chat/lobby/messages", string(chatMsg("a", "bob", "second", now.Add(time.Second))), true},
		{"chat/lobby/messages", string(chatMsg("b", "carol", "first", now)), true},                  // late, sorts first
		{"chat/lobby/messages", string(chatMsg("a", "bob", "second", now.Add(time.Second))), false}, // duplicate
		{"chat/lobby/messages", string(mine.Encode()), true},                                        // our echo: no longer pending
		{"chat/lobby/messages", string(mine.Encode()), false},                                       // and again
		{"chat/lobby/messages", "no json", true},                                                    // arrival time: last
		{"chat/lobby/messages", string(chatMsg("f", "eve", "future", now.Add(time.Hour))), true},    // clamped to arrival
		{"chat/other/messages", string(chatMsg("c", "x", "y", now)), true},
		{"tern/x", "1", false},
	}
	for i, st := range steps {
		got := s.Receive(st.topic, []byte(st.payload), false, now.Add(5*time.Second))
		if (got != "") != st.changed {
			t.Errorf("step %d: changed %q", i, got)
		}
	}
	want := []string{"carol: first", "bob: second", "me: mine", "anonymous: no json", "eve: future"}
	if got := texts(s.Room("lobby")); !slices.Equal(got, want) {
		t.Errorf("entries %q, want %q", got, want)
	}
	if r := s.Room("other"); r.Unread != 1 || r.Joined || s.Room("lobby").Unread != 0 {
		t.Errorf("unread other %d lobby %d", r.Unread, s.Room("lobby").Unread)
	}
	s.Select("other")
	if s.Room("other").Unread != 0 {
		t.Error("Select did not clear unread")
	}
}

// TestSameMillisecondKeepsArrivalOrder: two messages stamped with the
// millisecond the first arrives in stay in arrival order, whatever the
// sub-millisecond part of the arrival times (CI, TestChatConnWithBroker
// showed "three" above "two").
func TestSameMillisecondKeepsArrivalOrder(t *testing.T) {
	s := NewState()
	ms := now.Truncate(time.Millisecond)
	s.Receive("chat/r/messages", chatMsg("2", "bob", "two", ms), false, ms.Add(900*time.Microsecond))
	s.Receive("chat/r/messages", chatMsg("3", "bob", "three", ms), false, ms.Add(1100*time.Microsecond))
	if got, want := texts(s.Room("r")), []string{"bob: two", "bob: three"}; !slices.Equal(got, want) {
		t.Errorf("entries %q, want %q", got, want)
	}
}

func TestEntriesBounded(t *testing.T) {
	s := NewState()
	for i := range MaxEntries * 3 {
		s.Receive("chat/big/messages", chatMsg(fmt.Sprint(i), "x", fmt.Sprint(i), now.Add(time.Duration(i)*time.Millisecond)), false, now.Add(time.Hour))
	}
	r := s.Room("big")
	if len(r.Entries()) != MaxEntries || r.Entries()[MaxEntries-1].Text != fmt.Sprint(MaxEntries*3-1) || len(r.seen) > maxSeenIDs {
		t.Errorf("%d entries, %d ids", len(r.Entries()), len(r.seen))
	}
}

func TestPresence(t *testing.T) {
	s := NewState()
	s.Join("lobby")
	p := func(nick string) []byte { return Presence{Nick: nick}.Encode() }
	// The snapshot at subscription: retained, no notices.
	s.Receive("chat/lobby/presence/c1", p("alice"), true, now)
	s.Receive("chat/kitchen/presence/c9", p("zed"), true, now)
	// Live changes.
	s.Receive("chat/lobby/presence/c2", p("bob"), false, now.Add(time.Second))
	if s.Receive("chat/lobby/presence/c2", p("bob"), false, now.Add(2*time.Second)) != "" {
		t.Error("repeated presence changed the state")
	}
	s.Receive("chat/lobby/presence/c2", p("bobby"), false, now.Add(2*time.Second)) // renamed
	s.Receive("chat/lobby/presence/c1", nil, false, now.Add(3*time.Second))        // alice's will
	if s.Receive("chat/lobby/presence/c1", nil, false, now.Add(4*time.Second)) != "" {
		t.Error("a second goodbye changed the state")
	}
	if s.Receive("chat/nowhere/presence/c5", nil, false, now) != "" || s.Room("nowhere") != nil {
		t.Error("a goodbye in an unknown room made the room")
	}
	r := s.Room("lobby")
	if got := texts(r); !slices.Equal(got, []string{"bob joined", "alice left"}) {
		t.Errorf("notices %q", got)
	}
	online, gone := r.Online(), r.Gone()
	if len(online) != 1 || online[0].Nick != "bobby" || len(gone) != 1 || gone[0].Nick != "alice" || !gone[0].Gone.Equal(now.Add(3*time.Second)) {
		t.Errorf("online %+v gone %+v", online, gone)
	}
	rooms := s.Rooms()
	want := []RoomInfo{{Name: "lobby", Joined: true, Current: true, Online: 1}, {Name: "kitchen", Online: 1}}
	if !slices.Equal(rooms, want) {
		t.Errorf("Rooms = %+v, want %+v", rooms, want)
	}
	// alice comes back.
	s.Receive("chat/lobby/presence/c1", p("alice"), false, now.Add(5*time.Second))
	if len(r.Online()) != 2 || len(r.Gone()) != 0 {
		t.Errorf("after return: online %+v gone %+v", r.Online(), r.Gone())
	}
	s.ResetPresence()
	if r.OnlineCount() != 0 || len(s.Rooms()) != 1 {
		t.Errorf("ResetPresence left %d online, rooms %+v", r.OnlineCount(), s.Rooms())
	}
	// Gone members are bounded.
	for i := range maxGone * 2 {
		id := fmt.Sprint("g", i)
		s.Receive("chat/lobby/presence/"+id, p(id), true, now)
		s.Receive("chat/lobby/presence/"+id, nil, false, now.Add(time.Duration(i)*time.Second))
	}
	if n := len(r.Gone()); n != maxGone || r.Gone()[0].Nick != fmt.Sprint("g", maxGone*2-1) {
		t.Errorf("%d gone members kept", n)
	}
}

func TestJoinLeaveSaveLoad(t *testing.T) {
	s := NewState()
	if s.Join("a/b") == nil {
		t.Error("joined an invalid room")
	}
	s.Nick = "alice"
	s.Join("zoo")
	s.Join("lobby")
	if s.Current != "lobby" || !slices.Equal(s.Joined(), []string{"lobby", "zoo"}) {
		t.Errorf("current %q joined %q", s.Current, s.Joined())
	}
	saved := s.Save()
	s.Leave("lobby")
	if s.Current != "zoo" || s.Room("lobby").Joined {
		t.Errorf("after leave: current %q", s.Current)
	}
	s2 := NewState()
	s2.Load(saved)
	if s2.Nick != "alice" || s2.Current != "lobby" || !slices.Equal(s2.Joined(), []string{"lobby", "zoo"}) {
		t.Errorf("Load: %+v", s2.Save())
	}
	s3 := NewState()
	s3.Load(Saved{Nick: "\x01", Rooms: []string{"ok", "bad/room"}, Current: "gone"})
	if s3.Nick != "" || s3.Current != "ok" || !slices.Equal(s3.Joined(), []string{"ok"}) {
		t.Errorf("Load of bad data: %+v", s3.Save())
	}
}

// TestVerifiedSender: a message on a user's topic carries that user,
// whatever its "from" says; one on the bare topic carries none. The page's
// own message is confirmed only by its copy on its own user's topic.
func TestVerifiedSender(t *testing.T) {
	s := NewState()
	s.Join("r")
	s.Receive("chat/r/messages/bob", []byte(`{"id":"1","from":"alice","text":"I am alice"}`), false, now)
	s.Receive("chat/r/messages", []byte(`{"id":"2","from":"bob","text":"old client"}`), false, now)
	m := Message{ID: "3", From: "Al", Text: "mine", TS: now.UnixMilli()}
	s.Sent("r", "alice", m)
	s.Receive("chat/r/messages", m.Encode(), false, now) // a replay on the bare topic
	var got []string
	for _, e := range s.Room("r").Entries() {
		got = append(got, fmt.Sprintf("%s/%s/%v", e.From, e.User, e.Pending))
	}
	want := []string{"alice/bob/false", "bob//false", "Al/alice/true"}
	if !slices.Equal(got, want) {
		t.Fatalf("entries = %q, want %q", got, want)
	}
	s.Receive("chat/r/messages/alice", m.Encode(), false, now)
	if e := s.Room("r").Entries()[2]; e.Pending || e.User != "alice" {
		t.Errorf("own message after its echo: %+v", e)
	}
}

// TestHistory: a room's history slots are retained topics any client can
// read; a joiner gets the past messages in time order, once each (the
// live copy and the history copy share the id), without unread counts;
// the page's next message takes the slot after the highest seen.
func TestHistory(t *testing.T) {
	if got := HistoryTopic("lobby", 1234); got != "chat/lobby/history/34" {
		t.Errorf("HistoryTopic = %q", got)
	}
	if got := HistoryFilter("lobby"); got != "chat/lobby/history/+" {
		t.Errorf("HistoryFilter = %q", got)
	}
	for topic, want := range map[string]Kind{
		"chat/lobby/history/0": KindHistory, "chat/lobby/history/99": KindHistory,
		"chat/lobby/history/100": KindNone, "chat/lobby/history/07": KindNone, "chat/lobby/history/x": KindNone,
	} {
		if _, kind, _ := ParseTopic(topic); kind != want {
			t.Errorf("ParseTopic(%q) kind %v, want %v", topic, kind, want)
		}
	}

	s := NewState()
	s.Join("lobby")
	s.Join("other")
	s.Select("other")
	now := time.UnixMilli(1_700_000_100_000)
	old := func(seq uint64, text string) []byte {
		return Message{ID: "id" + text, From: "bob", Text: text, TS: 1_700_000_000_000 + int64(seq), Seq: seq}.Encode()
	}
	// Retained slots arrive in slot order, not in time order.
	s.Receive("chat/lobby/history/2", old(102, "third"), true, now)
	s.Receive("chat/lobby/history/0", old(100, "first"), true, now)
	s.Receive("chat/lobby/history/1", old(101, "second"), true, now)
	s.Receive("chat/lobby/history/3", nil, true, now) // a cleared slot
	s.Receive("chat/lobby/messages/bob", Message{ID: "idthird", From: "bob", Text: "third"}.Encode(), false, now)
	r := s.Room("lobby")
	var got []string
	for _, e := range r.Entries() {
		got = append(got, e.Text)
	}
	if strings.Join(got, ",") != "first,second,third" {
		t.Errorf("entries %q", got)
	}
	if r.Unread != 0 {
		t.Errorf("history counted as unread: %d", r.Unread)
	}
	topic, m := s.NextHistory("lobby", NewMessage("ann", "mine", now))
	if topic != "chat/lobby/history/3" || m.Seq != 103 {
		t.Errorf("next history %q seq %d", topic, m.Seq)
	}
	if DecodeMessage(m.Encode()).Seq != 103 {
		t.Error("the sequence number does not travel")
	}
}

// FuzzReceive feeds any topic and payload to a State, as a broker may
// deliver them on the chat's subscriptions: nothing panics, and a history
// slot never moves the next sequence number backwards.
func FuzzReceive(f *testing.F) {
	f.Add("chat/lobby/history/7", []byte(`{"id":"x","text":"hi","seq":107}`))
	f.Add("chat/lobby/messages/bob", []byte(`{"text":"hi"}`))
	f.Add("chat/lobby/presence/c1", []byte(`{"nick":"ann"}`))
	f.Add("chat/lobby/history/99", []byte("plain"))
	f.Add("chat/lobby/history/15", []byte(`{"text":"x","seq":18446744073709551615}`))
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		s := NewState()
		s.Join("lobby")
		_, before := s.NextHistory("lobby", Message{})
		s.Receive(topic, payload, true, time.Now())
		if _, after := s.NextHistory("lobby", Message{}); after.Seq <= before.Seq {
			t.Fatalf("next seq %d after %d", after.Seq, before.Seq)
		}
	})
}
