package scram

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ClientFirst is a parsed client-first message.
type ClientFirst struct {
	GS2   string // the GS2 header: "n,," or "y,,"
	User  string // unescaped
	Nonce string
	Bare  string // client-first-message-bare, as sent
}

// ServerFirst is a parsed server-first message.
type ServerFirst struct {
	Nonce      string
	Salt       []byte
	Iterations int
}

// ClientFinal is a parsed client-final message.
type ClientFinal struct {
	Binding      string // the decoded c= attribute: the GS2 header
	Nonce        string
	Proof        []byte
	WithoutProof string // client-final-message-without-proof, as sent
}

// attrs splits "a=v,b=w" into its attributes, each a single letter, a
// '=' and a value without ','.
func attrs(msg string) ([][2]string, error) {
	if len(msg) > maxMessage {
		return nil, fmt.Errorf("scram: message longer than %d bytes", maxMessage)
	}
	var out [][2]string
	for part := range strings.SplitSeq(msg, ",") {
		if len(part) < 2 || part[1] != '=' || !isAlpha(part[0]) {
			return nil, fmt.Errorf("scram: malformed attribute %q", part)
		}
		out = append(out, [2]string{part[:1], part[2:]})
	}
	return out, nil
}

func isAlpha(b byte) bool { return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' }

// checkNonce: printable ASCII except ',' [RFC 5802 section 7].
func checkNonce(n string) error {
	if n == "" {
		return errors.New("scram: empty nonce")
	}
	for i := 0; i < len(n); i++ {
		if n[i] < 0x21 || n[i] > 0x7e || n[i] == ',' {
			return errors.New("scram: nonce with a character that is not printable")
		}
	}
	return nil
}

// ParseClientFirst parses "n,,n=user,r=nonce[,ext...]". It refuses
// channel binding ("p=..."), an authorization identity, and the reserved
// mandatory extension "m=".
func ParseClientFirst(b []byte) (ClientFirst, error) {
	s := string(b)
	var cf ClientFirst
	switch {
	case strings.HasPrefix(s, "n,,"), strings.HasPrefix(s, "y,,"):
		cf.GS2, cf.Bare = s[:3], s[3:]
	case strings.HasPrefix(s, "p="):
		return cf, errors.New("scram: channel binding is not supported")
	case strings.HasPrefix(s, "n,a="), strings.HasPrefix(s, "y,a="):
		return cf, errors.New("scram: an authorization identity is not supported")
	default:
		return cf, errors.New("scram: client-first message without a GS2 header")
	}
	a, err := attrs(cf.Bare)
	if err != nil {
		return cf, err
	}
	if len(a) < 2 || a[0][0] != "n" || a[1][0] != "r" {
		return cf, errors.New("scram: client-first message: want n=user,r=nonce")
	}
	if cf.User, err = unescapeName(a[0][1]); err != nil {
		return cf, err
	}
	cf.Nonce = a[1][1]
	return cf, checkNonce(cf.Nonce)
}

// ParseServerFirst parses "r=nonce,s=salt,i=iterations[,ext...]".
func ParseServerFirst(b []byte) (ServerFirst, error) {
	var sf ServerFirst
	a, err := attrs(string(b))
	if err != nil {
		return sf, err
	}
	if len(a) < 3 || a[0][0] != "r" || a[1][0] != "s" || a[2][0] != "i" {
		if len(a) > 0 && a[0][0] == "m" {
			return sf, errors.New("scram: mandatory extension not supported")
		}
		return sf, errors.New("scram: server-first message: want r=nonce,s=salt,i=count")
	}
	sf.Nonce = a[0][1]
	if err := checkNonce(sf.Nonce); err != nil {
		return sf, err
	}
	if sf.Salt, err = base64.StdEncoding.DecodeString(a[1][1]); err != nil || len(sf.Salt) == 0 {
		return sf, errors.New("scram: server-first message: bad salt")
	}
	n, err := strconv.Atoi(a[2][1])
	if err != nil || n < 1 || a[2][1][0] == '+' {
		return sf, fmt.Errorf("scram: server-first message: bad iteration count %q", a[2][1])
	}
	sf.Iterations = n
	return sf, nil
}

// ParseClientFinal parses "c=biws,r=nonce[,ext...],p=proof".
func ParseClientFinal(b []byte) (ClientFinal, error) {
	var cf ClientFinal
	s := string(b)
	a, err := attrs(s)
	if err != nil {
		return cf, err
	}
	if len(a) < 3 || a[0][0] != "c" || a[1][0] != "r" || a[len(a)-1][0] != "p" {
		return cf, errors.New("scram: client-final message: want c=..,r=..,p=..")
	}
	bind, err := base64.StdEncoding.DecodeString(a[0][1])
	if err != nil {
		return cf, errors.New("scram: client-final message: bad channel binding")
	}
	cf.Binding, cf.Nonce = string(bind), a[1][1]
	if err := checkNonce(cf.Nonce); err != nil {
		return cf, err
	}
	if cf.Proof, err = base64.StdEncoding.DecodeString(a[len(a)-1][1]); err != nil {
		return cf, errors.New("scram: client-final message: bad proof")
	}
	cf.WithoutProof = s[:strings.LastIndex(s, ",p=")]
	return cf, nil
}

// ParseServerFinal parses "v=signature" and returns the signature; an
// "e=error" message is returned as an error that carries it.
func ParseServerFinal(b []byte) ([]byte, error) {
	a, err := attrs(string(b))
	if err != nil {
		return nil, err
	}
	switch a[0][0] {
	case "v":
		sig, err := base64.StdEncoding.DecodeString(a[0][1])
		if err != nil {
			return nil, errors.New("scram: server-final message: bad signature")
		}
		return sig, nil
	case "e":
		return nil, fmt.Errorf("%w: server says %q", ErrAuth, a[0][1])
	}
	return nil, errors.New("scram: server-final message: want v=signature")
}

// escapeName escapes a saslname: ',' as "=2C" and '=' as "=3D".
func escapeName(s string) string {
	if !strings.ContainsAny(s, ",=") {
		return s
	}
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s)
}

// unescapeName undoes escapeName, refusing any other '=' sequence.
func unescapeName(s string) (string, error) {
	if !strings.Contains(s, "=") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", errors.New("scram: bad escape in username")
		}
		i += 2
	}
	return b.String(), nil
}
