package broker

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/scram"
	"github.com/ternmq/tern/internal/testkit"
)

// scramAuth is an EnhancedAuthenticator for SCRAM-SHA-256 over a map of
// users, built on internal/scram alone (the broker's tests cannot import
// passwd, which imports the broker). revoked makes Valid report false.
type scramAuth struct {
	users   map[string]scram.Credentials
	revoked atomic.Bool
}

func newScramAuth(t testing.TB, users ...string) *scramAuth {
	a := &scramAuth{users: map[string]scram.Credentials{}}
	for i := 0; i+1 < len(users); i += 2 {
		c, err := scram.NewCredentials([]byte(users[i+1]), []byte("salt-"+users[i]), scram.MinIterations)
		if err != nil {
			t.Fatal(err)
		}
		a.users[users[i]] = c
	}
	return a
}

func (a *scramAuth) Authenticate(context.Context, *Login) codec.ReasonCode {
	return codec.BadUserNameOrPassword
}

func (a *scramAuth) AuthMethods() []string { return []string{scram.Method} }

func (a *scramAuth) BeginAuth(_ context.Context, _ *Login, _ string) AuthExchange {
	return &scramExchange{a: a, s: scram.NewServer(func(u string) (scram.Credentials, bool) {
		c, ok := a.users[u]
		if !ok {
			c = scram.Credentials{Iterations: scram.MinIterations, Salt: []byte("fake-" + u)}
		}
		return c, ok
	}, "")}
}

type scramExchange struct {
	a    *scramAuth
	s    *scram.Server
	step int
}

func (e *scramExchange) Next(_ context.Context, data []byte) (AuthStep, codec.ReasonCode) {
	e.step++
	switch e.step {
	case 1:
		out, err := e.s.First(data)
		if err != nil {
			return AuthStep{}, codec.NotAuthorized
		}
		return AuthStep{Data: out}, codec.Success
	case 2:
		out, err := e.s.Final(data)
		if err != nil {
			return AuthStep{}, codec.NotAuthorized
		}
		return AuthStep{Data: out, Done: true, Username: e.s.User(), Valid: func() bool { return !e.a.revoked.Load() }}, codec.Success
	}
	return AuthStep{}, codec.ProtocolError
}

func scramConnect(id string, c *scram.Client, method string) *codec.Connect {
	p := clean5(id)
	p.Properties.AuthenticationMethod = method
	p.Properties.AuthenticationData = c.First()
	return p
}

// expectAuth reads an AUTH and checks its reason code and method. The
// server adds no Reason String or User Property to an AUTH, so none can
// make it larger than the client's Maximum Packet Size [MQTT-5:3.15.2-2]
// [MQTT-5:3.15.2-3].
func expectAuth(t *testing.T, c *testkit.Peer, rc codec.ReasonCode) *codec.Auth {
	t.Helper()
	a := testkit.Expect[*codec.Auth](t, c)
	if a.ReasonCode != rc || a.Properties.AuthenticationMethod != scram.Method || len(a.Properties.AuthenticationData) == 0 {
		t.Fatalf("got AUTH rc=%s method=%q data=%q, want rc=%s with the method and data", a.ReasonCode, a.Properties.AuthenticationMethod, a.Properties.AuthenticationData, rc)
	}
	if a.Properties.ReasonString != "" || len(a.Properties.UserProperties) > 0 {
		t.Fatalf("AUTH carries Reason String %q and %d User Properties, want neither", a.Properties.ReasonString, len(a.Properties.UserProperties))
	}
	return a
}

// scramLogin runs a whole SCRAM CONNECT on a pipe and returns the peer
// after checking the CONNACK and the server signature.
func scramLogin(t *testing.T, srv *Server, id, user, password string) *testkit.Peer {
	t.Helper()
	c := pipeRaw(t, srv, codec.V5)
	sc := scram.NewClient(user, []byte(password), "")
	c.Send(t, scramConnect(id, sc, scram.Method))
	first := expectAuth(t, c, codec.ContinueAuthentication) // [MQTT-5:4.12.0-2]
	final, err := sc.Final(first.Properties.AuthenticationData)
	if err != nil {
		t.Fatal(err)
	}
	c.Send(t, &codec.Auth{ReasonCode: codec.ContinueAuthentication, // [MQTT-5:4.12.0-3]
		Properties: codec.Properties{AuthenticationMethod: scram.Method, AuthenticationData: final}})
	ack := testkit.Expect[*codec.Connack](t, c)
	if ack.ReasonCode != codec.Success || ack.Properties.AuthenticationMethod != scram.Method {
		t.Fatalf("CONNACK rc=%s method=%q, want Success with the method [MQTT-5:4.12.0-5]", ack.ReasonCode, ack.Properties.AuthenticationMethod)
	}
	if err := sc.Verify(ack.Properties.AuthenticationData); err != nil {
		t.Fatalf("server-final in CONNACK: %v", err)
	}
	return c
}

