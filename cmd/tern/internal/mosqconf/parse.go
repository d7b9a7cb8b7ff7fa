// Package mosqconf reads Mosquitto's configuration file format
// (mosquitto.conf(5) of Mosquitto 2.0) into a model of what Mosquitto
// would run: its listeners, their settings, and the broker-wide ones.
//
// It knows three kinds of option:
//
//   - the options Tern maps (Supported), which fill Config;
//   - the options that change who may connect or what they may do, which
//     Tern cannot honour (Refusals): a Config that has any must not be
//     run, because the broker would be more open than the file says;
//   - every other option, recorded in Config.Unsupported with its file
//     and line, so that the caller can name them all in one warning
//     instead of ignoring them silently.
//
// Parsing is separate from interpretation: Parse splits one file into
// Directives (a name and its words, with the file and line), Load reads a
// file and its include_dir, and Interpret builds the Config.
package mosqconf

import (
	"bytes"
	"fmt"
	"strings"
)

// MaxFileSize bounds a configuration file (and each included one): a
// larger file is refused before it is read into memory. Real files are a
// few kilobytes; Mosquitto's commented example is 40 KB.
const MaxFileSize = 4 << 20

// Directive is one option line: the option's name and the rest of the
// line, with where it was found.
type Directive struct {
	Name string
	// Value is the rest of the line after the name, with spaces around it
	// trimmed: a path may contain spaces, as in Mosquitto.
	Value string
	File  string
	Line  int
}

// Args returns the words of the value.
func (d Directive) Args() []string { return strings.Fields(d.Value) }

// Pos returns "file:line".
func (d Directive) Pos() string { return fmt.Sprintf("%s:%d", d.File, d.Line) }

// String returns the directive as "name (file:line)".
func (d Directive) String() string { return d.Name + " (" + d.Pos() + ")" }

// Error is a configuration file that cannot be read as Mosquitto would:
// a bad value, a missing argument, an unreadable include.
type Error struct {
	File string
	Line int // 0 when the error is about the file as a whole
	Msg  string
	Err  error // the cause, if any
}

func (e *Error) Error() string {
	pos := e.File
	if e.Line > 0 {
		pos = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Err != nil {
		return pos + ": " + e.Msg + ": " + e.Err.Error()
	}
	return pos + ": " + e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

func errAt(d Directive, format string, args ...any) error {
	return &Error{File: d.File, Line: d.Line, Msg: fmt.Sprintf(format, args...)}
}

// Parse splits the contents of one configuration file, named name in
// errors and positions, into directives.
//
// As in Mosquitto, a line whose first character is '#' is a comment and
// the option's name is separated from its value by a space. Mosquitto
// reads leading blanks as part of the name; Parse trims them, so an
// indented line means what it says rather than failing. A NUL byte is
// refused: no text editor writes one, and Mosquitto would cut the line
// there.
func Parse(name string, data []byte) ([]Directive, error) {
	if len(data) > MaxFileSize {
		return nil, &Error{File: name, Msg: fmt.Sprintf("larger than %d bytes", MaxFileSize)}
	}
	var out []Directive
	for n := 1; len(data) > 0; n++ {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if bytes.IndexByte(line, 0) >= 0 {
			return nil, &Error{File: name, Line: n, Msg: "NUL byte in line"}
		}
		s := strings.TrimSpace(string(line))
		if s == "" || s[0] == '#' {
			continue
		}
		key, value, _ := strings.Cut(s, " ")
		if i := strings.IndexByte(key, '\t'); i >= 0 { // "name<TAB>value"
			key, value = key[:i], s[i+1:]
		}
		out = append(out, Directive{Name: key, Value: strings.TrimSpace(value), File: name, Line: n})
	}
	return out, nil
}
