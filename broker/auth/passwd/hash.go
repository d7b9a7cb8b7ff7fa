package passwd

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ternmq/tern/internal/scram"
	"golang.org/x/crypto/argon2"
)

// Algorithm names a password hash, with the names mosquitto_passwd -H
// takes.
type Algorithm string

// The algorithms a password file may use.
const (
	// SHA512 is "$6$salt$hash": one round of SHA-512 over password‖salt,
	// as Mosquitto 1.6 and earlier wrote. Read only: it is far too fast
	// to resist guessing, so NewHash refuses it.
	SHA512 Algorithm = "sha512"
	// SHA512PBKDF2 is "$7$iterations$salt$hash": PBKDF2-HMAC-SHA512 with
	// a 64-byte key, as Mosquitto 2.0 and later write. Tern writes it by
	// default, with a 12-byte salt, so Mosquitto 2.0 and 2.1 read Tern's
	// files.
	SHA512PBKDF2 Algorithm = "sha512-pbkdf2"
	// Argon2id is a PHC string "$argon2id$v=19$m=..,t=..,p=..$salt$hash",
	// as Mosquitto 2.1 writes by default. Mosquitto 2.0 cannot read it.
	Argon2id Algorithm = "argon2id"
	// SCRAMSHA256 is "$scram-sha-256$iterations$salt$StoredKey$ServerKey":
	// the credentials of SCRAM-SHA-256 (RFC 5802, RFC 7677), with which a
	// client proves it knows the password over MQTT 5.0 enhanced
	// authentication without sending it. Such an entry also verifies a
	// plain CONNECT password (PBKDF2-HMAC-SHA256 with the salt and
	// iterations, then compare StoredKey). Tern's own; Mosquitto does not
	// read it.
	SCRAMSHA256 Algorithm = "scram-sha-256"
)

// Defaults for NewHash.
const (
	// DefaultIterations is the PBKDF2 iteration count of Mosquitto 2.0's
	// mosquitto_passwd, which Tern keeps so that its files cost a
	// Mosquitto broker what Mosquitto's own cost it.
	DefaultIterations = 101
	// DefaultArgon2Time, DefaultArgon2Memory (KiB) and
	// DefaultArgon2Threads are the Argon2id parameters NewHash uses: the
	// OWASP minimum (t=2, 19 MiB, p=1).
	// DefaultSCRAMIterations is the PBKDF2-HMAC-SHA256 iteration count
	// of new SCRAM-SHA-256 credentials: the minimum RFC 7677 asks for,
	// and the least the Tern client accepts.
	DefaultSCRAMIterations = scram.MinIterations

	DefaultArgon2Time    = 2
	DefaultArgon2Memory  = 19 * 1024
	DefaultArgon2Threads = 1
)

// Limits on what ParseHash accepts, so that one line of a password file
// cannot make every login take minutes or gigabytes.
const (
	maxIterations   = 10_000_000
	maxSalt         = 1024
	maxArgon2Memory = 1 << 20 // KiB: 1 GiB
	maxArgon2Time   = 1 << 10
	maxArgon2Key    = 1024
	sha512Size      = sha512.Size // $6$ and $7$ keys are 64 bytes
	pbkdf2SaltLen   = 12          // what Mosquitto 2.0 writes and reads
	argon2SaltLen   = 16
	scramSaltLen    = 16
	argon2KeyLen    = 32
)

// Hash is one parsed password hash: what follows "user:" on a line of a
// password file. The zero Hash verifies nothing. A Hash is immutable and
// safe for concurrent use.
type Hash struct {
	alg        Algorithm
	iterations int // PBKDF2 iterations, or Argon2 time
	memory     uint32
	threads    uint8
	salt, sum  []byte
	serverKey  []byte // SCRAMSHA256 only; sum is then the StoredKey
}

// Algorithm reports which hash h is.
func (h *Hash) Algorithm() Algorithm { return h.alg }

