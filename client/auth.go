package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/scram"
)

// EnhancedAuth is an MQTT 5.0 enhanced authentication method (section
// 4.12) for Options.Auth. SCRAM returns the one Tern's broker offers.
type EnhancedAuth interface {
	// Method is the Authentication Method name.
	Method() string
	// Begin starts an exchange, for a CONNECT or a re-authentication: it
	// returns the exchange and the client's first Authentication Data.
	Begin() (AuthExchange, []byte, error)
}

// AuthExchange is one enhanced authentication in progress.
type AuthExchange interface {
	// Next takes the server's Authentication Data from an AUTH 0x18
	// (Continue authentication) and returns the client's answer. The
	// data is valid only during the call.
	Next(serverData []byte) ([]byte, error)
	// Finish takes the server's Authentication Data from the CONNACK or
	// the AUTH 0x00 (Success) that ends the exchange, and returns an
	// error when it does not authenticate the server.
	Finish(serverData []byte) error
}

// SCRAM returns SCRAM-SHA-256 (RFC 5802, RFC 7677, without channel
// binding) for username and password. The password never leaves the
// client: the server gets a proof, and proves in return that it holds
// the user's credentials, or Connect fails. The server must ask for at
// least 4096 iterations. Leave Options.Password nil with it.
func SCRAM(username string, password []byte) EnhancedAuth {
	return scramAuth{user: username, password: password}
}

type scramAuth struct {
	user     string
	password []byte
}

func (scramAuth) Method() string { return scram.Method }

func (a scramAuth) Begin() (AuthExchange, []byte, error) {
	c := scram.NewClient(a.user, a.password, "")
	return &scramExchange{c: c}, c.First(), nil
}

type scramExchange struct {
	c    *scram.Client
	sent bool
}

func (e *scramExchange) Next(serverData []byte) ([]byte, error) {
	if e.sent {
		return nil, errors.New("scram: the server continues after the client-final message")
	}
	e.sent = true
	return e.c.Final(serverData)
}

func (e *scramExchange) Finish(serverData []byte) error { return e.c.Verify(serverData) }

// ErrServerNotAuthenticated is returned (wrapped) when the server accepts
// a client without proving, in its last Authentication Data, that it
// holds the client's credentials: Connect fails, and a re-authentication
// closes the connection.
var ErrServerNotAuthenticated = errors.New("mqtt: the server did not authenticate itself")

// reauth is a re-authentication in progress on a connection.
type reauth struct {
	method string
	ex     AuthExchange
	done   chan error // buffered: the read loop never waits
}

// Reauthenticate runs a re-authentication [MQTT-5:4.12.1-1] on the live
// connection with Options.Auth: AUTH 0x19 with the same method, then AUTH
// packets until the server answers AUTH 0x00 (nil) or refuses, which it
// does by closing the connection (the *ReasonError of its DISCONNECT is
// returned, typically 0x87 Not authorized). One runs at a time; other
// operations go on meanwhile. Reconnects authenticate anew by themselves.
func (c *Client) Reauthenticate(ctx context.Context) error {
	if c.opts.Auth == nil || c.opts.Version != codec.V5 {
		return errors.New("mqtt: reauthenticate: no enhanced authentication (Options.Auth, MQTT 5.0)")
	}
	c.reauthMu.Lock()
	defer c.reauthMu.Unlock()
	if c.closed.Load() {
		return ErrClosed
	}
	cn := c.cur.Load()
	if cn == nil {
		return ErrNotConnected
	}
	ex, data, err := c.opts.Auth.Begin()
	if err != nil {
		return fmt.Errorf("mqtt: reauthenticate: %w", err)
	}
	ra := &reauth{method: c.opts.Auth.Method(), ex: ex, done: make(chan error, 1)}
	cn.reauth.Store(ra)
	defer cn.reauth.CompareAndSwap(ra, nil)
	if err := cn.writePacket(&codec.Auth{ReasonCode: codec.ReAuthenticate,
		Properties: codec.Properties{AuthenticationMethod: ra.method, AuthenticationData: data}}); err != nil {
		return fmt.Errorf("mqtt: reauthenticate: %w", err)
	}
	select {
	case err := <-ra.done:
		return err
	case <-cn.done:
		select {
		case err := <-ra.done:
			return err
		default:
		}
		return fmt.Errorf("mqtt: reauthenticate: %w", cn.err)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// handleAuth runs the client's side of a re-authentication.
func (cn *conn) handleAuth(p *codec.Auth) error {
	ra := cn.reauth.Load()
	switch {
	case ra == nil:
		return &protocolError{code: codec.ProtocolError, msg: "AUTH from the server without a re-authentication"}
	case p.Properties.AuthenticationMethod != ra.method:
		return &protocolError{code: codec.ProtocolError, msg: "AUTH with another Authentication Method"}
	}
	fail := func(err error) error {
		cn.reauth.CompareAndSwap(ra, nil)
		ra.done <- err
		return &protocolError{code: codec.NotAuthorized, msg: err.Error()}
	}
	switch p.ReasonCode {
	case codec.ContinueAuthentication:
		out, err := ra.ex.Next(p.Properties.AuthenticationData)
		if err != nil {
			return fail(fmt.Errorf("mqtt: reauthenticate: %w", err))
		}
		return cn.writePacket(&codec.Auth{ReasonCode: codec.ContinueAuthentication,
			Properties: codec.Properties{AuthenticationMethod: ra.method, AuthenticationData: out}})
	case codec.Success:
		if err := ra.ex.Finish(p.Properties.AuthenticationData); err != nil {
			return fail(fmt.Errorf("mqtt: reauthenticate: %w: %w", ErrServerNotAuthenticated, err))
		}
		cn.reauth.CompareAndSwap(ra, nil)
		ra.done <- nil
		return nil
	}
	return &protocolError{code: codec.ProtocolError, msg: "AUTH with reason code " + p.ReasonCode.String()}
}
