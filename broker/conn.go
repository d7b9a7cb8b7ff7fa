package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ternmq/tern/codec"
)

// conn is one network connection: a reader goroutine (run) that decodes
// and handles packets, and a writer goroutine (drain) that batches
// outgoing packets and runs only while there is something to write.
type conn struct {
	srv *Server
	nc  net.Conn
	id  uint64
	log *slog.Logger // adds the connection's attributes when it logs (connLog)
	r   *codec.Reader
	// m is the counter block of the connection's traffic, nil while it
	// has none (see metrics.go); inFolded is how much of r's BytesRead
	// has been folded into the totals (the reader's).
	m        atomic.Pointer[connMetrics]
	inFolded uint64
	// pk is the parking state of a connection that parks while idle
	// (park.go), nil for one that keeps its reader goroutine.
	pk *parker
	// readBy is the keep-alive deadline of the next packet (zero: none).
	readBy time.Time
	// logClient and logAssigned are the client id of the CONNECT and the
	// one the server assigned, for the log; set before the first enqueue.
	// logUsername is the CONNECT's user name, for the log.
	logClient, logAssigned, logUsername string

	// Set during CONNECT, read-only afterwards (version and aliasMax
	// too, below).
	clientID  string
	who       Client // for the Authorizer
	password  []byte // kept only with an Authenticator, for Reauthorize
	ctx       context.Context
	sess      *session
	keepAlive time.Duration // 1.5 × Keep Alive, 0 for none
	maxSize   int           // client's Maximum Packet Size, 0 for none

	// Writer state: used by whoever holds the writer claim (writing), the
	// writer goroutine or an inline write (writenow.go).
	outAliases outAliases
	inline     *inlineWriter // non-blocking writes; nil until the first (a parkable connection's are pooled)
	rest       *[]byte       // what an inline write left, for the writer goroutine

	// Reader goroutine state.
	aliases map[uint16]string // client→server topic aliases
	reauth  AuthExchange      // a re-authentication in progress

	// The small fields side by side, eight bytes in all: an idle
	// connection fits the 480-byte size class (TestConnSizeClass).
	willOnClose bool // publish the will when the connection ends (reader)
	zeroExpiry  bool // CONNECT had Session Expiry Interval 0 (reader)
	// background: served by Serve or the WebSocket handler, not by a
	// caller of ServeConn waiting for the end; grown: this reader goroutine
	// has handled a packet since it started (see freshReader).
	background, grown bool
	version           codec.Version // set during CONNECT, read-only afterwards
	// ended: the connection has fully finished (under outMu); done, made
	// only when someone waits for that (finished), is closed then.
	ended    bool
	aliasMax uint16 // client's Topic Alias Maximum, when server aliases are on; set during CONNECT

	// auth is the last enhanced authentication (nil without one); the
	// reader replaces it on re-authentication, Reauthorize reads it.
	auth atomic.Pointer[enhancedAuth]

	// Write queue, see writer.go.
	outMu      sync.Mutex
	out        []outItem
	outBytes   int
	spare      []outItem // the queue's other slice, swapped in by the writer
	outClosed  bool      // (the bools side by side: no padding between them)
	writing    bool      // a writer goroutine is running (see drain) or an inline write
	writerGone bool      // the writer has closed the connection: start no other
	hasSession bool      // CONNECT accepted: kick (other goroutines) may read version and sess
	halfClosed bool      // the writer half-closed the connection (close.go); read after waitWriter
	inlined    bool      // a packet has been written inline (writenow.go; set under outMu, tests read it)
	// writerClosed: the writer has closed the connection; writerWait,
	// made only when finish must wait for that, is closed then.
	writerClosed bool
	// wantFeed: a retained message waits for room in the write queue; the
	// writer calls the session's refill once it has written (under outMu).
	wantFeed bool
	// inlineRun counts the inline writes since the writer was last idle
	// for writeNowIdle; writeNowBurst after a writer goroutine ran
	// (writenow.go). In the byte after the bools: conn stays 480 bytes.
	inlineRun uint8
	// kaOn: the socket has TCP keep-alive on since it was accepted
	// (keepalive_linux.go); tcpKeepAlive has nothing to do. Set before the
	// reader starts.
	kaOn       bool
	idleSince  int64 // monotime when the writer last went idle (writenow.go)
	writerWait chan struct{}
	done       chan struct{}

	// waiting counts acknowledgements waiting for the store (see
	// ackWhenStored); later ones queue behind them.
	waiting  atomic.Int32
	kickOnce sync.Once
	kicked   atomic.Pointer[closeError] // why kick closed the connection
}

