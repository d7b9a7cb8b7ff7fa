package codec_test

import (
	"errors"
	"strings"
	"testing"

	. "github.com/ternmq/tern/codec"
)

// wantTopicErr checks err against the expected rule (without "MQTT-"; ""
// for no error, "?" for an error whose rule is not checked) and code.
func wantTopicErr(t *testing.T, err error, rule string, code ReasonCode) {
	t.Helper()
	if rule == "" {
		if err != nil {
			t.Errorf("unexpected error %v", err)
		}
		return
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v, want an *Error", err)
	}
	if e.Code != code {
		t.Errorf("Code = %v, want %v", e.Code, code)
	}
	if rule != "?" && e.Rule != "MQTT-"+rule {
		t.Errorf("Rule = %q, want %q", e.Rule, "MQTT-"+rule)
	}
}

// TestValidTopicName covers the Topic Name rules of section 4.7. 3.1.1 and
// 5.0 number them differently: no wildcards is [MQTT-3:4.7.1-1] and
// [MQTT-5:4.7.0-1]; the codec reports the 5.0 id.
func TestValidTopicName(t *testing.T) {
	cases := []struct {
		name, topic, rule string
	}{
		{"4.7.1.1 levels", "sport/tennis/player1", ""},
		{"4.7.3 a single '/' is valid", "/", ""},
		{"4.7.3 leading '/'", "/finance", ""},
		{"4.7.3 space is allowed", "Accounts payable", ""},
		{"4.7.1.1 empty levels", "a//b/", ""},
		{"4.7.2 $SYS topic", "$SYS/monitor/Clients", ""},
		{"1.5.4 non-ASCII", "A\U0002A6D4/caf\u00e9", ""},
		{"[MQTT-5:1.5.4-3] [MQTT-3:1.5.3-3] U+FEFF is an ordinary character", "\uFEFF", ""},
		{"[MQTT-3:4.7.3-3] [MQTT-5:4.7.3-3] 65535 bytes", strings.Repeat("x", 65535), ""},
		{"[MQTT-3:4.7.3-1] [MQTT-5:4.7.3-1] empty", "", "4.7.3-1"},
		{"[MQTT-3:4.7.1-1] [MQTT-5:4.7.0-1] '#'", "sport/#", "4.7.0-1"},
		{"[MQTT-3:4.7.1-1] [MQTT-5:4.7.0-1] '+'", "sport/+/player1", "4.7.0-1"},
		{"[MQTT-3:4.7.1-1] [MQTT-5:4.7.0-1] '+' alone", "+", "4.7.0-1"},
		{"[MQTT-3:4.7.1-1] [MQTT-5:4.7.0-1] '#' inside a level", "a#b", "4.7.0-1"},
		{"[MQTT-3:4.7.3-2] [MQTT-5:4.7.3-2] U+0000", "a\x00b", "4.7.3-2"},
		{"[MQTT-3:4.7.3-3] [MQTT-5:4.7.3-3] 65536 bytes", strings.Repeat("x", 65536), "4.7.3-3"},
		{"ill-formed UTF-8", "a\xffb", "?"},
		{"surrogate", "\xed\xa0\x80", "?"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantTopicErr(t, ValidTopicName(c.topic), c.rule, TopicNameInvalid)
		})
	}
}

