package passwd

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"net"
	"time"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/scram"
)

// SCRAMMethod is the MQTT 5.0 Authentication Method a File supports.
const SCRAMMethod = scram.Method

// AuthMethods implements broker.EnhancedAuthenticator: SCRAM-SHA-256.
func (f *File) AuthMethods() []string { return []string{scram.Method} }

// BeginAuth implements broker.EnhancedAuthenticator: a SCRAM-SHA-256
// exchange against the users whose entry is a $scram-sha-256$ hash. Every
// other name, in the file with another hash or not in it at all, gets a
// salt derived from a secret (a digest of the file's contents) and the
// name, so that the server-first message does not tell who exists, and
// then fails with codec.NotAuthorized. Failures slow down the client's
// address as failed passwords do.
func (f *File) BeginAuth(_ context.Context, l *broker.Login, _ string) broker.AuthExchange {
	return &scramExchange{f: f, t: f.table.Load(), remote: l.Remote}
}

type scramExchange struct {
	f      *File
	t      *table
	remote net.Addr
	s      *scram.Server
	hash   string // the entry verified against, for Valid
	step   int
}

// lookup returns the SCRAM credentials of user, or fake ones.
func (e *scramExchange) lookup(user string) (scram.Credentials, bool) {
	if h := e.t.users[user]; h != nil && h.alg == SCRAMSHA256 {
		e.hash = h.String()
		return h.scram(), true
	}
	mac := func(label string) []byte {
		m := hmac.New(sha256.New, e.t.fakeKey)
		m.Write([]byte(label + "\x00" + user))
		return m.Sum(nil)
	}
	return scram.Credentials{Iterations: DefaultSCRAMIterations, Salt: mac("salt")[:scramSaltLen],
		StoredKey: mac("stored"), ServerKey: mac("server")}, false
}

// Next implements broker.AuthExchange: client-first → server-first,
// client-final → server-final (done).
func (e *scramExchange) Next(ctx context.Context, data []byte) (broker.AuthStep, codec.ReasonCode) {
	ip, keyed := key(e.remote)
	fail := func() (broker.AuthStep, codec.ReasonCode) {
		if keyed {
			e.f.throttle.fail(ip, time.Now())
		}
		return broker.AuthStep{}, codec.NotAuthorized
	}
	e.step++
	switch e.step {
	case 1:
		if keyed {
			if err := wait(ctx, e.f.throttle.delay(ip, time.Now())); err != nil {
				return broker.AuthStep{}, codec.UnspecifiedError // the connection is gone
			}
		}
		e.s = scram.NewServer(e.lookup, "")
		out, err := e.s.First(data)
		if err != nil {
			return fail()
		}
		return broker.AuthStep{Data: out}, codec.Success
	case 2:
		out, err := e.s.Final(data)
		if err != nil {
			return fail()
		}
		if keyed {
			e.f.throttle.succeed(ip)
		}
		f, user, hash := e.f, e.s.User(), e.hash
		return broker.AuthStep{Data: out, Done: true, Username: user, Valid: func() bool {
			h := f.table.Load().users[user]
			return h != nil && h.String() == hash
		}}, codec.Success
	}
	return broker.AuthStep{}, codec.ProtocolError
}
