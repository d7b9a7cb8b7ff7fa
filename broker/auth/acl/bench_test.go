package acl

import (
	"strings"
	"testing"

	"github.com/ternmq/tern/broker"
)

var allocCases = []struct {
	name  string
	c     broker.Client
	a     broker.Access
	topic string
	want  bool
}{
	{"user section", alice, R, "alice/x/y", true},
	{"anonymous deny", anon, R, "public/secret", false},
	{"pattern %c", bob, W, "clients/b1/t", true},
	{"pattern %u %c", bob, W, "dev/bob/b1", true},
	{"pattern miss", carol, R, "nowhere/at/all", false},
	{"subscribe", bob, S, "clients/b1/#", true},
	{"long client id", broker.Client{ID: strings.Repeat("i", 300), Username: "u"}, R, "clients/" + strings.Repeat("i", 300) + "/x", true},
}

// TestAuthorizeDoesNotAllocate: Authorize allocates nothing, with or
// without pattern substitution, long identities included (a pooled
// buffer).
func TestAuthorizeDoesNotAllocate(t *testing.T) {
	a, err := Parse(strings.NewReader(testFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range allocCases {
		if got := a.Authorize(tc.c, tc.a, tc.topic); got != tc.want {
			t.Fatalf("%s: got %v, want %v", tc.name, got, tc.want)
		}
		n := testing.AllocsPerRun(100, func() { a.Authorize(tc.c, tc.a, tc.topic) })
		if n != 0 {
			t.Errorf("%s: %v allocations per Authorize, want 0", tc.name, n)
		}
	}
}

func BenchmarkAuthorize(b *testing.B) {
	a, err := Parse(strings.NewReader(testFile))
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range allocCases {
		b.Run(strings.ReplaceAll(tc.name, " ", "_"), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				a.Authorize(tc.c, tc.a, tc.topic)
			}
		})
	}
	// A bigger file: 1000 users with 10 entries each, and 10 patterns.
	var sb strings.Builder
	for i := range 1000 {
		sb.WriteString("user user" + itoa(i) + "\n")
		for j := range 10 {
			sb.WriteString("topic readwrite tenant/" + itoa(i) + "/dev" + itoa(j) + "/#\n")
		}
	}
	for j := range 10 {
		sb.WriteString("pattern read p" + itoa(j) + "/%u/%c/#\n")
	}
	big, err := Parse(strings.NewReader(sb.String()))
	if err != nil {
		b.Fatal(err)
	}
	c := broker.Client{ID: "dev-7", Username: "user500"}
	b.Run("1000_users_hit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			big.Authorize(c, R, "tenant/500/dev9/temp")
		}
	})
	b.Run("1000_users_last_pattern", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			big.Authorize(c, R, "p9/user500/dev-7/x")
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				big.Authorize(c, R, "p9/user500/dev-7/x")
			}
		})
	})
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