// TestValidTopicFilter covers the Topic Filter rules of section 4.7 and the
// shared subscription syntax of 5.0 section 4.8.2. The multi-level wildcard
// rule is [MQTT-3:4.7.1-2] / [MQTT-5:4.7.1-1], the single-level one
// [MQTT-3:4.7.1-3] / [MQTT-5:4.7.1-2]; the codec reports the 5.0 ids.
func TestValidTopicFilter(t *testing.T) {
	cases := []struct {
		name, filter, rule string
	}{
		// The examples of 4.7.1.2 and 4.7.1.3.
		{"4.7.1.2 sport/tennis/player1/#", "sport/tennis/player1/#", ""},
		{"4.7.1.2 # is valid", "#", ""},
		{"4.7.1.2 sport/tennis/# is valid", "sport/tennis/#", ""},
		{"[MQTT-3:4.7.1-2] [MQTT-5:4.7.1-1] sport/tennis# is not valid", "sport/tennis#", "4.7.1-1"},
		{"[MQTT-3:4.7.1-2] [MQTT-5:4.7.1-1] sport/tennis/#/ranking is not valid", "sport/tennis/#/ranking", "4.7.1-1"},
		{"[MQTT-3:4.7.1-2] [MQTT-5:4.7.1-1] #/ is not valid", "#/", "4.7.1-1"},
		{"[MQTT-3:4.7.1-2] [MQTT-5:4.7.1-1] ## is not valid", "##", "4.7.1-1"},
		{"4.7.1.3 + is valid", "+", ""},
		{"4.7.1.3 +/tennis/# is valid", "+/tennis/#", ""},
		{"4.7.1.3 sport/+/player1 is valid", "sport/+/player1", ""},
		{"4.7.1.3 +/+ and /+ are valid", "+/+//+", ""},
		{"[MQTT-3:4.7.1-3] [MQTT-5:4.7.1-2] sport+ is not valid", "sport+", "4.7.1-2"},
		{"[MQTT-3:4.7.1-3] [MQTT-5:4.7.1-2] +sport is not valid", "+sport/x", "4.7.1-2"},
		{"[MQTT-3:4.7.1-3] [MQTT-5:4.7.1-2] a/b+ is not valid", "a/b+", "4.7.1-2"},
		{"[MQTT-3:4.7.1-3] [MQTT-5:4.7.1-2] ++ is not valid", "++", "4.7.1-2"},
		{"4.7.2 $SYS/#", "$SYS/#", ""},
		{"4.7.2 $SYS/monitor/+", "$SYS/monitor/+", ""},
		{"4.7.3 a single '/' is valid", "/", ""},
		{"[MQTT-3:4.7.3-1] [MQTT-5:4.7.3-1] empty", "", "4.7.3-1"},
		{"[MQTT-3:4.7.3-2] [MQTT-5:4.7.3-2] U+0000", "a/\x00", "4.7.3-2"},
		{"[MQTT-3:4.7.3-3] [MQTT-5:4.7.3-3] 65535 bytes", strings.Repeat("x", 65533) + "/#", ""},
		{"[MQTT-3:4.7.3-3] [MQTT-5:4.7.3-3] 65536 bytes", strings.Repeat("x", 65534) + "/#", "4.7.3-3"},
		// Shared subscriptions (5.0 section 4.8.2).
		{"4.8.2 $share/consumer1/sport/tennis/+", "$share/consumer1/sport/tennis/+", ""},
		{"4.8.2 $share/consumer1//finance", "$share/consumer1//finance", ""},
		{"4.8.2 $share without a slash is an ordinary filter", "$share", ""},
		{"[MQTT-5:4.8.2-1] empty ShareName", "$share//a", "4.8.2-1"},
		{"[MQTT-5:4.8.2-2] ShareName not followed by '/'", "$share/group", "4.8.2-2"},
		{"[MQTT-5:4.8.2-2] '/' not followed by a Topic Filter", "$share/group/", "4.8.2-2"},
		{"[MQTT-5:4.8.2-2] '+' in the ShareName", "$share/gr+oup/a", "4.8.2-2"},
		{"[MQTT-5:4.8.2-2] '#' in the ShareName", "$share/#/a", "4.8.2-2"},
		{"[MQTT-5:4.8.2-2] [MQTT-5:4.7.1-1] the filter after the ShareName is checked", "$share/g/a#", "4.7.1-1"},
		{"[MQTT-5:4.8.2-2] [MQTT-5:4.7.1-2] the filter after the ShareName is checked", "$share/g/a+", "4.7.1-2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantTopicErr(t, ValidTopicFilter(c.filter), c.rule, TopicFilterInvalid)
		})
	}
}

// TestParseShared splits shared subscription filters [MQTT-5:4.8.2-1]
// [MQTT-5:4.8.2-2].
func TestParseShared(t *testing.T) {
	cases := []struct {
		filter, group, topicFilter, rule string
	}{
		{"$share/consumer1/sport/tennis/+", "consumer1", "sport/tennis/+", ""},
		{"$share/consumer2/sport/tennis/+", "consumer2", "sport/tennis/+", ""},
		{"$share/consumer1//finance", "consumer1", "/finance", ""},
		{"$share/g/#", "g", "#", ""},
		{"$share/g/$SYS/#", "g", "$SYS/#", ""},
		{"sport/tennis/+", "", "sport/tennis/+", ""},
		{"$SHARE/g/a", "", "$SHARE/g/a", ""}, // "$share" is case sensitive
		{"$shared/g/a", "", "$shared/g/a", ""},
		{"$share//a", "", "", "4.8.2-1"},
		{"$share/", "", "", "4.8.2-1"},
		{"$share/g", "", "", "4.8.2-2"},
		{"$share/g/", "", "", "4.8.2-2"},
		{"$share/a+/b", "", "", "4.8.2-2"},
		{"$share/a#/b", "", "", "4.8.2-2"},
		{"$share/g/a/#/b", "", "", "4.7.1-1"},
	}
	for _, c := range cases {
		t.Run(c.filter, func(t *testing.T) {
			g, f, err := ParseShared(c.filter)
			wantTopicErr(t, err, c.rule, TopicFilterInvalid)
			if g != c.group || f != c.topicFilter {
				t.Errorf("ParseShared(%q) = %q, %q; want %q, %q", c.filter, g, f, c.group, c.topicFilter)
			}
			if want := strings.HasPrefix(c.filter, "$share/"); IsShared(c.filter) != want {
				t.Errorf("IsShared(%q) = %v", c.filter, !want)
			}
		})
	}
}

