package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// ParseKey takes apart a key built by VersionKey, MessageKey, RetainedKey,
// SessionKey, QueueKey or InboundKey. The strings it returns are copies.
// Errors wrap ErrCorrupt.
func ParseKey(k []byte) (ParsedKey, error) {
	if len(k) == 0 {
		return ParsedKey{}, corrupt("empty key")
	}
	p := ParsedKey{Kind: k[0]}
	rest := k[1:]
	switch p.Kind {
	case KindVersion:
		if len(rest) != 0 {
			return ParsedKey{}, corrupt("version key %q has a suffix", k)
		}
	case KindMessage:
		if len(rest) != 8 {
			return ParsedKey{}, corrupt("message key %q is not 9 bytes", k)
		}
		p.ID = binary.BigEndian.Uint64(rest)
	case KindRetained:
		p.Topic = string(rest)
	case KindSession:
		return parseSessionKey(p, k)
	default:
		return ParsedKey{}, corrupt("key %q has unknown kind %q", k, p.Kind)
	}
	return p, nil
}

func parseSessionKey(p ParsedKey, k []byte) (ParsedKey, error) {
	i := bytes.IndexByte(k[1:], 0)
	if i < 0 {
		return ParsedKey{}, corrupt("session key %q lacks a sub-kind", k)
	}
	q, err := ParseSessionTail(k, i)
	if err != nil {
		return ParsedKey{}, err
	}
	q.Kind, q.Client = p.Kind, string(k[1:1+i])
	return q, nil
}

// ParseSessionTail parses what follows the client id (of n bytes) in a
// session key: the sub-kind and its sequence number or packet id. The
// Client of the result is empty, so that a caller that has the id already
// does not copy it for every key.
func ParseSessionTail(k []byte, n int) (ParsedKey, error) {
	p := ParsedKey{Kind: KindSession}
	rest := k[1:]
	i := n
	if len(rest) < i+2 || rest[i] != 0 {
		return ParsedKey{}, corrupt("session key %q lacks a sub-kind", k)
	}
	p.Sub = rest[i+1]
	tail := rest[i+2:]
	switch {
	case p.Sub == SubSession && len(tail) == 0:
	case p.Sub == SubQueue && len(tail) == 8:
		p.ID = binary.BigEndian.Uint64(tail)
	case p.Sub == SubInbound && len(tail) == 2:
		p.PID = binary.BigEndian.Uint16(tail)
	default:
		return ParsedKey{}, corrupt("session key %q has sub-kind %q and %d trailing bytes", k, p.Sub, len(tail))
	}
	return p, nil
}

// AppendVersion appends the value stored under VersionKey: FormatVersion
// as a uvarint.
func AppendVersion(dst []byte) []byte { return binary.AppendUvarint(dst, FormatVersion) }

// VersionError is returned by CheckVersion for a store written by a newer
// tern.
type VersionError struct {
	Found     uint64 // version recorded in the store
	Supported uint64 // FormatVersion
}

// Error says which versions clash and what the operator can do.
func (e *VersionError) Error() string {
	return fmt.Sprintf("store format version %d is newer than this tern supports (%d); upgrade tern or use another --data directory",
		e.Found, e.Supported)
}

// CheckVersion checks the value stored under VersionKey. It returns a
// *VersionError if the store was written in a format newer than
// FormatVersion, an error wrapping ErrCorrupt if value is not a version,
// and nil otherwise.
func CheckVersion(value []byte) error {
	v, n := binary.Uvarint(value)
	if n <= 0 || n != len(value) || v == 0 {
		return corrupt("format version value %x", value)
	}
	if v > FormatVersion {
		return &VersionError{Found: v, Supported: FormatVersion}
	}
	return nil
}
