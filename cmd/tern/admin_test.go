package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// adminFixture is a running tern with users alice (admin by --admin),
// carol (admin by the ACL) and bob (not an admin), each with their name
// as password.
type adminFixture struct {
	d    *daemon
	cfg  config
	base string // http://host:port
	hc   *http.Client
}

func startAdmin(t *testing.T, data string) *adminFixture {
	t.Helper()
	dir := t.TempDir()
	users, rules := filepath.Join(dir, "passwd"), filepath.Join(dir, "acl")
	writeUsers(t, users, "alice", "bob", "carol")
	os.WriteFile(rules, []byte("user alice\ntopic readwrite #\nuser bob\ntopic readwrite #\nuser carol\ntopic write $CONTROL/tern/admin\n"), 0o600)
	cfg := withDefaults(config{MQTT: "127.0.0.1:0", HTTP: "127.0.0.1:0", PasswordFile: users, ACLFile: rules,
		Admins: []string{"alice"}, Data: data, InMemory: data == "", SysInterval: "0"})
	f := &adminFixture{cfg: cfg, hc: httpClient(t, nil)}
	f.start(t)
	return f
}

// start starts the daemon; it is shut down when the test ends unless the
// test stops it first.
func (f *adminFixture) start(t *testing.T) {
	t.Helper()
	d, err := start(context.Background(), f.cfg, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	f.d, f.base = d, "http://"+d.addrs["http"]
	t.Cleanup(func() { f.stop(t) })
}

func (f *adminFixture) stop(t *testing.T) {
	if f.d == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := f.d.shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	f.d = nil
}

// call makes an API request as user (no credentials when ""), with extra
// headers as name, value pairs, and returns the status and the body.
func (f *adminFixture) call(t *testing.T, method, path, user string, headers ...string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, f.base+path, nil)
	if user != "" {
		req.SetBasicAuth(user, user)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := f.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (f *adminFixture) mqtt(t *testing.T, c *codec.Connect) *testkit.Peer {
	t.Helper()
	p := testkit.Dial(t, f.d.addrs["mqtt"], c.Version)
	p.Connect(t, c)
	return p
}

// TestAdminAuth: the admin API refuses requests without valid credentials
// (401, with a Basic challenge) and from users who are not admins (403);
// --admin and the ACL both make admins; a request from another origin is
// refused even with an admin's credentials (403).
func TestAdminAuth(t *testing.T) {
	f := startAdmin(t, "")
	for _, tc := range []struct {
		name    string
		user    string
		headers []string
		want    int
	}{
		{"no credentials", "", nil, http.StatusUnauthorized},
		{"wrong password", "", []string{"Authorization", "Basic YWxpY2U6d3Jvbmc="}, http.StatusUnauthorized},
		{"not an admin", "bob", nil, http.StatusForbidden},
		{"admin by --admin", "alice", nil, http.StatusOK},
		{"admin by the ACL", "carol", nil, http.StatusOK},
		{"same origin", "alice", []string{"Origin", f.base}, http.StatusOK},
		{"foreign origin", "alice", []string{"Origin", "https://evil.example"}, http.StatusForbidden},
		{"cross-site fetch", "alice", []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/api/v1/clients", "/api/v1/sessions", "/api/v1/retained?filter=%23"} {
				if code, body := f.call(t, "GET", path, tc.user, tc.headers...); code != tc.want {
					t.Errorf("GET %s: %d %s, want %d", path, code, body, tc.want)
				}
			}
			if tc.want != http.StatusOK {
				if code, _ := f.call(t, "DELETE", "/api/v1/retained?filter=%23", tc.user, tc.headers...); code != tc.want {
					t.Errorf("DELETE: %d, want %d", code, tc.want)
				}
			}
		})
	}
}

// TestAdminKick: the client list shows a connected client; DELETE
// /api/v1/clients/{id} closes its connection with DISCONNECT 0x98
// Administrative action (5.0) and the list no longer has it.
func TestAdminKick(t *testing.T) {
	f := startAdmin(t, "")
	c := &codec.Connect{Version: codec.V5, ClientID: "victim/1", CleanStart: true, KeepAlive: 30, Username: "bob", Password: []byte("bob")}
	victim := f.mqtt(t, c)
	victim.Subscribe(t, 1, "a/#", "b")

	code, body := f.call(t, "GET", "/api/v1/clients", "alice")
	var list struct{ Clients []broker.ClientInfo }
	if err := json.Unmarshal(body, &list); code != http.StatusOK || err != nil || len(list.Clients) != 1 {
		t.Fatalf("GET clients: %d %s (%v)", code, body, err)
	}
	got := list.Clients[0]
	if got.ID != "victim/1" || got.Username != "bob" || got.Protocol != "5.0" || got.KeepAlive != 30 ||
		got.Subscriptions != 2 || got.Address == "" || got.ConnectedAt.IsZero() {
		t.Errorf("client %+v", got)
	}

	if code, body := f.call(t, "DELETE", "/api/v1/clients/victim%2F1", "alice"); code != http.StatusNoContent {
		t.Fatalf("kick: %d %s", code, body)
	}
	if dc := testkit.Expect[*codec.Disconnect](t, victim); dc.ReasonCode != codec.AdministrativeAction {
		t.Errorf("DISCONNECT 0x%02x, want 0x98", byte(dc.ReasonCode))
	}
	victim.ExpectClosed(t)
	if code, _ := f.call(t, "DELETE", "/api/v1/clients/victim%2F1", "alice"); code != http.StatusNotFound {
		t.Errorf("kicking a client that is gone: %d, want 404", code)
	}
}

