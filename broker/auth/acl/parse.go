package acl

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ParseError is a line of an ACL file that Mosquitto would refuse too.
type ParseError struct {
	File string // the file's path; "" when parsed from a reader
	Line int    // 1-based line number
	Msg  string // what is wrong
}

// Error formats the error as "acl: FILE:LINE: MSG".
func (e *ParseError) Error() string {
	if e.File != "" {
		return fmt.Sprintf("acl: %s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("acl: line %d: %s", e.Line, e.Msg)
}

// Limits of a filter, Mosquitto's (mosquitto_sub_topic_check in the
// broker build).
const (
	maxFilterLen    = 65535
	maxFilterLevels = 201 // TOPIC_HIERARCHY_LIMIT 200 separators
)

// Access bits of an entry; deny is none.
const (
	accRead  uint8 = 1
	accWrite uint8 = 2
	accDeny  uint8 = 0
)

// entry is one topic or pattern line as read.
type entry struct {
	line   int
	access uint8
	filter string
}

// parsed is a file as read, before compiling: sections in order of first
// appearance and the patterns. Deny entries are kept in file order here;
// compile puts them first.
type parsed struct {
	anon     []entry
	hasAnon  bool
	users    map[string][]entry
	patterns []entry
}

// parse reads an ACL file as Mosquitto's aclfile__parse does.
func parse(r io.Reader) (*parsed, error) {
	p := &parsed{users: map[string][]entry{}}
	br := bufio.NewReader(r)
	var (
		user    string
		hasUser bool
	)
	for n := 1; ; n++ {
		raw, rerr := br.ReadString('\n')
		if rerr != nil && rerr != io.EOF {
			return nil, rerr
		}
		if raw == "" && rerr == io.EOF {
			return p, nil
		}
		line := raw
		if i := strings.IndexByte(line, 0); i >= 0 {
			line = line[:i] // C strings end at NUL
		}
		line = strings.TrimRightFunc(line, isCSpace)
		if strings.HasPrefix(line, "#") {
			continue
		}
		word, rest, ok := token(line)
		if !ok {
			continue // blank
		}
		fail := func(format string, args ...any) error {
			return &ParseError{Line: n, Msg: fmt.Sprintf(format, args...)}
		}
		switch word {
		case "topic", "pattern":
			accessWord, rest2, ok := token(rest)
			if !ok {
				return nil, fail("empty topic")
			}
			filter := ""
			access := accRead | accWrite
			if rest2 == "" {
				filter = accessWord // "topic foo": foo, readwrite
			} else {
				filter = strings.TrimFunc(rest2, isCSpace)
				switch accessWord {
				case "read":
					access = accRead
				case "write":
					access = accWrite
				case "readwrite":
					access = accRead | accWrite
				case "deny":
					access = accDeny
				default:
					return nil, fail("invalid topic access type %q (want read, write, readwrite or deny)", accessWord)
				}
			}
			if err := checkFilter(filter); err != nil {
				return nil, fail("invalid ACL topic %q: %v", filter, err)
			}
			e := entry{line: n, access: access, filter: filter}
			switch {
			case word == "pattern":
				p.patterns = append(p.patterns, e)
			case hasUser:
				p.users[user] = append(p.users[user], e)
			default:
				p.anon = append(p.anon, e)
				p.hasAnon = true
			}
		case "user":
			name := strings.TrimFunc(rest, isCSpace)
			if name == "" {
				return nil, fail("missing username")
			}
			user, hasUser = name, true
		default:
			return nil, fail("invalid line %q (want topic, user or pattern)", line)
		}
		if rerr == io.EOF {
			return p, nil
		}
	}
}

// token does what strtok_r(s, " ") followed by strtok_r(NULL, "") does:
// it skips leading spaces, returns the run of non-space bytes, and as
// rest what follows the one space that ended it ("" at the end of s).
func token(s string) (word, rest string, ok bool) {
	s = strings.TrimLeft(s, " ")
	if s == "" {
		return "", "", false
	}
	i := strings.IndexByte(s, ' ')
	if i < 0 {
		return s, "", true
	}
	return s[:i], s[i+1:], true
}

// isCSpace is C's isspace in the "C" locale.
func isCSpace(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return true
	}
	return false
}

// checkFilter validates a filter as mosquitto_sub_topic_check does: '+'
// and '#' fill a whole level, '#' is last, at most 65535 bytes and 200
// separators. Like Mosquitto it accepts any other byte.
func checkFilter(f string) error {
	if len(f) > maxFilterLen {
		return errors.New("longer than 65535 bytes")
	}
	levels := 1
	for i := 0; i < len(f); i++ {
		switch f[i] {
		case '/':
			levels++
		case '+':
			if (i > 0 && f[i-1] != '/') || (i+1 < len(f) && f[i+1] != '/') {
				return errors.New("'+' must fill a whole level")
			}
		case '#':
			if (i > 0 && f[i-1] != '/') || i+1 < len(f) {
				return errors.New("'#' must be the whole last level")
			}
		}
	}
	if levels > maxFilterLevels {
		return errors.New("more than 200 '/' separators")
	}
	return nil
}