func newConn(s *Server, nc net.Conn) *conn { return newConnFor(s, nc, nil) }

// newConnFor returns the conn of nc with parking state pk (nil: it keeps
// its reader goroutine); a parkable plain TCP connection is read with raw
// system calls (rawread.go).
func newConnFor(s *Server, nc net.Conn, pk *parker) *conn {
	c := &conn{
		srv: s,
		nc:  nc,
		id:  s.connSeq.Add(1),
		pk:  pk,
	}
	c.r = codec.NewReader(c.readSource(pk), s.opts.MaxPacketSize)
	c.log = slog.New(connLog{c})
	return c
}

// connLog is the slog.Handler of a connection's logger. It adds the
// connection's attributes (conn, remote, then client, mqtt and assigned
// once the CONNECT is read) to the records that are actually logged,
// instead of keeping a pre-formatted copy of them in every connection as
// slog's Logger.With does: an idle connection holds none, and accepting
// one formats nothing that is not logged.
type connLog struct{ c *conn }

func (h connLog) base() slog.Handler { return h.c.srv.log.Handler() }

func (h connLog) Enabled(ctx context.Context, l slog.Level) bool { return h.base().Enabled(ctx, l) }

func (h connLog) Handle(ctx context.Context, r slog.Record) error {
	return h.base().WithAttrs(h.c.logAttrs(nil)).Handle(ctx, r)
}

func (h connLog) WithAttrs(as []slog.Attr) slog.Handler {
	return h.base().WithAttrs(h.c.logAttrs(as))
}

func (h connLog) WithGroup(name string) slog.Handler {
	return h.base().WithAttrs(h.c.logAttrs(nil)).WithGroup(name)
}

// logAttrs returns the connection's log attributes followed by more.
func (c *conn) logAttrs(more []slog.Attr) []slog.Attr {
	as := make([]slog.Attr, 0, 5+len(more))
	as = append(as, slog.Uint64("conn", c.id), slog.String("remote", c.nc.RemoteAddr().String()))
	if c.version != 0 {
		as = append(as, slog.String("client", c.logClient), slog.String("username", c.logUsername), slog.String("mqtt", c.version.String()))
	}
	if c.logAssigned != "" {
		as = append(as, slog.String("assigned", c.logAssigned))
	}
	return append(as, more...)
}

// closeError ends the read loop: the reason code to send in a 5.0
// DISCONNECT (none when zero or for 3.1.1) and why.
type closeError struct {
	code codec.ReasonCode
	rule string
	msg  string
}

func (e *closeError) Error() string {
	if e.rule != "" {
		return e.msg + " [" + e.rule + "]"
	}
	return e.msg
}

func violation(code codec.ReasonCode, rule, msg string) error {
	return &closeError{code: code, rule: rule, msg: msg}
}

// errNormal ends the read loop after a DISCONNECT from the client.
var errNormal = errors.New("client disconnected")

// run serves the connection until it ends. A panic is recovered and
// closes only this connection.
func (c *conn) run(ctx context.Context) {
	err := c.serve(ctx)
	if err == errParked {
		return
	}
	c.finish(err)
}

func (c *conn) serve(ctx context.Context) (err error) {
	c.ctx = ctx
	defer func() {
		if p := recover(); p != nil {
			err = c.panicked(p)
		}
	}()
	// The CONNECT is awaited here, and only handled on a fresh stack: a
	// connection that has not sent it yet (or never does) holds one
	// goroutine, not two (measured: 2,000 such connections cost 21.7 MiB
	// of RSS with both goroutines waiting).
	connect, err := c.readConnect()
	if err != nil {
		return err
	}
	return c.serveConnect(ctx, connect)
}

