package mosqconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary files to Parse and Interpret: no panic, every
// directive has a name without blanks on a line of the file, and writing
// the directives back as "name value" lines parses to the same names and
// values (the round trip).
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.conf")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("listener 0 /tmp/s\nport 1\n\tprotocol\twebsockets\r\n#c\n  \n"))
	f.Add([]byte("max_qos 1\nretain_available false\nlistener 1\nmaximum_qos 3\nretain_available\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ds, err := Parse("f.conf", data)
		if err != nil {
			return
		}
		lines := strings.Count(string(data), "\n") + 1
		var b strings.Builder
		for _, d := range ds {
			if d.Name == "" || strings.ContainsAny(d.Name, " \t\n") || d.Name[0] == '#' {
				t.Fatalf("bad name %q", d.Name)
			}
			if d.Line < 1 || d.Line > lines {
				t.Fatalf("line %d of %d", d.Line, lines)
			}
			b.WriteString(d.Name + " " + d.Value + "\n")
		}
		again, err := Parse("f.conf", []byte(b.String()))
		if err != nil {
			t.Fatalf("round trip: %v", err)
		}
		if len(again) != len(ds) {
			t.Fatalf("round trip: %d directives, want %d", len(again), len(ds))
		}
		for i := range ds {
			if again[i].Name != ds[i].Name || again[i].Value != ds[i].Value {
				t.Fatalf("round trip: %q %q, want %q %q", again[i].Name, again[i].Value, ds[i].Name, ds[i].Value)
			}
		}
		Interpret(ds) // must not panic; errors are fine
	})
}
