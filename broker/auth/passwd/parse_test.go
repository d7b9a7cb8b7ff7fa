package passwd

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	in := strings.Join([]string{
		"# a comment",
		"",
		"test:" + vectorSHA512,
		"   ",
		"  # an indented comment",
		"  alice  :  " + vectorPBKDF2Salt64 + "  \r",
		"bob:" + vectorPBKDF2Salt12,
		"user with space:" + vectorPBKDF2Salt12,
		"ünïcode:" + vectorPBKDF2Salt12,
		"carol:" + vectorArgon2id,
	}, "\n") // no final newline: the last line still counts
	entries, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		line int
		user string
		alg  Algorithm
	}{{3, "test", SHA512}, {6, "alice", SHA512PBKDF2}, {7, "bob", SHA512PBKDF2}, {8, "user with space", SHA512PBKDF2}, {9, "ünïcode", SHA512PBKDF2}, {10, "carol", Argon2id}}
	if len(entries) != len(want) {
		t.Fatalf("%d entries, want %d: %+v", len(entries), len(want), entries)
	}
	for i, w := range want {
		e := entries[i]
		if e.Line != w.line || e.User != w.user || e.Hash.Algorithm() != w.alg {
			t.Errorf("entry %d = line %d %q %s, want line %d %q %s", i, e.Line, e.User, e.Hash.Algorithm(), w.line, w.user, w.alg)
		}
	}
}

func TestParseErrors(t *testing.T) {
	good := "ok:" + vectorPBKDF2Salt12
	for _, tc := range []struct {
		name string
		in   string
		line int
		want string
	}{
		{"no colon", good + "\nnocolon\n", 2, "no ':'"},
		{"empty user", good + "\n\n:" + vectorPBKDF2Salt12, 3, "empty username"},
		{"plain text", "# c\nuser:password", 2, "unknown hash"},
		{"empty hash", "user:", 1, "unknown hash"},
		{"duplicate", good + "\n" + good, 2, "already defined on line 1"},
		{"extra colon", "user:" + vectorPBKDF2Salt12 + ":x", 1, "user \"user\""},
		{"control char", "us\x01er:" + vectorPBKDF2Salt12, 1, "control character"},
		{"bad iterations", "user:$7$0$F8MLLGNsU7r59G4V$AAAA", 1, "iterations"},
		{"too long", good + "\nx:" + strings.Repeat("a", maxLine+1), 2, "longer than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.in))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *ParseError", err)
			}
			if pe.Line != tc.line || !strings.Contains(pe.Error(), tc.want) {
				t.Errorf("err = %v, want line %d and %q", err, tc.line, tc.want)
			}
			if !strings.HasPrefix(pe.Error(), "line ") {
				t.Errorf("error %q does not start with its line", pe.Error())
			}
		})
	}
}

func TestCheckUser(t *testing.T) {
	for _, ok := range []string{"a", "user name", "ü", "a#b", strings.Repeat("x", 65535)} {
		if err := CheckUser(ok); err != nil {
			t.Errorf("CheckUser(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a:b", "#a", " a", "a ", "a\nb", "a\rb", "a\x00", strings.Repeat("x", 65536)} {
		if err := CheckUser(bad); err == nil {
			t.Errorf("CheckUser(%q) accepted", bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"test:" + vectorSHA512 + "\n",
		"# c\n\nalice:" + vectorPBKDF2Salt64 + "\r\nbob:" + vectorPBKDF2Salt12,
		"carol:" + vectorArgon2id + "\n",
		"a:b\n", ":\n", "x:$7$1$AA==$\n", "dup:" + vectorSHA512 + "\ndup:" + vectorSHA512,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		entries, err := Parse(strings.NewReader(s))
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Line < 1 {
				t.Fatalf("error without a line: %v", err)
			}
			return
		}
		// What parses can be written back as Tern writes it and parses the same.
		var b strings.Builder
		for _, e := range entries {
			if CheckUser(e.User) != nil {
				t.Fatalf("parsed user %q fails CheckUser", e.User)
			}
			b.WriteString(e.User + ":" + e.Hash.String() + "\n")
		}
		again, err := Parse(strings.NewReader(b.String()))
		if err != nil {
			t.Fatalf("rewritten file does not parse: %v\n%s", err, b.String())
		}
		if len(again) != len(entries) {
			t.Fatalf("%d entries, rewritten %d", len(entries), len(again))
		}
		for i := range again {
			if again[i].User != entries[i].User || again[i].Hash.String() != entries[i].Hash.String() {
				t.Fatalf("entry %d changed in the round trip", i)
			}
		}
	})
}
