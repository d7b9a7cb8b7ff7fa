package livetree

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Number reads a number from a payload. With an empty path the payload
// itself must be a number ("21.5", " 7 "), or true or false (1 and 0).
// Otherwise the payload must be JSON and path chooses a value in it: keys
// and array indexes separated by dots ("sensors.0.temp"; "sensors[0].temp"
// works too). The chosen value may be a number, a boolean or a string
// holding a number.
func Number(payload []byte, path string) (float64, bool) {
	if path == "" {
		return scalar(bytes.TrimSpace(payload))
	}
	var v any
	if err := json.Unmarshal(payload, &v); err != nil {
		return 0, false
	}
	for _, key := range splitPath(path) {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[key]; !ok {
				return 0, false
			}
		case []any:
			i, err := strconv.Atoi(key)
			if err != nil || i < 0 || i >= len(x) {
				return 0, false
			}
			v = x[i]
		default:
			return 0, false
		}
	}
	return jsonNumber(v)
}

// scalar parses a payload that is a bare number or boolean.
func scalar(b []byte) (float64, bool) {
	switch string(b) {
	case "true":
		return 1, true
	case "false":
		return 0, true
	}
	if len(b) == 0 || len(b) > 64 {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

func jsonNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case string:
		return scalar([]byte(strings.TrimSpace(x)))
	}
	return 0, false
}

// splitPath splits "a.b[0].c" into a, b, 0, c.
func splitPath(path string) []string {
	path = strings.NewReplacer("[", ".", "]", "").Replace(path)
	parts := strings.Split(path, ".")
	return slices.DeleteFunc(parts, func(s string) bool { return s == "" })
}

// NumericPaths lists the paths to numbers in a payload, in the order they
// appear, for choosing what to chart: "" when the payload is a number
// itself, otherwise the paths to the numbers, booleans and numeric strings
// inside JSON. At most max paths are returned, and only the first 8
// elements of each array are looked at.
func NumericPaths(payload []byte, max int) []string {
	if _, ok := scalar(bytes.TrimSpace(payload)); ok {
		return []string{""}
	}
	if !IsJSON(payload) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	w := pathWalker{dec: dec, max: max}
	if w.value("", false) != nil {
		return nil
	}
	return w.out
}

// pathWalker reads JSON tokens and records the paths of numeric leaves.
type pathWalker struct {
	dec *json.Decoder
	out []string
	max int
}

// value reads one JSON value at path; skip reads it without recording.
func (w *pathWalker) value(path string, skip bool) error {
	tok, err := w.dec.Token()
	if err != nil {
		return err
	}
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	skip = skip || len(w.out) >= w.max
	switch x := tok.(type) {
	case json.Delim:
		switch x {
		case '{':
			for w.dec.More() {
				k, err := w.dec.Token()
				if err != nil {
					return err
				}
				key, _ := k.(string)
				if err := w.value(join(key), skip); err != nil {
					return err
				}
			}
		case '[':
			for i := 0; w.dec.More(); i++ {
				if err := w.value(join(strconv.Itoa(i)), skip || i >= 8); err != nil {
					return err
				}
			}
		}
		_, err = w.dec.Token() // the closing delimiter
		return err
	case json.Number, bool:
		if !skip && path != "" {
			w.out = append(w.out, path)
		}
	case string:
		if _, ok := scalar([]byte(strings.TrimSpace(x))); ok && !skip && path != "" {
			w.out = append(w.out, path)
		}
	}
	return nil
}

// IsJSON reports whether the payload is a JSON object or array.
func IsJSON(payload []byte) bool {
	b := bytes.TrimSpace(payload)
	return len(b) > 0 && (b[0] == '{' || b[0] == '[') && json.Valid(b)
}

// Pretty returns the payload as text to show: JSON objects and arrays
// indented, anything else as text with invalid UTF-8 replaced.
func Pretty(payload []byte) string {
	if IsJSON(payload) {
		var buf bytes.Buffer
		if json.Indent(&buf, bytes.TrimSpace(payload), "", "  ") == nil {
			return buf.String()
		}
	}
	return strings.ToValidUTF8(string(payload), "\uFFFD")
}

// DiffOp is the kind of a diff line.
type DiffOp byte

// The diff operations.
const (
	Same DiffOp = '='
	Del  DiffOp = '-'
	Add  DiffOp = '+'
)

// DiffLine is one line of a diff.
type DiffLine struct {
	Op   DiffOp
	Text string
}

// maxDiffCells bounds the work of a diff: beyond it the middle part that
// differs is shown as removed and added whole.
const maxDiffCells = 250_000

// Diff compares two payloads line by line, after indenting JSON, and
// returns the lines of old and new in order, each kept, removed or added.
func Diff(old, new []byte) []DiffLine {
	a := strings.Split(Pretty(old), "\n")
	b := strings.Split(Pretty(new), "\n")
	var out []DiffLine
	// Common prefix and suffix.
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		p++
	}
	s := 0
	for s < len(a)-p && s < len(b)-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	for _, l := range a[:p] {
		out = append(out, DiffLine{Same, l})
	}
	out = append(out, diffMiddle(a[p:len(a)-s], b[p:len(b)-s])...)
	for _, l := range a[len(a)-s:] {
		out = append(out, DiffLine{Same, l})
	}
	return out
}

// diffMiddle diffs with a longest common subsequence table.
func diffMiddle(a, b []string) []DiffLine {
	var out []DiffLine
	if len(a)*len(b) > maxDiffCells || len(a) == 0 || len(b) == 0 {
		for _, l := range a {
			out = append(out, DiffLine{Del, l})
		}
		for _, l := range b {
			out = append(out, DiffLine{Add, l})
		}
		return out
	}
	// lcs[i][j] is the LCS length of a[i:] and b[j:].
	w := len(b) + 1
	lcs := make([]int32, (len(a)+1)*w)
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i*w+j] = lcs[(i+1)*w+j+1] + 1
			} else {
				lcs[i*w+j] = max(lcs[(i+1)*w+j], lcs[i*w+j+1])
			}
		}
	}
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] == b[j]:
			out = append(out, DiffLine{Same, a[i]})
			i++
			j++
		case lcs[(i+1)*w+j] >= lcs[i*w+j+1]:
			out = append(out, DiffLine{Del, a[i]})
			i++
		default:
			out = append(out, DiffLine{Add, b[j]})
			j++
		}
	}
	for ; i < len(a); i++ {
		out = append(out, DiffLine{Del, a[i]})
	}
	for ; j < len(b); j++ {
		out = append(out, DiffLine{Add, b[j]})
	}
	return out
}