// Iterations reports the PBKDF2 iteration count of a $7$ hash or the
// Argon2 time parameter of an Argon2id hash (0 for $6$).
func (h *Hash) Iterations() int { return h.iterations }

// Verify reports whether password is the one h was made from, comparing
// in constant time. It costs what the hash's parameters say.
func (h *Hash) Verify(password []byte) bool {
	if len(h.sum) == 0 {
		return false
	}
	var got []byte
	switch h.alg {
	case SHA512:
		d := sha512.New()
		d.Write(password)
		d.Write(h.salt)
		got = d.Sum(nil)
	case SHA512PBKDF2:
		k, err := pbkdf2.Key(sha512.New, string(password), h.salt, h.iterations, len(h.sum))
		if err != nil {
			return false
		}
		got = k
	case Argon2id:
		got = argon2.IDKey(password, h.salt, uint32(h.iterations), h.memory, h.threads, uint32(len(h.sum)))
	case SCRAMSHA256:
		return h.scram().Verify(password)
	default:
		return false
	}
	return subtle.ConstantTimeCompare(got, h.sum) == 1
}

// String encodes h as it is written in a password file: standard base64
// with padding for $6$ and $7$ (as Mosquitto writes), unpadded for the
// PHC string of Argon2id (as libargon2 writes).
func (h *Hash) String() string {
	b64 := base64.StdEncoding.EncodeToString
	switch h.alg {
	case SHA512:
		return "$6$" + b64(h.salt) + "$" + b64(h.sum)
	case SHA512PBKDF2:
		return "$7$" + strconv.Itoa(h.iterations) + "$" + b64(h.salt) + "$" + b64(h.sum)
	case SCRAMSHA256:
		return "$scram-sha-256$" + strconv.Itoa(h.iterations) + "$" + b64(h.salt) + "$" + b64(h.sum) + "$" + b64(h.serverKey)
	case Argon2id:
		raw := base64.RawStdEncoding.EncodeToString
		return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
			argon2.Version, h.memory, h.iterations, h.threads, raw(h.salt), raw(h.sum))
	}
	return ""
}

// HashOptions says how NewHash hashes a password.
type HashOptions struct {
	// Algorithm is SHA512PBKDF2 (the default when empty), Argon2id or
	// SCRAMSHA256.
	Algorithm Algorithm
	// Iterations is the PBKDF2 iteration count (default
	// DefaultIterations, DefaultSCRAMIterations for SCRAMSHA256) or the
	// Argon2 time parameter (default DefaultArgon2Time).
	Iterations int
}

// NewHash hashes password with a fresh random salt: 12 bytes for
// SHA512PBKDF2, 16 for Argon2id and SCRAMSHA256.
func NewHash(password []byte, o HashOptions) (*Hash, error) {
	h := &Hash{alg: o.Algorithm, iterations: o.Iterations}
	if h.alg == "" {
		h.alg = SHA512PBKDF2
	}
	if h.iterations < 0 || h.iterations > maxIterations {
		return nil, fmt.Errorf("iterations %d out of range 1..%d", h.iterations, maxIterations)
	}
	switch h.alg {
	case SHA512PBKDF2:
		if h.iterations == 0 {
			h.iterations = DefaultIterations
		}
		h.salt = make([]byte, pbkdf2SaltLen)
		rand.Read(h.salt)
		k, err := pbkdf2.Key(sha512.New, string(password), h.salt, h.iterations, sha512Size)
		if err != nil {
			return nil, err
		}
		h.sum = k
	case Argon2id:
		if h.iterations == 0 {
			h.iterations = DefaultArgon2Time
		}
		if h.iterations > maxArgon2Time {
			return nil, fmt.Errorf("argon2id time %d out of range 1..%d", h.iterations, maxArgon2Time)
		}
		h.memory, h.threads = DefaultArgon2Memory, DefaultArgon2Threads
		h.salt = make([]byte, argon2SaltLen)
		rand.Read(h.salt)
		h.sum = argon2.IDKey(password, h.salt, uint32(h.iterations), h.memory, h.threads, argon2KeyLen)
	case SCRAMSHA256:
		if h.iterations == 0 {
			h.iterations = DefaultSCRAMIterations
		}
		if h.iterations < scram.MinIterations {
			return nil, fmt.Errorf("scram-sha-256 iterations %d below %d, which clients refuse (RFC 7677)", h.iterations, scram.MinIterations)
		}
		salt := make([]byte, scramSaltLen)
		rand.Read(salt)
		c, err := scram.NewCredentials(password, salt, h.iterations)
		if err != nil {
			return nil, err
		}
		h.salt, h.sum, h.serverKey = c.Salt, c.StoredKey, c.ServerKey
	case SHA512:
		return nil, errors.New("sha512 ($6$) is read but not written: it is too fast to resist guessing; use sha512-pbkdf2")
	default:
		return nil, fmt.Errorf("unknown hash algorithm %q (want sha512-pbkdf2, argon2id or scram-sha-256)", h.alg)
	}
	return h, nil
}

