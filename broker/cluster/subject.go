package cluster

import (
	"errors"
	"fmt"
	"strings"
)

// The NATS subject of an MQTT topic: one MQTT level per NATS token, under
// a prefix.
//
// Escaping. NATS tokens are separated by '.', may not be empty, may not
// hold white space, and '*' and '>' are its wildcards. A level is written
// byte for byte except '.', '*', '>', '%', bytes below 0x21 (space and
// control bytes) and 0x7F, which become '%' and two upper-case hex digits.
// An empty level becomes the token "%" alone, which no escaped level can
// be (a '%' there is always followed by two hex digits). Other UTF-8 is
// kept as it is. The mapping is thus one to one, and wildcards map to
// wildcards: '+' is '*' and a trailing '#' is '>' plus the parent level
// itself ("a/#" matches "a").
//
// '$' topics. MQTT's wildcards at the first level never match a topic
// whose first level starts with '$' [MQTT-4.7.2-1], while NATS's do. So
// such topics live under their own prefix, TopicPrefixDollar: a filter
// starting with '+' or '#' maps under TopicPrefix only, and a filter
// whose first level starts with '$' under TopicPrefixDollar.
const (
	// TopicPrefix is the prefix of the subject of every topic that does
	// not start with '$'.
	TopicPrefix = "tern.m."
	// TopicPrefixDollar is the prefix of the subject of topics that start
	// with '$'.
	TopicPrefixDollar = "tern.d."
)

// ErrSubject is returned (wrapped) by Topic for a subject that no topic
// maps to.
var ErrSubject = errors.New("cluster: not a topic subject")

const hexDigits = "0123456789ABCDEF"

// escaped reports whether b is written as %XX in a token.
func escaped(b byte) bool {
	return b <= ' ' || b == '.' || b == '*' || b == '>' || b == '%' || b == 0x7F
}

// Subject returns the NATS subject of topic, a valid MQTT Topic Name.
func Subject(topic string) string {
	return string(AppendSubject(make([]byte, 0, len(TopicPrefix)+len(topic)+8), topic))
}

// AppendSubject appends the subject of topic to dst.
func AppendSubject(dst []byte, topic string) []byte {
	if strings.HasPrefix(topic, "$") {
		dst = append(dst, TopicPrefixDollar...)
	} else {
		dst = append(dst, TopicPrefix...)
	}
	for i := 0; ; i++ {
		level, rest, more := strings.Cut(topic, "/")
		if i > 0 {
			dst = append(dst, '.')
		}
		dst = appendToken(dst, level)
		if !more {
			return dst
		}
		topic = rest
	}
}

func appendToken(dst []byte, level string) []byte {
	if level == "" {
		return append(dst, '%')
	}
	for i := 0; i < len(level); i++ {
		b := level[i]
		if escaped(b) {
			dst = append(dst, '%', hexDigits[b>>4], hexDigits[b&0xF])
		} else {
			dst = append(dst, b)
		}
	}
	return dst
}

// Topic returns the MQTT topic of a subject made by Subject.
func Topic(subject string) (string, error) {
	var rest string
	switch {
	case strings.HasPrefix(subject, TopicPrefix):
		rest = subject[len(TopicPrefix):]
	case strings.HasPrefix(subject, TopicPrefixDollar):
		rest = subject[len(TopicPrefixDollar):]
	default:
		return "", fmt.Errorf("%w: %q has no topic prefix", ErrSubject, subject)
	}
	if !strings.ContainsRune(rest, '%') {
		// The common case: nothing escaped.
		if rest == "" || strings.Contains(rest, "..") || rest[0] == '.' || rest[len(rest)-1] == '.' {
			return "", fmt.Errorf("%w: %q has an empty token", ErrSubject, subject)
		}
		for i := 0; i < len(rest); i++ {
			if b := rest[i]; b != '.' && escaped(b) {
				return "", fmt.Errorf("%w: %q has an unescaped %q", ErrSubject, subject, b)
			}
		}
		t := strings.ReplaceAll(rest, ".", "/")
		if err := checkPrefix(subject, t); err != nil {
			return "", err
		}
		return t, nil
	}
	var b strings.Builder
	b.Grow(len(rest))
	for i := 0; ; i++ {
		tok, r, more := strings.Cut(rest, ".")
		if i > 0 {
			b.WriteByte('/')
		}
		if err := unescapeToken(&b, tok); err != nil {
			return "", fmt.Errorf("%w: %q: %v", ErrSubject, subject, err)
		}
		if !more {
			break
		}
		rest = r
	}
	t := b.String()
	if err := checkPrefix(subject, t); err != nil {
		return "", err
	}
	return t, nil
}

// checkPrefix refuses a topic under the wrong prefix, so that Topic is
// the exact inverse of Subject.
func checkPrefix(subject, topic string) error {
	if strings.HasPrefix(topic, "$") != strings.HasPrefix(subject, TopicPrefixDollar) {
		return fmt.Errorf("%w: %q is under the wrong prefix", ErrSubject, subject)
	}
	return nil
}

func unescapeToken(b *strings.Builder, tok string) error {
	switch tok {
	case "":
		return errors.New("empty token")
	case "%":
		return nil // an empty level
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c != '%' {
			if escaped(c) {
				return fmt.Errorf("unescaped %q", c)
			}
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(tok) {
			return errors.New("short escape")
		}
		hi, lo := unhex(tok[i+1]), unhex(tok[i+2])
		if hi < 0 || lo < 0 {
			return errors.New("bad escape")
		}
		v := byte(hi<<4 | lo)
		if !escaped(v) {
			return fmt.Errorf("needless escape of %q", v)
		}
		b.WriteByte(v)
		i += 2
	}
	return nil
}

// unhex is the value of an upper-case hex digit, or -1.
func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// FilterSubjects returns the NATS subjects whose union matches exactly the
// subjects of the topics that filter, a valid non-shared MQTT Topic
// Filter, matches: one, or two for a filter ending in '#' ("a/#" is
// "tern.m.a.>" and "tern.m.a"; "#" alone is "tern.m.>").
func FilterSubjects(filter string) []string {
	prefix := TopicPrefix
	if strings.HasPrefix(filter, "$") {
		prefix = TopicPrefixDollar
	}
	dst := append(make([]byte, 0, len(prefix)+len(filter)+8), prefix...)
	var parent int // the length of dst before "/#"
	for i := 0; ; i++ {
		level, rest, more := strings.Cut(filter, "/")
		if i > 0 {
			parent = len(dst)
			dst = append(dst, '.')
		}
		switch level {
		case "+":
			dst = append(dst, '*')
		case "#":
			dst = append(dst, '>')
		default:
			dst = appendToken(dst, level)
		}
		if !more {
			break
		}
		filter = rest
	}
	s := string(dst)
	if strings.HasSuffix(s, ".>") && parent > 0 {
		return []string{s, s[:parent]}
	}
	return []string{s}
}
