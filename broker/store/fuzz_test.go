package store

import (
	"bytes"
	"reflect"
	"testing"
)

// roundTrip checks decode → encode → decode: the second decode must
// succeed and equal the first.
func roundTrip[R any](t *testing.T, b []byte, decode func([]byte) (R, error), encode func(*R) []byte) {
	r1, err := decode(b)
	if err != nil {
		return
	}
	enc := encode(&r1)
	r2, err := decode(enc)
	if err != nil {
		t.Fatalf("re-decode of %x (from %x): %v", enc, b, err)
	}
	if !reflect.DeepEqual(r1, r2) {
		t.Fatalf("round trip changed the record:\n%+v\n%+v", r1, r2)
	}
	if enc2 := encode(&r2); !bytes.Equal(enc, enc2) {
		t.Fatalf("encoding is not stable: %x then %x", enc, enc2)
	}
}

func FuzzDecodeMessage(f *testing.F) {
	for _, s := range messageSamples {
		f.Add(s.rec.Append(nil))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		roundTrip(t, b, DecodeMessage, func(r *MessageRecord) []byte { return r.Append(nil) })
	})
}

func FuzzDecodeSession(f *testing.F) {
	for _, s := range sessionSamples {
		f.Add(s.rec.Append(nil))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		roundTrip(t, b, DecodeSession, func(r *SessionRecord) []byte { return r.Append(nil) })
	})
}

func FuzzDecodeQueue(f *testing.F) {
	for _, s := range queueSamples {
		f.Add(s.rec.Append(nil))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		roundTrip(t, b, DecodeQueue, func(r *QueueRecord) []byte { return r.Append(nil) })
	})
}

func FuzzParseKey(f *testing.F) {
	for _, k := range [][]byte{VersionKey(), MessageKey(7), RetainedKey("a/b"), SessionKey("c"), QueueKey("c", 9), InboundKey("c", 3)} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, k []byte) {
		p, err := ParseKey(k)
		if err != nil {
			return
		}
		if got := buildKey(p); !bytes.Equal(got, k) {
			t.Fatalf("ParseKey(%x) = %+v, rebuilt as %x", k, p, got)
		}
	})
}

func FuzzCheckVersion(f *testing.F) {
	f.Add(AppendVersion(nil))
	f.Add([]byte{3})
	f.Fuzz(func(t *testing.T, b []byte) { _ = CheckVersion(b) })
}
