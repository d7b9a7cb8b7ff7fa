package bridge

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ternmq/tern/codec"
)

// Direction says which way a Rule carries messages.
type Direction uint8

// The directions of a rule, as Mosquitto's topic option names them.
const (
	// Out carries messages published on the local broker to the remote
	// one (Mosquitto's default).
	Out Direction = iota + 1
	// In carries messages published on the remote broker to the local one.
	In
	// Both carries messages either way.
	Both
)

// String returns "out", "in" or "both".
func (d Direction) String() string {
	switch d {
	case Out:
		return "out"
	case In:
		return "in"
	case Both:
		return "both"
	}
	return "Direction(" + strconv.Itoa(int(d)) + ")"
}

func (d Direction) out() bool { return d == Out || d == Both }
func (d Direction) in() bool  { return d == In || d == Both }

// empty is the place marker that Mosquitto's configuration uses for an
// empty pattern or prefix.
const empty = `""`

// Rule is one topic rule of a bridge, with the meaning of Mosquitto's
//
//	topic PATTERN [[[out|in|both] QOS] LOCAL-PREFIX REMOTE-PREFIX]
//
// The prefixes are prepended to the pattern: the bridge subscribes to
// LocalPrefix+Pattern on the local broker (for Out and Both) and to
// RemotePrefix+Pattern on the remote broker (for In and Both), at QoS.
// A message going out has LocalPrefix removed from the front of its topic
// (when it starts with it) and RemotePrefix put in front; a message coming
// in has RemotePrefix removed and LocalPrefix added. With an empty
// Pattern both prefixes are required, and each is a whole topic: the rule
// maps one local topic to one remote topic.
//
// When several rules of a direction match a topic, the first one in the
// configuration that has a prefix decides how it is mapped (rules without
// prefixes map nothing), and a message is forwarded once however many
// rules match it.
type Rule struct {
	Pattern      string    // a topic filter, or "" for none
	Direction    Direction // Out when zero
	QoS          codec.QoS // the QoS of the bridge's subscriptions
	LocalPrefix  string    // a topic name (no wildcards), or ""
	RemotePrefix string    // a topic name (no wildcards), or ""
}

// LocalFilter is the filter the bridge subscribes to on the local broker
// (for Out and Both rules), and that local topics are matched against.
func (r Rule) LocalFilter() string { return r.LocalPrefix + r.Pattern }

// RemoteFilter is the filter the bridge subscribes to on the remote
// broker (for In and Both rules), and that remote topics are matched
// against.
func (r Rule) RemoteFilter() string { return r.RemotePrefix + r.Pattern }

func (r Rule) direction() Direction {
	if r.Direction == 0 {
		return Out
	}
	return r.Direction
}

func (r Rule) remaps() bool { return r.LocalPrefix != "" || r.RemotePrefix != "" }

// ErrRule is wrapped by every error about a malformed or invalid rule.
var ErrRule = errors.New("bridge: invalid topic rule")

// Validate checks the rule as Mosquitto does: the prefixes are topic
// names without wildcards, each prefix followed by the pattern is a valid
// topic filter, and a rule without a pattern has both prefixes.
func (r Rule) Validate() error {
	if r.Direction > Both {
		return fmt.Errorf("%w: direction %d", ErrRule, r.Direction)
	}
	if r.QoS > codec.ExactlyOnce {
		return fmt.Errorf("%w: QoS %d", ErrRule, r.QoS)
	}
	if r.Pattern == "" && (r.LocalPrefix == "" || r.RemotePrefix == "") {
		return fmt.Errorf("%w: a rule without a pattern needs both a local and a remote prefix", ErrRule)
	}
	for _, p := range [...]struct{ name, v string }{{"local prefix", r.LocalPrefix}, {"remote prefix", r.RemotePrefix}} {
		if p.v == "" {
			continue
		}
		if err := codec.ValidTopicName(p.v); err != nil {
			return fmt.Errorf("%w: %s %q: %w", ErrRule, p.name, p.v, err)
		}
	}
	for _, f := range [...]string{r.LocalFilter(), r.RemoteFilter()} {
		if err := codec.ValidTopicFilter(f); err != nil {
			return fmt.Errorf("%w: %q: %w", ErrRule, f, err)
		}
	}
	return nil
}

