package livetree

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestDecideAdmin(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		err    error
		want   AdminOutcome
	}{
		{"deleted", 200, `{"filter": "a/#", "deleted": 7}`, nil, AdminOutcome{OK: true, Deleted: 7}},
		{"deleted none", 200, `{"deleted": 0}`, nil, AdminOutcome{OK: true}},
		{"200 not json", 200, `<html>`, nil, AdminOutcome{Why: "the broker's admin API answered something the page does not understand"}},
		{"200 without count", 200, `{}`, nil, AdminOutcome{Why: "the broker's admin API answered something the page does not understand"}},
		{"no credentials", 401, `{"error": "valid credentials required"}`, nil,
			AdminOutcome{Why: "the broker's admin API refused this connection's username and password", Refused: true}},
		{"not admin", 403, `{"error": "not an admin"}`, nil, AdminOutcome{Why: "not an admin", Refused: true}},
		{"cross origin", 403, `{"error": "cross-origin requests are refused"}`, nil,
			AdminOutcome{Why: "the broker's admin API refused: cross-origin requests are refused", Refused: true}},
		{"no api", 404, `404 page not found`, nil,
			AdminOutcome{Why: "the broker has no admin API (Tern serves it with --password-file)", Refused: true}},
		{"server error", 500, `{"error": "store: disk full"}`, nil, AdminOutcome{Why: "the broker's admin API answered 500 (store: disk full)"}},
		{"network", 0, ``, errors.New("Failed to fetch"), AdminOutcome{Why: "the broker's admin API could not be reached (Failed to fetch)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DecideAdmin(tt.status, []byte(tt.body), tt.err); got != tt.want {
				t.Errorf("DecideAdmin(%d, %q, %v) = %+v, want %+v", tt.status, tt.body, tt.err, got, tt.want)
			}
		})
	}
}

// fakeAdmin answers every DELETE the same way and records the filters.
type fakeAdmin struct {
	status  int
	body    string
	err     error
	mu      sync.Mutex
	filters []string
}

func (f *fakeAdmin) DeleteRetained(_ context.Context, filter string) (int, []byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.filters = append(f.filters, filter)
	return f.status, []byte(f.body), f.err
}

// TestClearJobAdmin runs a clearing with an admin API that deletes (no
// publishing at all) and with ones that refuse (the page publishes to the
// topics it has seen and says why).
func TestClearJobAdmin(t *testing.T) {
	tests := []struct {
		name      string
		admin     *fakeAdmin
		published int
		result    string
	}{
		{"admin", &fakeAdmin{status: 200, body: `{"deleted": 9}`}, 0,
			"Deleted 9 retained messages on the broker at and below p."},
		{"not admin", &fakeAdmin{status: 403, body: `{"error": "not an admin"}`}, 3,
			"Not an admin: cleared the 3 topics this page has seen under p."},
		{"no api", &fakeAdmin{status: 404}, 3,
			"The broker has no admin API (Tern serves it with --password-file): cleared the 3 topics this page has seen under p."},
		{"unreachable", &fakeAdmin{err: errors.New("Failed to fetch")}, 3,
			"The broker's admin API could not be reached (Failed to fetch): cleared the 3 topics this page has seen under p."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := New(Options{})
			for _, topic := range []string{"p", "p/a", "p/b/c", "q"} {
				tr.Apply(msg(topic, "1", true))
			}
			j := tr.NewClearJob(tr.Get("p"))
			j.Admin = tt.admin
			var mu sync.Mutex
			var published []string
			publish := func(_ context.Context, topic string) error {
				mu.Lock()
				defer mu.Unlock()
				published = append(published, topic)
				return nil
			}
			j.Run(t.Context(), 4, time.Hour, publish, func() {})
			if !slices.Equal(tt.admin.filters, []string{"p/#"}) {
				t.Errorf("asked the admin API with %q, want [p/#]", tt.admin.filters)
			}
			if len(published) != tt.published {
				t.Errorf("published to %q, want %d topics", published, tt.published)
			}
			if d, n := j.Progress(); d != n {
				t.Errorf("progress %d of %d after Run", d, n)
			}
			if r := j.Result(); r != tt.result {
				t.Errorf("Result() = %q\nwant        %q", r, tt.result)
			}
			o, asked := j.Outcome()
			if !asked || o.OK != (tt.published == 0) {
				t.Errorf("Outcome() = %+v, %v", o, asked)
			}
		})
	}
}

func (f *fakeAdmin) ListRetained(_ context.Context, filter string, _ int) (int, []byte, error) {
	return f.DeleteRetained(context.Background(), filter)
}

