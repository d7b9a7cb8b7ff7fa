package mosqconf

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestGolden loads each testdata/*.conf and compares the Config, as
// indented JSON, with testdata/NAME.golden.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.conf")
	if err != nil || len(files) == 0 {
		t.Fatal("no testdata/*.conf", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(c, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := strings.TrimSuffix(f, ".conf") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from %s (go test -update writes it):\n%s", f, golden, got)
			}
		})
	}
}

// TestErrors: values Mosquitto would refuse are errors that name the file
// and line.
func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name, conf, want string
	}{
		{"bool", "persistence yes\n", "x.conf:1: persistence must be true or false"},
		{"int", "\n\nmax_keepalive 70000\n", "x.conf:3: max_keepalive must be a whole number from 0 to 65535"},
		{"negative", "max_queued_messages -1\n", "x.conf:1: max_queued_messages must be"},
		{"listener words", "listener 1883 a b\n", "x.conf:1: listener needs a port"},
		{"listener port", "listener http\n", `x.conf:1: listener port "http"`},
		{"listener range", "listener 70000\n", `listener port "70000"`},
		{"unix without path", "listener 0\n", "Unix socket"},
		{"protocol", "listener 1\nprotocol http\n", `x.conf:2: protocol "http"`},
		{"empty path", "password_file\n", "x.conf:1: password_file needs a value"},
		{"cert alone", "listener 8883\ncertfile /c.pem\n", "x.conf:1: listener on :8883: certfile and keyfile go together"},
		{"client certs without ca", "listener 8883\ncertfile /c\nkeyfile /k\nrequire_certificate true\n", "require_certificate needs cafile"},
		{"per listener value", "per_listener_settings maybe\n", "per_listener_settings must be true or false"},
		{"nul", "port 1883\x00\n", "x.conf:1: NUL byte"},
		{"max_qos", "max_qos 3\n", "x.conf:1: max_qos must be a whole number from 0 to 2"},
		{"maximum_qos", "listener 1\nmaximum_qos -1\n", "x.conf:2: maximum_qos must be a whole number from 0 to 2"},
		{"retain_available", "retain_available no\n", "x.conf:1: retain_available must be true or false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := Parse("x.conf", []byte(tc.conf))
			if err == nil {
				_, err = Interpret(ds)
			}
			var e *Error
			if !errors.As(err, &e) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want an *Error containing %q", err, tc.want)
			}
		})
	}
}

// TestIncludeDir: the *.conf files of include_dir are read in
// alphabetical order where the line is, others are not, and an included
// file may not include again.
func TestIncludeDir(t *testing.T) {
	dir := t.TempDir()
	inc := filepath.Join(dir, "conf.d")
	write := func(name, s string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if err := os.Mkdir(inc, 0o700); err != nil {
		t.Fatal(err)
	}
	write("conf.d/b.conf", "max_keepalive 20\n")
	write("conf.d/a.conf", "max_keepalive 10\nlisten_here 1\n")
	write("conf.d/c.txt", "max_keepalive 30\n")
	main := write("main.conf", "max_keepalive 5\ninclude_dir "+inc+"\nsys_interval 3\n")
	c, err := Load(main)
	if err != nil {
		t.Fatal(err)
	}
	if *c.MaxKeepalive != 20 || *c.SysInterval != 3 {
		t.Errorf("max_keepalive %d sys_interval %d, want 20 (b.conf after a.conf, c.txt not read) and 3", *c.MaxKeepalive, *c.SysInterval)
	}
	if len(c.Unsupported) != 1 || c.Unsupported[0].Pos() != filepath.Join(inc, "a.conf")+":2" {
		t.Errorf("unsupported %v, want listen_here at a.conf:2", c.Unsupported)
	}
	write("conf.d/d.conf", "include_dir "+inc+"\n")
	if _, err := Load(main); err == nil || !strings.Contains(err.Error(), "d.conf:1: include_dir in an included file") {
		t.Errorf("nested include_dir: %v", err)
	}
	write("bad.conf", "include_dir "+filepath.Join(dir, "missing")+"\n")
	if _, err := Load(filepath.Join(dir, "bad.conf")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing include_dir: %v, want ErrNotExist", err)
	}
}

// TestRefusedPrefixes: plugin_opt_* and auth_opt_* are refused whatever
// follows the prefix; check_retain_source only when true.
func TestRefusedPrefixes(t *testing.T) {
	for _, tc := range []struct {
		line    string
		refused bool
	}{
		{"plugin_opt_anything x", true},
		{"auth_opt_db_host x", true},
		{"check_retain_source true", true},
		{"check_retain_source false", false},
		{"tls_version tlsv1.3", true},
		{"tls_version tlsv1.2", false},
		{"auth_plugin_deny_special_chars true", false},
	} {
		ds, err := Parse("x.conf", []byte(tc.line))
		if err != nil {
			t.Fatal(err)
		}
		c, err := Interpret(ds)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(c.Refused) == 1; got != tc.refused {
			t.Errorf("%q refused %v, want %v (unsupported: %v)", tc.line, got, tc.refused, c.Unsupported)
		}
	}
}

// TestSupportedList: every option of Supported is interpreted (none ends
// in Unsupported or Refused), so the list stays true.
func TestSupportedList(t *testing.T) {
	sample := map[string]string{"listener": "1883", "port": "1883", "protocol": "mqtt", "allow_anonymous": "true",
		"persistence": "true", "per_listener_settings": "false", "queue_qos0_messages": "true", "require_certificate": "false",
		"retain_available": "false"}
	for _, name := range Supported {
		v, ok := sample[name]
		if !ok {
			v = "1"
		}
		ds := []Directive{{Name: name, Value: v, File: "x.conf", Line: 1}}
		if name == "certfile" || name == "keyfile" { // they go together
			ds = []Directive{{Name: "certfile", Value: "/c"}, {Name: "keyfile", Value: "/k"}}
		}
		c, err := Interpret(ds)
		if err != nil {
			t.Errorf("%s %s: %v", name, v, err)
			continue
		}
		if len(c.Unsupported)+len(c.Refused) > 0 {
			t.Errorf("%s is listed as supported but ends in %v %v", name, c.Unsupported, c.Refused)
		}
	}
}
