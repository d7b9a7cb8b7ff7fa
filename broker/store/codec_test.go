package store

import (
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name.hex, or writes it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".hex")
	if *update {
		if err := os.WriteFile(path, []byte(hex.EncodeToString(got)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	want, err := hex.DecodeString(strings.TrimSpace(string(text)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if string(got) != string(want) {
		t.Errorf("%s: encoding changed\n got %x\nwant %x", name, got, want)
	}
}

func TestMessageCodec(t *testing.T) {
	for _, tc := range messageSamples {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.rec.Append(nil)
			golden(t, tc.name, b)
			got, err := DecodeMessage(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.rec) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, tc.rec)
			}
			checkTruncations(t, b, func(b []byte) error { _, err := DecodeMessage(b); return err })
		})
	}
}

func TestSessionCodec(t *testing.T) {
	for _, tc := range sessionSamples {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.rec.Append(nil)
			golden(t, tc.name, b)
			got, err := DecodeSession(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.rec) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, tc.rec)
			}
			checkTruncations(t, b, func(b []byte) error { _, err := DecodeSession(b); return err })
		})
	}
}

func TestQueueCodec(t *testing.T) {
	for _, tc := range queueSamples {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.rec.Append(nil)
			golden(t, tc.name, b)
			got, err := DecodeQueue(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.rec) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, tc.rec)
			}
			checkTruncations(t, b, func(b []byte) error { _, err := DecodeQueue(b); return err })
		})
	}
}

// checkTruncations checks that every strict prefix of a valid encoding,
// and the encoding with a trailing byte, fail with ErrCorrupt.
func checkTruncations(t *testing.T, b []byte, decode func([]byte) error) {
	t.Helper()
	for n := range len(b) {
		if err := decode(b[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("decode of %d of %d bytes: err = %v, want ErrCorrupt", n, len(b), err)
		}
	}
	if err := decode(append(b[:len(b):len(b)], 0)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("decode with a trailing byte: err = %v, want ErrCorrupt", err)
	}
}

func TestDecodeRejects(t *testing.T) {
	for _, tc := range []struct {
		name   string
		decode func([]byte) error
		hex    string
	}{
		{"message format 2", decodeMessageErr, "02 00 00 00 00 00"},
		{"message qos 3", decodeMessageErr, "01 03 00 00 00 00"},
		{"message unknown flag", decodeMessageErr, "01 10 00 00 00 00"},
		{"message huge topic", decodeMessageErr, "01 00 ffffffffffffffffff01"},
		{"message topic past end", decodeMessageErr, "01 00 05 61"},
		{"message unknown prop", decodeMessageErr, "01 08 00 00 00 00 10 00"},
		{"message many user props", decodeMessageErr, "01 08 00 00 00 00 00 ffffffff0f"},
		{"session many subs", decodeSessionErr, "01 05 00 00 00 00 00 ffffffff0f"},
		{"session expiry > 32 bits", decodeSessionErr, "01 05 00 8080808010 00 00 00 00"},
		{"session sub qos 3", decodeSessionErr, "01 05 00 00 00 00 00 01 00 03 00"},
		{"session retain handling 3", decodeSessionErr, "01 05 00 00 00 00 00 01 00 30 00"},
		{"session sub id too large", decodeSessionErr, "01 05 00 00 00 00 00 01 00 00 8080808001"},
		{"session will missing", decodeSessionErr, "01 05 01 00 00 00 00 00"},
		{"queue many sub ids", decodeQueueErr, "01 00 00 ffffffff0f"},
		{"queue released flag only bits", decodeQueueErr, "01 f0 00 00 00"},
		{"empty", decodeQueueErr, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := hex.DecodeString(strings.ReplaceAll(tc.hex, " ", ""))
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.decode(b); !errors.Is(err, ErrCorrupt) {
				t.Errorf("err = %v, want ErrCorrupt", err)
			}
		})
	}
}

func decodeMessageErr(b []byte) error { _, err := DecodeMessage(b); return err }
func decodeSessionErr(b []byte) error { _, err := DecodeSession(b); return err }
func decodeQueueErr(b []byte) error   { _, err := DecodeQueue(b); return err }

// TestDecodeCopies checks that a decoded record does not alias its input.
func TestDecodeCopies(t *testing.T) {
	b := messageSamples[2].rec.Append(nil)
	m, err := DecodeMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	clear(b)
	if !reflect.DeepEqual(m, messageSamples[2].rec) {
		t.Errorf("decoded record changed with its input: %+v", m)
	}
}
