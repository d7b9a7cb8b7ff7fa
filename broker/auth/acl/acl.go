package acl

import (
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/codec"
)

// ACL is a broker.Authorizer built from a Mosquitto ACL file. It is safe
// for concurrent use; Reload replaces its rules atomically.
type ACL struct {
	path string
	mu   sync.Mutex // serialises Reload
	cur  atomic.Pointer[rules]
}

var _ broker.Authorizer = (*ACL)(nil)

// rules is one compiled file. It is never changed once published.
type rules struct {
	anon     *list            // nil: no anonymous section
	users    map[string]*list // by username
	patterns list
	// lines counts the entries, for Len.
	lines int
}

// list is one client's section, or the patterns, in Mosquitto's order:
// deny entries first (the last one read first, as Mosquitto prepends
// them), then the granting entries in file order.
type list struct {
	rules []rule
}

// rule is a compiled entry.
type rule struct {
	access uint8
	filter string // a topic entry's filter; a pattern's text
	// parts is set for a pattern that uses %c or %u: the filter cut into
	// literal text and substitutions.
	parts []part
	usesU bool // a %u pattern, which never applies to anonymous clients
	// prefix is text every topic the entry matches starts with, for a
	// quick rejection; literal marks a filter without wildcards, which
	// matches only itself.
	prefix  string
	literal bool
}

// part is a piece of a pattern: literal text, or the client id ('c') or
// username ('u').
type part struct {
	lit string
	sub byte
}

// Load reads and compiles the ACL file at path. A syntax error is a
// *ParseError naming the file and line.
func Load(path string) (*ACL, error) {
	r, err := loadFile(path)
	if err != nil {
		return nil, err
	}
	a := &ACL{path: path}
	a.cur.Store(r)
	return a, nil
}

// Parse reads and compiles an ACL file from r. A syntax error is a
// *ParseError with the line number. The result cannot Reload.
func Parse(r io.Reader) (*ACL, error) {
	p, err := parse(r)
	if err != nil {
		return nil, err
	}
	a := &ACL{}
	a.cur.Store(compile(p))
	return a, nil
}

