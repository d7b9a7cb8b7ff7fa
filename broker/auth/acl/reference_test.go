package acl

import (
	"strings"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/codec"
)

// reference decides Read and Write as a line-by-line port of Mosquitto
// 2.0's mosquitto_acl_check_default over the parsed file: lists built by
// prepending denies (add__acl), the client's list, the wildcard identity
// check, then each pattern substituted into a new string.
func reference(p *parsed, c broker.Client, acc broker.Access, topic string) bool {
	need := accRead
	if acc == broker.Write {
		need = accWrite
	}
	build := func(es []entry) []entry {
		var l []entry
		for _, e := range es {
			if e.access == accDeny {
				l = append([]entry{e}, l...)
			} else {
				l = append(l, e)
			}
		}
		return l
	}
	var own []entry
	hasOwn := false
	if c.Username == "" {
		own, hasOwn = build(p.anon), p.hasAnon
	} else if es, ok := p.users[c.Username]; ok {
		own, hasOwn = build(es), true
	}
	patterns := build(p.patterns)
	if !hasOwn && len(patterns) == 0 {
		return false
	}
	for _, e := range own {
		if topic != "" && topic[0] == '$' && e.filter[0] != '$' {
			continue
		}
		if codec.MatchTopic(e.filter, topic) {
			if e.access == accDeny {
				return false
			}
			if e.access&need != 0 {
				return true
			}
		}
	}
	if len(patterns) > 0 && (strings.ContainsAny(c.Username, "+#") || strings.ContainsAny(c.ID, "+#")) {
		return false
	}
	for _, e := range patterns {
		if strings.Contains(e.filter, "%u") && c.Username == "" {
			continue
		}
		var b strings.Builder
		f := e.filter
		for i := 0; i < len(f); i++ {
			if i < len(f)-1 && f[i] == '%' {
				if f[i+1] == 'c' {
					i++
					b.WriteString(c.ID)
					continue
				} else if c.Username != "" && f[i+1] == 'u' {
					i++
					b.WriteString(c.Username)
					continue
				}
			}
			b.WriteByte(f[i])
		}
		if codec.MatchTopic(b.String(), topic) {
			if e.access == accDeny {
				return false
			}
			if e.access&need != 0 {
				return true
			}
		}
	}
	return false
}
