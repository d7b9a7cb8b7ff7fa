// Package scram implements SCRAM-SHA-256 (RFC 5802, RFC 7677) without
// channel binding (GS2 header "n,,"), as MQTT 5.0 enhanced authentication
// carries it in the Authentication Data of CONNECT, AUTH and CONNACK: the
// messages, their parsing, the key derivations and proofs, and a client
// and a server state machine.
//
// It uses the standard library only and builds for js/wasm, since the
// Go client uses it in the browser too.
//
// Names and passwords are used as given (UTF-8), without SASLprep: both
// sides must use the same bytes. Usernames are escaped on the wire as
// RFC 5802 says ("," as "=2C", "=" as "=3D").
package scram

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Method is the MQTT Authentication Method name of SCRAM-SHA-256.
const Method = "SCRAM-SHA-256"

// gs2Header is the GS2 header of a client that neither supports nor
// requests channel binding; its base64 ("biws") is the c= attribute of
// the client-final message.
const gs2Header = "n,,"

// Limits on what is accepted from the other side.
const (
	// MinIterations is the smallest iteration count a client accepts
	// from a server (RFC 7677 asks for at least 4096) and the default for
	// new credentials.
	MinIterations = 4096
	// MaxIterations bounds the iteration count a client computes, so that
	// a server cannot make it spin.
	MaxIterations = 10_000_000
	maxMessage    = 4096 // bytes of one SCRAM message
	nonceLen      = 18   // random bytes in a nonce (24 base64 characters)
)

// Credentials are what a server stores for a user: never the password.
type Credentials struct {
	Iterations int
	Salt       []byte
	StoredKey  []byte // H(ClientKey)
	ServerKey  []byte // HMAC(SaltedPassword, "Server Key")
}

// NewCredentials derives the stored credentials of password with salt
// and iterations.
func NewCredentials(password []byte, salt []byte, iterations int) (Credentials, error) {
	sp, err := SaltedPassword(password, salt, iterations)
	if err != nil {
		return Credentials{}, err
	}
	ck := hmacSum(sp, "Client Key")
	sk := sha256.Sum256(ck)
	return Credentials{Iterations: iterations, Salt: salt, StoredKey: sk[:], ServerKey: hmacSum(sp, "Server Key")}, nil
}

// Verify reports, in constant time, whether password is the one c was
// derived from (for a plain CONNECT password against SCRAM credentials).
func (c Credentials) Verify(password []byte) bool {
	d, err := NewCredentials(password, c.Salt, c.Iterations)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(d.StoredKey, c.StoredKey) == 1
}

// SaltedPassword is Hi(password, salt, i) of RFC 5802: PBKDF2-HMAC-SHA256.
func SaltedPassword(password, salt []byte, iterations int) ([]byte, error) {
	if iterations < 1 || iterations > MaxIterations {
		return nil, fmt.Errorf("scram: iteration count %d not in 1..%d", iterations, MaxIterations)
	}
	return pbkdf2.Key(sha256.New, string(password), salt, iterations, sha256.Size)
}

func hmacSum(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func xor(a, b []byte) []byte {
	out := make([]byte, len(a))
	for i := range a {
		out[i] = a[i] ^ b[i]
	}
	return out
}

// Nonce returns a fresh random nonce: printable, without ','.
func Nonce() string {
	b := make([]byte, nonceLen)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// ErrAuth is the error of a proof or a server signature that does not
// verify.
var ErrAuth = errors.New("scram: authentication failed")

// Client runs the client side of one exchange. Use it once.
type Client struct {
	user, nonce string
	password    []byte

	clientFirstBare string
	serverSig       []byte
}

// NewClient returns the client side of an exchange for user and password.
// nonce is the client nonce; empty picks a random one (tests give the
// RFC's).
func NewClient(user string, password []byte, nonce string) *Client {
	if nonce == "" {
		nonce = Nonce()
	}
	return &Client{user: user, password: password, nonce: nonce}
}

// First returns the client-first message: "n,,n=<user>,r=<nonce>".
func (c *Client) First() []byte {
	c.clientFirstBare = "n=" + escapeName(c.user) + ",r=" + c.nonce
	return []byte(gs2Header + c.clientFirstBare)
}

// Final takes the server-first message and returns the client-final
// message, with the proof. It refuses a server nonce that does not start
// with the client's, and an iteration count below MinIterations.
func (c *Client) Final(serverFirst []byte) ([]byte, error) {
	sf, err := ParseServerFirst(serverFirst)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(sf.Nonce, c.nonce) || len(sf.Nonce) == len(c.nonce) {
		return nil, errors.New("scram: server nonce does not extend the client's")
	}
	if sf.Iterations < MinIterations {
		return nil, fmt.Errorf("scram: server asks for %d iterations, fewer than %d", sf.Iterations, MinIterations)
	}
	sp, err := SaltedPassword(c.password, sf.Salt, sf.Iterations)
	if err != nil {
		return nil, err
	}
	ck := hmacSum(sp, "Client Key")
	stored := sha256.Sum256(ck)
	withoutProof := "c=" + base64.StdEncoding.EncodeToString([]byte(gs2Header)) + ",r=" + sf.Nonce
	authMsg := c.clientFirstBare + "," + string(serverFirst) + "," + withoutProof
	proof := xor(ck, hmacSum(stored[:], authMsg))
	c.serverSig = hmacSum(hmacSum(sp, "Server Key"), authMsg)
	return []byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)), nil
}

