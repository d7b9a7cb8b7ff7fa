package passwd

import (
	"strings"
	"testing"
)

// Known hashes of the password "test": $6$ as Mosquitto 1.6 writes, $7$
// with a 64-byte salt as Mosquitto 2.1 writes, $7$ with a 12-byte salt as
// Mosquitto 2.0.11's mosquitto_passwd -b wrote here.
const (
	vectorSHA512       = "$6$njERlZMi/7DzNB9E$iiavfuXvUm8iyDZArTy7smTxh07GXXOrOsqxfW6gkOYVXHGk+W+i/8d3xDxrMwEPygEBhoA8A/gjQC0N2M4Lkw=="
	vectorPBKDF2Salt64 = "$7$1000$97ozvObcN5zP4MGzYUw4uRp8+mPQbThrHOX69vdHHNVwV4iZf2K2X23FS7weilZMKeV+9oLHdilybmpXcFApYg==$WlM0jUhsiQNQJe4IDt5K1rmtAdaenWGdntswJmDkp74W9pdrt/+RdIK3YaJ09o3pD1xbtokXq933bQh+CrjA4Q=="
	vectorPBKDF2Salt12 = "$7$101$F8MLLGNsU7r59G4V$I7XY7/ayPmzAbfJqC4W+3PnwU7ZVuwL+DEGN38GKAAxPm3kaCehohsravcbVZd3bpOP+lawaUIz6ytGzYSarxQ=="
	// vectorArgon2id is "password" hashed by Debian's argon2 CLI (the
	// reference implementation): echo -n password | argon2 somesalt -id
	// -t 1 -m 10 -p 2 -l 32 -e. It is cheap (1 MiB) for tests that verify often.
	vectorArgon2id = "$argon2id$v=19$m=1024,t=1,p=2$c29tZXNhbHQ$RIMRxRPpcNAWhVpYNTPhJes8er3zBPSthtuH9vKcjoM"
)

func TestVectors(t *testing.T) {
	for _, tc := range []struct {
		name, hash string
		alg        Algorithm
		iterations int
		saltLen    int
	}{
		{"sha512", vectorSHA512, SHA512, 0, 12},
		{"pbkdf2 64-byte salt", vectorPBKDF2Salt64, SHA512PBKDF2, 1000, 64},
		{"pbkdf2 12-byte salt", vectorPBKDF2Salt12, SHA512PBKDF2, 101, 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := ParseHash(tc.hash)
			if err != nil {
				t.Fatal(err)
			}
			if h.Algorithm() != tc.alg || h.Iterations() != tc.iterations || len(h.salt) != tc.saltLen {
				t.Errorf("parsed %s %d iterations %d-byte salt, want %s %d %d", h.Algorithm(), h.Iterations(), len(h.salt), tc.alg, tc.iterations, tc.saltLen)
			}
			if !h.Verify([]byte("test")) {
				t.Error("password test does not verify")
			}
			for _, wrong := range []string{"", "Test", "test ", "tes"} {
				if h.Verify([]byte(wrong)) {
					t.Errorf("password %q verifies", wrong)
				}
			}
			if got := h.String(); got != tc.hash {
				t.Errorf("String() = %s, want the input back", got)
			}
		})
	}
}

func TestNewHash(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    HashOptions
		prefix  string
		saltLen int
		iter    int
	}{
		{"default", HashOptions{}, "$7$101$", 12, 101},
		{"pbkdf2 1000", HashOptions{Algorithm: SHA512PBKDF2, Iterations: 1000}, "$7$1000$", 12, 1000},
		{"argon2id", HashOptions{Algorithm: Argon2id}, "$argon2id$v=19$m=19456,t=2,p=1$", 16, 2},
		{"argon2id t=3", HashOptions{Algorithm: Argon2id, Iterations: 3}, "$argon2id$v=19$m=19456,t=3,p=1$", 16, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, err := NewHash([]byte("s3cret:ü"), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			s := h.String()
			if !strings.HasPrefix(s, tc.prefix) || len(h.salt) != tc.saltLen || h.Iterations() != tc.iter {
				t.Fatalf("%s: want prefix %s, %d-byte salt, %d iterations", s, tc.prefix, tc.saltLen, tc.iter)
			}
			p, err := ParseHash(s)
			if err != nil {
				t.Fatal(err)
			}
			if !p.Verify([]byte("s3cret:ü")) || p.Verify([]byte("s3cret")) {
				t.Error("parsed hash does not verify as it should")
			}
			if p.String() != s {
				t.Errorf("round trip: %s != %s", p.String(), s)
			}
			if h2, _ := NewHash([]byte("s3cret:ü"), tc.opts); h2.String() == s {
				t.Error("two hashes of one password are equal: the salt is not random")
			}
		})
	}
	for _, bad := range []HashOptions{{Algorithm: SHA512}, {Algorithm: "md5"}, {Iterations: -1}, {Iterations: maxIterations + 1}} {
		if _, err := NewHash([]byte("x"), bad); err == nil {
			t.Errorf("NewHash(%+v) succeeded", bad)
		}
	}
}

