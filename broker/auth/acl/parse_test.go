package acl

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestParseAccepts: files Mosquitto accepts, read as Mosquitto reads
// them.
func TestParseAccepts(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		want       *parsed
	}{
		{"crlf, trailing blanks, no final newline",
			"topic read a/b  \r\nuser  bob smith \r\ntopic   write   c d\t",
			&parsed{users: map[string][]entry{"bob smith": {{2 + 1, accWrite, "c d"}}},
				anon: []entry{{1, accRead, "a/b"}}, hasAnon: true}},
		{"one word after topic is the filter",
			"topic read\ntopic deny\n",
			&parsed{users: map[string][]entry{}, hasAnon: true,
				anon: []entry{{1, accRead | accWrite, "read"}, {2, accRead | accWrite, "deny"}}}},
		{"comments only in the first column, blank lines",
			"# c\n\n   \n\t\ntopic #\npattern deny p/%c/#\n#topic x\n",
			&parsed{users: map[string][]entry{}, hasAnon: true,
				anon:     []entry{{5, accRead | accWrite, "#"}},
				patterns: []entry{{6, accDeny, "p/%c/#"}}}},
		{"leading spaces before a keyword",
			"   topic  readwrite  $SYS/#\n",
			&parsed{users: map[string][]entry{}, hasAnon: true,
				anon: []entry{{1, accRead | accWrite, "$SYS/#"}}}},
		{"empty levels and odd bytes are fine",
			"topic read /+//#\ntopic read a\x00ignored\n",
			&parsed{users: map[string][]entry{}, hasAnon: true,
				anon: []entry{{1, accRead, "/+//#"}, {2, accRead, "a"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parse(strings.NewReader(tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestParseErrors: lines Mosquitto refuses, each with its line number.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		file string
		line int
		msg  string
	}{
		{"topic\n", 1, "empty topic"},
		{"# ok\n\ntopic foo bar\n", 3, `invalid topic access type "foo"`},
		{"topic read a\nuser\n", 2, "missing username"},
		{"user   \n", 1, "missing username"},
		{"topic read a/#/b\n", 1, "'#' must be the whole last level"},
		{"topic read a/b#\n", 1, "'#' must be the whole last level"},
		{"pattern write a+/x\n", 1, "'+' must fill a whole level"},
		{"topic read x/+y\n", 1, "'+' must fill a whole level"},
		{"topic read\t x\n", 1, `invalid topic access type "read\t"`},
		{"  # an indented comment is not a comment\n", 1, "invalid line"},
		{"topic x\nbogus line\n", 2, `invalid line "bogus line"`},
		{"topic\tread x\n", 1, "invalid line"},
		{"Topic read x\n", 1, "invalid line"},
		{"topic read " + strings.Repeat("a/", 201) + "\n", 1, "more than 200"},
		{"topic read " + strings.Repeat("a", 65536) + "\n", 1, "longer than 65535"},
	} {
		_, err := Parse(strings.NewReader(tc.file))
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%q: got %v, want a *ParseError", tc.file, err)
			continue
		}
		if pe.Line != tc.line || !strings.Contains(pe.Msg, tc.msg) {
			t.Errorf("%.40q: got line %d %q, want line %d containing %q", tc.file, pe.Line, pe.Msg, tc.line, tc.msg)
		}
	}
	// A filter of exactly the limits is fine.
	if _, err := Parse(strings.NewReader("topic read " + strings.Repeat("a/", 200) + "b\n")); err != nil {
		t.Error(err)
	}
}

func TestLoadErrorNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acl")
	if err := os.WriteFile(path, []byte("topic a\ntopic read a/#b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	var pe *ParseError
	if !errors.As(err, &pe) || pe.File != path || pe.Line != 2 {
		t.Fatalf("got %v, want a *ParseError for %s line 2", err, path)
	}
	if want := "acl: " + path + ":2: "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q does not start with %q", err, want)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: got %v", err)
	}
	if err := (&ACL{}).Reload(); err == nil {
		t.Error("Reload of a parsed ACL succeeded")
	}
}