// topicMatchCases are the matching examples of sections 4.7.1.2, 4.7.1.3, 4.7.2
// and 4.7.3 of both specifications, and a few more.
var topicMatchCases = []struct {
	filter, topic string
	match         bool
}{
	// 4.7.1.2 Multi-level wildcard.
	{"sport/tennis/player1/#", "sport/tennis/player1", true},
	{"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
	{"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
	{"sport/tennis/player1/#", "sport/tennis/player2", false},
	{"sport/tennis/player1/#", "sport/tennis", false},
	{"sport/#", "sport", true},
	{"sport/#", "sport/", true},
	{"sport/#", "sports", false},
	{"#", "sport", true},
	{"#", "/", true},
	{"#", "a/b/c", true},
	{"sport/tennis/#", "sport/tennis/player1", true},
	{"a/b/#", "a/bc", false},
	// 4.7.1.3 Single-level wildcard.
	{"sport/tennis/+", "sport/tennis/player1", true},
	{"sport/tennis/+", "sport/tennis/player2", true},
	{"sport/tennis/+", "sport/tennis/player1/ranking", false},
	{"sport/+", "sport", false},
	{"sport/+", "sport/", true},
	{"+/+", "/finance", true},
	{"/+", "/finance", true},
	{"+", "/finance", false},
	{"+", "finance", true},
	{"+/tennis/#", "sport/tennis", true},
	{"+/tennis/#", "sport/tennis/player1/ranking", true},
	{"sport/+/player1", "sport/tennis/player1", true},
	{"sport/+/player1", "sport/tennis/player2", false},
	{"+/+", "a/", true},
	{"+/+/+", "a/b", false},
	{"a/+/#", "a/b", true},
	{"a/+/#", "a", false},
	{"+/#", "a", true},
	// 4.7.2 Topics beginning with $ [MQTT-3:4.7.2-1] [MQTT-5:4.7.2-1].
	{"#", "$SYS/monitor/Clients", false},
	{"#", "$", false},
	{"+/monitor/Clients", "$SYS/monitor/Clients", false},
	{"+", "$SYS", false},
	{"+/#", "$SYS/a", false},
	{"$SYS/#", "$SYS/monitor/Clients", true},
	{"$SYS/#", "$SYS", true},
	{"$SYS/monitor/+", "$SYS/monitor/Clients", true},
	{"+/$x", "a/$x", true},
	{"#", "a/$SYS", true},
	// 4.7.3: no normalization [MQTT-3:4.7.3-4] [MQTT-5:4.7.3-4].
	{"ACCOUNTS", "Accounts", false},
	{"Accounts payable", "Accounts payable", true},
	{"/finance", "finance", false},
	{"finance/", "finance", false},
	{"finance", "finance/", false},
	{"a/b", "a//b", false},
	{"caf\u00e9", "cafe\u0301", false}, // precomposed and decomposed é
	{"cafe\u0301", "cafe\u0301", true},
	{"\uFEFFa", "a", false},
	{"a/+", "a/\u00e9", true},
}

// TestMatchTopic checks the examples, then compares MatchTopic with a
// straightforward reference matcher over every pair of a set of filters and
// topic names.
func TestMatchTopic(t *testing.T) {
	for _, c := range topicMatchCases {
		if got := MatchTopic(c.filter, c.topic); got != c.match {
			t.Errorf("MatchTopic(%q, %q) = %v, want %v", c.filter, c.topic, got, c.match)
		}
		if got := refMatchTopic(c.filter, c.topic); got != c.match {
			t.Errorf("reference matcher disagrees with the example (%q, %q)", c.filter, c.topic)
		}
	}
	filters := []string{"#", "+", "+/+", "/+", "+/#", "a/#", "a/+", "a/+/#", "a/+/c", "+/b/#", "a/b", "a//b", "/#",
		"a/b/c/#", "+/+/+", "$SYS/#", "$SYS/+", "/", "//", "+//+", "a/#"}
	topics := []string{"a", "a/b", "a/b/c", "a/b/c/d", "/", "//", "/a", "a/", "a//b", "b/b", "$SYS", "$SYS/x", "$SYS/x/y",
		"x/$SYS", "a/c", "ab", "a/bc"}
	for _, f := range filters {
		if err := ValidTopicFilter(f); err != nil {
			t.Fatalf("bad test filter %q: %v", f, err)
		}
		for _, tp := range topics {
			if got, want := MatchTopic(f, tp), refMatchTopic(f, tp); got != want {
				t.Errorf("MatchTopic(%q, %q) = %v, reference says %v", f, tp, got, want)
			}
		}
	}
}

// refMatchTopic is a plain reading of section 4.7: split both at '/', '#'
// matches the rest (including the parent level), '+' one level, and a
// filter starting with a wildcard never matches a topic starting with '$'.
func refMatchTopic(filter, topic string) bool {
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	fl, tl := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, f := range fl {
		if f == "#" {
			return true
		}
		if i >= len(tl) {
			return false
		}
		if f != "+" && f != tl[i] {
			return false
		}
	}
	return len(fl) == len(tl)
}

// TestMatchTopicAllocs proves that matching allocates nothing: the broker
// and the client match every message against their subscriptions.
func TestMatchTopicAllocs(t *testing.T) {
	n := testing.AllocsPerRun(100, func() {
		for _, c := range topicMatchCases {
			MatchTopic(c.filter, c.topic)
		}
	})
	if n != 0 {
		t.Errorf("MatchTopic allocates %v times per run of %d matches, want 0", n, len(topicMatchCases))
	}
}