// serveConnect handles the CONNECT and reads on until the connection ends
// or parks (errParked). A panic in it is the caller's to recover.
func (c *conn) serveConnect(ctx context.Context, connect *codec.Connect) (err error) {
	if c.pk != nil {
		err = c.connect(ctx, connect) // the goroutine ends when the connection parks
	} else {
		onFreshStack(func() {
			defer func() {
				if p := recover(); p != nil {
					err = c.panicked(p)
				}
			}()
			err = c.connect(ctx, connect)
		})
	}
	if err != nil {
		return err
	}
	c.connected()
	if c.pk != nil {
		// A parkable connection parks as soon as its CONNACK is queued
		// and nothing more has come, as after a quiet wake: most clients
		// that connect (a fleet of devices) then say nothing for a while,
		// and a linger would cost each a read, a timer and its goroutine
		// for parkLinger. One that goes on at once pays a wake.
		c.pk.quiet = true
		return c.readLoop(true)
	}
	if c.background {
		// Wait for the next packet on a fresh goroutine: reading the
		// CONNECT grew this one's stack (to 8 KiB: the decoder, and over
		// WebSocket the library's reader), and a goroutine's stack shrinks
		// only when a collection finds less than a quarter of it in use,
		// which a reader blocked in a read never does. Measured with
		// BenchmarkIdleConn/goroutine: 8,192 stack bytes per idle
		// connection before, 4,096 after; BenchmarkIdleWebSocketConn:
		// 8,192 before, 3,080 after.
		go c.freshReader()
		return errParked
	}
	return c.readLoop(false)
}

// connected sets up the reading of an accepted connection: the keep-alive
// deadline, and TCP keep-alive for a client that asked for no MQTT one.
func (c *conn) connected() {
	c.nextReadBy()
	if c.keepAlive == 0 && !c.kaOn {
		c.tcpKeepAlive()
	}
}

// tcpKeepAlive turns TCP keep-alive probes on for a TCP or TLS-over-TCP
// connection whose client asked for no MQTT keep-alive, so that a dead
// peer is found anyway, with the kernel's timers (on Linux
// net.ipv4.tcp_keepalive_time and its siblings: 2 hours idle, then 9
// probes 75 s apart, unless the system is set otherwise): one socket
// option. It is done here, once the CONNECT is read, rather than on
// accept: cmd/tern's listeners accept without keep-alive
// (ListenConfig.KeepAlive -1; Go's default sets four options, 15 s timers,
// on every accepted connection), which spares the clients with an MQTT
// keep-alive, most of them, any.
func (c *conn) tcpKeepAlive() {
	nc := c.nc
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	if tcp, ok := nc.(interface {
		SetKeepAliveConfig(net.KeepAliveConfig) error
	}); ok { // *net.TCPConn, *tcpConn
		tcp.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: -1, Interval: -1, Count: -1})
	}
}

// readConnect reads the first packet, which must be a CONNECT, within
// the CONNECT deadline.
func (c *conn) readConnect() (*codec.Connect, error) {
	if err := c.nc.SetReadDeadline(time.Now().Add(c.srv.limit().ConnectTimeout)); err != nil {
		return nil, err
	}
	return c.checkConnect(c.r.ReadPacket())
}

// checkConnect checks the first packet read, p or err, which must be a
// CONNECT.
func (c *conn) checkConnect(p codec.Packet, err error) (*codec.Connect, error) {
	if err != nil {
		return nil, c.connectFailed(err)
	}
	c.countIn(p)
	connect, ok := p.(*codec.Connect)
	if !ok {
		// [MQTT-3.1.0-1]: the first packet must be a CONNECT.
		return nil, violation(0, "MQTT-3.1.0-1", "first packet is "+p.Type().String()+", not CONNECT")
	}
	return connect, nil
}

