package passwd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/codec"
)

// writeFile writes a password file with mode 0600 and returns its path.
func writeFile(t testing.TB, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// quiet is a logger that drops everything, or keeps it in buf.
func quiet(buf *bytes.Buffer) *slog.Logger {
	if buf == nil {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(buf, nil))
}

var testRemote = &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 40000}

// login builds a Login; a nil password is a CONNECT without one, user
// "-" a CONNECT without a username.
func login(user string, password []byte) *broker.Login {
	c := &codec.Connect{Version: codec.V5, ClientID: "c", Password: password}
	if user != "-" {
		c.Username, c.HasUsername = user, true
	}
	return &broker.Login{Connect: c, ClientID: "c", Remote: testRemote}
}

func TestAuthenticate(t *testing.T) {
	path := writeFile(t,
		"# users",
		"test:"+vectorSHA512,
		"alice:"+vectorPBKDF2Salt64,
		"bob:"+vectorPBKDF2Salt12,
		"carol:"+vectorArgon2id,
	)
	for _, anon := range []bool{false, true} {
		f, err := Load(path, Options{AllowAnonymous: anon, Logger: quiet(nil)})
		if err != nil {
			t.Fatal(err)
		}
		if f.Len() != 4 || f.Path() != path {
			t.Fatalf("Len %d Path %s", f.Len(), f.Path())
		}
		anonCode := codec.NotAuthorized
		if anon {
			anonCode = codec.Success
		}
		for _, tc := range []struct {
			user     string
			password []byte
			want     codec.ReasonCode
		}{
			{"test", []byte("test"), codec.Success},
			{"alice", []byte("test"), codec.Success},
			{"bob", []byte("test"), codec.Success},
			{"carol", []byte("password"), codec.Success},
			{"test", []byte("wrong"), codec.BadUserNameOrPassword},
			{"alice", []byte(""), codec.BadUserNameOrPassword},
			{"alice", nil, codec.BadUserNameOrPassword},
			{"Alice", []byte("test"), codec.BadUserNameOrPassword},
			{"mallory", []byte("test"), codec.BadUserNameOrPassword},
			{"mallory", nil, codec.BadUserNameOrPassword},
			{"", []byte("test"), codec.BadUserNameOrPassword}, // an empty username is a username
			{"-", nil, anonCode},
		} {
			f.throttle = newThrottle(throttleEntries) // no slow-down between cases
			if got := f.Authenticate(context.Background(), login(tc.user, tc.password)); got != tc.want {
				t.Errorf("anonymous %v: user %q password %q: %v, want %v", anon, tc.user, tc.password, got, tc.want)
			}
		}
	}
}

