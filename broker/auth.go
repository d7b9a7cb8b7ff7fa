package broker

import (
	"context"
	"net"

	"github.com/ternmq/tern/codec"
)

// Login is a CONNECT for an Authenticator to decide on.
type Login struct {
	// Connect is the packet as received, credentials included. The
	// Authenticator must not keep it or change it.
	Connect *codec.Connect
	// ClientID is the client identifier, assigned by the broker when the
	// client sent none.
	ClientID string
	// Remote is the client's network address.
	Remote net.Addr
}

// Authenticator decides who may connect. Authenticate returns
// codec.Success to accept a CONNECT, or the reason to refuse it as a 5.0
// CONNACK reason code (codec.NotAuthorized, codec.BadUserNameOrPassword,
// ...), which the broker maps for 3.1.1 clients (0x87 and 0x86 become
// 0x05 and 0x04). It runs on the connection's own goroutine before the
// CONNACK, so it may take its time (a slow hash); ctx ends when the
// connection does. Implementations must be safe for concurrent use.
type Authenticator interface {
	Authenticate(ctx context.Context, l *Login) codec.ReasonCode
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(ctx context.Context, l *Login) codec.ReasonCode

// Authenticate implements Authenticator.
func (f AuthenticatorFunc) Authenticate(ctx context.Context, l *Login) codec.ReasonCode {
	return f(ctx, l)
}

// EnhancedAuthenticator is an Authenticator that also runs MQTT 5.0
// enhanced authentication (section 4.12): a CONNECT with an
// Authentication Method, answered by AUTH packets until the CONNACK, and
// re-authentication with AUTH 0x19 afterwards.
//
// A CONNECT whose method is not in AuthMethods is refused with CONNACK
// 0x8C Bad authentication method. Otherwise the broker calls BeginAuth
// and feeds the returned exchange the CONNECT's Authentication Data, then
// the data of each AUTH 0x18 the client sends, until the exchange is done
// (CONNACK 0x00 carrying the method and the last data) or refuses (CONNACK
// with its reason code, or after a CONNACK a DISCONNECT, and the
// connection is closed). The whole exchange of a CONNECT is bounded by
// Options.ConnectTimeout.
type EnhancedAuthenticator interface {
	Authenticator
	// AuthMethods lists the Authentication Methods supported.
	AuthMethods() []string
	// BeginAuth starts an exchange of method for l: the CONNECT, or for a
	// re-authentication a CONNECT made up of the connection's version,
	// client id, username and the method.
	BeginAuth(ctx context.Context, l *Login, method string) AuthExchange
}

// AuthExchange is one enhanced authentication in progress. Its methods are
// called from one goroutine at a time.
type AuthExchange interface {
	// Next takes the client's Authentication Data (which it must copy to
	// keep) and returns the server's next step, or the reason to refuse
	// (codec.NotAuthorized, ...) when rc is not codec.Success.
	Next(ctx context.Context, data []byte) (step AuthStep, rc codec.ReasonCode)
}

// AuthStep is what an AuthExchange answers the client.
type AuthStep struct {
	// Data is the server's Authentication Data: sent in AUTH 0x18
	// (Continue authentication) while not Done, in the CONNACK or the AUTH
	// 0x00 (Success) once Done.
	Data []byte
	// Done means the client is authenticated.
	Done bool
	// Username, once Done, is the identity the exchange authenticated, which
	// the Authorizer sees. Empty keeps the CONNECT's User Name. A CONNECT
	// whose User Name differs is refused (0x87), as is a re-authentication
	// as someone else.
	Username string
	// Valid, once Done, reports whether the credentials the exchange
	// verified are still in force: Server.Reauthorize calls it (after a
	// reload) and disconnects the client when it returns false. Nil keeps
	// the client connected.
	Valid func() bool
}

// enhancedAuth is the outcome of a connection's last enhanced
// authentication, read by Reauthorize.
type enhancedAuth struct {
	method string
	valid  func() bool
}

// Client is who a connection or session is, for an Authorizer.
type Client struct {
	ID       string
	Username string // "" for none
}

// Access is what a client asks to do with a topic.
type Access uint8

// The kinds of Access.
const (
	// Write: publish to a Topic Name, or set a will on one.
	Write Access = iota + 1
	// Read: receive a message on a Topic Name (each delivery, retained
	// ones included).
	Read
	// Subscribe: subscribe to a Topic Filter (the filter as sent, with any
	// $share/{group}/ prefix removed).
	Subscribe
)

func (a Access) String() string {
	switch a {
	case Write:
		return "write"
	case Read:
		return "read"
	case Subscribe:
		return "subscribe"
	}
	return "access?"
}

// Authorizer decides what a client may do with a topic. It is called on
// every PUBLISH, for every subscription, and for every delivery, so it
// must be fast and safe for concurrent use. The broker's own rule comes
// first and cannot be overridden: clients never publish to $SYS.
//
// Denials: a CONNECT whose will is denied is refused (3.1.1 0x05, 5.0
// 0x87); a denied QoS 1/2 PUBLISH is answered with 0x87 (5.0) or
// acknowledged and dropped (3.1.1); a denied subscription gets SUBACK
// 0x87 (5.0) or 0x80 (3.1.1); a denied delivery is skipped. Every denial
// is logged and counted (Stats.Denied).
type Authorizer interface {
	Authorize(c Client, a Access, topic string) bool
}

// AuthorizerFunc adapts a function to Authorizer.
type AuthorizerFunc func(c Client, a Access, topic string) bool

// Authorize implements Authorizer.
func (f AuthorizerFunc) Authorize(c Client, a Access, topic string) bool { return f(c, a, topic) }

// allowed applies the broker's own rule and then the configured
// Authorizer, logging and counting a denial.
func (s *Server) allowed(c Client, a Access, topic string) bool {
	ok := true
	switch {
	case a == Write && isSysTopic(topic):
		ok = false // $SYS belongs to the broker
	case s.opts.Authorizer != nil:
		ok = s.opts.Authorizer.Authorize(c, a, topic)
	}
	if !ok {
		n := s.stats.Denied.Add(1)
		s.metrics.denied[a].Add(1)
		if a != Read || n == 1 || n%1000 == 0 { // deliveries could flood the log
			s.log.Info("access denied", "client", c.ID, "username", c.Username, "access", a.String(), "topic", topic, "denied_total", n)
		}
	}
	return ok
}
