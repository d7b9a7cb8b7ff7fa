package scram

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// rfc7677 is the example exchange of RFC 7677 section 3: user "user",
// password "pencil".
var rfc7677 = struct {
	cnonce, snonce, salt                               string
	clientFirst, serverFirst, clientFinal, serverFinal string
}{
	cnonce:      "rOprNGfwEbeRWgbNEkqO",
	snonce:      "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
	salt:        "W22ZaJ0SNY7soEsUEjb6gQ==",
	clientFirst: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
	serverFirst: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
	clientFinal: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
}

func rfcCreds(t testing.TB, password string) Credentials {
	salt, _ := base64.StdEncoding.DecodeString(rfc7677.salt)
	c, err := NewCredentials([]byte(password), salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRFC7677 runs both sides against the RFC's messages, step by step.
func TestRFC7677(t *testing.T) {
	v := rfc7677
	creds := rfcCreds(t, "pencil")
	lookup := func(u string) (Credentials, bool) { return creds, u == "user" }
	c := NewClient("user", []byte("pencil"), v.cnonce)
	s := NewServer(lookup, v.snonce)
	steps := []struct {
		name string
		run  func(in []byte) ([]byte, error)
		in   string
		want string
	}{
		{"client-first", func([]byte) ([]byte, error) { return c.First(), nil }, "", v.clientFirst},
		{"server-first", s.First, v.clientFirst, v.serverFirst},
		{"client-final", c.Final, v.serverFirst, v.clientFinal},
		{"server-final", s.Final, v.clientFinal, v.serverFinal},
		{"verify", func(in []byte) ([]byte, error) { return nil, c.Verify(in) }, v.serverFinal, ""},
	}
	for _, st := range steps {
		got, err := st.run([]byte(st.in))
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if string(got) != st.want {
			t.Fatalf("%s:\n got %s\nwant %s", st.name, got, st.want)
		}
	}
	if s.User() != "user" {
		t.Errorf("server user = %q", s.User())
	}
	if !creds.Verify([]byte("pencil")) || creds.Verify([]byte("pencil!")) {
		t.Error("Credentials.Verify")
	}
}

func TestFailures(t *testing.T) {
	v := rfc7677
	creds := rfcCreds(t, "pencil")
	t.Run("wrong password", func(t *testing.T) {
		s := NewServer(func(string) (Credentials, bool) { return creds, true }, v.snonce)
		c := NewClient("user", []byte("pen"), v.cnonce)
		sf, err := s.First(c.First())
		if err != nil {
			t.Fatal(err)
		}
		cf, err := c.Final(sf)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Final(cf); !errors.Is(err, ErrAuth) {
			t.Fatalf("err = %v, want ErrAuth", err)
		}
	})
	t.Run("unknown user with the right password", func(t *testing.T) {
		s := NewServer(func(string) (Credentials, bool) { return creds, false }, v.snonce)
		s.First([]byte(v.clientFirst))
		if _, err := s.Final([]byte(v.clientFinal)); !errors.Is(err, ErrAuth) {
			t.Fatalf("err = %v, want ErrAuth", err)
		}
	})
	t.Run("forged server signature", func(t *testing.T) {
		c := NewClient("user", []byte("pencil"), v.cnonce)
		c.First()
		if _, err := c.Final([]byte(v.serverFirst)); err != nil {
			t.Fatal(err)
		}
		if err := c.Verify([]byte("v=" + base64.StdEncoding.EncodeToString(make([]byte, 32)))); !errors.Is(err, ErrAuth) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("server nonce not extending the client's", func(t *testing.T) {
		c := NewClient("user", []byte("pencil"), "abc")
		c.First()
		if _, err := c.Final([]byte(v.serverFirst)); err == nil {
			t.Fatal("accepted")
		}
	})
	t.Run("too few iterations", func(t *testing.T) {
		c := NewClient("user", []byte("pencil"), v.cnonce)
		c.First()
		if _, err := c.Final([]byte(strings.Replace(v.serverFirst, "i=4096", "i=1", 1))); err == nil {
			t.Fatal("accepted")
		}
	})
	t.Run("replayed nonce", func(t *testing.T) {
		s := NewServer(func(string) (Credentials, bool) { return creds, true }, "other")
		s.First([]byte(v.clientFirst))
		if _, err := s.Final([]byte(v.clientFinal)); err == nil {
			t.Fatal("accepted a client-final with another exchange's nonce")
		}
	})
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in, user string
		ok       bool
	}{
		{"n,,n=user,r=abc", "user", true},
		{"y,,n=user,r=abc", "user", true},
		{"n,,n=a=2Cb=3Dc,r=abc,x=ext", "a,b=c", true},
		{"n,,n=a=2Xb,r=abc", "", false},
		{"p=tls-unique,,n=user,r=abc", "", false},
		{"n,a=admin,n=user,r=abc", "", false},
		{"n,,m=ext,n=user,r=abc", "", false},
		{"n,,n=user", "", false},
		{"n,,n=user,r=", "", false},
		{"n,,n=user,r=a\x01b", "", false},
		{"n=user,r=abc", "", false},
		{"", "", false},
	} {
		cf, err := ParseClientFirst([]byte(tc.in))
		if (err == nil) != tc.ok || cf.User != tc.user && tc.ok {
			t.Errorf("ParseClientFirst(%q) = %+v, %v", tc.in, cf, err)
		}
	}
	for _, in := range []string{"r=abc,s=!!,i=4096", "r=abc,s=c2FsdA==,i=x", "r=abc,s=c2FsdA==,i=+5", "m=x,r=abc,s=c2FsdA==,i=1", "r=abc,s=c2FsdA=="} {
		if _, err := ParseServerFirst([]byte(in)); err == nil {
			t.Errorf("ParseServerFirst(%q) accepted", in)
		}
	}
	for _, in := range []string{"c=biws,r=abc", "c=!!,r=abc,p=AA==", "c=biws,r=abc,p=!!", "r=abc,c=biws,p=AA=="} {
		if _, err := ParseClientFinal([]byte(in)); err == nil {
			t.Errorf("ParseClientFinal(%q) accepted", in)
		}
	}
	if _, err := ParseServerFinal([]byte("e=invalid-proof")); !errors.Is(err, ErrAuth) {
		t.Errorf("e= gives %v", err)
	}
	if escapeName("a,b=c") != "a=2Cb=3Dc" {
		t.Error("escapeName")
	}
}

// FuzzParse feeds every parser the same bytes: none may panic, a
// client-first message that parses round-trips through a Client's First,
// and no input completes a server exchange.
func FuzzParse(f *testing.F) {
	v := rfc7677
	for _, s := range []string{v.clientFirst, v.serverFirst, v.clientFinal, v.serverFinal,
		"n,,n=a=2Cb,r=x,e=1", "y,,n=,r=a", "e=other-error", "c=eSws,r=a,x=y,p=AA=="} {
		f.Add([]byte(s))
	}
	creds := rfcCreds(f, "pencil")
	f.Fuzz(func(t *testing.T, b []byte) {
		if cf, err := ParseClientFirst(b); err == nil {
			c := NewClient(cf.User, nil, cf.Nonce)
			again, err := ParseClientFirst(c.First())
			if err != nil || again.User != cf.User || again.Nonce != cf.Nonce {
				t.Errorf("client-first %q: re-parse %+v, %v", b, again, err)
			}
		}
		ParseServerFirst(b)
		ParseClientFinal(b)
		ParseServerFinal(b)
		s := NewServer(func(string) (Credentials, bool) { return creds, true }, "")
		if _, err := s.First(b); err == nil {
			if _, err := s.Final(b); err == nil {
				t.Errorf("%q is both a client-first and a valid client-final", b)
			}
		}
	})
}
