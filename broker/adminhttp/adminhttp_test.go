package adminhttp_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/broker/adminhttp"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// users accepts "admin"/"pw" and "user"/"pw".
var users = broker.AuthenticatorFunc(func(_ context.Context, l *broker.Login) codec.ReasonCode {
	if (l.Connect.Username == "admin" || l.Connect.Username == "user") && string(l.Connect.Password) == "pw" {
		return codec.Success
	}
	return codec.BadUserNameOrPassword
})

// newAPI serves the admin API of a fresh broker that holds retained
// messages on topics.
func newAPI(t testing.TB, topics ...string) (*broker.Server, *httptest.Server) {
	srv := broker.New(broker.Options{})
	pub := testkit.Dial(t, testkit.ServeLoopback(t, srv), codec.V5)
	pub.Connect(t, &codec.Connect{Version: codec.V5, ClientID: "pub", CleanStart: true})
	for _, topic := range topics {
		pub.PublishWith(t, &codec.Publish{QoS: 1, Retain: true, Topic: topic, Payload: []byte("1")})
	}
	pub.Disconnect(t)
	mux := http.NewServeMux()
	adminhttp.Register(mux, adminhttp.Options{Server: srv, Users: users, IsAdmin: func(u string) bool { return u == "admin" }})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return srv, ts
}

func do(t testing.TB, method, url, user string, header map[string]string) (int, string) {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, "pw")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestGuard(t *testing.T) {
	_, ts := newAPI(t, "a/b")
	tests := []struct {
		name   string
		user   string
		header map[string]string
		want   int
	}{
		{"no credentials", "", nil, 401},
		{"wrong password", "nobody", nil, 401},
		{"not an admin", "user", nil, 403},
		{"admin", "admin", nil, 200},
		{"admin, same origin", "admin", map[string]string{"Origin": ts.URL, "Sec-Fetch-Site": "same-origin"}, 200},
		{"admin, foreign origin", "admin", map[string]string{"Origin": "http://evil.example"}, 403},
		{"admin, cross-site", "admin", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, body := do(t, "GET", ts.URL+"/api/v1/retained", tt.user, tt.header); code != tt.want {
				t.Errorf("status %d (%s), want %d", code, body, tt.want)
			}
		})
	}
}

// TestDeleteRetained deletes by a filter whose "#" matches its parent
// level too [MQTT-4.7.1-2]: "a/#" deletes a/b, and c stays.
func TestDeleteRetained(t *testing.T) {
	srv, ts := newAPI(t, "a", "a/b", "c")
	code, body := do(t, "DELETE", ts.URL+"/api/v1/retained?filter=a%2F%23", "admin", nil)
	if code != 200 || !strings.Contains(body, `"deleted": 2`) {
		t.Fatalf("DELETE: %d %s", code, body)
	}
	var left []string
	srv.RetainedMessages("#", func(ri broker.RetainedInfo) bool { left = append(left, ri.Topic); return true })
	if fmt.Sprint(left) != "[c]" {
		t.Errorf("retained after the DELETE: %q, want [c]", left)
	}
}

// Serve the admin API of a broker for the users a password file (here a
// function) authenticates, with "admin" the only admin.
func ExampleRegister() {
	srv := broker.New(broker.Options{})
	defer srv.Shutdown(context.Background())

	mux := http.NewServeMux()
	adminhttp.Register(mux, adminhttp.Options{Server: srv, Users: users, IsAdmin: func(u string) bool { return u == "admin" }})
	ts := httptest.NewServer(mux)
	defer ts.Close()

	for _, user := range []string{"user", "admin"} {
		req, _ := http.NewRequest("GET", ts.URL+"/api/v1/retained?filter=plant%2F%23", nil)
		req.SetBasicAuth(user, "pw")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(user, resp.Status)
		fmt.Print(string(b))
	}
	// Output:
	// user 403 Forbidden
	// {
	//   "error": "not an admin"
	// }
	// admin 200 OK
	// {
	//   "filter": "plant/#",
	//   "retained": [],
	//   "truncated": false
	// }
}
