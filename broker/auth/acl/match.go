package acl

import "unsafe"

// overlaps reports whether some topic name matches both filters a and b
// (MQTT matching, '$' topics excluded from filters that start with a
// wildcard). It decides whether an entry granting read can ever deliver
// through a subscription filter.
func overlaps(a, b string) bool {
	if dollarExcluded(a, b) || dollarExcluded(b, a) {
		return false
	}
	for {
		al, arest, amore := cutLevel(a)
		bl, brest, bmore := cutLevel(b)
		if al == "#" || bl == "#" {
			return true
		}
		if al != "+" && bl != "+" && al != bl {
			return false
		}
		switch {
		case !amore && !bmore:
			return true
		case !amore:
			return brest == "#" // "x/#" also matches "x"
		case !bmore:
			return arest == "#"
		}
		a, b = arest, brest
	}
}

// covers reports whether every topic name that matches filter f also
// matches filter r. It decides whether a deny entry r takes everything
// a subscription f could deliver.
func covers(r, f string) bool {
	if dollarExcluded(r, f) {
		return false
	}
	for top := true; ; top = false {
		rl, rrest, rmore := cutLevel(r)
		fl, frest, fmore := cutLevel(f)
		if rl == "#" {
			return true
		}
		if fl == "#" {
			// f takes any levels from here, none included except at the
			// top (a topic has at least one level): "+/#" takes one or
			// more.
			return top && r == "+/#"
		}
		if rl != "+" && (fl == "+" || rl != fl) {
			return false
		}
		switch {
		case !rmore && !fmore:
			return true
		case !fmore:
			return rrest == "#"
		case !rmore:
			return false
		}
		r, f = rrest, frest
	}
}

// dollarExcluded reports whether filter w starts with a wildcard while
// every topic of filter d starts with '$', so that w matches none of them.
func dollarExcluded(w, d string) bool {
	return len(w) > 0 && (w[0] == '+' || w[0] == '#') && len(d) > 0 && d[0] == '$'
}

// cutLevel splits s at its first '/'; more reports whether there was one.
func cutLevel(s string) (level, rest string, more bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// bytesString views b as a string without copying. The caller must not
// change b while the string is in use; check uses it for a pattern
// expanded into a stack buffer and dropped before the buffer is reused.
func bytesString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}
