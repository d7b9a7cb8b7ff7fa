package passwd

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Entry is one user of a password file.
type Entry struct {
	// Line is the entry's 1-based line number in the file.
	Line int
	// User is the username, with surrounding blanks removed.
	User string
	// Hash is the parsed password hash.
	Hash *Hash
}

// ParseError is a line of a password file that could not be parsed.
type ParseError struct {
	Line int   // 1-based
	Err  error // what is wrong with it
}

// Error returns "line N: " and what is wrong.
func (e *ParseError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

// Unwrap returns the underlying error.
func (e *ParseError) Unwrap() error { return e.Err }

// maxLine bounds one line: Mosquitto's own lines are under 300 bytes; an
// Argon2id hash with a long salt stays far below this.
const maxLine = 64 << 10

// Parse reads a password file in Mosquitto's format: "user:hash" lines,
// where blanks around the user and the hash are ignored, lines whose
// first non-blank character is '#' are comments, and blank lines are
// skipped. It is stricter than Mosquitto, which skips lines it cannot
// use: a line without ':', an empty username, a hash Tern cannot verify
// or a user listed twice is an error (a *ParseError with the line
// number), so that a typo never silently locks a user out or leaves a
// stale password in force.
func Parse(r io.Reader) ([]Entry, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, maxLine)
	var entries []Entry
	seen := make(map[string]int)
	n := 0
	for sc.Scan() {
		n++
		user, hash, ok, err := splitLine(sc.Bytes())
		if err != nil {
			return nil, &ParseError{Line: n, Err: err}
		}
		if !ok {
			continue
		}
		if prev, dup := seen[user]; dup {
			return nil, &ParseError{Line: n, Err: fmt.Errorf("user %q already defined on line %d", user, prev)}
		}
		h, err := ParseHash(hash)
		if err != nil {
			return nil, &ParseError{Line: n, Err: fmt.Errorf("user %q: %w", user, err)}
		}
		seen[user] = n
		entries = append(entries, Entry{Line: n, User: user, Hash: h})
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, &ParseError{Line: n + 1, Err: fmt.Errorf("line longer than %d bytes", maxLine)}
		}
		return nil, err
	}
	return entries, nil
}

// SplitLine splits one line of a password file (or of a plain-text file
// for conversion) into its user and the rest. ok is false for comments
// and blank lines. A trailing "\r" is ignored.
func SplitLine(line string) (user, rest string, ok bool, err error) {
	return splitLine([]byte(line))
}

func splitLine(line []byte) (user, rest string, ok bool, err error) {
	line = bytes.TrimSuffix(line, []byte("\r"))
	t := bytes.TrimSpace(line)
	if len(t) == 0 || t[0] == '#' {
		return "", "", false, nil
	}
	u, h, found := bytes.Cut(t, []byte(":"))
	if !found {
		return "", "", false, errors.New("want user:hash (no ':' found)")
	}
	user = string(bytes.TrimSpace(u))
	if err := CheckUser(user); err != nil {
		return "", "", false, err
	}
	return user, string(bytes.TrimSpace(h)), true, nil
}

// CheckUser reports whether name can be written to a password file and
// read back as the same name: not empty, no ':', no line breaks or other
// control characters, no blanks around it, not starting with '#', and at
// most 65535 bytes of valid UTF-8 (MQTT's limits).
func CheckUser(name string) error {
	switch {
	case name == "":
		return errors.New("empty username")
	case len(name) > 65535:
		return errors.New("username longer than 65535 bytes")
	case !utf8.ValidString(name):
		return fmt.Errorf("username %q is not valid UTF-8", name)
	case strings.ContainsRune(name, ':'):
		return fmt.Errorf("username %q contains ':'", name)
	case name[0] == '#':
		return fmt.Errorf("username %q starts with '#'", name)
	case strings.TrimSpace(name) != name:
		return fmt.Errorf("username %q has blanks around it", name)
	case strings.IndexFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0:
		return fmt.Errorf("username %q contains a control character", name)
	}
	return nil
}
