package acl

import (
	"strings"
	"testing"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/codec"
)

var fuzzSeeds = []string{
	testFile,
	"",
	"topic #\n",
	"topic read $SYS/#\nuser u\ntopic deny a/+\ntopic a/#\n",
	"pattern readwrite %c/%u/#\npattern deny %c/x\n",
	"pattern read +/%c\npattern write %u%c/#\n",
	"user u\r\ntopic   write   a b/c \r\n",
	"topic read\n",
	"topic foo bar\n",
	"user\n",
	"  # x\n",
	"topic read a/#/b\n",
	"topic \x00\n",
}

var fuzzClients = []broker.Client{
	{ID: "a"},
	{ID: "c", Username: "u"},
	{ID: "$a", Username: "a"},
	{ID: "x/y", Username: "u"},
	{ID: "a+", Username: "u"},
	{ID: "c", Username: "#"},
}

var fuzzFilters = []string{
	"#", "+", "+/#", "a", "a/#", "a/+", "$a/#", "$a", "+/a", "c/+/#", "/#", "", "a//+",
	"u/#", "c/#", "c/x/#", "$SYS/#",
}

// FuzzParse: Parse never panics; on a file it accepts, Authorize never
// panics, decides Read and Write as the reference port of Mosquitto, and
// refuses a subscription only when no topic it matches is readable.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		a, err := Parse(strings.NewReader(data))
		if err != nil {
			if _, ok := err.(*ParseError); !ok {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			return
		}
		p, err := parse(strings.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		topics := words([]string{"a", "$a", "c", ""}, 3)
		for _, es := range append([][]entry{p.anon, p.patterns}, mapValues(p.users)...) {
			for _, e := range es {
				if len(topics) < 100 { // keep each run quick
					topics = append(topics, witness(e.filter))
				}
			}
		}
		for _, c := range fuzzClients {
			for _, tp := range topics {
				for _, acc := range []broker.Access{broker.Read, broker.Write} {
					if got, want := a.Authorize(c, acc, tp), reference(p, c, acc, tp); got != want {
						t.Fatalf("Authorize(%+v, %v, %q) = %v, reference %v", c, acc, tp, got, want)
					}
				}
			}
			for _, fl := range append(fuzzFilters, topics...) {
				if a.Authorize(c, broker.Subscribe, fl) {
					continue
				}
				for _, tp := range topics {
					if codec.ValidTopicName(tp) == nil && codec.MatchTopic(fl, tp) && a.Authorize(c, broker.Read, tp) {
						t.Fatalf("%+v: subscription %q refused, but %q is readable", c, fl, tp)
					}
				}
			}
		}
	})
}

// witness turns a filter into a topic it matches.
func witness(f string) string {
	f = strings.ReplaceAll(f, "+", "w")
	f = strings.TrimSuffix(f, "#")
	if f == "" {
		return "w"
	}
	return f
}

func mapValues(m map[string][]entry) [][]entry {
	var out [][]entry
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