// ParseHash parses the hash part of a password file line: "$6$...",
// "$7$..." or "$argon2id$...". Surrounding blanks are not allowed here
// (Parse trims them).
func ParseHash(s string) (*Hash, error) {
	switch {
	case strings.HasPrefix(s, "$6$"):
		salt, sum, ok := strings.Cut(s[3:], "$")
		if !ok {
			return nil, errors.New("$6$ hash: want $6$salt$hash")
		}
		return decodeSaltSum(&Hash{alg: SHA512}, salt, sum, base64.StdEncoding)
	case strings.HasPrefix(s, "$7$"):
		parts := strings.Split(s[3:], "$")
		if len(parts) != 3 {
			return nil, errors.New("$7$ hash: want $7$iterations$salt$hash")
		}
		n, err := strconv.Atoi(parts[0])
		if err != nil || n < 1 || n > maxIterations || parts[0][0] == '+' {
			return nil, fmt.Errorf("$7$ hash: iterations %q not in 1..%d", parts[0], maxIterations)
		}
		return decodeSaltSum(&Hash{alg: SHA512PBKDF2, iterations: n}, parts[1], parts[2], base64.StdEncoding)
	case strings.HasPrefix(s, "$scram-sha-256$"):
		return parseSCRAM(s)
	case strings.HasPrefix(s, "$argon2id$"):
		return parseArgon2id(s)
	case strings.HasPrefix(s, "$argon2i$"), strings.HasPrefix(s, "$argon2d$"):
		return nil, errors.New("argon2i and argon2d hashes are not supported, only argon2id")
	}
	return nil, errors.New("unknown hash: want $6$, $7$, $argon2id$ or $scram-sha-256$")
}

// parseSCRAM parses "$scram-sha-256$iterations$salt$StoredKey$ServerKey",
// standard base64 with padding.
func parseSCRAM(s string) (*Hash, error) {
	parts := strings.Split(s, "$") // "", "scram-sha-256", i, salt, stored, server
	if len(parts) != 6 {
		return nil, errors.New("scram-sha-256 hash: want $scram-sha-256$iterations$salt$StoredKey$ServerKey")
	}
	n, err := strconv.Atoi(parts[2])
	if err != nil || n < 1 || n > maxIterations || parts[2][0] == '+' {
		return nil, fmt.Errorf("scram-sha-256 hash: iterations %q not in 1..%d", parts[2], maxIterations)
	}
	h := &Hash{alg: SCRAMSHA256, iterations: n}
	enc := base64.StdEncoding
	if h.salt, err = enc.DecodeString(parts[3]); err != nil || len(h.salt) == 0 || len(h.salt) > maxSalt {
		return nil, fmt.Errorf("scram-sha-256 hash: salt: want 1..%d bytes of base64", maxSalt)
	}
	if h.sum, err = enc.DecodeString(parts[4]); err != nil || len(h.sum) != sha256.Size {
		return nil, fmt.Errorf("scram-sha-256 hash: StoredKey: want %d bytes of base64", sha256.Size)
	}
	if h.serverKey, err = enc.DecodeString(parts[5]); err != nil || len(h.serverKey) != sha256.Size {
		return nil, fmt.Errorf("scram-sha-256 hash: ServerKey: want %d bytes of base64", sha256.Size)
	}
	return h, nil
}

