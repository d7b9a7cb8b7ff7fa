package acl

import (
	"strings"
	"testing"

	"github.com/ternmq/tern/broker"
)

// testFile exercises every rule of the format; the cases below name the
// line that decides.
const testFile = `# anonymous section: topic lines before the first user line
topic read public/#
topic readwrite anon/rw
topic write anon/wo
topic deny public/secret
topic anon/default
topic read room/lobby chat

user alice
topic readwrite alice/#
topic deny alice/private/#
topic read $SYS/#
topic read #

user bob
topic read +/news
topic write bob/out

# a second alice section merges with the first
user alice
topic write shared/alice

pattern readwrite clients/%c/#
pattern read users/%u/inbox
pattern deny clients/%c/blocked
pattern write dev/%u/%c
pattern read x%cy
pattern read %c/own/#
pattern read common/all
`

var (
	anon   = broker.Client{ID: "a1"}
	alice  = broker.Client{ID: "al", Username: "alice"}
	bob    = broker.Client{ID: "b1", Username: "bob"}
	carol  = broker.Client{ID: "c1", Username: "carol"} // no section: patterns only
	slashy = broker.Client{ID: "a/b", Username: "carol"}
	dollar = broker.Client{ID: "$d", Username: "carol"}
)

const (
	R = broker.Read
	W = broker.Write
	S = broker.Subscribe
)

type authCase struct {
	why   string
	c     broker.Client
	a     broker.Access
	topic string
	want  bool
}

var authCases = []authCase{
	// Anonymous section.
	{"anon read grant", anon, R, "public/x", true},
	{"anon read grant also matches parent", anon, R, "public", true},
	{"anon read-only entry does not grant write", anon, W, "public/x", false},
	{"anon deny before the broader grant", anon, R, "public/secret", false},
	{"anon readwrite grants read", anon, R, "anon/rw", true},
	{"anon readwrite grants write", anon, W, "anon/rw", true},
	{"anon write-only", anon, W, "anon/wo", true},
	{"anon write-only does not grant read", anon, R, "anon/wo", false},
	{"no access word is readwrite (read)", anon, R, "anon/default", true},
	{"no access word is readwrite (write)", anon, W, "anon/default", true},
	{"topic with a space", anon, R, "room/lobby chat", true},
	{"anon has no user section rules", anon, R, "alice/x", false},
	{"nothing matches: denied", anon, W, "elsewhere", false},
	// Patterns for an anonymous client.
	{"pattern %c for anon", anon, W, "clients/a1/t", true},
	{"pattern %c other client", anon, R, "clients/a2/t", false},
	{"pattern deny comes first", anon, R, "clients/a1/blocked", false},
	{"pattern %u never applies to anon", anon, R, "users//inbox", false},
	{"pattern without substitution", anon, R, "common/all", true},
	{"pattern %c inside a level", anon, R, "xa1y", true},

	// User section (merged).
	{"user readwrite", alice, W, "alice/x", true},
	{"user deny", alice, R, "alice/private/x", false},
	{"user deny matches parent", alice, W, "alice/private", false},
	{"$SYS needs a $SYS rule", alice, R, "$SYS/broker/uptime", true},
	{"# grants read", alice, R, "anything/else", true},
	{"# never grants a $ topic", alice, R, "$other/x", false},
	{"user read-only #, no write", alice, W, "anything/else", false},
	{"second section merged", alice, W, "shared/alice", true},
	{"anon section does not apply to users", alice, W, "anon/rw", false},
	{"own list decides before pattern deny", alice, R, "clients/al/blocked", true},
	{"patterns after own list (write)", alice, W, "clients/al/blocked", false},
	{"patterns after own list (write grant)", alice, W, "clients/al/t", true},
	{"+ first level", bob, R, "sport/news", true},
	{"+ first level never grants $", bob, R, "$SYS/news", false},
	{"bob write", bob, W, "bob/out", true},
	{"bob write-only", bob, R, "bob/out", false},
	{"pattern %u", bob, R, "users/bob/inbox", true},
	{"pattern %u other user", bob, R, "users/alice/inbox", false},
	{"pattern %u and %c", bob, W, "dev/bob/b1", true},
	{"pattern %u and %c, other client", bob, W, "dev/bob/b2", false},
	{"pattern deny for user", bob, R, "clients/b1/blocked", false},
	{"users do not get the anon section", bob, R, "public/x", false},

	// No section: patterns only.
	{"no section, pattern %c", carol, R, "clients/c1/x", true},
	{"no section, pattern %u", carol, R, "users/carol/inbox", true},
	{"no section, no anon rules", carol, R, "public/x", false},
	{"client id with a slash adds levels", slashy, R, "clients/a/b/t", true},
	{"substitution can start a $ filter", dollar, R, "$d/own/x", true},
	{"$ filter from %c only for that id", carol, R, "$d/own/x", false},

	// Wildcards in identities.
	{"+ in client id: patterns deny", broker.Client{ID: "c+1", Username: "carol"}, R, "common/all", false},
	{"# in client id: patterns deny", broker.Client{ID: "c#"}, R, "common/all", false},
	{"# in username: patterns deny", broker.Client{ID: "c2", Username: "d#"}, R, "common/all", false},
	{"wildcard id: own section still decides", broker.Client{ID: "a#b", Username: "alice"}, R, "x/y", true},
	{"wildcard id: then patterns deny", broker.Client{ID: "a#b", Username: "alice"}, W, "common/all", false},

	// Subscribe: refused only when nothing readable can be delivered.
	{"sub overlapping a read grant", anon, S, "public/#", true},
	{"sub covered by a deny", anon, S, "public/secret", false},
	{"sub partly denied", anon, S, "public/+", true},
	{"sub # overlaps a grant", anon, S, "#", true},
	{"sub to write-only", anon, S, "anon/wo", false},
	{"sub with no rule", anon, S, "nothing/here", false},
	{"sub $SYS without a $ rule", anon, S, "$SYS/#", false},
	{"sub via pattern", anon, S, "clients/a1/#", true},
	{"sub covered by pattern deny", anon, S, "clients/a1/blocked", false},
	{"sub + overlaps a pattern", anon, S, "clients/+/x", true},
	{"sub below a deny is not covered", anon, S, "public/secret/#", true},
	{"sub covered by user deny", alice, S, "alice/private/#", false},
	{"sub + covered by user deny", alice, S, "alice/private/+", false},
	{"sub overlapping user grant", alice, S, "alice/+/x", true},
	{"sub $SYS with a $SYS rule", alice, S, "$SYS/#", true},
	{"sub $ topic without a rule", alice, S, "$other/#", false},
	{"sub wildcard user", bob, S, "+/news", true},
	{"sub $ against a + rule", bob, S, "$SYS/news", false},
	{"sub +/+ overlaps +/news", bob, S, "+/+", true},
	{"sub dangerous id", broker.Client{ID: "c#"}, S, "common/all", false},
}

