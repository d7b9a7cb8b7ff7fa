package uistate

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Format is how a payload is shown.
type Format uint8

// The payload formats. FormatAuto picks JSON for a JSON object or array,
// text for printable UTF-8, and hex for anything else.
const (
	FormatAuto Format = iota
	FormatText
	FormatJSON
	FormatHex
	FormatBase64
)

// Formats lists the formats in the order the UI offers them.
var Formats = []Format{FormatAuto, FormatText, FormatJSON, FormatHex, FormatBase64}

var formatNames = [...]string{"auto", "text", "json", "hex", "base64"}

// String returns the format's name: "auto", "text", "json", "hex" or
// "base64".
func (f Format) String() string {
	if int(f) < len(formatNames) {
		return formatNames[f]
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// ParseFormat returns the format named s, or FormatAuto.
func ParseFormat(s string) Format {
	for i, n := range formatNames {
		if n == s {
			return Format(i)
		}
	}
	return FormatAuto
}

// maxShown bounds the bytes of a payload that are rendered in full: a
// payload of megabytes would freeze the page as one text node.
const maxShown = 256 << 10

// FormatPayload renders p in format f. It returns the text and the format
// used, which differs from f when f is FormatAuto or when p cannot be
// shown as asked (JSON that does not parse is shown as text, text that is
// not UTF-8 as hex).
func FormatPayload(p []byte, f Format) (string, Format) {
	if f == FormatAuto {
		f = detect(p)
	}
	cut := ""
	if len(p) > maxShown {
		cut = "\n… " + strconv.Itoa(len(p)-maxShown) + " more bytes not shown"
		p = p[:maxShown]
	}
	switch f {
	case FormatJSON:
		var b bytes.Buffer
		if err := json.Indent(&b, p, "", "  "); err == nil {
			return b.String() + cut, FormatJSON
		}
		if !utf8.Valid(p) {
			return HexDump(p) + cut, FormatHex
		}
		return string(p) + cut, FormatText
	case FormatText:
		if !utf8.Valid(p) {
			return HexDump(p) + cut, FormatHex
		}
		return string(p) + cut, FormatText
	case FormatBase64:
		return base64.StdEncoding.EncodeToString(p) + cut, FormatBase64
	default:
		return HexDump(p) + cut, FormatHex
	}
}

// detect picks the format FormatAuto shows p in.
func detect(p []byte) Format {
	t := bytes.TrimSpace(p)
	if len(t) > 1 && (t[0] == '{' || t[0] == '[') && json.Valid(t) {
		return FormatJSON
	}
	if printable(p, false) {
		return FormatText
	}
	return FormatHex
}

// printable reports whether p is UTF-8 text without control characters
// other than tab, newline and carriage return. When cut is set p is the
// start of a longer payload, and a rune cut in two at its end is allowed.
func printable(p []byte, cut bool) bool {
	for len(p) > 0 {
		r, size := utf8.DecodeRune(p)
		if r == utf8.RuneError && size <= 1 {
			return cut && !utf8.FullRune(p)
		}
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f {
			return false
		}
		p = p[size:]
	}
	return true
}

// HexDump renders p as lines of 16 bytes: offset, hex bytes and the
// printable ASCII characters.
func HexDump(p []byte) string {
	const digits = "0123456789abcdef"
	var b strings.Builder
	b.Grow((len(p)/16 + 1) * 78)
	for off := 0; off < len(p); off += 16 {
		line := p[off:min(off+16, len(p))]
		for shift := 28; shift >= 0; shift -= 4 {
			b.WriteByte(digits[off>>shift&15])
		}
		b.WriteString("  ")
		for i := range 16 {
			if i == 8 {
				b.WriteByte(' ')
			}
			if i < len(line) {
				b.WriteByte(digits[line[i]>>4])
				b.WriteByte(digits[line[i]&15])
				b.WriteByte(' ')
			} else {
				b.WriteString("   ")
			}
		}
		b.WriteString(" |")
		for _, c := range line {
			if c < 0x20 || c > 0x7e {
				c = '.'
			}
			b.WriteByte(c)
		}
		b.WriteString("|\n")
	}
	return b.String()
}

// Preview returns a one-line preview of p of at most max runes: text with
// runs of white space folded to one space, or the first bytes in hex for a
// binary payload.
func Preview(p []byte, max int) string {
	if len(p) == 0 {
		return ""
	}
	if head := p[:min(len(p), 4*max)]; !printable(head, len(head) < len(p)) {
		return PreviewAs(p, FormatHex, max)
	}
	return textPreview(p, max, false)
}

// textPreview folds runs of white space of the text p to one space, drops
// other control characters, and cuts it to max runes with "…"; more says
// that p is the start of a longer payload.
func textPreview(p []byte, max int, more bool) string {
	var b strings.Builder
	runes, space := 0, false
	i := 0
	for i < len(p) && runes < max {
		r, size := utf8.DecodeRune(p[i:])
		i += size
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			space = true
			continue
		}
		if r < 0x20 || r == 0x7f {
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
			runes++
		}
		space = false
		b.WriteRune(r)
		runes++
	}
	if i < len(p) || more {
		b.WriteString("…")
	}
	return b.String()
}

// PreviewAs returns a one-line preview of p of at most about max runes in
// format f, for a row of the log or of the topic tree: FormatAuto and
// FormatJSON as Preview (text, or hex when p is binary), FormatText as
// text even if binary (bytes that are not UTF-8 shown as U+FFFD), and
// FormatHex and FormatBase64 as such. It reads only the start of a large
// payload.
func PreviewAs(p []byte, f Format, max int) string {
	switch f {
	case FormatHex:
		n := min(len(p), max/3)
		s := hexBytes(p[:n])
		if n < len(p) {
			s += " …"
		}
		return s
	case FormatBase64:
		n := min(len(p), max/4*3)
		s := base64.StdEncoding.EncodeToString(p[:n])
		if n < len(p) {
			s += "…"
		}
		return s
	case FormatText:
		head := p[:min(len(p), 4*max)]
		return textPreview([]byte(strings.ToValidUTF8(string(head), "\uFFFD")), max, len(head) < len(p))
	}
	return Preview(p, max)
}

// hexBytes returns p as hex bytes separated by spaces.
func hexBytes(p []byte) string {
	const digits = "0123456789abcdef"
	var b strings.Builder
	b.Grow(3 * len(p))
	for i, c := range p {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteByte(digits[c>>4])
		b.WriteByte(digits[c&15])
	}
	return b.String()
}

// DetailLimit is how much of a payload the detail views render until the
// user asks for all of it (FormatPayloadLimit).
const DetailLimit = 16 << 10

// FormatPayloadLimit is FormatPayload of at most limit bytes of p (and
// never more than 256 KiB); cut reports that bytes were left out.
func FormatPayloadLimit(p []byte, f Format, limit int) (text string, used Format, cut bool) {
	if limit <= 0 || limit > maxShown {
		limit = maxShown
	}
	if len(p) <= limit {
		text, used = FormatPayload(p, f)
		return text, used, false
	}
	if f == FormatAuto {
		f = detect(p[:limit])
		if f == FormatJSON { // a cut JSON document does not parse
			f = FormatText
		}
	}
	text, used = FormatPayload(p[:limit], f)
	return text + "\n… " + strconv.Itoa(len(p)-limit) + " more bytes", used, true
}