// TestEnhancedAuthConnect: the CONNECT exchange of SCRAM-SHA-256, its
// failures, and the packets a client may not send in the middle of it.
func TestEnhancedAuthConnect(t *testing.T) {
	inBubble(t, "success", func(t *testing.T) {
		auth := newScramAuth(t, "alice", "secret")
		var who atomic.Value
		srv := startPipeServer(t, &Options{Authenticator: auth, Authorizer: AuthorizerFunc(func(c Client, a Access, topic string) bool {
			who.Store(c.Username)
			return true
		})})
		c := scramLogin(t, srv, "sa", "alice", "secret")
		c.Subscribe(t, 0, "x")
		if got := who.Load(); got != "alice" {
			t.Errorf("Authorizer sees username %v, want the SCRAM user alice", got)
		}
		c.Publish(t, 0, "x", "hi")
		c.ExpectMessage(t, "x", "hi")
	})
	inBubble(t, "wrong password: 0x87 [MQTT-5:4.12.0-4]", func(t *testing.T) {
		srv := startPipeServer(t, &Options{Authenticator: newScramAuth(t, "alice", "secret")})
		for _, user := range []string{"alice", "nobody"} {
			c := pipeRaw(t, srv, codec.V5)
			sc := scram.NewClient(user, []byte("guess"), "")
			c.Send(t, scramConnect("sw", sc, scram.Method))
			first := expectAuth(t, c, codec.ContinueAuthentication)
			final, err := sc.Final(first.Properties.AuthenticationData)
			if err != nil {
				t.Fatal(err)
			}
			c.Send(t, &codec.Auth{ReasonCode: codec.ContinueAuthentication, Properties: codec.Properties{AuthenticationMethod: scram.Method, AuthenticationData: final}})
			c.ExpectDescribed(t, "CONNACK sp=0 rc=0x87")
			c.ExpectClosed(t)
		}
		if n := srv.stats.AuthFailures.Load(); n != 2 {
			t.Errorf("AuthFailures = %d, want 2", n)
		}
	})
	for _, tc := range []struct {
		name string
		opts *Options
	}{
		{"unknown method: 0x8C", &Options{Authenticator: newScramAuth(t)}},
		{"no enhanced authenticator: 0x8C", &Options{Authenticator: AuthenticatorFunc(func(context.Context, *Login) codec.ReasonCode { return codec.Success })}},
		{"no authenticator: 0x8C", nil},
	} {
		inBubble(t, tc.name, func(t *testing.T) {
			srv := startPipeServer(t, tc.opts)
			c := pipeRaw(t, srv, codec.V5)
			method := "SCRAM-SHA-1"
			if tc.opts != nil && tc.opts.Authenticator != nil {
				if _, ok := tc.opts.Authenticator.(EnhancedAuthenticator); !ok {
					method = scram.Method
				}
			}
			c.Send(t, scramConnect("su", scram.NewClient("a", nil, ""), method))
			c.ExpectDescribed(t, "CONNACK sp=0 rc=0x8c")
			c.ExpectClosed(t)
		})
	}
	for _, tc := range []struct {
		name string
		send codec.Packet
		want string
	}{
		{"PUBLISH mid-exchange: 0x82", &codec.Publish{Topic: "x", Payload: []byte("early")}, "CONNACK sp=0 rc=0x82"},
		{"PINGREQ mid-exchange: 0x82", &codec.Pingreq{}, "CONNACK sp=0 rc=0x82"},
		{"AUTH with another method: 0x82", &codec.Auth{ReasonCode: codec.ContinueAuthentication, Properties: codec.Properties{AuthenticationMethod: "OTHER", AuthenticationData: []byte("x")}}, "CONNACK sp=0 rc=0x82"},
		{"AUTH 0x19 before the CONNACK: 0x82", &codec.Auth{ReasonCode: codec.ReAuthenticate, Properties: codec.Properties{AuthenticationMethod: scram.Method}}, "CONNACK sp=0 rc=0x82"},
		{"DISCONNECT mid-exchange: closed", &codec.Disconnect{}, ""},
	} {
		inBubble(t, tc.name, func(t *testing.T) {
			srv := startPipeServer(t, &Options{Authenticator: newScramAuth(t, "alice", "secret")})
			w := scramLogin(t, srv, "watch", "alice", "secret")
			w.Subscribe(t, 0, "#")
			c := pipeRaw(t, srv, codec.V5)
			c.Send(t, scramConnect("sp", scram.NewClient("alice", []byte("secret"), ""), scram.Method))
			expectAuth(t, c, codec.ContinueAuthentication)
			c.Send(t, tc.send)
			if tc.want != "" {
				c.ExpectDescribed(t, tc.want)
			}
			c.ExpectClosed(t)
			w.ExpectIdle(t) // nothing was published
		})
	}
	t.Run("no AUTH before the CONNECT deadline: closed", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := startPipeServer(t, &Options{Authenticator: newScramAuth(t, "alice", "secret"), ConnectTimeout: 5 * time.Second})
			c := pipeRaw(t, srv, codec.V5)
			c.Send(t, scramConnect("sd", scram.NewClient("alice", []byte("secret"), ""), scram.Method))
			expectAuth(t, c, codec.ContinueAuthentication)
			advance(6 * time.Second)
			c.ExpectClosed(t)
		})
	})
	inBubble(t, "3.1.1 is unchanged: a password CONNECT goes to Authenticate", func(t *testing.T) {
		srv := startPipeServer(t, &Options{Authenticator: newScramAuth(t, "alice", "secret")})
		c := pipeRaw(t, srv, codec.V311)
		c.Send(t, &codec.Connect{Version: codec.V311, ClientID: "s3", CleanStart: true, Username: "alice", HasUsername: true, Password: []byte("secret")})
		c.ExpectDescribed(t, "CONNACK sp=0 rc=0x04")
		c.ExpectClosed(t)
	})
	inBubble(t, "CONNECT User Name differing from the SCRAM user: 0x87", func(t *testing.T) {
		srv := startPipeServer(t, &Options{Authenticator: newScramAuth(t, "alice", "secret")})
		c := pipeRaw(t, srv, codec.V5)
		sc := scram.NewClient("alice", []byte("secret"), "")
		p := scramConnect("sn", sc, scram.Method)
		p.Username, p.HasUsername = "mallory", true
		c.Send(t, p)
		first := expectAuth(t, c, codec.ContinueAuthentication)
		final, _ := sc.Final(first.Properties.AuthenticationData)
		c.Send(t, &codec.Auth{ReasonCode: codec.ContinueAuthentication, Properties: codec.Properties{AuthenticationMethod: scram.Method, AuthenticationData: final}})
		c.ExpectDescribed(t, "CONNACK sp=0 rc=0x87")
		c.ExpectClosed(t)
	})
}

