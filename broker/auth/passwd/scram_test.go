package passwd

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/scram"
	"github.com/ternmq/tern/internal/testkit"
	"github.com/ternmq/tern/internal/testkit/brokerkit"
)

func TestSCRAMHash(t *testing.T) {
	h, err := NewHash([]byte("pencil"), HashOptions{Algorithm: SCRAMSHA256})
	if err != nil {
		t.Fatal(err)
	}
	s := h.String()
	if !strings.HasPrefix(s, "$scram-sha-256$4096$") || strings.Count(s, "$") != 5 {
		t.Fatalf("String() = %s", s)
	}
	back, err := ParseHash(s)
	if err != nil || back.String() != s || back.Algorithm() != SCRAMSHA256 || back.Iterations() != 4096 || len(back.salt) != 16 {
		t.Fatalf("ParseHash(String()) = %v, %v", back, err)
	}
	// A plain CONNECT password verifies against the StoredKey.
	if !back.Verify([]byte("pencil")) || back.Verify([]byte("pencil ")) || back.Verify(nil) {
		t.Error("Verify")
	}
	// The RFC 7677 credentials (user "user", password "pencil"), written by hand.
	rfc := "$scram-sha-256$4096$W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=$wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
	if h, err := ParseHash(rfc); err != nil || !h.Verify([]byte("pencil")) {
		t.Fatalf("RFC 7677 credentials: %v", err)
	}
	if _, err := NewHash([]byte("x"), HashOptions{Algorithm: SCRAMSHA256, Iterations: 100}); err == nil {
		t.Error("NewHash accepted 100 iterations, which clients refuse")
	}
	for _, bad := range []string{
		"$scram-sha-256$4096$c2FsdA==$AAAA$AAAA",
		"$scram-sha-256$0$c2FsdA==$" + strings.Repeat("A", 43) + "=$" + strings.Repeat("A", 43) + "=",
		"$scram-sha-256$+4096$c2FsdA==$" + strings.Repeat("A", 43) + "=$" + strings.Repeat("A", 43) + "=",
		"$scram-sha-256$4096$$" + strings.Repeat("A", 43) + "=$" + strings.Repeat("A", 43) + "=",
		"$scram-sha-256$4096$c2FsdA==$" + strings.Repeat("A", 43) + "=",
		"$scram-sha-256$4096$!!$" + strings.Repeat("A", 43) + "=$" + strings.Repeat("A", 43) + "=",
	} {
		if _, err := ParseHash(bad); err == nil {
			t.Errorf("ParseHash(%q) accepted", bad)
		}
	}
}

// runSCRAM runs a whole exchange of user/password against f and returns
// the client, the last step and its reason code.
func runSCRAM(t *testing.T, f *File, user, password string) (*scram.Client, broker.AuthStep, codec.ReasonCode, []byte) {
	t.Helper()
	ctx := context.Background()
	c := scram.NewClient(user, []byte(password), "")
	ex := f.BeginAuth(ctx, login(user, nil), scram.Method)
	step, rc := ex.Next(ctx, c.First())
	if rc != codec.Success || step.Done {
		t.Fatalf("first step: %v done=%v", rc, step.Done)
	}
	serverFirst := step.Data
	final, err := c.Final(serverFirst)
	if err != nil {
		t.Fatal(err)
	}
	step, rc = ex.Next(ctx, final)
	return c, step, rc, serverFirst
}