// Verify checks the server-final message: the server signature proves
// that the server knows the user's credentials.
func (c *Client) Verify(serverFinal []byte) error {
	if c.serverSig == nil {
		return errors.New("scram: server-final before client-final")
	}
	sig, err := ParseServerFinal(serverFinal)
	if err != nil {
		return err
	}
	if !hmac.Equal(sig, c.serverSig) {
		return fmt.Errorf("%w: the server signature does not verify", ErrAuth)
	}
	return nil
}

// Lookup returns the credentials of user, and whether user has any. A
// server must answer for every user, known or not, in the same way: when
// ok is false, creds must still be plausible (a salt derived from a secret
// and the name, as RFC 5802 section 9 suggests), so that server-first does
// not tell who exists.
type Lookup func(user string) (creds Credentials, ok bool)

// Server runs the server side of one exchange. Use it once.
type Server struct {
	lookup Lookup
	nonce  string

	user            string
	known           bool
	creds           Credentials
	gs2             string
	clientFirstBare string
	serverFirst     string
	done            bool
}

// NewServer returns the server side of an exchange. nonce is the server's
// part of the nonce; empty picks a random one.
func NewServer(lookup Lookup, nonce string) *Server {
	if nonce == "" {
		nonce = Nonce()
	}
	return &Server{lookup: lookup, nonce: nonce}
}

// User is the username of the client-first message (after First).
func (s *Server) User() string { return s.user }

// First takes the client-first message and returns the server-first
// message.
func (s *Server) First(clientFirst []byte) ([]byte, error) {
	cf, err := ParseClientFirst(clientFirst)
	if err != nil {
		return nil, err
	}
	s.user = cf.User
	s.creds, s.known = s.lookup(cf.User)
	s.gs2, s.clientFirstBare = cf.GS2, cf.Bare
	s.serverFirst = "r=" + cf.Nonce + s.nonce + ",s=" + base64.StdEncoding.EncodeToString(s.creds.Salt) + ",i=" + strconv.Itoa(s.creds.Iterations)
	return []byte(s.serverFirst), nil
}

// Final takes the client-final message and returns the server-final
// message ("v=<signature>"), or ErrAuth when the proof does not verify
// (or the user is unknown), or a parse error.
func (s *Server) Final(clientFinal []byte) ([]byte, error) {
	if s.serverFirst == "" || s.done {
		return nil, errors.New("scram: client-final out of order")
	}
	s.done = true
	cf, err := ParseClientFinal(clientFinal)
	if err != nil {
		return nil, err
	}
	if cf.Binding != s.gs2 {
		return nil, errors.New("scram: channel binding data does not match the GS2 header")
	}
	if cf.Nonce != s.serverFirst[2:strings.IndexByte(s.serverFirst, ',')] {
		return nil, errors.New("scram: nonce mismatch")
	}
	authMsg := s.clientFirstBare + "," + s.serverFirst + "," + cf.WithoutProof
	if len(cf.Proof) != sha256.Size || len(s.creds.StoredKey) != sha256.Size {
		return nil, ErrAuth
	}
	ck := xor(cf.Proof, hmacSum(s.creds.StoredKey, authMsg))
	got := sha256.Sum256(ck)
	if subtle.ConstantTimeCompare(got[:], s.creds.StoredKey) != 1 || !s.known {
		return nil, ErrAuth
	}
	return []byte("v=" + base64.StdEncoding.EncodeToString(hmacSum(s.creds.ServerKey, authMsg))), nil
}
