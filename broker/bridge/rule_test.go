package bridge

import (
	"errors"
	"testing"

	"github.com/ternmq/tern/codec"
)

// The rule lines of mosquitto.conf(5), with the topics each side sees:
// the table of valid and invalid prefix combinations, defaults, and the
// words Mosquitto refuses.
func TestParseRule(t *testing.T) {
	for _, tc := range []struct {
		line          string
		want          Rule
		local, remote string // the filters subscribed to
		err           bool
	}{
		{line: "pattern both 1 L/ R/", want: Rule{"pattern", Both, 1, "L/", "R/"}, local: "L/pattern", remote: "R/pattern"},
		{line: `pattern in 2 L/ ""`, want: Rule{"pattern", In, 2, "L/", ""}, local: "L/pattern", remote: "pattern"},
		{line: `pattern out 0 "" R/`, want: Rule{"pattern", Out, 0, "", "R/"}, local: "pattern", remote: "R/pattern"},
		{line: `pattern out 0 "" ""`, want: Rule{"pattern", Out, 0, "", ""}, local: "pattern", remote: "pattern"},
		{line: `"" both 1 local remote`, want: Rule{"", Both, 1, "local", "remote"}, local: "local", remote: "remote"},
		{line: `"" both 1 local ""`, err: true},
		{line: `"" both 1 "" remote`, err: true},
		{line: `"" both 1 "" ""`, err: true},
		{line: `""`, err: true},
		{line: "#", want: Rule{"#", Out, 0, "", ""}, local: "#", remote: "#"},
		{line: "# both", want: Rule{"#", Both, 0, "", ""}, local: "#", remote: "#"},
		{line: "sensors/+ IN 1", want: Rule{"sensors/+", In, 1, "", ""}, local: "sensors/+", remote: "sensors/+"},
		{line: "# both 2 local/topic/ remote/topic/", want: Rule{"#", Both, 2, "local/topic/", "remote/topic/"}, local: "local/topic/#", remote: "remote/topic/#"},
		{line: "clients/total in 0 test/mosquitto/org/ $SYS/broker/", want: Rule{"clients/total", In, 0, "test/mosquitto/org/", "$SYS/broker/"}, local: "test/mosquitto/org/clients/total", remote: "$SYS/broker/clients/total"},
		{line: "# both 1 a/", want: Rule{"#", Both, 1, "a/", ""}, local: "a/#", remote: "#"},
		{line: "", err: true},
		{line: "# sideways 1", err: true},
		{line: "# both 3", err: true},
		{line: "# both one", err: true},
		{line: "# both -1", err: true},
		{line: "# both 1 a/+/ b/", err: true}, // wildcard in a prefix
		{line: "# both 1 a/ b/#", err: true},  // wildcard in a prefix
		{line: "# both 1 a b/", err: true},    // a# is not a filter
		{line: "a/#/b both 1", err: true},     // nor is a/#/b
		{line: "# both 1 a/ b/ extra", err: true},
	} {
		r, err := ParseRule(tc.line)
		if tc.err {
			if err == nil || !errors.Is(err, ErrRule) {
				t.Errorf("ParseRule(%q) = %v, %v; want an ErrRule", tc.line, r, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseRule(%q): %v", tc.line, err)
			continue
		}
		if r != tc.want || r.LocalFilter() != tc.local || r.RemoteFilter() != tc.remote {
			t.Errorf("ParseRule(%q) = %+v (local %q, remote %q), want %+v (%q, %q)",
				tc.line, r, r.LocalFilter(), r.RemoteFilter(), tc.want, tc.local, tc.remote)
		}
		if back, err := ParseRule(r.String()); err != nil || back != r {
			t.Errorf("ParseRule(%q.String() = %q) = %+v, %v", tc.line, r.String(), back, err)
		}
	}
}

// Topics are mapped as Mosquitto maps them: by the first matching rule of
// the direction that has a prefix; the pattern applies after the prefix.
func TestRemap(t *testing.T) {
	rs := mustRules(t,
		"sensors/# out 1 site/ plant1/",
		"cmd/# in 1 local/cmd/ remote/cmd/",
		"# both 1",
		`"" both 0 here/status there/status`,
		"# both 2 a/ ''/", // a later prefixed rule: only reached by topics under a/
		"x/# out 1 p/ q/",
	)
	for _, tc := range []struct {
		toRemote bool
		topic    string
		want     string
		taken    bool
	}{
		{true, "site/sensors/t1", "plant1/sensors/t1", true},
		{true, "site/sensors", "plant1/sensors", true}, // sensors/# matches its parent level
		{true, "other/topic", "other/topic", true},     // only "# both", no prefix
		{true, "here/status", "there/status", true},
		{true, "a/b", "''/b", true},
		{true, "p/x", "q/x", true},
		{true, "p/x/y", "q/x/y", true},
		{true, "$SYS/broker/uptime", "$SYS/broker/uptime", false}, // # does not match $ topics
		{false, "remote/cmd/reboot", "remote/cmd/reboot", true},   // its pattern comes after the prefix: only "# both" takes it
		{false, "remote/cmd/cmd/reboot", "local/cmd/cmd/reboot", true},
		{false, "there/status", "here/status", true},
		{false, "plant1/sensors/t1", "plant1/sensors/t1", true}, // out only: "# both" takes it unmapped
		{false, "''/b", "a/b", true},
	} {
		f := rs.toLocal
		if tc.toRemote {
			f = rs.toRemote
		}
		got, taken := f(tc.topic)
		if got != tc.want || taken != tc.taken {
			t.Errorf("toRemote=%v %q = %q, %v; want %q, %v", tc.toRemote, tc.topic, got, taken, tc.want, tc.taken)
		}
	}
	if got := rs.filters(Direction.out, Rule.LocalFilter); len(got) != 5 || got[0] != (codec.Subscription{Filter: "site/sensors/#", QoS: 1}) {
		t.Errorf("out filters %+v", got)
	}
}

// A topic the mapping leaves empty is what Mosquitto would send too; the
// bridge refuses to publish it (see Bridge), the mapping only reports it.
func TestRemapParentLevel(t *testing.T) {
	rs := mustRules(t, "# out 1 L/")
	if got, ok := rs.toRemote("L"); got != "L" || !ok {
		t.Errorf(`"L" maps to %q, %v; want "L" (the prefix "L/" is not at its front)`, got, ok)
	}
	if got, ok := rs.toRemote("L/"); got != "" || !ok {
		t.Errorf(`"L/" maps to %q, %v; want ""`, got, ok)
	}
}

func mustRules(t testing.TB, lines ...string) rules {
	t.Helper()
	var rs rules
	for _, l := range lines {
		r, err := ParseRule(l)
		if err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		rs = append(rs, r)
	}
	return rs
}

// FuzzParseRule: any line either fails with ErrRule or gives a valid rule
// that prints to a line parsing back to it, whose filters are valid, and
// whose mappings of its own filters' topics do not panic.
func FuzzParseRule(f *testing.F) {
	for _, s := range []string{
		"# both 1 a/ b/", `"" both 0 x y`, "sensors/+ in 2", "#", "a/b out", `+/# out 1 "" r/`,
		"# both 3", "a/#/b", `"" in 1 "" ""`, "$SYS/# in 0 remote/ ", "x\tin\t1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r, err := ParseRule(line)
		if err != nil {
			if !errors.Is(err, ErrRule) {
				t.Fatalf("%q: error %v is not an ErrRule", line, err)
			}
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("%q parsed to an invalid rule: %v", line, err)
		}
		back, err := ParseRule(r.String())
		if err != nil || back != r {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", line, r, r.String(), back, err)
		}
		rs := rules{r}
		rs.toRemote(r.LocalPrefix + "t")
		rs.toLocal(r.RemotePrefix + "t")
	})
}
