package store

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestParseKey(t *testing.T) {
	for _, tc := range []struct {
		key  []byte
		want ParsedKey
	}{
		{VersionKey(), ParsedKey{Kind: KindVersion}},
		{MessageKey(0x0102030405060708), ParsedKey{Kind: KindMessage, ID: 0x0102030405060708}},
		{RetainedKey("a/b"), ParsedKey{Kind: KindRetained, Topic: "a/b"}},
		{RetainedKey(""), ParsedKey{Kind: KindRetained}},
		{SessionKey("c1"), ParsedKey{Kind: KindSession, Sub: SubSession, Client: "c1"}},
		{SessionKey(""), ParsedKey{Kind: KindSession, Sub: SubSession}},
		{QueueKey("c1", 1<<40), ParsedKey{Kind: KindSession, Sub: SubQueue, Client: "c1", ID: 1 << 40}},
		{InboundKey("c1", 65535), ParsedKey{Kind: KindSession, Sub: SubInbound, Client: "c1", PID: 65535}},
	} {
		got, err := ParseKey(tc.key)
		if err != nil {
			t.Errorf("ParseKey(%q): %v", tc.key, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseKey(%q) = %+v, want %+v", tc.key, got, tc.want)
		}
		if k := buildKey(got); !bytes.Equal(k, tc.key) {
			t.Errorf("rebuilt %q, want %q", k, tc.key)
		}
	}
}

func TestParseKeyRejects(t *testing.T) {
	for _, k := range []string{
		"", "X", "Vx", "M", "M1234567", "M123456789",
		"Sc", "Sc\x00", "Sc\x00X", "Sc\x00Sx", "Sc\x00Q1234567", "Sc\x00N1", "Sc\x00N123",
	} {
		if _, err := ParseKey([]byte(k)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("ParseKey(%q): err = %v, want ErrCorrupt", k, err)
		}
	}
}

// buildKey is the inverse of ParseKey.
func buildKey(p ParsedKey) []byte {
	switch {
	case p.Kind == KindVersion:
		return VersionKey()
	case p.Kind == KindMessage:
		return MessageKey(p.ID)
	case p.Kind == KindRetained:
		return RetainedKey(p.Topic)
	case p.Sub == SubSession:
		return SessionKey(p.Client)
	case p.Sub == SubQueue:
		return QueueKey(p.Client, p.ID)
	default:
		return InboundKey(p.Client, p.PID)
	}
}

func TestSessionPrefixBounds(t *testing.T) {
	start, end := SessionRange("a")
	for _, k := range [][]byte{SessionKey("a"), QueueKey("a", 0), QueueKey("a", 1<<64-1), InboundKey("a", 1<<16-1)} {
		if !bytes.HasPrefix(k, SessionPrefix("a")) || bytes.Compare(k, start) < 0 || bytes.Compare(k, end) >= 0 {
			t.Errorf("key %q of client a is outside its prefix or range", k)
		}
	}
	for _, k := range [][]byte{SessionKey("ab"), QueueKey("ab", 0), SessionKey(""), SessionKey("a\x01")} {
		if bytes.HasPrefix(k, SessionPrefix("a")) || (bytes.Compare(k, start) >= 0 && bytes.Compare(k, end) < 0) {
			t.Errorf("key %q of another client is inside client a's prefix or range", k)
		}
	}
}

func TestVersion(t *testing.T) {
	v := AppendVersion(nil)
	if err := CheckVersion(v); err != nil {
		t.Fatalf("CheckVersion(AppendVersion()) = %v", err)
	}
	err := CheckVersion([]byte{3})
	var ve *VersionError
	if !errors.As(err, &ve) || ve.Found != 3 || ve.Supported != FormatVersion {
		t.Fatalf("CheckVersion(3) = %v, want *VersionError{3, %d}", err, FormatVersion)
	}
	const msg = "store format version 3 is newer than this tern supports (1); upgrade tern or use another --data directory"
	if err.Error() != msg {
		t.Errorf("message %q, want %q", err, msg)
	}
	for _, bad := range [][]byte{nil, {0}, {0x80}, {1, 0}} {
		if err := CheckVersion(bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("CheckVersion(%x) = %v, want ErrCorrupt", bad, err)
		}
	}
}
