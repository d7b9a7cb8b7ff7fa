package chat

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Topic layout.
const (
	Prefix         = "chat"
	messagesLevel  = "messages"
	presenceLevel  = "presence"
	historyLevel   = "history"
	PresenceFilter = Prefix + "/+/" + presenceLevel + "/+" // every room's presence
)

// Limits.
const (
	MaxRoom = 64   // characters in a room name
	MaxNick = 32   // characters in a nickname
	MaxText = 4000 // characters of a message shown (and sent)
)

// SessionExpiry is the Session Expiry Interval of the web client's room
// sessions, in seconds: messages sent to a room while the page was away
// for up to this long arrive when it comes back.
const SessionExpiry = 24 * 60 * 60

// MessagesTopic returns the topic of a room's messages from anyone: their
// sender is not verified.
func MessagesTopic(room string) string { return Prefix + "/" + room + "/" + messagesLevel }

// UserMessagesTopic returns the topic of a room's messages from a user: an
// ACL can let each user publish only under their own name (see the
// package doc).
func UserMessagesTopic(room, user string) string { return MessagesTopic(room) + "/" + user }

// MessagesFilter returns the filter of all a room's messages: the bare
// topic and every user's.
func MessagesFilter(room string) string { return MessagesTopic(room) + "/#" }

// SendTopic returns the topic to publish a message to: the user's own
// topic when user (the connection's username) can be a topic level, else
// the bare one.
func SendTopic(room, user string) string {
	if ValidUser(user) {
		return UserMessagesTopic(room, user)
	}
	return MessagesTopic(room)
}

// ValidUser reports whether a username can name a message topic: one
// topic level, without the wildcards an ACL refuses in a username.
func ValidUser(user string) bool {
	return user != "" && !strings.ContainsAny(user, "/+#") && utf8.ValidString(user)
}

// HistorySize is how many of a room's last messages its history keeps:
// one retained message per slot, chat/{room}/history/{seq mod
// HistorySize}, so that the broker (with a durable store, across its
// restarts too) holds the room's last HistorySize messages for anyone who
// joins, even when nobody is online.
const HistorySize = 100

// maxHistorySeq is the largest history sequence number taken into
// account (2^53, exact in JavaScript's numbers too); a slot claiming more is
// shown but does not move the sequence.
const maxHistorySeq = 1 << 53

// HistoryTopic returns the history slot of the message with the given
// sequence number.
func HistoryTopic(room string, seq uint64) string {
	return Prefix + "/" + room + "/" + historyLevel + "/" + strconv.FormatUint(seq%HistorySize, 10)
}

// HistoryFilter returns the filter of a room's history slots.
func HistoryFilter(room string) string { return Prefix + "/" + room + "/" + historyLevel + "/+" }

// PresenceTopic returns the topic of a member's presence in a room.
func PresenceTopic(room, clientID string) string {
	return Prefix + "/" + room + "/" + presenceLevel + "/" + clientID
}

// Kind is the kind of a chat topic.
type Kind uint8

// The kinds of chat topics.
const (
	KindNone Kind = iota
	KindMessages
	KindPresence
	KindHistory
)

// ParseTopic returns the room and kind of a chat topic, and who: the
// client id of a presence topic, the user of a user's messages topic ("" on
// the bare messages topic), the slot of a history topic.
func ParseTopic(topic string) (room string, kind Kind, who string) {
	rest, ok := strings.CutPrefix(topic, Prefix+"/")
	if !ok {
		return "", KindNone, ""
	}
	room, rest, ok = strings.Cut(rest, "/")
	if !ok || ValidRoom(room) != nil {
		return "", KindNone, ""
	}
	if rest == messagesLevel {
		return room, KindMessages, ""
	}
	if u, ok := strings.CutPrefix(rest, messagesLevel+"/"); ok && ValidUser(u) {
		return room, KindMessages, u
	}
	if id, ok := strings.CutPrefix(rest, presenceLevel+"/"); ok && id != "" && !strings.Contains(id, "/") {
		return room, KindPresence, id
	}
	if slot, ok := strings.CutPrefix(rest, historyLevel+"/"); ok {
		if n, err := strconv.ParseUint(slot, 10, 8); err == nil && n < HistorySize && strconv.FormatUint(n, 10) == slot {
			return room, KindHistory, slot
		}
	}
	return "", KindNone, ""
}