// panicked logs a recovered panic and returns the error that closes
// only this connection.
func (c *conn) panicked(p any) error {
	c.log.Error("panic in connection; closing it", "panic", p, "stack", string(debug.Stack()))
	return violation(codec.ImplementationSpecificError, "", fmt.Sprint("internal error: ", p))
}

// onFreshStack runs f on a short-lived goroutine and waits for it. Setting
// up a connection (logger, CONNECT decoding, authentication, session
// take-over) goes through deep call trees that would otherwise grow the
// reader goroutine's stack for good: a stack shrinks only during a garbage
// collection, never below twice what is in use, and idle connections cause
// no collections. This way the reader of an idle connection waits on the
// smallest stack, which is most of the memory an idle connection costs.
func onFreshStack(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	<-done
}

// connectFailed answers a CONNECT that could not be decoded.
func (c *conn) connectFailed(err error) error {
	var ce *codec.Error
	if !errors.As(err, &ce) {
		return err
	}
	if ce.Code == codec.UnsupportedProtocolVersion {
		// Answer in the version the client can read: 3.1.1's 0x01 unless
		// it asked for 5.0 ([MQTT-3.1.2-2] of 3.1.1, [MQTT-3.1.2-1] of 5.0).
		c.version = codec.V311
		rc := codec.RefusedProtocolVersion
		if ce.Version == codec.V5 {
			c.version, rc = codec.V5, codec.UnsupportedProtocolVersion
		}
		c.enqueuePacket(&codec.Connack{ReasonCode: rc})
	} else if ce.Version == codec.V5 && (ce.Code == codec.MalformedPacket || ce.Code == codec.ProtocolError) {
		c.version = codec.V5
		c.enqueuePacket(&codec.Connack{ReasonCode: ce.Code})
	}
	return &closeError{rule: ce.Rule, msg: "invalid CONNECT: " + ce.Msg}
}

// readLoop reads and handles packets until the connection ends (an error)
// or parks (errParked). handled: a packet has been handled since the
// connection started or resumed (the CONNECT); the loop sets it.
func (c *conn) readLoop(handled bool) error {
	// lingerBy is when this reader's linger ends (zero: not armed; see
	// lingerUntil), set the read deadline this reader last set (valid once
	// isSet): a deadline that has not changed is not set again.
	var (
		lingerBy, set time.Time
		isSet         bool
	)
	for {
		if k := c.kicked.Load(); k != nil {
			return k
		}
		if c.r.Buffered() == 0 {
			c.flushIn()
		}
		deadline, linger := c.readBy, false
		if c.pk != nil && !c.pk.off && c.r.Buffered() == 0 {
			if c.pk.quiet && handled {
				c.pk.quiet = false // once per wake: a park that fails reads on
				if c.pk.plain {
					// Nothing is buffered above the socket; if bytes came
					// meanwhile, the poller resumes the connection at once.
					if err := c.park(); err != nil {
						return err
					}
					continue
				}
				lingerBy = time.Now() // no linger: one read that waits for nothing
			} else if now := time.Now(); lingerBy.Sub(now) < parkLinger {
				lingerBy = now.Add(lingerUntil)
			}
			if deadline.IsZero() || lingerBy.Before(deadline) {
				deadline, linger = lingerBy, true
			}
		}
		if !isSet || !deadline.Equal(set) {
			if err := c.nc.SetReadDeadline(deadline); err != nil {
				return err
			}
			set, isSet = deadline, true
		}
		// A kick between the check above and this deadline set its own
		// (now), which this one may have replaced: kick stores kicked before it sets
		// its deadline, so either it is seen here or its deadline comes
		// after this one.
		if k := c.kicked.Load(); k != nil {
			return k
		}
		if w, ok := c.nc.(messageWaiter); ok && c.r.Buffered() == 0 {
			// Wait for the next message holding none of the reader's buffers,
			// on a goroutine whose stack has not grown handling packets.
			c.r.Release()
			c.trimQueue()
			if c.grown && c.background && !w.messageSoon() {
				c.grown = false
				go c.freshReader()
				return errParked
			}
			if err := w.waitMessage(); err != nil {
				return c.readError(err)
			}
			if k := c.kicked.Load(); k != nil {
				return k // kick's deadline may have been replaced just now
			}
		}
		p, err := c.r.ReadPacket()
		if err != nil {
			if linger && timedOut(err) && c.kicked.Load() == nil {
				if c.r.Buffered() > 0 {
					continue // wait for the rest of the packet until readBy
				}
				if err := c.park(); err != nil {
					return err
				}
				continue
			}
			return c.readError(err)
		}
		c.countIn(p)
		if err := c.handle(p); err != nil {
			return err
		}
		c.grown, handled = true, true
		if c.r.Buffered() == 0 {
			c.nextReadBy()
		}
	}
}

