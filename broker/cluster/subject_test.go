package cluster

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/ternmq/tern/codec"
)

func TestSubject(t *testing.T) {
	for _, tc := range []struct{ topic, subject string }{
		{"a", "tern.m.a"},
		{"a/b/c", "tern.m.a.b.c"},
		{"/", "tern.m.%.%"},
		{"a//b", "tern.m.a.%.b"},
		{"a/", "tern.m.a.%"},
		{"/a", "tern.m.%.a"},
		{"a.b", "tern.m.a%2Eb"},
		{"has space/x", "tern.m.has%20space.x"},
		{"*/>", "tern.m.%2A.%3E"},
		{"100%", "tern.m.100%25"},
		{"%", "tern.m.%25"},
		{"tab\there", "tern.m.tab%09here"},
		{"del\x7f", "tern.m.del%7F"},
		{"crlf\r\n", "tern.m.crlf%0D%0A"},
		{"日本/語", "tern.m.日本.語"},
		{"$SYS/broker", "tern.d.$SYS.broker"},
		{"a$/b", "tern.m.a$.b"},
		{"sport/tennis/player1/#x", "tern.m.sport.tennis.player1.#x"},
	} {
		if got := Subject(tc.topic); got != tc.subject {
			t.Errorf("Subject(%q) = %q, want %q", tc.topic, got, tc.subject)
		}
		if got, err := Topic(tc.subject); err != nil || got != tc.topic {
			t.Errorf("Topic(%q) = %q, %v, want %q", tc.subject, got, err, tc.topic)
		}
		if !server.IsValidPublishSubject(tc.subject) {
			t.Errorf("%q is not a valid NATS publish subject", tc.subject)
		}
	}
}

func TestTopicRefuses(t *testing.T) {
	for _, s := range []string{
		"", "tern", "tern.m.", "tern.m", "other.a", "tern.m..a", "tern.m.a.", "tern.m.*",
		"tern.m.>", "tern.m.a b", "tern.m.%2", "tern.m.%zz", "tern.m.%41", "tern.m.%2e",
		"tern.m.$SYS", "tern.d.a", "tern.m.a.%%", "tern.m.%.",
	} {
		if got, err := Topic(s); !errors.Is(err, ErrSubject) {
			t.Errorf("Topic(%q) = %q, %v, want ErrSubject", s, got, err)
		}
	}
}

func TestFilterSubjects(t *testing.T) {
	for _, tc := range []struct {
		filter   string
		subjects []string
	}{
		{"a", []string{"tern.m.a"}},
		{"#", []string{"tern.m.>"}},
		{"+", []string{"tern.m.*"}},
		{"a/#", []string{"tern.m.a.>", "tern.m.a"}},
		{"a/+", []string{"tern.m.a.*"}},
		{"+/#", []string{"tern.m.*.>", "tern.m.*"}},
		{"+/+/x", []string{"tern.m.*.*.x"}},
		{"/#", []string{"tern.m.%.>", "tern.m.%"}},
		{"a b/+/#", []string{"tern.m.a%20b.*.>", "tern.m.a%20b.*"}},
		{"$SYS/#", []string{"tern.d.$SYS.>", "tern.d.$SYS"}},
		{"$SYS/+", []string{"tern.d.$SYS.*"}},
	} {
		if got := FilterSubjects(tc.filter); !slices.Equal(got, tc.subjects) {
			t.Errorf("FilterSubjects(%q) = %q, want %q", tc.filter, got, tc.subjects)
		}
	}
}

// matches reports whether subject matches any of subjects, as NATS does.
func matches(subject string, filters []string) bool {
	return slices.ContainsFunc(filters, func(f string) bool { return server.SubjectMatchesFilter(subject, f) })
}

// FuzzMapping proves, against NATS's own matcher and the codec's MQTT
// matcher, that every valid topic round-trips through its subject, and
// that a filter's subjects match exactly the subjects of the topics the
// filter matches.
func FuzzMapping(f *testing.F) {
	for _, seed := range [][2]string{
		{"a/#", "a"}, {"#", "$SYS/x"}, {"+", ""}, {"+/+", "/"}, {"a/+", "a/"}, {"+/#", "x.y/z"},
		{"a b/*", "a b/*"}, {"%25", "%"}, {"%", "%25"}, {"$SYS/#", "$SYS"}, {"#", "a\x01/\x7f"},
		{"+/x", "$a/x"}, {"日本/#", "日本/語"}, {">", ">"}, {"a/b/c/#", "a/b"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, filter, topic string) {
		if codec.ValidTopicName(topic) == nil && !strings.ContainsRune(topic, 0) {
			subj := Subject(topic)
			if !server.IsValidPublishSubject(subj) {
				t.Fatalf("Subject(%q) = %q, not a NATS publish subject", topic, subj)
			}
			back, err := Topic(subj)
			if err != nil || back != topic {
				t.Fatalf("Topic(Subject(%q)) = %q, %v", topic, back, err)
			}
			if codec.ValidTopicFilter(filter) == nil && !codec.IsShared(filter) {
				fs := FilterSubjects(filter)
				for _, s := range fs {
					if !server.IsValidSubject(s) {
						t.Fatalf("FilterSubjects(%q) has %q, not a NATS subject", filter, s)
					}
				}
				if want, got := codec.MatchTopic(filter, topic), matches(subj, fs); got != want {
					t.Fatalf("filter %q topic %q: NATS %q vs %q matches %v, MQTT %v", filter, topic, fs, subj, got, want)
				}
			}
		}
		// Any subject Topic accepts maps back to itself.
		if tp, err := Topic(filter); err == nil && Subject(tp) != filter {
			t.Fatalf("Subject(Topic(%q)) = %q", filter, Subject(tp))
		}
	})
}