// ValidRoom checks a room name.
func ValidRoom(room string) error {
	switch {
	case room == "":
		return errors.New("a room needs a name")
	case utf8.RuneCountInString(room) > MaxRoom:
		return fmt.Errorf("a room name has at most %d characters", MaxRoom)
	case strings.ContainsAny(room, "/+#"):
		return errors.New(`a room name cannot contain "/", "+" or "#"`)
	case room[0] == '$':
		return errors.New(`a room name cannot start with "$"`)
	case !utf8.ValidString(room) || strings.IndexFunc(room, unicode.IsControl) >= 0:
		return errors.New("a room name cannot contain control characters")
	}
	return nil
}

// ValidNick checks a nickname.
func ValidNick(nick string) error {
	switch {
	case strings.TrimSpace(nick) == "":
		return errors.New("choose a nickname")
	case utf8.RuneCountInString(nick) > MaxNick:
		return fmt.Errorf("a nickname has at most %d characters", MaxNick)
	case !utf8.ValidString(nick) || strings.IndexFunc(nick, unicode.IsControl) >= 0:
		return errors.New("a nickname cannot contain control characters")
	}
	return nil
}

// Message is a chat message as it travels.
type Message struct {
	ID   string `json:"id,omitempty"`
	From string `json:"from,omitempty"`
	Text string `json:"text"`
	TS   int64  `json:"ts,omitempty"` // milliseconds since the Unix epoch
	// Seq numbers the room's messages in its history (see HistoryTopic);
	// only the history copy carries it.
	Seq uint64 `json:"seq,omitempty"`
}

// NewMessage returns a message from nick with a new id and the time now.
func NewMessage(nick, text string, now time.Time) Message {
	return Message{ID: NewID(), From: nick, Text: text, TS: now.UnixMilli()}
}

// Encode returns the message's JSON payload.
func (m Message) Encode() []byte {
	b, _ := json.Marshal(m)
	return b
}

// DecodeMessage reads a message payload: a JSON object in the format
// above, or anything else as the text of an anonymous message.
func DecodeMessage(payload []byte) Message {
	var m Message
	if t := bytes.TrimSpace(payload); len(t) > 0 && t[0] == '{' && json.Unmarshal(t, &m) == nil {
		m.Text = clip(m.Text, MaxText)
		m.From = clip(strings.TrimSpace(m.From), MaxNick)
		m.ID = clip(m.ID, 64)
		return m
	}
	return Message{Text: clip(strings.ToValidUTF8(string(payload), "\uFFFD"), MaxText)}
}

// Presence is a member's presence payload.
type Presence struct {
	Nick string `json:"nick"`
	TS   int64  `json:"ts,omitempty"` // milliseconds since the Unix epoch
}

// Encode returns the presence's JSON payload.
func (p Presence) Encode() []byte {
	b, _ := json.Marshal(p)
	return b
}

// DecodePresence reads a presence payload: a JSON object {"nick": ...} or
// the nickname as plain text. ok is false for an empty payload (the member
// has gone).
func DecodePresence(payload []byte) (p Presence, ok bool) {
	t := bytes.TrimSpace(payload)
	if len(t) == 0 {
		return Presence{}, false
	}
	if t[0] == '{' && json.Unmarshal(t, &p) == nil {
		p.Nick = clip(strings.TrimSpace(p.Nick), MaxNick)
		return p, true
	}
	return Presence{Nick: clip(strings.ToValidUTF8(string(t), "\uFFFD"), MaxNick)}, true
}

// clip cuts s to at most n runes.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := 0
	for k := range s {
		if i == n {
			return s[:k]
		}
		i++
	}
	return s
}

// NewID returns a new random message id: 16 hex digits.
func NewID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// NewBaseID returns a new random base for the client ids of one page's
// room sessions: "tc" and 10 lowercase letters and digits.
func NewBaseID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b [10]byte
	rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "tc" + string(b[:])
}

// RoomClientID returns the client id of the session base keeps for room:
// the base and a hash of the room name, so that it stays short and
// printable whatever the room is called.
func RoomClientID(base, room string) string {
	h := fnv.New32a()
	h.Write([]byte(room))
	return fmt.Sprintf("%s-%08x", base, h.Sum32())
}