// freshReader goes on reading a connection that waits for its next
// WebSocket message on a new goroutine: handling packets grows a reader's
// stack (to 8 KiB, typically), a goroutine's stack shrinks only when a
// garbage collection finds it mostly unused, and one blocked in the
// WebSocket library's Reader does not use little enough; a new goroutine
// starts small. An idle WebSocket connection keeps a goroutine, but a
// small one.
func (c *conn) freshReader() {
	err := func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = c.panicked(p)
			}
		}()
		return c.readLoop(false)
	}()
	if err == errParked {
		return
	}
	c.finish(err)
}

// messageWaiter is a connection that can wait for its next message
// without a read buffer (wsConn). messageSoon waits a little (without
// reading) and reports whether the next message has begun: then the
// reader goes on without a fresh goroutine.
type messageWaiter interface {
	waitMessage() error
	messageSoon() bool
}

// nextReadBy sets the keep-alive deadline of the next packet.
func (c *conn) nextReadBy() {
	c.readBy = time.Time{}
	if c.keepAlive > 0 {
		c.readBy = time.Now().Add(c.keepAlive)
	}
}

// errKeepAlive ends a connection whose keep-alive deadline has passed
// [MQTT-3.1.2-24 of 3.1.1, MQTT-3.1.2-22 of 5.0].
var errKeepAlive = violation(codec.KeepAliveTimeout, "MQTT-5:3.1.2-22", "keep-alive timeout")

