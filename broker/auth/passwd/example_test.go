package passwd_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/broker/auth/passwd"
	"github.com/ternmq/tern/codec"
)

// Load a Mosquitto-format password file and use it as the broker's
// Authenticator (broker.Options.Authenticator).
func Example() {
	dir, _ := os.MkdirTemp("", "passwd")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "passwd")

	// What mosquitto_passwd -b (or tern passwd -b) would write.
	h, _ := passwd.NewHash([]byte("s3cret"), passwd.HashOptions{})
	os.WriteFile(path, []byte("# users\nalice:"+h.String()+"\n"), 0o600)

	auth, err := passwd.Load(path, passwd.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Println(err)
		return
	}
	var _ broker.Authenticator = auth

	for _, try := range []struct{ user, password string }{{"alice", "s3cret"}, {"alice", "guess"}, {"bob", "s3cret"}} {
		rc := auth.Authenticate(context.Background(), &broker.Login{
			Connect: &codec.Connect{Username: try.user, HasUsername: true, Password: []byte(try.password)},
		})
		fmt.Println(try.user, try.password, rc == codec.Success)
	}
	// Output:
	// alice s3cret true
	// alice guess false
	// bob s3cret false
}