// TestAdminSessions: a persistent session is listed and can be deleted
// (its client is just gone: the listing may still show it online, since
// the DISCONNECT's close is seen before the session is released); the
// client then finds no session (Session Present 0).
func TestAdminSessions(t *testing.T) {
	f := startAdmin(t, t.TempDir())
	c := &codec.Connect{Version: codec.V5, ClientID: "keeper", Username: "bob", Password: []byte("bob")}
	c.Properties.SessionExpiryInterval = 3600
	c.Properties.Mark(codec.PropSessionExpiryInterval)
	p := f.mqtt(t, c)
	p.Subscribe(t, 1, "k/#")
	p.Disconnect(t)

	_, body := f.call(t, "GET", "/api/v1/sessions", "alice")
	var list struct{ Sessions []broker.SessionInfo }
	json.Unmarshal(body, &list)
	if len(list.Sessions) != 1 || list.Sessions[0].ID != "keeper" || !list.Sessions[0].Durable ||
		len(list.Sessions[0].Subscriptions) != 1 {
		t.Fatalf("sessions %s", body)
	}
	if code, body := f.call(t, "DELETE", "/api/v1/sessions/keeper", "alice"); code != http.StatusNoContent {
		t.Fatalf("delete session: %d %s", code, body)
	}
	if code, _ := f.call(t, "DELETE", "/api/v1/sessions/keeper", "alice"); code != http.StatusNotFound {
		t.Errorf("deleting it again: %d, want 404", code)
	}
	p = testkit.Dial(t, f.d.addrs["mqtt"], codec.V5)
	if ack := p.Connect(t, c); ack.SessionPresent {
		t.Error("Session Present 1 after the session was deleted")
	}
}

// TestAdminDeleteRetained: retained messages listed by filter with their
// sizes; deleting by filter removes them from a new subscriber's view and,
// with the durable store, for good: after a restart they are still gone
// and the others are still there.
func TestAdminDeleteRetained(t *testing.T) {
	f := startAdmin(t, t.TempDir())
	pub := f.mqtt(t, &codec.Connect{Version: codec.V5, ClientID: "pub", CleanStart: true, Username: "alice", Password: []byte("alice")})
	for _, m := range [][2]string{{"a/1", "one"}, {"a/2/x", "two!"}, {"b/1", "keep"}} {
		pub.PublishWith(t, &codec.Publish{QoS: 1, Retain: true, Topic: m[0], Payload: []byte(m[1])})
	}
	pub.Disconnect(t)

	_, body := f.call(t, "GET", "/api/v1/retained?filter=a/%23", "alice")
	var list struct{ Retained []broker.RetainedInfo }
	json.Unmarshal(body, &list)
	if len(list.Retained) != 2 || list.Retained[0].Bytes+list.Retained[1].Bytes != 7 {
		t.Fatalf("retained a/#: %s", body)
	}
	if code, body := f.call(t, "DELETE", "/api/v1/retained?filter=a/%23", "alice"); code != http.StatusOK || !strings.Contains(string(body), `"deleted": 2`) {
		t.Fatalf("delete: %d %s", code, body)
	}
	if code, _ := f.call(t, "DELETE", "/api/v1/retained?filter=a/%23/b", "alice"); code != http.StatusBadRequest {
		t.Errorf("invalid filter: %d, want 400", code)
	}
	f.expectRetained(t, "b/1", "keep")

	f.stop(t)
	f.start(t)
	if n := f.d.srv.RetainedCount(); n != 1 {
		t.Errorf("%d retained messages after the restart, want 1", n)
	}
	f.expectRetained(t, "b/1", "keep")
}

// expectRetained subscribes to "#" and checks that the only retained
// message is topic with payload: a live message published after the
// SUBACK comes next.
func (f *adminFixture) expectRetained(t *testing.T, topic, payload string) {
	t.Helper()
	s := f.mqtt(t, &codec.Connect{Version: codec.V5, ClientID: "viewer", CleanStart: true, Username: "bob", Password: []byte("bob")})
	s.Subscribe(t, 0, "#")
	s.ExpectMessage(t, topic, payload)
	s.Publish(t, 0, "z/sentinel", "end")
	s.ExpectMessage(t, "z/sentinel", "end")
	s.Disconnect(t)
}