func timedOut(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true // a deadline's error, without the allocation of errors.As
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// readError turns a failed read into the error that ends the connection.
func (c *conn) readError(err error) error {
	if k := c.kicked.Load(); k != nil {
		return k
	}
	if timedOut(err) {
		return errKeepAlive
	}
	var ce *codec.Error
	if errors.As(err, &ce) {
		return violation(ce.Code, ce.Rule, ce.Msg)
	}
	return err
}

func (c *conn) handle(p codec.Packet) error {
	switch p := p.(type) {
	case *codec.Publish:
		return c.handlePublish(p)
	case *codec.Puback:
		c.sess.puback(p.PacketID)
	case *codec.Pubrec:
		known, wait := c.sess.pubrec(p.PacketID, p.ReasonCode)
		switch {
		case !known:
			c.enqueueAck(codec.PUBREL, p.PacketID, codec.PacketIdentifierNotFound)
		case !p.ReasonCode.IsError():
			c.ackWhenStored(codec.PUBREL, p.PacketID, codec.Success, wait)
		}
	case *codec.Pubrel:
		known, wait := c.sess.release(p.PacketID)
		rc := codec.Success
		if !known {
			rc = codec.PacketIdentifierNotFound
		}
		c.ackWhenStored(codec.PUBCOMP, p.PacketID, rc, wait)
	case *codec.Pubcomp:
		c.sess.pubcomp(p.PacketID)
	case *codec.Subscribe:
		c.handleSubscribe(p)
	case *codec.Unsubscribe:
		c.handleUnsubscribe(p)
	case *codec.Pingreq:
		c.enqueuePacket(&codec.Pingresp{}) // [MQTT-3.12.4-1]
	case *codec.Disconnect:
		return c.handleDisconnect(p)
	case *codec.Connect:
		return violation(codec.ProtocolError, "MQTT-3.1.0-2", "second CONNECT")
	case *codec.Auth:
		return c.handleAuth(p)
	default:
		return violation(codec.ProtocolError, "", "a client does not send "+p.Type().String())
	}
	return nil
}

// handleAuth runs a re-authentication [MQTT-5:4.12.1]: AUTH 0x19 with the
// CONNECT's method starts it, AUTH 0x18 continues it; the server answers
// AUTH 0x18 while it goes on and AUTH 0x00 when it succeeds. A failure
// closes the connection with a DISCONNECT of the exchange's reason code
// [MQTT-5:4.12.1-2].
func (c *conn) handleAuth(p *codec.Auth) error {
	a := c.auth.Load()
	switch {
	case a == nil:
		return violation(codec.ProtocolError, "MQTT-5:4.12.0-7", "AUTH without an Authentication Method in CONNECT")
	case p.Properties.AuthenticationMethod != a.method:
		// [MQTT-5:4.12.1-1]: the same method as in the CONNECT.
		return violation(codec.ProtocolError, "MQTT-5:4.12.1-1", "re-authentication with another Authentication Method")
	case p.ReasonCode == codec.ReAuthenticate && c.reauth == nil:
		ea, _ := c.srv.opts.Authenticator.(EnhancedAuthenticator)
		if ea == nil {
			return violation(codec.ProtocolError, "", "re-authentication without an authenticator")
		}
		l := &Login{
			Connect: &codec.Connect{Version: c.version, ClientID: c.who.ID, Username: c.who.Username, HasUsername: c.who.Username != "",
				Properties: codec.Properties{AuthenticationMethod: a.method}},
			ClientID: c.who.ID, Remote: c.nc.RemoteAddr(),
		}
		c.reauth = ea.BeginAuth(c.ctx, l, a.method)
	case p.ReasonCode == codec.ContinueAuthentication && c.reauth != nil:
	default:
		return violation(codec.ProtocolError, "MQTT-5:4.12.1-1", "AUTH with reason code "+p.ReasonCode.String()+" out of turn")
	}
	step, rc := c.reauth.Next(c.ctx, p.Properties.AuthenticationData)
	if rc == codec.Success && step.Done && step.Username != "" && step.Username != c.who.Username {
		rc = codec.NotAuthorized // a connection does not change hands
	}
	if rc != codec.Success {
		c.reauth = nil
		c.srv.stats.AuthFailures.Add(1)
		return violation(rc, "MQTT-5:4.12.1-2", "re-authentication failed: "+rc.String())
	}
	out := &codec.Auth{ReasonCode: codec.ContinueAuthentication,
		Properties: codec.Properties{AuthenticationMethod: a.method, AuthenticationData: step.Data}}
	if step.Done {
		c.reauth = nil
		out.ReasonCode = codec.Success
		c.auth.Store(&enhancedAuth{method: a.method, valid: step.Valid})
		c.log.Info("client re-authenticated", "method", a.method)
	}
	c.enqueuePacket(out)
	return nil
}

func (c *conn) handleDisconnect(p *codec.Disconnect) error {
	if c.version == codec.V5 && p.Properties.Has(codec.PropSessionExpiryInterval) {
		if c.zeroExpiry && p.Properties.SessionExpiryInterval != 0 {
			return violation(codec.ProtocolError, "", "Session Expiry Interval changed from 0 in DISCONNECT")
		}
		c.sess.setExpiry(min(p.Properties.SessionExpiryInterval, c.srv.limit().MaxSessionExpiry))
	}
	// [MQTT-3.14.4-3]: a DISCONNECT discards the will, except 5.0's 0x04.
	c.willOnClose = c.version == codec.V5 && p.ReasonCode == codec.DisconnectWithWillMessage
	return errNormal
}

// accepted reports whether the connection's CONNECT was accepted, after
// which its version, identity and session are set for good.
func (c *conn) accepted() bool {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	return c.hasSession
}

// kick closes the connection from outside its goroutines: on take-over and
// shutdown. A 5.0 client is told why.
func (c *conn) kick(rc codec.ReasonCode, why string) {
	c.kickOnce.Do(func() {
		c.kicked.Store(&closeError{code: rc, msg: why})
		// Do not wait for a stuck peer. Set before the queue is closed:
		// with nothing queued, closeQueue closes the connection itself, and
		// a WebSocket's close (wsConn.Close) then sends its close frame
		// without waiting for the peer's; after, it waited wsCloseTimeout
		// for a peer that never reads, on the kicking goroutine (Shutdown
		// kicks one connection after the other).
		c.nc.SetWriteDeadline(time.Now().Add(closeGrace))
		c.nc.SetReadDeadline(time.Now())
		c.outMu.Lock()
		tell := c.hasSession && c.version == codec.V5
		c.outMu.Unlock()
		if tell {
			c.enqueue(outItem{kind: codec.DISCONNECT, pkt: c.disconnectPacket(rc, why), close: true}, false, 4)
		} else {
			c.closeQueue()
		}
		c.ending() // a parked reader resumes, reads kicked and finishes
	})
}

// disconnectPacket builds a server DISCONNECT with a Reason String, which
// is allowed on DISCONNECT whatever Request Problem Information says
// [MQTT-5:3.1.2-29], but only when it fits the client's Maximum Packet Size
// [MQTT-5:3.14.2-3].
func (c *conn) disconnectPacket(rc codec.ReasonCode, why string) *codec.Disconnect {
	if !rc.ValidFor(codec.DISCONNECT) {
		rc = codec.UnspecifiedError
	}
	d := &codec.Disconnect{ReasonCode: rc}
	if len(why) <= 256 && (c.maxSize == 0 || len(why)+16 <= c.maxSize) {
		d.Properties.ReasonString = why
	}
	return d
}

// finish ends the connection after the read loop: it tells a 5.0 client
// why, lets the writer drain, and hands the session back.
func (c *conn) finish(err error) {
	c.disconnected(err)
	var ce *closeError
	switch {
	case errors.Is(err, errNormal):
		c.log.Debug("client disconnected")
	case errors.As(err, &ce):
		c.log.Warn("closing connection", "reason", ce.Error(), "code", ce.code)
		c.willOnClose = true
		if ce.code != 0 && c.version == codec.V5 && c.sess != nil {
			// [MQTT-5:4.13.1-1]: tell the client why, then close.
			c.kickOnce.Do(func() {
				c.enqueue(outItem{kind: codec.DISCONNECT, pkt: c.disconnectPacket(ce.code, ce.msg), close: true}, false, 4)
			})
		}
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed):
		c.log.Debug("connection lost", "err", err)
		c.willOnClose = true
	default:
		c.log.Info("connection lost", "err", err)
		c.willOnClose = true
	}
	c.closeQueue()
	c.nc.SetWriteDeadline(time.Now().Add(closeGrace))
	c.waitWriter()
	if !c.halfClosed {
		c.nc.Close()
	}
	if c.sess != nil {
		c.srv.release(c)
	}
	// The read buffer and packet cache back to the pool for the next
	// connection, rather than to the collector (nothing is read after
	// this; a connection that ended inside a packet keeps them).
	c.r.Release()
	c.outMu.Lock()
	c.ended = true
	if c.done != nil {
		close(c.done)
	}
	c.outMu.Unlock()
	if c.halfClosed {
		c.linger() // the peer reads the DISCONNECT, then the socket closes (close.go)
	}
	c.srv.forget(c)
}

// writerFinished is called by the writer once it has closed (or
// half-closed) the connection.
func (c *conn) writerFinished() {
	c.outMu.Lock()
	c.writerClosed = true
	ch := c.writerWait
	c.outMu.Unlock()
	if ch != nil {
		close(ch)
	}
}

// waitWriter waits until the writer has closed the connection.
func (c *conn) waitWriter() {
	c.outMu.Lock()
	if c.writerClosed {
		c.outMu.Unlock()
		return
	}
	if c.writerWait == nil {
		c.writerWait = make(chan struct{})
	}
	ch := c.writerWait
	c.outMu.Unlock()
	<-ch
}

// finished returns a channel that is closed once the connection has fully
// finished (its session handed back).
func (c *conn) finished() <-chan struct{} {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		if c.ended {
			close(c.done)
		}
	}
	return c.done
}
