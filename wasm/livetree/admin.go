package livetree

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Admin is a broker's admin API as the clearing of retained messages uses
// it: DELETE /api/v1/retained?filter=F, answered with {"deleted": N}. The
// browser's implementation is a fetch; tests use a fake. It returns the
// HTTP status and body, or an error when no answer arrived.
type Admin interface {
	DeleteRetained(ctx context.Context, filter string) (status int, body []byte, err error)
	// ListRetained is GET /api/v1/retained?filter=F&limit=N.
	ListRetained(ctx context.Context, filter string, limit int) (status int, body []byte, err error)
}

// AdminFilter returns the topic filter of everything at and below the
// node topic: "a/#" matches "a" itself too [MQTT-4.7.1-2], so one request
// clears the node and all below it.
func AdminFilter(topic string) string { return topic + "/#" }

// AdminOutcome is what an answer of the admin API means for a clearing.
type AdminOutcome struct {
	OK      bool   // the broker deleted the retained messages
	Deleted int    // how many, when OK
	Why     string // when not OK: why the page clears the topics it has seen instead
	// Refused is set when asking again on the same connection would get
	// the same answer (401, 403, 404): the page stops asking.
	Refused bool
}

// DecideAdmin reads the admin API's answer to a DELETE of retained
// messages: status and body, or err when the request failed.
func DecideAdmin(status int, body []byte, err error) AdminOutcome {
	if err != nil {
		return AdminOutcome{Why: "the broker's admin API could not be reached (" + err.Error() + ")"}
	}
	var reply struct {
		Deleted *int   `json:"deleted"`
		Error   string `json:"error"`
	}
	jerr := json.Unmarshal(body, &reply)
	switch status { // numbers, not net/http's names: the wasm does without net/http
	case 200:
		if jerr != nil || reply.Deleted == nil {
			return AdminOutcome{Why: "the broker's admin API answered something the page does not understand"}
		}
		return AdminOutcome{OK: true, Deleted: *reply.Deleted}
	case 401:
		return AdminOutcome{Why: "the broker's admin API refused this connection's username and password", Refused: true}
	case 403:
		why := "not an admin"
		if reply.Error != "" && reply.Error != why {
			why = "the broker's admin API refused: " + reply.Error
		}
		return AdminOutcome{Why: why, Refused: true}
	case 404:
		return AdminOutcome{Why: "the broker has no admin API (Tern serves it with --password-file)", Refused: true}
	}
	why := "the broker's admin API answered " + strconv.Itoa(status)
	if reply.Error != "" {
		why += " (" + reply.Error + ")"
	}
	return AdminOutcome{Why: why}
}

// BrokerRetained is a retained message the broker's admin API lists.
type BrokerRetained struct {
	Topic string `json:"topic"`
	Bytes int    `json:"bytes"`
}

// DecideList reads the admin API's answer to a listing of retained
// messages: the list and whether the broker cut it at the limit when the
// outcome is OK (its Deleted unused), otherwise why not.
func DecideList(status int, body []byte, err error) ([]BrokerRetained, bool, AdminOutcome) {
	if err != nil || status != 200 {
		return nil, false, DecideAdmin(status, body, err)
	}
	var reply struct {
		Retained  *[]BrokerRetained `json:"retained"`
		Truncated bool              `json:"truncated"`
	}
	if json.Unmarshal(body, &reply) != nil || reply.Retained == nil {
		return nil, false, AdminOutcome{Why: "the broker's admin API answered something the page does not understand"}
	}
	return *reply.Retained, reply.Truncated, AdminOutcome{OK: true}
}

// AddUnreceived adds to the tree the retained messages the broker listed
// that it has not received (an Authorizer hides them, or they arrived
// before the tree subscribed and were dropped): a node per topic whose
// value is marked Unreceived and has only its size. Topics with a value
// are left alone. The nodes count as retained (so clearing them works),
// not as messages. It returns how many it added.
func (t *Tree) AddUnreceived(list []BrokerRetained) int {
	added := 0
	for _, r := range list {
		if n := t.nodes[r.Topic]; n != nil && n.hasValue {
			continue
		}
		t.apply(&Message{Topic: r.Topic, Retain: true, unreceived: true, size: r.Bytes})
		t.made++
		added++
	}
	return added
}

// runAdmin asks the broker to delete everything at and below the job's
// node and reports whether it did.
func (j *ClearJob) runAdmin(ctx context.Context) bool {
	status, body, err := j.Admin.DeleteRetained(ctx, AdminFilter(j.Node))
	o := DecideAdmin(status, body, err)
	j.mu.Lock()
	j.outcome, j.asked = o, true
	j.mu.Unlock()
	if o.OK {
		j.done.Store(int64(len(j.Topics)))
	}
	return o.OK
}

// Outcome returns the admin API's answer, and whether the job asked it.
func (j *ClearJob) Outcome() (AdminOutcome, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.outcome, j.asked
}

// Plan says, for the confirmation, how the job will clear.
func (j *ClearJob) Plan() string {
	n := len(j.Topics)
	seen := fmt.Sprintf("%d %s", n, plural(n, "topic", "topics"))
	switch {
	case j.Admin != nil:
		return "This asks the broker's admin API to delete every retained message at and below " + j.Node +
			", including topics this page has not received. If the broker refuses (not an admin), it publishes an empty retained message to the " +
			seen + " this page has seen instead."
	case j.NoAdmin != "":
		return "This publishes an empty retained message to the " + seen + " this page has seen at and below " + j.Node +
			" (the broker's admin API is not used: " + j.NoAdmin + "). Topics the page has not seen are not touched."
	}
	return "This publishes an empty retained message to the " + seen + " at and below " + j.Node +
		", which deletes their retained messages on the broker. Topics the tree has not seen are not touched."
}

// DropRetained forgets the retained values of topics, as an empty
// retained message to each would: the broker deleted them without a
// message to the page (the admin API).
func (t *Tree) DropRetained(topics []string) {
	for _, topic := range topics {
		t.apply(&Message{Topic: topic, Retain: true})
		t.made++
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
