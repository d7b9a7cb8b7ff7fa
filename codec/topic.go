package codec

import "strings"

// ValidTopicName checks a Topic Name as used in PUBLISH: at least one
// character ([MQTT-4.7.3-1]), no wildcards ([MQTT-4.7.0-1] of 5.0,
// [MQTT-4.7.1-1] of 3.1.1), no U+0000 ([MQTT-4.7.3-2]), well-formed UTF-8 and
// at most 65535 bytes ([MQTT-4.7.3-3]).
func ValidTopicName(topic string) error {
	switch {
	case topic == "":
		return &Error{Code: TopicNameInvalid, Rule: "MQTT-4.7.3-1", Msg: "empty Topic Name"}
	case len(topic) > MaxStringLength:
		return &Error{Code: TopicNameInvalid, Rule: "MQTT-4.7.3-3", Msg: "Topic Name longer than 65535 bytes"}
	case strings.ContainsAny(topic, "+#"):
		return &Error{Code: TopicNameInvalid, Rule: "MQTT-4.7.0-1", Msg: "wildcard in Topic Name " + quote(topic)}
	case !ValidUTF8String(topic):
		return &Error{Code: TopicNameInvalid, Rule: "MQTT-4.7.3-2", Msg: "Topic Name is not valid UTF-8 or contains U+0000"}
	}
	return nil
}

// isTopicName is the allocation-free check used on the decode path, where
// UTF-8 has already been checked.
func isTopicName(topic string) bool {
	if topic == "" || len(topic) > MaxStringLength {
		return false
	}
	for i := 0; i < len(topic); i++ {
		if c := topic[i]; c == '+' || c == '#' {
			return false
		}
	}
	return true
}

// ValidTopicFilter checks a Topic Filter as used in SUBSCRIBE and
// UNSUBSCRIBE: at least one character, valid UTF-8 without U+0000, at most
// 65535 bytes, '#' only as the whole last level ([MQTT-4.7.1-1] of 5.0),
// '+' only as a whole level ([MQTT-4.7.1-2] of 5.0). A shared subscription
// ($share/{ShareName}/{filter}) is checked by the rules of section 4.8.2.
func ValidTopicFilter(filter string) error {
	switch {
	case filter == "":
		return &Error{Code: TopicFilterInvalid, Rule: "MQTT-4.7.3-1", Msg: "empty Topic Filter"}
	case len(filter) > MaxStringLength:
		return &Error{Code: TopicFilterInvalid, Rule: "MQTT-4.7.3-3", Msg: "Topic Filter longer than 65535 bytes"}
	case !ValidUTF8String(filter):
		return &Error{Code: TopicFilterInvalid, Rule: "MQTT-4.7.3-2", Msg: "Topic Filter is not valid UTF-8 or contains U+0000"}
	}
	if strings.HasPrefix(filter, sharePrefix) {
		_, _, err := ParseShared(filter)
		return err
	}
	return validFilterLevels(filter)
}

func validFilterLevels(filter string) error {
	for i := 0; i < len(filter); i++ {
		switch filter[i] {
		case '#':
			if (i > 0 && filter[i-1] != '/') || i != len(filter)-1 {
				return &Error{Code: TopicFilterInvalid, Rule: "MQTT-4.7.1-1",
					Msg: "'#' must be the last character and a whole level in " + quote(filter)}
			}
		case '+':
			if (i > 0 && filter[i-1] != '/') || (i < len(filter)-1 && filter[i+1] != '/') {
				return &Error{Code: TopicFilterInvalid, Rule: "MQTT-4.7.1-2",
					Msg: "'+' must occupy a whole level in " + quote(filter)}
			}
		}
	}
	return nil
}

const sharePrefix = "$share/"

// ParseShared splits a shared subscription's filter "$share/{ShareName}/{filter}"
// into the share name and the topic filter. For a filter that does not start
// with "$share/" it returns ("", filter, nil). The ShareName must be at least
// one character ([MQTT-4.8.2-1]) without '/', '+' or '#', and be followed by
// '/' and a valid Topic Filter ([MQTT-4.8.2-2]).
func ParseShared(filter string) (group, topicFilter string, err error) {
	rest, ok := strings.CutPrefix(filter, sharePrefix)
	if !ok {
		return "", filter, nil
	}
	group, topicFilter, ok = strings.Cut(rest, "/")
	switch {
	case group == "":
		return "", "", &Error{Code: TopicFilterInvalid, Rule: "MQTT-4.8.2-1", Msg: "empty ShareName in " + quote(filter)}
	case strings.ContainsAny(group, "+#"):
		return "", "", &Error{Code: TopicFilterInvalid, Rule: "MQTT-4.8.2-2", Msg: "wildcard in ShareName of " + quote(filter)}
	case !ok || topicFilter == "":
		return "", "", &Error{Code: TopicFilterInvalid, Rule: "MQTT-4.8.2-2", Msg: "no Topic Filter after the ShareName in " + quote(filter)}
	}
	if err := validFilterLevels(topicFilter); err != nil {
		return "", "", err
	}
	return group, topicFilter, nil
}

// IsShared reports whether filter names a shared subscription.
func IsShared(filter string) bool { return strings.HasPrefix(filter, sharePrefix) }

// HasWildcard reports whether filter contains '+' or '#'.
func HasWildcard(filter string) bool { return strings.ContainsAny(filter, "+#") }

// MatchTopic reports whether the Topic Name topic matches the Topic Filter
// filter (section 4.7). Both must be valid and filter must not be a shared
// subscription (use the filter ParseShared returns). Levels are compared
// byte for byte without normalisation ([MQTT-4.7.3-4]); a filter starting
// with a wildcard never matches a topic starting with '$' ([MQTT-4.7.2-1]);
// "sport/#" also matches "sport" and "+" matches an empty level.
// MatchTopic does not allocate.
func MatchTopic(filter, topic string) bool {
	if len(topic) > 0 && topic[0] == '$' && len(filter) > 0 && (filter[0] == '+' || filter[0] == '#') {
		return false
	}
	for {
		// Take one level from each.
		fl, frest, fmore := cutLevel(filter)
		if fl == "#" {
			return true
		}
		tl, trest, tmore := cutLevel(topic)
		if fl != "+" && fl != tl {
			return false
		}
		switch {
		case !fmore && !tmore:
			return true
		case !tmore:
			// The topic ended: only a trailing "/#" still matches.
			return frest == "#"
		case !fmore:
			return false
		}
		filter, topic = frest, trest
	}
}

// cutLevel splits s at its first '/'; more reports whether there was one.
func cutLevel(s string) (level, rest string, more bool) {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return "\"" + s + "\""
}
