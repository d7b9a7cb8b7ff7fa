// Package chat is the state of the web client's chat rooms, and the topic
// and payload format that any MQTT client can use to join them.
//
// # Format
//
// A room is one topic level under "chat/". Room names are 1 to 64
// characters with no "/", "+", "#" or control characters, and do not start
// with "$".
//
//	chat/{room}/messages/{username}    chat messages from a user, QoS 1, not retained
//	chat/{room}/messages               chat messages from anyone, QoS 1, not retained
//	chat/{room}/presence/{clientId}    who is in the room, retained
//	chat/{room}/history/{seq mod 100}  the room's last 100 messages, QoS 1, retained
//
// A chat message is a JSON object; only "text" is required:
//
//		{"id":"4f1c2b9a0d3e5f67","from":"alice","text":"hello","ts":1732530000123}
//
//	  - id: unique per message (16 hex digits from the web client); receivers
//	    drop a message whose id they have already shown, so a QoS 1 message
//	    delivered twice shows once. Without an id there is no deduplication.
//	  - from: the sender's nickname ("anonymous" when missing).
//	  - text: the message, at most MaxText characters are shown.
//	  - ts: when it was sent, in milliseconds since the Unix epoch. Messages
//	    are shown in ts order; a missing ts, or one later than the time the
//	    message arrived, counts as the arrival time.
//
// The sender's username, the last level of chat/{room}/messages/{username},
// is shown beside the nickname as the verified sender (Entry.User); with
// authentication on, the ACL
//
//	pattern write chat/+/messages/%u
//	pattern readwrite chat/+/presence/%c
//	pattern read chat/#
//
// lets each user publish only under their own name. Readers subscribe to
// chat/{room}/messages/#, which also matches the bare topic.
//
// Unknown fields are ignored. A payload that is not a JSON object is shown
// whole as the text of an anonymous message, so
//
//	mosquitto_pub -t chat/lobby/messages -q 1 -m 'hello from a script'
//
// works too.
//
// Presence is a retained message per member and room, at
// chat/{room}/presence/{clientId}, with a JSON payload {"nick":"alice",
// "ts":1732530000123} (or just the nickname as plain text). An empty
// retained message at the same topic means the member has gone. The web
// client publishes its presence when it joins a room and sets the empty
// retained message as its Will, so the broker clears the presence when the
// tab vanishes without saying goodbye.
//
// # How the web client uses it
//
// MQTT has one Will per connection, so the web client joins each room with
// a connection of its own (client id {base}-{hash of the room}), with a
// persistent session (Session Expiry Interval SessionExpiry) subscribed to
// chat/{room}/messages/# at QoS 1: messages sent while the page was away
// are queued by the broker and arrive when it comes back with the same
// base id. A separate clean-session connection subscribes to
// chat/+/presence/+ for the list of rooms and who is online in each.
//
// # History
//
// A room's history is HistorySize retained messages, one per slot
// chat/{room}/history/{n}: a message in the format above with "seq", its
// number in the room's history, in slot seq mod HistorySize. A sender
// publishes its message live and, retained, to the slot after the highest
// seq it has seen (State.NextHistory), so the slots hold the room's last
// HistorySize messages; a joiner subscribes to chat/{room}/history/+ and
// the broker, which keeps retained messages across restarts with a durable
// store, sends them even when nobody is online. Two senders at the same
// instant may take the same slot: the history then keeps one of the two.
//
// The State type holds the rooms, their messages (ordered by time, without
// duplicates, at most MaxEntries per room) and their members; it is plain
// Go, tested natively, and used by the go-app components on the UI
// goroutine only.
package chat