func TestCache(t *testing.T) {
	f, err := Load(writeFile(t, "alice:"+vectorPBKDF2Salt64), Options{Logger: quiet(nil)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if f.Authenticate(ctx, login("alice", []byte("test"))) != codec.Success {
		t.Fatal("refused")
	}
	tab := f.table.Load()
	if len(tab.cache) != 1 {
		t.Fatalf("cache has %d entries after a success", len(tab.cache))
	}
	if got := tab.cache["alice"]; got != f.mac([]byte("test")) || got == sha256.Sum256([]byte("test")) {
		t.Fatal("the cache does not hold the keyed MAC of the password")
	}
	// A cached user with another password is still checked, and refused.
	if f.Authenticate(ctx, login("alice", []byte("nope"))) != codec.BadUserNameOrPassword {
		t.Fatal("wrong password accepted for a cached user")
	}
	f.throttle = newThrottle(throttleEntries)
	if f.Authenticate(ctx, login("alice", nil)) != codec.BadUserNameOrPassword {
		t.Fatal("missing password accepted for a cached user")
	}
	// With the hash replaced by a different one, only the cache can say yes.
	tab.users["alice"] = &Hash{}
	f.throttle = newThrottle(throttleEntries)
	if f.Authenticate(ctx, login("alice", []byte("test"))) != codec.Success {
		t.Fatal("cached password not used")
	}
	if _, err := f.Reload(); err != nil {
		t.Fatal(err)
	}
	if n := len(f.table.Load().cache); n != 0 {
		t.Fatalf("cache has %d entries after Reload", n)
	}
}

func TestReload(t *testing.T) {
	path := writeFile(t, "alice:"+vectorPBKDF2Salt64, "bob:"+vectorPBKDF2Salt12, "test:"+vectorSHA512)
	f, err := Load(path, Options{Logger: quiet(nil)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	newBob, _ := NewHash([]byte("new"), HashOptions{})
	write := func(lines ...string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("alice:"+vectorPBKDF2Salt64, "bob:"+newBob.String(), "dave:"+vectorSHA512)
	c, err := f.Reload()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Added, ",") + "/" + strings.Join(c.Removed, ",") + "/" + strings.Join(c.Changed, ","); got != "dave/test/bob" {
		t.Errorf("change %s, want dave/test/bob", got)
	}
	if c.String() != "1 added, 1 removed, 1 changed" {
		t.Errorf("String() = %s", c)
	}
	for _, tc := range []struct {
		user, password string
		want           codec.ReasonCode
	}{
		{"bob", "new", codec.Success},
		{"bob", "test", codec.BadUserNameOrPassword},
		{"test", "test", codec.BadUserNameOrPassword},
		{"dave", "test", codec.Success},
	} {
		f.throttle = newThrottle(throttleEntries)
		if got := f.Authenticate(ctx, login(tc.user, []byte(tc.password))); got != tc.want {
			t.Errorf("after reload %s/%s: %v, want %v", tc.user, tc.password, got, tc.want)
		}
	}

	// An invalid file is reported with its line and changes nothing.
	write("alice:"+vectorPBKDF2Salt64, "broken")
	if _, err := f.Reload(); err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), path) {
		t.Fatalf("Reload of a broken file: %v", err)
	}
	if f.Len() != 3 || f.Authenticate(ctx, login("dave", []byte("test"))) != codec.Success {
		t.Fatal("a failed Reload changed the users in force")
	}
	os.Remove(path)
	if _, err := f.Reload(); err == nil || f.Len() != 3 {
		t.Fatalf("Reload of a missing file: %v, %d users", err, f.Len())
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "missing"), Options{}); err == nil {
		t.Error("missing file loaded")
	}
	p := writeFile(t, "# header", "alice:"+vectorPBKDF2Salt64, "bob:plaintext")
	_, err := Load(p, Options{})
	if err == nil || !strings.Contains(err.Error(), "line 3") || !strings.Contains(err.Error(), "bob") {
		t.Errorf("Load = %v, want an error naming line 3 and bob", err)
	}
}

func TestLoadPermissionsAndSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	if err := os.WriteFile(real, []byte("alice:"+vectorPBKDF2Salt64+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(real, 0o644); err != nil { // whatever the umask
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	f, err := Load(link, Options{Logger: quiet(&logs)})
	if err != nil {
		t.Fatalf("a world-readable file behind a symlink is refused: %v", err)
	}
	if f.Authenticate(context.Background(), login("alice", []byte("test"))) != codec.Success {
		t.Error("alice refused")
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "0644") {
		t.Errorf("no warning about mode 0644:\n%s", logs.String())
	}
	logs.Reset()
	os.Chmod(real, 0o600)
	if _, err := f.Reload(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("warning for mode 0600:\n%s", logs.String())
	}
}

// TestUnknownUserCost: an unknown user is checked against a hash of the
// file (the first user's), so that it costs what a real user costs and
// timing does not tell which usernames exist.
func TestUnknownUserCost(t *testing.T) {
	f, err := Load(writeFile(t, "# c", "slow:"+vectorPBKDF2Salt64, "fast:"+vectorSHA512), Options{Logger: quiet(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if tab := f.table.Load(); tab.dummy != tab.users["slow"] {
		t.Errorf("dummy hash is %s, want the first user's", tab.dummy)
	}
	empty, err := Load(writeFile(t, "# nobody"), Options{Logger: quiet(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if d := empty.table.Load().dummy; d == nil || d.Iterations() != DefaultIterations {
		t.Errorf("empty file's dummy: %v", d)
	}
	if rc := empty.Authenticate(context.Background(), login("x", []byte("y"))); rc != codec.BadUserNameOrPassword {
		t.Errorf("empty file: %v", rc)
	}
}
