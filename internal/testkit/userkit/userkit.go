// Package userkit writes password files for test brokers. It is apart
// from brokerkit, which broker/auth/passwd's own tests use, because it
// imports passwd.
package userkit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ternmq/tern/broker/auth/passwd"
)

// PasswordFile writes a password file in a temporary directory with one
// entry per user and password pair (user1, password1, user2, ...), each
// hashed as opts says, and loads it: an Authenticator for a test broker.
func PasswordFile(t testing.TB, opts passwd.HashOptions, pairs ...string) *passwd.File {
	t.Helper()
	var b strings.Builder
	for i := 0; i+1 < len(pairs); i += 2 {
		h, err := passwd.NewHash([]byte(pairs[i+1]), opts)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(pairs[i] + ":" + h.String() + "\n")
	}
	path := filepath.Join(t.TempDir(), "users.txt")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := passwd.Load(path, passwd.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return f
}
