package passwd

import (
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// TestMosquittoPasswdFiles checks that files written by Mosquitto's own
// mosquitto_passwd (Debian's 2.0.11 here) load and verify, with its
// default and with several iteration counts, and after an update and a
// delete of other users.
func TestMosquittoPasswdFiles(t *testing.T) {
	tool := testkit.RequireTool(t, "mosquitto_passwd", "mosquitto")
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(tool, args...).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd %v: %v\n%s", args, err, out)
		}
	}
	path := filepath.Join(t.TempDir(), "passwd")
	run("-c", "-b", path, "default", "pw-default")
	users := map[string]string{"default": "pw-default"}
	for _, n := range []int{1, 101, 1000, 20000} {
		u := "iter" + strconv.Itoa(n)
		run("-I", strconv.Itoa(n), "-b", path, u, "pw:"+u)
		users[u] = "pw:" + u
	}
	run("-H", "sha512", "-b", path, "legacy", "pw legacy ü")
	users["legacy"] = "pw legacy ü"
	run("-b", path, "gone", "x")
	run("-D", path, "gone")
	run("-b", path, "default", "pw-changed") // an update in place
	users["default"] = "pw-changed"

	f, err := Load(path, Options{Logger: quiet(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if f.Len() != len(users) {
		t.Fatalf("%d users loaded, want %d", f.Len(), len(users))
	}
	for u, pw := range users {
		h := f.table.Load().users[u]
		if h == nil {
			t.Fatalf("user %s missing", u)
		}
		if want := "iter" + strconv.Itoa(h.Iterations()); h.Algorithm() == SHA512PBKDF2 && u != "default" && u != want {
			t.Errorf("user %s has %d iterations", u, h.Iterations())
		}
		f.throttle = newThrottle(throttleEntries)
		if rc := f.Authenticate(context.Background(), login(u, []byte(pw))); rc != codec.Success {
			t.Errorf("user %s with its password: %v", u, rc)
		}
		if rc := f.Authenticate(context.Background(), login(u, []byte(pw+"x"))); rc != codec.BadUserNameOrPassword {
			t.Errorf("user %s with a wrong password: %v", u, rc)
		}
	}
	if h := f.table.Load().users["default"]; h.Iterations() != DefaultIterations || len(h.salt) != pbkdf2SaltLen {
		t.Errorf("mosquitto_passwd's default: %d iterations, %d-byte salt; Tern writes %d and %d",
			h.Iterations(), len(h.salt), DefaultIterations, pbkdf2SaltLen)
	}
}