// reauth runs a re-authentication of user with password on c, up to the
// server's answer to the client-final, which it returns.
func reauth(t *testing.T, c *testkit.Peer, user, password string, method string) (*scram.Client, codec.Packet) {
	t.Helper()
	sc := scram.NewClient(user, []byte(password), "")
	c.Send(t, &codec.Auth{ReasonCode: codec.ReAuthenticate, Properties: codec.Properties{AuthenticationMethod: method, AuthenticationData: sc.First()}})
	p := c.Recv(t)
	first, ok := p.(*codec.Auth)
	if !ok || first.ReasonCode != codec.ContinueAuthentication {
		return sc, p
	}
	final, err := sc.Final(first.Properties.AuthenticationData)
	if err != nil {
		t.Fatal(err)
	}
	c.Send(t, &codec.Auth{ReasonCode: codec.ContinueAuthentication, Properties: codec.Properties{AuthenticationMethod: scram.Method, AuthenticationData: final}})
	return sc, c.Recv(t)
}

// TestEnhancedReauth: re-authentication after the CONNACK runs on the
// read loop, with the CONNECT's method [MQTT-5:4.12.1-1]; a failure
// closes the connection with a DISCONNECT [MQTT-5:4.12.1-2].
func TestEnhancedReauth(t *testing.T) {
	inBubble(t, "success, twice", func(t *testing.T) {
		srv := startPipeServer(t, &Options{Authenticator: newScramAuth(t, "alice", "secret")})
		c := scramLogin(t, srv, "ra", "alice", "secret")
		for range 2 {
			sc, p := reauth(t, c, "alice", "secret", scram.Method)
			ok, isAuth := p.(*codec.Auth)
			if !isAuth || ok.ReasonCode != codec.Success || ok.Properties.AuthenticationMethod != scram.Method {
				t.Fatalf("got %s, want AUTH 0x00 with the method", testkit.Describe(p))
			}
			if err := sc.Verify(ok.Properties.AuthenticationData); err != nil {
				t.Fatalf("server-final in AUTH: %v", err)
			}
		}
		c.Subscribe(t, 0, "still/here") // the connection goes on
	})
	inBubble(t, "wrong password: DISCONNECT 0x87", func(t *testing.T) {
		srv := startPipeServer(t, &Options{Authenticator: newScramAuth(t, "alice", "secret")})
		c := scramLogin(t, srv, "rw", "alice", "secret")
		_, p := reauth(t, c, "alice", "wrong", scram.Method)
		if d, ok := p.(*codec.Disconnect); !ok || d.ReasonCode != codec.NotAuthorized {
			t.Fatalf("got %s, want DISCONNECT rc=0x87", testkit.Describe(p))
		}
		c.ExpectClosed(t)
	})
	inBubble(t, "as another user: DISCONNECT 0x87", func(t *testing.T) {
		srv := startPipeServer(t, &Options{Authenticator: newScramAuth(t, "alice", "secret", "bob", "pw")})
		c := scramLogin(t, srv, "ro", "alice", "secret")
		_, p := reauth(t, c, "bob", "pw", scram.Method)
		if d, ok := p.(*codec.Disconnect); !ok || d.ReasonCode != codec.NotAuthorized {
			t.Fatalf("got %s, want DISCONNECT rc=0x87", testkit.Describe(p))
		}
		c.ExpectClosed(t)
	})
	inBubble(t, "another method: DISCONNECT 0x82", func(t *testing.T) {
		srv := startPipeServer(t, &Options{Authenticator: newScramAuth(t, "alice", "secret")})
		c := scramLogin(t, srv, "rm", "alice", "secret")
		_, p := reauth(t, c, "alice", "secret", "SCRAM-SHA-1")
		if d, ok := p.(*codec.Disconnect); !ok || d.ReasonCode != codec.ProtocolError {
			t.Fatalf("got %s, want DISCONNECT rc=0x82", testkit.Describe(p))
		}
		c.ExpectClosed(t)
	})
	inBubble(t, "AUTH 0x18 without a re-authentication: DISCONNECT 0x82", func(t *testing.T) {
		srv := startPipeServer(t, &Options{Authenticator: newScramAuth(t, "alice", "secret")})
		c := scramLogin(t, srv, "rc", "alice", "secret")
		c.Send(t, &codec.Auth{ReasonCode: codec.ContinueAuthentication, Properties: codec.Properties{AuthenticationMethod: scram.Method, AuthenticationData: []byte("x")}})
		expectDisconnect(t, c, codec.ProtocolError)
	})
	inBubble(t, "Reauthorize after the credentials are revoked: DISCONNECT 0x98", func(t *testing.T) {
		auth := newScramAuth(t, "alice", "secret")
		srv := startPipeServer(t, &Options{Authenticator: auth})
		c := scramLogin(t, srv, "rr", "alice", "secret")
		if d, _ := srv.Reauthorize(context.Background()); d != 0 {
			t.Fatalf("Reauthorize disconnected %d with valid credentials", d)
		}
		auth.revoked.Store(true)
		if d, _ := srv.Reauthorize(context.Background()); d != 1 {
			t.Fatalf("Reauthorize disconnected %d, want 1", d)
		}
		expectDisconnect(t, c, codec.AdministrativeAction)
	})
}

var _ EnhancedAuthenticator = (*scramAuth)(nil)
