package broker

import (
	"context"
	"errors"

	"github.com/ternmq/tern/codec"
)

// Connects served by the accepting goroutine.
//
// A plain TCP connection accepted by Serve (Linux: parkable, raw reads)
// usually has its CONNECT waiting by the time it is accepted: clients
// send it right after the handshake, and under a burst of connects the
// listener's queue holds connections whose CONNECT came long before. Such
// a connection is served by Serve's goroutine itself, from the CONNECT to
// the park: no reader goroutine is started, no CONNECT deadline is set
// (nothing is waited for), and no other thread is woken to run it.
//
// Why: measured over 10,000 connects from 16 dialers on 2 cores, the
// broker spent 71–82 µs of CPU per connect when each had a goroutine of
// its own, and about 60 µs with GOMAXPROCS=1: a quarter of the cost was
// the hand-off, a thread woken (futex) to run each new goroutine and put
// back to sleep when it had parked its connection. See
// bench/results/2026-12-07-round6-connect.md.
//
// Only what cannot wait runs there, since accepting waits meanwhile:
//   - the CONNECT must be complete in the first read (which never waits,
//     parker.nowait); otherwise the reader goroutine waits for the rest,
//     within the CONNECT deadline, as before;
//   - no Authenticator (user code, password hashing, enhanced
//     authentication's round trips) and no cluster (claims over the
//     network); no session that a store must keep;
//   - no session under its client id: a take-over waits for the old
//     connection to end. (A CONNECT for the same id that starts between
//     this check and the claim makes this one wait for that one's claim,
//     which itself waits for nothing here: a CONNECT takes microseconds.)
//
// Anything else, an error included, goes on on a goroutine of its own, and
// so does a connection that has sent more than its CONNECT: packets after
// the CONNECT (a SUBSCRIBE with retained messages to send, say) are the
// reader's.

// connectNow serves c's CONNECT on the calling goroutine when it can be
// served without waiting (above), up to the park, or hands c on to a
// goroutine of its own after the CONNECT has been read. It reports false
// when it did neither: the caller starts c.run, which reads the CONNECT.
func (c *conn) connectNow(ctx context.Context) bool {
	pk := c.pk
	if pk == nil || !pk.plain || !inlineWrites {
		return false
	}
	pk.nowait = true
	p, err := c.r.ReadPacket()
	pk.nowait = false
	if errors.Is(err, errWouldBlock) {
		return false // the reader goroutine waits for the rest
	}
	c.ctx = ctx
	connect, err := c.checkConnect(p, err)
	if err != nil {
		go c.finish(err)
		return true
	}
	if !c.mayConnectNow(connect) {
		go c.connectLater(connect)
		return true
	}
	switch err := c.connectInline(connect); {
	case err == errParked:
	case err != nil:
		go c.finish(err)
	default:
		go c.readOn() // it did not park: more came, or it cannot park
	}
	return true
}

// mayConnectNow reports whether the CONNECT p can be handled without
// waiting for anything (see above).
func (c *conn) mayConnectNow(p *codec.Connect) bool {
	s := c.srv
	o := &s.opts
	if o.Authenticator != nil || o.Cluster != nil || p.Properties.AuthenticationMethod != "" {
		return false
	}
	if s.commit != nil && (p.Version == codec.V5 && p.Properties.SessionExpiryInterval != 0 || p.Version != codec.V5 && !p.CleanStart) {
		return false
	}
	if p.ClientID == "" {
		return true // an id of its own is assigned
	}
	s.mu.Lock()
	_, known := s.sessions[p.ClientID]
	s.mu.Unlock()
	return !known
}

// connectInline handles the CONNECT and parks the connection. It returns
// errParked when it has parked, nil when it must read on (see readOn), or
// the error that ends the connection; a panic becomes that error.
func (c *conn) connectInline(p *codec.Connect) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = c.panicked(r)
		}
	}()
	if err := c.connect(c.ctx, p); err != nil {
		return err
	}
	c.connected()
	if c.r.Buffered() > 0 || c.kicked.Load() != nil {
		return nil
	}
	c.flushIn()
	return c.park()
}

// connectLater handles the CONNECT on the connection's own goroutine.
func (c *conn) connectLater(p *codec.Connect) {
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = c.panicked(r)
			}
		}()
		return c.serveConnect(c.ctx, p)
	}()
	if err != errParked {
		c.finish(err)
	}
}

// readOn reads on a connection whose CONNECT connectInline has handled
// but which did not park.
func (c *conn) readOn() {
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = c.panicked(r)
			}
		}()
		c.pk.quiet = true
		return c.readLoop(true)
	}()
	if err != errParked {
		c.finish(err)
	}
}