// ParseRule parses the arguments of Mosquitto's topic option, the words
// of line after "topic":
//
//	PATTERN [out|in|both [QOS [LOCAL-PREFIX [REMOTE-PREFIX]]]]
//
// Words are separated by spaces and tabs; "" stands for an empty pattern
// or prefix. The direction defaults to out (any case is accepted) and the
// QoS to 0. The rule is validated.
func ParseRule(line string) (Rule, error) {
	return ParseRuleWords(strings.Fields(line))
}

// ParseRuleWords is ParseRule for a line already split into words.
func ParseRuleWords(words []string) (Rule, error) {
	var r Rule
	if len(words) == 0 {
		return r, fmt.Errorf("%w: no pattern", ErrRule)
	}
	if len(words) > 5 {
		return r, fmt.Errorf("%w: %d words after the remote prefix %q", ErrRule, len(words)-5, words[4])
	}
	word := func(i int) string {
		if i >= len(words) || words[i] == empty {
			return ""
		}
		return words[i]
	}
	r.Pattern, r.Direction = word(0), Out
	if len(words) > 1 {
		switch strings.ToLower(words[1]) {
		case "out":
		case "in":
			r.Direction = In
		case "both":
			r.Direction = Both
		default:
			return r, fmt.Errorf("%w: direction %q is not out, in or both", ErrRule, words[1])
		}
	}
	if len(words) > 2 {
		q, err := strconv.ParseUint(words[2], 10, 8)
		if err != nil || q > 2 {
			return r, fmt.Errorf("%w: QoS %q is not 0, 1 or 2", ErrRule, words[2])
		}
		r.QoS = codec.QoS(q)
	}
	r.LocalPrefix, r.RemotePrefix = word(3), word(4)
	if err := r.Validate(); err != nil {
		return r, err
	}
	return r, nil
}

// String returns the rule as ParseRule reads it, with "" for what is
// empty.
func (r Rule) String() string {
	w := func(s string) string {
		if s == "" {
			return empty
		}
		return s
	}
	s := fmt.Sprintf("%s %s %d", w(r.Pattern), r.direction(), r.QoS)
	if r.remaps() {
		s += " " + w(r.LocalPrefix) + " " + w(r.RemotePrefix)
	}
	return s
}

// MarshalText returns String, so that a Rule is one string in JSON.
func (r Rule) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText parses a rule with ParseRule.
func (r *Rule) UnmarshalText(b []byte) error {
	p, err := ParseRule(string(b))
	if err != nil {
		return err
	}
	*r = p
	return nil
}

// rules are a bridge's topic rules, in configuration order.
type rules []Rule

// toRemote maps a local topic to its remote topic, and reports whether an
// Out or Both rule takes it.
func (rs rules) toRemote(topic string) (string, bool) {
	return rs.remap(topic, Direction.out, Rule.LocalFilter,
		func(r Rule) (string, string) { return r.LocalPrefix, r.RemotePrefix })
}

// toLocal maps a remote topic to its local topic, and reports whether an
// In or Both rule takes it.
func (rs rules) toLocal(topic string) (string, bool) {
	return rs.remap(topic, Direction.in, Rule.RemoteFilter,
		func(r Rule) (string, string) { return r.RemotePrefix, r.LocalPrefix })
}

// remap finds the rules of a direction whose filter matches topic. The
// first of them with a prefix maps it: its "from" prefix is removed if the
// topic starts with it, and its "to" prefix is added (which is what
// Mosquitto does, also for a topic that matches a filter such as "a/#"
// by its parent level "a" and so does not start with "a/").
func (rs rules) remap(topic string, dir func(Direction) bool, filter func(Rule) string, prefixes func(Rule) (string, string)) (string, bool) {
	taken := false
	for _, r := range rs {
		if !dir(r.direction()) || !codec.MatchTopic(filter(r), topic) {
			continue
		}
		taken = true
		if r.remaps() {
			from, to := prefixes(r)
			return to + strings.TrimPrefix(topic, from), true
		}
	}
	return topic, taken
}

// filters returns the distinct filters of the rules of a direction, each
// with the highest QoS asked for it, in configuration order.
func (rs rules) filters(dir func(Direction) bool, filter func(Rule) string) []codec.Subscription {
	var subs []codec.Subscription
	for _, r := range rs {
		if !dir(r.direction()) {
			continue
		}
		f := filter(r)
		i := 0
		for i < len(subs) && subs[i].Filter != f {
			i++
		}
		if i == len(subs) {
			subs = append(subs, codec.Subscription{Filter: f})
		}
		subs[i].QoS = max(subs[i].QoS, r.QoS)
	}
	return subs
}
