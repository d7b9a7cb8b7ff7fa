package store

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// recordFormat is the leading byte of every record value this package
// writes. A decoder refuses any other, so that a later format can change
// the layout of a record kind and still read the old one.
const recordFormat = 1

// ErrCorrupt is wrapped by every error a decoder or ParseKey returns for
// bytes it cannot read: truncated, trailing garbage, out-of-range fields or
// an unknown record format.
var ErrCorrupt = errors.New("store: corrupt record")

func corrupt(what string, args ...any) error {
	return fmt.Errorf("%w: "+what, append([]any{ErrCorrupt}, args...)...)
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// reader takes a record apart. The first failure sticks: later reads
// return zero values, and err says what went wrong first. It never
// allocates more than the bytes it has left.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(field string) {
	if r.err == nil {
		r.err = corrupt("%s: truncated or out of range", field)
	}
	r.b = nil
}

func (r *reader) byte(field string) byte {
	if len(r.b) < 1 {
		r.fail(field)
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint(field string) uint64 {
	x, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(field)
		return 0
	}
	r.b = r.b[n:]
	return x
}

// uint reads a uvarint no larger than max.
func (r *reader) uint(field string, max uint64) uint64 {
	x := r.uvarint(field)
	if x > max {
		r.fail(field)
		return 0
	}
	return x
}

func (r *reader) varint(field string) int64 {
	x, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(field)
		return 0
	}
	r.b = r.b[n:]
	return x
}

// raw returns the next length-prefixed bytes, pointing into the input.
func (r *reader) raw(field string) []byte {
	n := r.uvarint(field)
	if r.err != nil || n > uint64(len(r.b)) {
		r.fail(field)
		return nil
	}
	b := r.b[:n:n]
	r.b = r.b[n:]
	return b
}

func (r *reader) string(field string) string { return string(r.raw(field)) }

// bytes returns a copy of the next length-prefixed bytes; an empty field
// decodes to nil.
func (r *reader) bytes(field string) []byte {
	b := r.raw(field)
	if len(b) == 0 {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}

// count reads a number of items that take at least min bytes each, and
// checks that the input has room for them before anyone allocates.
func (r *reader) count(field string, min int) int {
	n := r.uvarint(field)
	if r.err != nil || n > uint64(len(r.b)/min) {
		r.fail(field)
		return 0
	}
	return int(n)
}

// header checks the record-format byte.
func (r *reader) header(kind string) {
	if f := r.byte("record format"); r.err == nil && f != recordFormat {
		r.err = corrupt("%s record format %d, want %d", kind, f, recordFormat)
		r.b = nil
	}
}

// done returns the first error, or one for bytes left over.
func (r *reader) done(kind string) error {
	if r.err == nil && len(r.b) > 0 {
		return corrupt("%d trailing bytes after %s record", len(r.b), kind)
	}
	return r.err
}
