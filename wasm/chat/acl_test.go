//go:build !js

package chat_test

import (
	"os"
	"strings"
	"testing"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/broker/auth/acl"
	"github.com/ternmq/tern/wasm/chat"
)

// readmeACL is the ACL of the README's chat section.
const readmeACL = `pattern write chat/+/messages/%u
pattern readwrite chat/+/presence/%c
pattern write chat/+/history/+
pattern read chat/#
`

// TestACLBindsSpeaker checks that the README's ACL lets each user publish
// messages only under their own name, and everything the web client does.
func TestACLBindsSpeaker(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), readmeACL) {
		t.Errorf("README.md does not show the ACL:\n%s", readmeACL)
	}
	a, err := acl.Parse(strings.NewReader(readmeACL))
	if err != nil {
		t.Fatal(err)
	}
	id := chat.RoomClientID("tcbase", "lobby")
	alice := broker.Client{ID: id, Username: "alice"}
	tests := []struct {
		c     broker.Client
		acc   broker.Access
		topic string
		want  bool
	}{
		{alice, broker.Write, chat.SendTopic("lobby", "alice"), true},
		{alice, broker.Write, chat.UserMessagesTopic("lobby", "bob"), false},
		{alice, broker.Write, chat.MessagesTopic("lobby"), false}, // unverified: refused
		{alice, broker.Write, chat.UserMessagesTopic("lobby", "alice") + "/x", false},
		{alice, broker.Subscribe, chat.MessagesFilter("lobby"), true},
		{alice, broker.Subscribe, chat.PresenceFilter, true},
		{alice, broker.Read, chat.UserMessagesTopic("lobby", "bob"), true},
		{alice, broker.Write, chat.PresenceTopic("lobby", id), true}, // hello, Will, bye
		{alice, broker.Write, chat.PresenceTopic("lobby", "someone-else"), false},
		{alice, broker.Write, chat.HistoryTopic("lobby", 7), true}, // the history copy
		{alice, broker.Subscribe, chat.HistoryFilter("lobby"), true},
		{broker.Client{ID: "x", Username: "a+b"}, broker.Write, "chat/lobby/messages/a+b", false},
	}
	for _, tt := range tests {
		if got := a.Authorize(tt.c, tt.acc, tt.topic); got != tt.want {
			t.Errorf("Authorize(%q, %v, %q) = %v, want %v", tt.c.Username, tt.acc, tt.topic, got, tt.want)
		}
	}
}