// Reload reads the file given to Load again and, if it is valid, makes
// its rules the ones every later Authorize uses. On error the rules in
// force stay. Reload is safe to call while Authorize runs; the broker's
// Reauthorize can then apply the new rules to existing sessions.
func (a *ACL) Reload() error {
	if a.path == "" {
		return errors.New("acl: Reload: not loaded from a file")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	r, err := loadFile(a.path)
	if err != nil {
		return err
	}
	a.cur.Store(r)
	return nil
}

// Len is the number of topic and pattern entries in force.
func (a *ACL) Len() int { return a.cur.Load().lines }

func loadFile(path string) (*rules, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := parse(f)
	if err != nil {
		if pe, ok := err.(*ParseError); ok {
			pe.File = path
		}
		return nil, err
	}
	return compile(p), nil
}

// compile builds the lists in Mosquitto's order.
func compile(p *parsed) *rules {
	r := &rules{users: make(map[string]*list, len(p.users))}
	if p.hasAnon {
		r.anon = compileList(p.anon, false)
	}
	for name, es := range p.users {
		r.users[name] = compileList(es, false)
	}
	r.patterns = *compileList(p.patterns, true)
	r.lines = len(p.anon) + len(p.patterns)
	for _, es := range p.users {
		r.lines += len(es)
	}
	return r
}

func compileList(es []entry, patterns bool) *list {
	l := &list{rules: make([]rule, 0, len(es))}
	var grants []rule
	for _, e := range es {
		ru := rule{access: e.access, filter: e.filter}
		if patterns {
			ru.parts, ru.usesU = compilePattern(e.filter)
		}
		switch {
		case ru.parts == nil:
			ru.prefix = quickPrefix(e.filter)
			ru.literal = ru.prefix == e.filter
		case ru.parts[0].sub == 0:
			ru.prefix = strings.TrimSuffix(quickPrefix(ru.parts[0].lit), "/")
		}
		if e.access == accDeny {
			l.rules = append(l.rules, ru)
		} else {
			grants = append(grants, ru)
		}
	}
	// Mosquitto prepends each deny, so the last deny read comes first.
	for i, j := 0, len(l.rules)-1; i < j; i, j = i+1, j-1 {
		l.rules[i], l.rules[j] = l.rules[j], l.rules[i]
	}
	l.rules = append(l.rules, grants...)
	return l
}

// quickPrefix is the text before f's first wildcard, without the '/'
// before it ("a/#" also matches "a").
func quickPrefix(f string) string {
	i := strings.IndexAny(f, "+#")
	if i < 0 {
		return f
	}
	return strings.TrimSuffix(f[:i], "/")
}

// compilePattern cuts a pattern at each %c and %u, scanning as
// Mosquitto's substitution loop does. It returns nil parts for a pattern
// without either.
func compilePattern(f string) (parts []part, usesU bool) {
	start := 0
	for i := 0; i+1 < len(f); i++ {
		if f[i] != '%' || (f[i+1] != 'c' && f[i+1] != 'u') {
			continue
		}
		if start < i {
			parts = append(parts, part{lit: f[start:i]})
		}
		parts = append(parts, part{sub: f[i+1]})
		usesU = usesU || f[i+1] == 'u'
		i++
		start = i + 1
	}
	if parts == nil {
		return nil, false
	}
	if start < len(f) {
		parts = append(parts, part{lit: f[start:]})
	}
	return parts, usesU
}

// Authorize implements broker.Authorizer: Write and Read are decided by
// the entries as Mosquitto decides them; a Subscribe filter is refused
// only when it can never deliver a readable message (see the package
// documentation).
func (a *ACL) Authorize(c broker.Client, acc broker.Access, topic string) bool {
	r := a.cur.Load()
	switch acc {
	case broker.Write:
		return r.check(c, accWrite, topic, false)
	case broker.Read:
		return r.check(c, accRead, topic, false)
	case broker.Subscribe:
		return r.check(c, accRead, topic, true)
	}
	return false
}

// check walks the client's list and then the patterns. asked is a topic
// name, or with sub a subscription filter.
func (r *rules) check(c broker.Client, need uint8, asked string, sub bool) bool {
	own := r.anon
	if c.Username != "" {
		own = r.users[c.Username]
	}
	if own != nil {
		for i := range own.rules {
			ru := &own.rules[i]
			if d, ok := decide(ru, ru.filter, need, asked, sub); d {
				return ok
			}
		}
	}
	if len(r.patterns.rules) == 0 || dangerous(c.ID) || dangerous(c.Username) {
		return false
	}
	var stack [256]byte
	buf := stack[:0]
	if n := len(c.ID) + len(c.Username); n > len(stack)/4 {
		// Long identities: a pooled buffer instead of growing on the heap.
		bp := bufPool.Get().(*[]byte)
		defer bufPool.Put(bp)
		buf = (*bp)[:0]
	}
	for i := range r.patterns.rules {
		ru := &r.patterns.rules[i]
		f := ru.filter
		if ru.parts != nil {
			if ru.usesU && c.Username == "" {
				continue
			}
			if ru.access != accDeny && ru.access&need == 0 {
				continue // grants only the other access
			}
			if !sub && !strings.HasPrefix(asked, ru.prefix) {
				continue // cannot match: no need to expand
			}
			buf = expand(buf[:0], ru.parts, c)
			f = bytesString(buf)
		}
		if d, ok := decide(ru, f, need, asked, sub); d {
			return ok
		}
	}
	return false
}

// bufPool holds expansion buffers for long client ids and usernames.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// decide applies one rule with filter f: decided reports whether the
// walk stops, allowed what it decided. For a topic name an entry decides
// when its filter matches; for a subscription filter a deny entry
// decides when it covers the filter and a granting one when it overlaps.
func decide(ru *rule, f string, need uint8, asked string, sub bool) (decided, allowed bool) {
	if ru.access == accDeny {
		if sub {
			return covers(f, asked), false
		}
		return matches(ru, f, asked), false
	}
	if ru.access&need == 0 {
		return false, false
	}
	if sub {
		return overlaps(f, asked), true
	}
	return matches(ru, f, asked), true
}

// matches is codec.MatchTopic(f, topic) with the quick checks of a
// compiled topic entry first.
func matches(ru *rule, f, topic string) bool {
	if ru.parts == nil {
		if ru.literal {
			return f == topic
		}
		if !strings.HasPrefix(topic, ru.prefix) {
			return false
		}
	}
	return codec.MatchTopic(f, topic)
}

// dangerous reports an identity that would inject wildcards into a
// pattern.
func dangerous(s string) bool { return strings.ContainsAny(s, "+#") }

// expand appends the pattern with the client's id and username
// substituted.
func expand(dst []byte, parts []part, c broker.Client) []byte {
	for _, p := range parts {
		switch p.sub {
		case 'c':
			dst = append(dst, c.ID...)
		case 'u':
			dst = append(dst, c.Username...)
		default:
			dst = append(dst, p.lit...)
		}
	}
	return dst
}
