package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/broker/auth/passwd"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// tpasswd runs tern passwd with args and stdin, failing the test on error.
func tpasswd(t *testing.T, stdin string, args ...string) (stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	if err := passwdMain(args, strings.NewReader(stdin), &out, &errb); err != nil {
		t.Fatalf("tern passwd %q: %v\n%s", args, err, errb.String())
	}
	return out.String(), errb.String()
}

// checkPasswd loads path with the passwd package and checks that each
// user's password verifies (and that nobody else is in it).
func checkPasswd(t *testing.T, path string, users map[string]string) {
	t.Helper()
	f, err := passwd.Load(path, passwd.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Len() != len(users) {
		t.Errorf("%d users in the file, want %d", f.Len(), len(users))
	}
	for u, pw := range users {
		l := &broker.Login{Connect: &codec.Connect{Username: u, HasUsername: true, Password: []byte(pw)}}
		if rc := f.Authenticate(context.Background(), l); rc != codec.Success {
			t.Errorf("user %s password %q: %v", u, pw, rc)
		}
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func TestPasswdEdits(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "passwd")
	tpasswd(t, "", "-c", "-b", path, "alice", "a")
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("new file mode %v, want 0600", fi.Mode().Perm())
	}
	if l := readLines(t, path); len(l) != 1 || !strings.HasPrefix(l[0], "alice:$7$101$") {
		t.Fatalf("file: %q", l)
	}
	tpasswd(t, "", "-b", "-I", "1000", path, "bob", "b:with colon")
	tpasswd(t, "", "-H", "argon2id", "-b", path, "carol", "c")
	tpasswd(t, "d\nd\n", path, "dave")
	tpasswd(t, "", "-H", "scram-sha-256", "-b", path, "frank", "f")
	// A comment added by hand survives edits.
	b, _ := os.ReadFile(path)
	os.WriteFile(path, append([]byte("# keep me\n"), b...), 0o600)
	os.Chmod(path, 0o640)
	tpasswd(t, "", "-b", path, "alice", "a2") // update in place
	tpasswd(t, "", "-D", path, "bob")
	_, warn := tpasswd(t, "", "-D", path, "nobody")
	if !strings.Contains(warn, "not found") {
		t.Errorf("deleting an unknown user: %q", warn)
	}
	lines := readLines(t, path)
	if len(lines) != 5 || lines[0] != "# keep me" || !strings.HasPrefix(lines[1], "alice:$7$101$") ||
		!strings.HasPrefix(lines[2], "carol:$argon2id$v=19$m=19456,t=2,p=1$") || !strings.HasPrefix(lines[3], "dave:$7$") ||
		!strings.HasPrefix(lines[4], "frank:$scram-sha-256$4096$") {
		t.Fatalf("file after edits:\n%s", strings.Join(lines, "\n"))
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v after edits, want 0640 kept", fi.Mode().Perm())
	}
	checkPasswd(t, path, map[string]string{"alice": "a2", "carol": "c", "dave": "d", "frank": "f"})
	// -c overwrites.
	tpasswd(t, "", "-c", "-b", path, "erin", "e")
	checkPasswd(t, path, map[string]string{"erin": "e"})
	// No temporary files are left behind.
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("directory holds %d files", len(ents))
	}
}

func TestPasswdSymlinkAndStdout(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	link := filepath.Join(dir, "link")
	tpasswd(t, "", "-c", "-b", real, "alice", "a")
	os.Symlink("real", link)
	tpasswd(t, "", "-b", link, "bob", "b")
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the symlink was replaced: %v", err)
	}
	checkPasswd(t, real, map[string]string{"alice": "a", "bob": "b"})

	out, _ := tpasswd(t, "", "-c", "-b", "-", "carol", "c")
	if !strings.HasPrefix(out, "carol:$7$101$") || strings.Count(out, "\n") != 1 {
		t.Errorf("stdout: %q", out)
	}
}

func TestPasswdConvertPlain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plain")
	os.WriteFile(path, []byte("# plain\nalice:secret\n\n bob : with spaces and : colon\r\n"), 0o600)
	tpasswd(t, "", "-U", path)
	checkPasswd(t, path, map[string]string{"alice": "secret", "bob": " with spaces and : colon"})
	if l := readLines(t, path); l[0] != "# plain" || l[2] != "" {
		t.Errorf("comments and blank lines not kept: %q", l)
	}
	// Converting again would hash the hashes: refused, file unchanged.
	before, _ := os.ReadFile(path)
	var errb bytes.Buffer
	err := passwdMain([]string{"-U", path}, nil, io.Discard, &errb)
	if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "already") {
		t.Errorf("-U on a hashed file: %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("a refused -U changed the file")
	}
}

func TestPasswdErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "passwd")
	broken := filepath.Join(dir, "broken")
	os.WriteFile(broken, []byte("alice:plain\n"), 0o600)
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"no args", "", nil, "want 2 arguments"},
		{"batch without password", "", []string{"-b", path, "u"}, "want 3 arguments"},
		{"missing file", "", []string{"-b", path, "u", "p"}, "use -c"},
		{"c and D", "", []string{"-c", "-D", path, "u"}, "exclude"},
		{"U with b", "", []string{"-U", "-b", path}, "-U takes"},
		{"D with b", "", []string{"-D", "-b", path, "u", "p"}, "-D takes no password"},
		{"bad hash", "", []string{"-H", "md5", "-c", "-b", path, "u", "p"}, "want sha512-pbkdf2, argon2id or scram-sha-256"},
		{"sha512", "", []string{"-H", "sha512", "-c", "-b", path, "u", "p"}, "too fast"},
		{"zero iterations", "", []string{"-I", "0", "-c", "-b", path, "u", "p"}, "-I must be"},
		{"colon in user", "", []string{"-c", "-b", path, "a:b", "p"}, "contains ':'"},
		{"hash user", "", []string{"-c", "-b", path, "#a", "p"}, "starts with '#'"},
		{"broken file", "", []string{"-b", broken, "bob", "p"}, "line 1"},
		{"mismatch", "one\ntwo\n", []string{"-c", path, "u"}, "do not match"},
		{"empty", "\n\n", []string{"-c", path, "u"}, "empty password"},
		{"eof", "", []string{"-c", path, "u"}, "no password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := passwdMain(tc.args, strings.NewReader(tc.stdin), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
			if _, serr := os.Stat(path); serr == nil {
				t.Errorf("a failed command created %s", path)
			}
		})
	}
}

// TestPasswdMosquittoBroker writes a file with tern passwd (each way it
// can: -c -b, -I, the prompt, -U) and checks that a real mosquitto
// started with it accepts each user's password and refuses a wrong one.
func TestPasswdMosquittoBroker(t *testing.T) {
	pub := testkit.RequireTool(t, "mosquitto_pub", "mosquitto-clients")
	dir := t.TempDir()
	path := filepath.Join(dir, "passwd")
	os.WriteFile(path, []byte("# converted from plain text\nerin:e pass\nfrank:f:colon\n"), 0o600)
	tpasswd(t, "", "-U", path)
	tpasswd(t, "", "-b", path, "alice", "alice-pw")
	tpasswd(t, "", "-b", "-I", "1000", path, "bob", "bob pw ü")
	tpasswd(t, "", "-b", "-I", "1", path, "carol", "c")
	tpasswd(t, "dave-pw\ndave-pw\n", path, "dave")
	users := map[string]string{"alice": "alice-pw", "bob": "bob pw ü", "carol": "c", "dave": "dave-pw", "erin": "e pass"}
	// frank's password holds a ':', which Mosquitto's own -U would cut off;
	// Tern's hash is of the whole password, which Mosquitto then accepts.
	users["frank"] = "f:colon"
	checkPasswd(t, path, users)

	port := startMosquittoWith(t, path)
	for u, pw := range users {
		for _, v := range []string{"mqttv311", "mqttv5"} {
			run := func(password string) error {
				cmd := exec.Command(pub, "-h", "127.0.0.1", "-p", port, "-V", v, "-i", "passwd-"+u,
					"-u", u, "-P", password, "-t", "t", "-m", "x", "-q", "1")
				if out, err := cmd.CombinedOutput(); err != nil {
					return fmt.Errorf("%v: %s", err, out)
				}
				return nil
			}
			if err := run(pw); err != nil {
				t.Errorf("mosquitto refused %s (%s) with the right password: %v", u, v, err)
			}
			if err := run(pw + "x"); err == nil {
				t.Errorf("mosquitto accepted %s (%s) with a wrong password", u, v)
			}
		}
	}
}

// startMosquittoWith runs mosquitto with password file pwfile on a free
// loopback port, anonymous access off, and returns the port. It is
// stopped (by its PID) when the test ends.
func startMosquittoWith(t *testing.T, pwfile string) string {
	t.Helper()
	port := testkit.FreePort(t)
	testkit.StartMosquitto(t, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous false\npassword_file %s", port, pwfile))
	return fmt.Sprint(port)
}