func TestParseHashErrors(t *testing.T) {
	const salt12, sum64 = "F8MLLGNsU7r59G4V", "I7XY7/ayPmzAbfJqC4W+3PnwU7ZVuwL+DEGN38GKAAxPm3kaCehohsravcbVZd3bpOP+lawaUIz6ytGzYSarxQ=="
	for _, tc := range []struct{ in, want string }{
		{"", "unknown hash"},
		{"test", "unknown hash"},
		{"$1$abc$def", "unknown hash"},
		{"$6$" + salt12, "want $6$salt$hash"},
		{"$6$$" + sum64, "0-byte salt"},
		{"$6$" + salt12 + "$AAAA", "3-byte hash"},
		{"$6$%%%$" + sum64, "salt"},
		{"$7$101$" + salt12, "want $7$iterations$salt$hash"},
		{"$7$0$" + salt12 + "$" + sum64, "iterations"},
		{"$7$-5$" + salt12 + "$" + sum64, "iterations"},
		{"$7$+5$" + salt12 + "$" + sum64, "iterations"},
		{"$7$99999999999$" + salt12 + "$" + sum64, "iterations"},
		{"$7$x$" + salt12 + "$" + sum64, "iterations"},
		{"$7$101$" + salt12 + "$" + sum64 + "$", "want $7$"},
		{"$7$101$" + salt12 + "$" + sum64[:80], "hash"},
		{"$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", "only argon2id"},
		{"$argon2id$v=16$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", "version"},
		{"$argon2id$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", "want $argon2id$v=19"},
		{"$argon2id$v=19$m=4,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", "below 8"},
		{"$argon2id$v=19$m=8,t=0,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", "t=1.."},
		{"$argon2id$v=19$m=8,t=1,p=0$c2FsdHNhbHQ$aGFzaGhhc2g", "p=1.."},
		{"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", "m=1.."},
		{"$argon2id$v=19$t=1,m=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2g", "m=1.."},
		{"$argon2id$v=19$m=8,t=1$c2FsdHNhbHQ$aGFzaGhhc2g", "m=M,t=T,p=P"},
		{"$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGE", "2-byte hash"},
	} {
		_, err := ParseHash(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseHash(%q) = %v, want an error containing %q", tc.in, err, tc.want)
		}
	}
}

// TestArgon2idPHC checks a PHC string printed by the reference
// implementation (Debian's argon2 CLI: echo -n password | argon2 somesalt
// -id -t 2 -m 16 -p 1 -l 32 -e).
func TestArgon2idPHC(t *testing.T) {
	t.Parallel()
	const phc = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	h, err := ParseHash(phc)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Verify([]byte("password")) || h.Verify([]byte("Password")) {
		t.Error("reference argon2id vector does not verify as it should")
	}
	if h.String() != phc {
		t.Errorf("String() = %s", h.String())
	}
	if _, err := ParseHash(strings.Replace(phc, "c29tZXNhbHQ", "c29tZXNhbHQ=", 1)); err != nil {
		t.Errorf("padded salt refused: %v", err)
	}
}

func FuzzParseHash(f *testing.F) {
	for _, s := range []string{vectorSHA512, vectorPBKDF2Salt64, vectorPBKDF2Salt12,
		vectorArgon2id, "$7$1$AA==$", "$6$$", "$argon2id$v=19$m=8,t=1,p=1$$", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHash(s)
		if err != nil {
			return
		}
		// Whatever parses re-encodes to a string that parses to the same hash.
		again, err := ParseHash(h.String())
		if err != nil {
			t.Fatalf("%q parsed, its encoding %q does not: %v", s, h.String(), err)
		}
		if again.String() != h.String() {
			t.Fatalf("re-encoding changed: %q -> %q", h.String(), again.String())
		}
	})
}