func TestDecideList(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		body      string
		err       error
		want      []BrokerRetained
		truncated bool
		outcome   AdminOutcome
	}{
		{"list", 200, `{"filter": "#", "retained": [{"topic": "a", "bytes": 3, "qos": 1}, {"topic": "b/c", "bytes": 0}], "truncated": true}`, nil,
			[]BrokerRetained{{"a", 3}, {"b/c", 0}}, true, AdminOutcome{OK: true}},
		{"empty", 200, `{"retained": [], "truncated": false}`, nil, []BrokerRetained{}, false, AdminOutcome{OK: true}},
		{"no list", 200, `{"deleted": 3}`, nil, nil, false, AdminOutcome{Why: "the broker's admin API answered something the page does not understand"}},
		{"not admin", 403, `{"error": "not an admin"}`, nil, nil, false, AdminOutcome{Why: "not an admin", Refused: true}},
		{"network", 0, ``, errors.New("Failed to fetch"), nil, false, AdminOutcome{Why: "the broker's admin API could not be reached (Failed to fetch)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, truncated, o := DecideList(tt.status, []byte(tt.body), tt.err)
			if !slices.Equal(list, tt.want) || truncated != tt.truncated || o != tt.outcome {
				t.Errorf("DecideList = %v, %v, %+v; want %v, %v, %+v", list, truncated, o, tt.want, tt.truncated, tt.outcome)
			}
		})
	}
}

// TestAddUnreceived adds the broker's retained topics the tree lacks as
// retained values with a size and no payload, leaves received ones
// alone, counts no messages for them, and a real message replaces one.
func TestAddUnreceived(t *testing.T) {
	tr := New(Options{})
	tr.Apply(msg("p/seen", "12", true))
	added := tr.AddUnreceived([]BrokerRetained{{"p/seen", 2}, {"p/hidden/x", 40}, {"q", 0}})
	if added != 2 {
		t.Errorf("added %d, want 2", added)
	}
	if got := tr.RetainedUnder(nil); !slices.Equal(got, []string{"p/hidden/x", "p/seen", "q"}) {
		t.Errorf("retained %q", got)
	}
	n := tr.Get("p/hidden/x")
	if v := n.Last(); v == nil || !v.Unreceived || v.Size != 40 || len(v.Payload) != 0 || n.Count() != 0 {
		t.Fatalf("p/hidden/x: %+v, count %d", v, n.Count())
	}
	if v := tr.Get("p/seen").Last(); v.Unreceived || string(v.Payload) != "12" {
		t.Errorf("p/seen was replaced: %+v", v)
	}
	if tr.Root().Total() != 1 || tr.Messages() != 1 {
		t.Errorf("messages in the tree: %d, received %d, want 1", tr.Root().Total(), tr.Messages())
	}
	tr.Apply(msg("p/hidden/x", "now", true))
	if v := n.Last(); v.Unreceived || string(v.Payload) != "now" || n.Count() != 1 {
		t.Errorf("after a real message: %+v, count %d", v, n.Count())
	}
	if h := n.History(nil); len(h) != 1 {
		t.Errorf("the placeholder went into the history: %d values, want only the current one", len(h))
	}
	tr.DropRetained([]string{"q"})
	if tr.Get("q") != nil {
		t.Error("q is still in the tree after DropRetained")
	}
	if tr.Messages() != 2 {
		t.Errorf("received %d messages, want 2", tr.Messages())
	}
}

func TestClearJobPlan(t *testing.T) {
	tr := New(Options{})
	tr.Apply(msg("p/a", "1", true))
	j := tr.NewClearJob(tr.Get("p"))
	tests := []struct {
		admin   Admin
		noAdmin string
		want    string
	}{
		{&fakeAdmin{}, "", "This asks the broker's admin API to delete every retained message at and below p, including topics this page has not received. If the broker refuses (not an admin), it publishes an empty retained message to the 1 topic this page has seen instead."},
		{nil, "not an admin", "This publishes an empty retained message to the 1 topic this page has seen at and below p (the broker's admin API is not used: not an admin). Topics the page has not seen are not touched."},
		{nil, "", "This publishes an empty retained message to the 1 topic at and below p, which deletes their retained messages on the broker. Topics the tree has not seen are not touched."},
	}
	for _, tt := range tests {
		j.Admin, j.NoAdmin = tt.admin, tt.noAdmin
		if got := j.Plan(); got != tt.want {
			t.Errorf("Plan() = %q\nwant      %q", got, tt.want)
		}
	}
}

// TestDropRetained forgets retained values the broker deleted, as empty
// retained messages would, and keeps the others.
func TestDropRetained(t *testing.T) {
	tr := New(Options{})
	for _, topic := range []string{"p/a", "p/b", "q"} {
		tr.Apply(msg(topic, "1", true))
	}
	tr.DropRetained([]string{"p/a", "p/b", "p/never"})
	if got := tr.RetainedUnder(nil); !slices.Equal(got, []string{"q"}) {
		t.Errorf("retained after DropRetained: %q, want [q]", got)
	}
	if tr.Get("p/never") != nil {
		t.Error("DropRetained made a node for a topic the tree did not have")
	}
}