// scram returns the SCRAM credentials of a SCRAMSHA256 hash.
func (h *Hash) scram() scram.Credentials {
	return scram.Credentials{Iterations: h.iterations, Salt: h.salt, StoredKey: h.sum, ServerKey: h.serverKey}
}

// parseArgon2id parses "$argon2id$v=19$m=M,t=T,p=P$salt$hash". The salt
// and hash are unpadded standard base64, as in the PHC format; padding is
// tolerated.
func parseArgon2id(s string) (*Hash, error) {
	parts := strings.Split(s, "$") // "", "argon2id", "v=19", "m=..", salt, sum
	if len(parts) != 6 {
		return nil, errors.New("argon2id hash: want $argon2id$v=19$m=M,t=T,p=P$salt$hash")
	}
	if parts[2] != "v=19" {
		return nil, fmt.Errorf("argon2id hash: version %q not supported (want v=19)", parts[2])
	}
	h := &Hash{alg: Argon2id}
	var m, t, p uint64
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return nil, errors.New("argon2id hash: want parameters m=M,t=T,p=P")
	}
	for i, want := range []struct {
		name string
		dst  *uint64
		max  uint64
	}{{"m=", &m, maxArgon2Memory}, {"t=", &t, maxArgon2Time}, {"p=", &p, 255}} {
		v, ok := strings.CutPrefix(params[i], want.name)
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil || n < 1 || n > want.max || v[0] == '+' {
			return nil, fmt.Errorf("argon2id hash: parameter %q: want %s1..%d", params[i], want.name, want.max)
		}
		*want.dst = n
	}
	if m < 8*p {
		return nil, fmt.Errorf("argon2id hash: memory m=%d below 8×p=%d", m, 8*p)
	}
	h.memory, h.iterations, h.threads = uint32(m), int(t), uint8(p)
	if _, err := decodeSaltSum(h, strings.TrimRight(parts[4], "="), strings.TrimRight(parts[5], "="), base64.RawStdEncoding); err != nil {
		return nil, err
	}
	if len(h.sum) < 4 || len(h.sum) > maxArgon2Key {
		return nil, fmt.Errorf("argon2id hash: %d-byte hash, want 4..%d", len(h.sum), maxArgon2Key)
	}
	return h, nil
}

// decodeSaltSum fills in h's salt and sum from base64, checking their
// lengths ($6$ and $7$ sums are always 64 bytes).
func decodeSaltSum(h *Hash, salt, sum string, enc *base64.Encoding) (*Hash, error) {
	var err error
	if h.salt, err = enc.DecodeString(salt); err != nil {
		return nil, fmt.Errorf("%s hash: salt: %v", h.alg, err)
	}
	if len(h.salt) == 0 || len(h.salt) > maxSalt {
		return nil, fmt.Errorf("%s hash: %d-byte salt, want 1..%d", h.alg, len(h.salt), maxSalt)
	}
	if h.sum, err = enc.DecodeString(sum); err != nil {
		return nil, fmt.Errorf("%s hash: hash: %v", h.alg, err)
	}
	if h.alg != Argon2id && len(h.sum) != sha512Size {
		return nil, fmt.Errorf("%s hash: %d-byte hash, want %d", h.alg, len(h.sum), sha512Size)
	}
	return h, nil
}
