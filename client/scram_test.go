package client_test

// MQTT 5.0 enhanced authentication with SCRAM-SHA-256: against Tern's
// broker with a password file, and against a scripted server that checks
// every packet.

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/broker/auth/passwd"
	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/scram"
	"github.com/ternmq/tern/internal/testkit"
	"github.com/ternmq/tern/internal/testkit/brokerkit"
)

// capture is a net.Conn that keeps a copy of every byte the client writes.
type capture struct {
	net.Conn
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (c capture) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.buf.Write(b)
	c.mu.Unlock()
	return c.Conn.Write(b)
}

// capturingDialer dials addr over TCP and records what the client sends
// on every connection.
func capturingDialer(addr string) (func(context.Context, *url.URL) (net.Conn, error), func() []byte) {
	var mu sync.Mutex
	var buf bytes.Buffer
	dial := func(ctx context.Context, _ *url.URL) (net.Conn, error) {
		var d net.Dialer
		nc, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		return capture{Conn: nc, mu: &mu, buf: &buf}, nil
	}
	return dial, func() []byte {
		mu.Lock()
		defer mu.Unlock()
		return bytes.Clone(buf.Bytes())
	}
}

func writePasswd(t *testing.T, path string, users ...string) {
	t.Helper()
	var lines []byte
	for i := 0; i+1 < len(users); i += 2 {
		h, err := passwd.NewHash([]byte(users[i+1]), passwd.HashOptions{Algorithm: passwd.SCRAMSHA256})
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, users[i]+":"+h.String()+"\n"...)
	}
	if err := os.WriteFile(path, lines, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestSCRAMWithBroker: the client logs in to Tern with a password file's
// $scram-sha-256$ entry, exchanges messages, re-authenticates, and is
// refused with a wrong password (CONNACK 0x87) and after its password
// changed (re-authentication: DISCONNECT 0x87). The password never appears
// in the bytes the client sends.
func TestSCRAMWithBroker(t *testing.T) {
	const password = "correct horse battery staple"
	path := filepath.Join(t.TempDir(), "passwd")
	writePasswd(t, path, "alice", password)
	users, err := passwd.Load(path, passwd.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var seen sync.Map // client id -> username the Authorizer saw
	srv := brokerkit.Start(t, &broker.Options{Authenticator: users,
		Authorizer: broker.AuthorizerFunc(func(c broker.Client, _ broker.Access, _ string) bool {
			seen.Store(c.ID, c.Username)
			return true
		})}, broker.WebSocketOptions{})
	dial, sent := capturingDialer(srv.Addr)
	ctx := testkit.Context(t)

	c := connect(t, srv.TCP, client.Options{ClientID: "scram-a", Dialer: dial, Auth: client.SCRAM("alice", []byte(password))})
	if m := c.Connack().Properties.AuthenticationMethod; m != "SCRAM-SHA-256" {
		t.Errorf("CONNACK Authentication Method %q [MQTT-5:4.12.0-5]", m)
	}
	got := make(chan *client.Message, 1)
	if _, err := c.Subscribe(ctx, func(m *client.Message) { got <- m }, codec.Subscription{Filter: "scram/t", QoS: 1}); err != nil {
		t.Fatal(err)
	}
	if u, _ := seen.Load("scram-a"); u != "alice" {
		t.Errorf("the Authorizer saw username %v, want alice (from SCRAM)", u)
	}
	if err := c.Publish(ctx, &client.Message{Topic: "scram/t", QoS: 1, Payload: []byte("hi")}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, (<-chan *client.Message)(got), "the message")
	for range 2 {
		if err := c.Reauthenticate(ctx); err != nil {
			t.Fatalf("Reauthenticate: %v", err)
		}
	}

	_, err = client.Connect(ctx, srv.TCP, client.Options{ClientID: "scram-b", Dialer: dial, Auth: client.SCRAM("alice", []byte("wrong"))})
	var re *client.ReasonError
	if !errors.As(err, &re) || re.Code != codec.NotAuthorized {
		t.Fatalf("wrong password: %v, want CONNACK 0x87 [MQTT-5:4.12.0-4]", err)
	}

	// The password changes: the next re-authentication fails.
	writePasswd(t, path, "alice", "a new one")
	if _, err := users.Reload(); err != nil {
		t.Fatal(err)
	}
	err = c.Reauthenticate(ctx)
	if !errors.As(err, &re) || re.Code != codec.NotAuthorized {
		t.Fatalf("re-authentication with the old password: %v, want DISCONNECT 0x87 [MQTT-5:4.12.1-2]", err)
	}

	if b := sent(); len(b) == 0 || bytes.Contains(b, []byte(password)) || bytes.Contains(b, []byte("wrong")) {
		t.Fatalf("the client sent %d bytes, password included: %v", len(b), bytes.Contains(b, []byte(password)))
	}
}

// scramServer answers a client's SCRAM exchange on a scripted server,
// checking the exact packets: the CONNECT's method and client-first, the
// client's AUTH 0x18 with its method and client-final.
// It ends with a CONNACK, or with AUTH 0x00 when reauth.
func scramServer(t *testing.T, s *fakeServer, connect *codec.Connect, creds scram.Credentials, forge, reauth bool) {
	t.Helper()
	if connect.Properties.AuthenticationMethod != "SCRAM-SHA-256" || len(connect.Password) != 0 {
		t.Fatalf("CONNECT method %q password %q", connect.Properties.AuthenticationMethod, connect.Password)
	}
	srv := scram.NewServer(func(string) (scram.Credentials, bool) { return creds, true }, "")
	first, err := srv.First(connect.Properties.AuthenticationData)
	if err != nil {
		t.Fatalf("client-first %q: %v", connect.Properties.AuthenticationData, err)
	}
	s.send(&codec.Auth{ReasonCode: codec.ContinueAuthentication, Properties: codec.Properties{AuthenticationMethod: scram.Method, AuthenticationData: first}})
	a := testkit.Expect[*codec.Auth](t, s.Peer)
	if a.ReasonCode != codec.ContinueAuthentication || a.Properties.AuthenticationMethod != scram.Method {
		t.Fatalf("client AUTH rc=%s method=%q, want 0x18 with the method [MQTT-5:4.12.0-3]", a.ReasonCode, a.Properties.AuthenticationMethod)
	}
	final, err := srv.Final(a.Properties.AuthenticationData)
	if err != nil {
		t.Fatalf("client-final: %v", err)
	}
	if forge {
		final = []byte("v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	}
	props := codec.Properties{AuthenticationMethod: scram.Method, AuthenticationData: final}
	if reauth {
		s.send(&codec.Auth{ReasonCode: codec.Success, Properties: props})
	} else {
		s.send(&codec.Connack{Properties: props})
	}
}

func TestSCRAMPackets(t *testing.T) {
	creds, err := scram.NewCredentials([]byte("pencil"), []byte("salty"), scram.MinIterations)
	if err != nil {
		t.Fatal(err)
	}
	for _, forge := range []bool{false, true} {
		name := "exchange and re-authentication"
		if forge {
			name = "a forged server signature fails Connect"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				dial, accepted := pipeDialer()
				res := async(func() error {
					c, err := client.Connect(context.Background(), "mqtt://fake", client.Options{Dialer: dial, Auth: client.SCRAM("user", []byte("pencil"))})
					if err == nil {
						t.Cleanup(func() { c.Disconnect(context.Background(), 0) })
						return c.Reauthenticate(context.Background())
					}
					return err
				})
				s, connect := accept(t, accepted)
				scramServer(t, s, connect, creds, forge, false)
				if !forge {
					// Re-authentication [MQTT-5:4.12.1-1]: AUTH 0x19, the same method.
					a := testkit.Expect[*codec.Auth](t, s.Peer)
					if a.ReasonCode != codec.ReAuthenticate || a.Properties.AuthenticationMethod != scram.Method {
						t.Fatalf("got AUTH rc=%s method=%q, want 0x19", a.ReasonCode, a.Properties.AuthenticationMethod)
					}
					scramServer(t, s, &codec.Connect{Properties: a.Properties}, creds, false, true)
				}
				err := testkit.WaitFor(t, res, "Connect")
				switch {
				case forge && !errors.Is(err, client.ErrServerNotAuthenticated):
					t.Fatalf("forged signature: %v", err)
				case !forge && err != nil:
					t.Fatal(err)
				}
			})
		})
	}
}