func TestAuthorize(t *testing.T) {
	a, err := Parse(strings.NewReader(testFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range authCases {
		if got := a.Authorize(tc.c, tc.a, tc.topic); got != tc.want {
			t.Errorf("%s: Authorize(%+v, %v, %q) = %v, want %v", tc.why, tc.c, tc.a, tc.topic, got, tc.want)
		}
	}
}

// TestAuthorizeMatchesReference: for Read and Write the compiled rules
// decide as a literal port of Mosquitto's loop over the file's entries.
func TestAuthorizeMatchesReference(t *testing.T) {
	a, err := Parse(strings.NewReader(testFile))
	if err != nil {
		t.Fatal(err)
	}
	p, err := parse(strings.NewReader(testFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range authCases {
		if tc.a == S {
			continue
		}
		for _, acc := range []broker.Access{R, W} {
			got, want := a.Authorize(tc.c, acc, tc.topic), reference(p, tc.c, acc, tc.topic)
			if got != want {
				t.Errorf("Authorize(%+v, %v, %q) = %v, reference %v", tc.c, acc, tc.topic, got, want)
			}
		}
	}
}

func TestEmptyFileDeniesEverything(t *testing.T) {
	a, err := Parse(strings.NewReader("# nothing\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, acc := range []broker.Access{R, W, S} {
		if a.Authorize(anon, acc, "a") || a.Authorize(alice, acc, "a") {
			t.Errorf("%v granted by an empty file", acc)
		}
	}
	if a.Authorize(anon, broker.Access(0), "a") {
		t.Error("an unknown access is granted")
	}
}

func TestNoAnonymousSection(t *testing.T) {
	a, err := Parse(strings.NewReader("user u\ntopic #\npattern read p/%c\n"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Authorize(anon, R, "x") {
		t.Error("anonymous client granted by a user's section")
	}
	if !a.Authorize(anon, R, "p/a1") || !a.Authorize(broker.Client{ID: "z", Username: "u"}, W, "x") {
		t.Error("pattern or user section not applied")
	}
}