func TestFileSCRAM(t *testing.T) {
	h, _ := NewHash([]byte("secret"), HashOptions{Algorithm: SCRAMSHA256})
	path := writeFile(t, "alice:"+h.String(), "bob:"+vectorPBKDF2Salt12)
	f, err := Load(path, Options{Logger: quiet(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.AuthMethods(); len(got) != 1 || got[0] != "SCRAM-SHA-256" {
		t.Fatalf("AuthMethods = %q", got)
	}
	c, step, rc, _ := runSCRAM(t, f, "alice", "secret")
	if rc != codec.Success || !step.Done || step.Username != "alice" || step.Valid == nil {
		t.Fatalf("alice: rc=%v step=%+v", rc, step)
	}
	if err := c.Verify(step.Data); err != nil {
		t.Fatalf("server signature: %v", err)
	}
	if !step.Valid() {
		t.Fatal("Valid() false right away")
	}
	// A plain CONNECT password works for the same entry.
	if rc := f.Authenticate(context.Background(), login("alice", []byte("secret"))); rc != codec.Success {
		t.Errorf("plain password: %v", rc)
	}

	if _, _, rc, _ := runSCRAM(t, f, "alice", "wrong"); rc != codec.NotAuthorized {
		t.Errorf("wrong password: rc=%v, want 0x87", rc)
	}
	// bob (a $7$ entry, right password) and nobody get plausible salts,
	// the same each time, and fail the same way.
	for _, user := range []string{"bob", "nobody"} {
		_, _, rc, first1 := runSCRAM(t, f, user, "test")
		_, _, _, first2 := runSCRAM(t, f, user, "test")
		if rc != codec.NotAuthorized {
			t.Errorf("%s: rc=%v, want 0x87", user, rc)
		}
		s1, _ := scram.ParseServerFirst(first1)
		s2, _ := scram.ParseServerFirst(first2)
		if !bytes.Equal(s1.Salt, s2.Salt) || len(s1.Salt) != 16 || s1.Iterations != DefaultSCRAMIterations {
			t.Errorf("%s: salts %x and %x, %d iterations: want one 16-byte salt and the default count", user, s1.Salt, s2.Salt, s1.Iterations)
		}
	}
	// A garbled client-first is refused.
	if _, rc := f.BeginAuth(context.Background(), login("x", nil), scram.Method).Next(context.Background(), []byte("hello")); rc != codec.NotAuthorized {
		t.Errorf("garbled client-first: %v", rc)
	}

	// Valid follows reloads: unchanged → true, password changed → false.
	if _, err := f.Reload(); err != nil || !step.Valid() {
		t.Fatalf("after a reload of the same file: err=%v valid=%v", err, step.Valid())
	}
	h2, _ := NewHash([]byte("new"), HashOptions{Algorithm: SCRAMSHA256})
	os.WriteFile(path, []byte("alice:"+h2.String()+"\n"), 0o600)
	if _, err := f.Reload(); err != nil || step.Valid() {
		t.Fatalf("after the password changed: err=%v valid=%v", err, step.Valid())
	}
}

// TestSCRAMOverTCP runs the exchange against a broker with a File, with a
// scripted peer that checks each packet: AUTH 0x18 with the method and
// server-first [MQTT-5:4.12.0-2], the CONNACK with the method and the
// server-final [MQTT-5:4.12.0-5]; a PUBLISH in the middle of an exchange
// gets CONNACK 0x82 and the connection closes.
func TestSCRAMOverTCP(t *testing.T) {
	h, _ := NewHash([]byte("secret"), HashOptions{Algorithm: SCRAMSHA256})
	f, err := Load(writeFile(t, "alice:"+h.String()), Options{Logger: quiet(nil)})
	if err != nil {
		t.Fatal(err)
	}
	srv := brokerkit.Start(t, &broker.Options{Authenticator: f}, broker.WebSocketOptions{})
	connect := func(c *scram.Client) *codec.Connect {
		return &codec.Connect{Version: codec.V5, ClientID: "tcp", CleanStart: true,
			Properties: codec.Properties{AuthenticationMethod: scram.Method, AuthenticationData: c.First()}}
	}

	p := testkit.Dial(t, srv.Addr, codec.V5)
	c := scram.NewClient("alice", []byte("secret"), "")
	p.Send(t, connect(c))
	a := testkit.Expect[*codec.Auth](t, p)
	if a.ReasonCode != codec.ContinueAuthentication || a.Properties.AuthenticationMethod != scram.Method {
		t.Fatalf("AUTH rc=%s method=%q", a.ReasonCode, a.Properties.AuthenticationMethod)
	}
	final, err := c.Final(a.Properties.AuthenticationData)
	if err != nil {
		t.Fatal(err)
	}
	p.Send(t, &codec.Auth{ReasonCode: codec.ContinueAuthentication, Properties: codec.Properties{AuthenticationMethod: scram.Method, AuthenticationData: final}})
	ack := testkit.Expect[*codec.Connack](t, p)
	if ack.ReasonCode != codec.Success || ack.Properties.AuthenticationMethod != scram.Method {
		t.Fatalf("CONNACK rc=%s method=%q", ack.ReasonCode, ack.Properties.AuthenticationMethod)
	}
	if err := c.Verify(ack.Properties.AuthenticationData); err != nil {
		t.Fatal(err)
	}
	p.Subscribe(t, 0, "x")

	mid := testkit.Dial(t, srv.Addr, codec.V5)
	mid.Send(t, connect(scram.NewClient("alice", []byte("secret"), "")))
	testkit.Expect[*codec.Auth](t, mid)
	mid.Send(t, &codec.Publish{Topic: "x", Payload: []byte("early")})
	mid.ExpectDescribed(t, "CONNACK sp=0 rc=0x82")
	mid.ExpectClosed(t)
	p.ExpectIdle(t) // the early PUBLISH went nowhere
}
