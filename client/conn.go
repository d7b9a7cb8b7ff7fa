package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ternmq/tern/codec"
)

// conn is one network connection of a Client: a reader goroutine that
// decodes and handles packets, a writer goroutine that writes whatever has
// been queued with one Write, and a keep-alive goroutine. Topic aliases and
// the server's limits belong to it, since they last one connection only
// [MQTT-5:3.3.2-7].
type conn struct {
	c   *Client
	nc  net.Conn
	r   *codec.Reader
	v   codec.Version
	log *slog.Logger

	keepAlive   time.Duration // 0: off
	pingTimeout time.Duration

	// The server's limits, from its CONNACK.
	sendQuota int       // Receive Maximum
	maxPacket int       // Maximum Packet Size, 0 for none
	maxQoS    codec.QoS // Maximum QoS
	retainOK  bool      // Retain Available
	aliasMax  uint16    // Topic Alias Maximum (capped by maxOutAliases)
	subIDs    bool      // Subscription Identifiers Available

	// Server→client topic aliases; used by the reader goroutine only.
	inAliasMax uint16
	inAliases  map[uint16]string

	// The write queue: packets are encoded into out as they are queued,
	// so that out is the exact byte stream the server will read, and
	// client→server topic aliases are assigned in that order too.
	outMu     sync.Mutex
	out       []byte
	outClosed bool
	closeErr  error             // the error to end with once out is written
	aliases   map[string]uint16 // client→server topic aliases
	spare     []byte            // the writer's other buffer, for reuse
	room      chan struct{}     // closed when out is taken by the writer
	wake      chan struct{}

	reauth atomic.Pointer[reauth] // a re-authentication in progress

	lastWrite atomic.Int64 // UnixNano of the last completed Write
	pingSent  atomic.Int64 // UnixNano of the PINGREQ awaiting its PINGRESP, 0 for none

	done chan struct{} // closed when the connection is dead
	once sync.Once
	err  error // why it died; read after done is closed
	wg   sync.WaitGroup
}

const (
	// maxOutBuffer is the size of the write queue above which Publish
	// waits for the writer (acknowledgements never wait).
	maxOutBuffer = 1 << 20
	// maxWriteChunk bounds one Write, and so one WebSocket message.
	maxWriteChunk = 256 << 10
	// maxKeptBuffer is the largest write buffer kept for reuse, and
	// maxIdleBuffer the largest kept once the connection is idle (when
	// it sends a PINGREQ).
	maxKeptBuffer = 2 * maxOutBuffer
	maxIdleBuffer = 64 << 10
	// maxOutAliases caps the client→server topic aliases the client
	// assigns, whatever the server allows.
	maxOutAliases = 1024
	// closeGrace bounds the writing of the last packets before a close.
	closeGrace = 2 * time.Second
)

// exchange sends CONNECT on nc and reads the CONNACK, bounded by ctx, with
// the AUTH packets of enhanced authentication in between when auth is set
// [MQTT-5:4.12.0-1]. It returns the new connection (not yet started) and a
// copy of the CONNACK.
func exchange(ctx context.Context, nc net.Conn, p *codec.Connect, maxPacket int, auth EnhancedAuth) (*conn, *codec.Connack, error) {
	var ax AuthExchange
	if auth != nil {
		var data []byte
		var err error
		if ax, data, err = auth.Begin(); err != nil {
			return nil, nil, fmt.Errorf("mqtt: connect: %w", err)
		}
		p.Properties.AuthenticationMethod, p.Properties.AuthenticationData = auth.Method(), data
	}
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	buf, err := p.Append(nil, p.Version)
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("mqtt: cannot encode CONNECT: %w", err)
	}
	r := codec.NewReader(nc, maxPacket)
	r.SetVersion(p.Version)
	var pkt codec.Packet
	if _, err = nc.Write(buf); err == nil {
		pkt, err = r.ReadPacket()
		for err == nil && pkt.Type() == codec.AUTH && ax != nil {
			var out []byte
			if out, err = authStep(ax, pkt.(*codec.Auth), auth.Method()); err != nil {
				break
			}
			a := &codec.Auth{ReasonCode: codec.ContinueAuthentication,
				Properties: codec.Properties{AuthenticationMethod: auth.Method(), AuthenticationData: out}}
			if buf, err = a.Append(buf[:0], p.Version); err != nil {
				break
			}
			if _, err = nc.Write(buf); err == nil {
				pkt, err = r.ReadPacket()
			}
		}
	}
	if !stop() {
		return nil, nil, ctx.Err() // ctx ended and closed nc
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("%w (the server closed the connection without a CONNACK)", err)
		}
		return nil, nil, fmt.Errorf("mqtt: connect: %w", err)
	}
	nc.SetDeadline(time.Time{})
	ack, ok := pkt.(*codec.Connack)
	if !ok {
		return nil, nil, fmt.Errorf("mqtt: connect: expected CONNACK, got %v", pkt.Type())
	}
	if ack.ReasonCode != codec.Success {
		re := &ReasonError{Op: "connect", Code: ack.ReasonCode}
		if p.Version == codec.V5 {
			re.Reason, re.ServerReference = ack.Properties.ReasonString, ack.Properties.ServerReference
		} else {
			re.Code = connackCode311(ack.ReasonCode)
		}
		return nil, nil, re
	}
	if p.CleanStart && ack.SessionPresent {
		return nil, nil, refuseSession(nc, p.Version)
	}
	if ax != nil {
		// [MQTT-5:4.12.0-5]: the CONNACK ends the exchange with the
		// method and the server's last data, which must authenticate it.
		if ack.Properties.AuthenticationMethod != auth.Method() {
			return nil, nil, fmt.Errorf("mqtt: connect: %w: the CONNACK has Authentication Method %q, want %q",
				ErrServerNotAuthenticated, ack.Properties.AuthenticationMethod, auth.Method())
		}
		if err := ax.Finish(ack.Properties.AuthenticationData); err != nil {
			return nil, nil, fmt.Errorf("mqtt: connect: %w: %w", ErrServerNotAuthenticated, err)
		}
	}
	cp := *ack
	cp.Properties = cloneProperties(&ack.Properties)
	return &conn{nc: nc, r: r, v: p.Version}, &cp, nil
}

// refuseSession ends a connection whose CONNACK reports Session Present 1
// although the CONNECT had Clean Start 1: the client has no session state,
// and the server must have none [MQTT-5:3.2.2-2] [MQTT-3:3.2.2-1], so the
// client closes the connection [MQTT-5:3.2.2-4], telling a 5.0 server why
// with DISCONNECT 0x82 (Protocol Error). The caller closes nc.
func refuseSession(nc net.Conn, v codec.Version) error {
	pe := &protocolError{code: codec.ProtocolError, msg: "CONNACK with Session Present 1 after a CONNECT with Clean Start 1"}
	if v == codec.V5 {
		if b, err := (&codec.Disconnect{ReasonCode: pe.code}).Append(nil, v); err == nil {
			nc.SetWriteDeadline(time.Now().Add(closeGrace))
			nc.Write(b) // best effort: the connection is closed either way
		}
	}
	return fmt.Errorf("mqtt: connect: %w", pe)
}

// authStep answers one AUTH of the server during the CONNECT exchange.
func authStep(ax AuthExchange, a *codec.Auth, method string) ([]byte, error) {
	if a.ReasonCode != codec.ContinueAuthentication || a.Properties.AuthenticationMethod != method {
		return nil, fmt.Errorf("AUTH %s with method %q during authentication with %q",
			a.ReasonCode, a.Properties.AuthenticationMethod, method)
	}
	return ax.Next(a.Properties.AuthenticationData)
}

// setup applies the CONNACK to the connection's settings.
func (cn *conn) setup(c *Client, ack *codec.Connack, keepAlive time.Duration) {
	cn.c = c
	cn.log = c.log
	props := &ack.Properties
	v5 := cn.v == codec.V5
	if v5 && props.Has(codec.PropServerKeepAlive) {
		keepAlive = time.Duration(props.ServerKeepAlive) * time.Second // [MQTT-5:3.2.2-21]
	}
	cn.keepAlive = keepAlive
	cn.pingTimeout = c.opts.pingTimeout(keepAlive)
	cn.sendQuota, cn.maxQoS, cn.retainOK = defaultReceiveMaximum, codec.ExactlyOnce, true
	if v5 {
		if props.ReceiveMaximum > 0 {
			cn.sendQuota = int(props.ReceiveMaximum)
		}
		cn.maxPacket = int(props.MaximumPacketSize)
		if props.Has(codec.PropMaximumQoS) {
			cn.maxQoS = codec.QoS(props.MaximumQoS)
		}
		if props.Has(codec.PropRetainAvailable) {
			cn.retainOK = props.RetainAvailable != 0
		}
		cn.aliasMax = min(props.TopicAliasMaximum, maxOutAliases)
		cn.subIDs = !props.Has(codec.PropSubscriptionIdentifierAvailable) || props.SubscriptionIdentifierAvailable != 0
		cn.inAliasMax = c.opts.topicAliasMaximum()
	}
	cn.wake = make(chan struct{}, 1)
	cn.done = make(chan struct{})
	cn.lastWrite.Store(time.Now().UnixNano())
}

// start runs the connection's goroutines.
func (cn *conn) start() {
	cn.wg.Add(2)
	go cn.readLoop()
	go cn.writeLoop()
	if cn.keepAlive > 0 {
		cn.wg.Add(1)
		go cn.keepAliveLoop()
	}
}

// fail marks the connection dead with err and closes it. The first error
// wins.
func (cn *conn) fail(err error) {
	won := false
	cn.once.Do(func() {
		cn.err = err
		close(cn.done)
		won = true
	})
	if won {
		cn.nc.Close()
	}
}

// closeWith queues p (if not nil) as the last packet; the writer writes
// what is queued and then fails the connection with err.
func (cn *conn) closeWith(err error, p codec.Packet) {
	cn.outMu.Lock()
	if cn.outClosed {
		cn.outMu.Unlock()
		return
	}
	if p != nil {
		if out, perr := p.Append(cn.out, cn.v); perr == nil {
			cn.out = out
		}
	}
	cn.outClosed, cn.closeErr = true, err
	cn.outMu.Unlock()
	cn.nc.SetWriteDeadline(time.Now().Add(closeGrace))
	cn.signal()
}

func (cn *conn) signal() {
	select {
	case cn.wake <- struct{}{}:
	default:
	}
}

// errConnClosed is returned when queueing on a connection that is closing.
var errConnClosed = errors.New("mqtt: connection closing")

// writePublish queues a PUBLISH, replacing its topic by a topic alias when
// the server accepts aliases: the first PUBLISH of a topic carries the
// topic and a new alias, later ones the alias alone. Aliases stay within
// the server's Topic Alias Maximum and are not used when it is absent or 0
// ([MQTT-5:3.2.2-17], [MQTT-5:3.2.2-18], [MQTT-5:3.3.2-9]).
func (cn *conn) writePublish(p *codec.Publish) error {
	cn.outMu.Lock()
	defer cn.outMu.Unlock()
	if cn.outClosed {
		return errConnClosed
	}
	if cn.aliasMax > 0 {
		if a, ok := cn.aliases[p.Topic]; ok {
			p.Properties.TopicAlias, p.Topic = a, ""
		} else if len(cn.aliases) < int(cn.aliasMax) {
			if cn.aliases == nil {
				cn.aliases = make(map[string]uint16)
			}
			a = uint16(len(cn.aliases) + 1)
			cn.aliases[p.Topic] = a
			p.Properties.TopicAlias = a
		}
	}
	out, err := p.Append(cn.out, cn.v)
	if err != nil {
		return err
	}
	cn.out = out
	cn.signal()
	return nil
}

// writeAck queues a PUBACK, PUBREC, PUBREL or PUBCOMP. One that cannot be
// encoded ends the connection: the server would otherwise wait for it for
// ever, and the session sends the exchange again after a reconnect.
func (cn *conn) writeAck(t codec.PacketType, id uint16, rc codec.ReasonCode) {
	if err := cn.appendAck(t, id, rc); err != nil {
		cn.fail(fmt.Errorf("mqtt: cannot encode %s: %w", t, err))
	}
}

func (cn *conn) appendAck(t codec.PacketType, id uint16, rc codec.ReasonCode) error {
	a := codec.Ack{PacketID: id, ReasonCode: rc}
	cn.outMu.Lock()
	defer cn.outMu.Unlock()
	if cn.outClosed {
		return nil
	}
	var out []byte
	var err error
	switch t {
	case codec.PUBACK:
		out, err = (&codec.Puback{Ack: a}).Append(cn.out, cn.v)
	case codec.PUBREC:
		out, err = (&codec.Pubrec{Ack: a}).Append(cn.out, cn.v)
	case codec.PUBREL:
		out, err = (&codec.Pubrel{Ack: a}).Append(cn.out, cn.v)
	case codec.PUBCOMP:
		out, err = (&codec.Pubcomp{Ack: a}).Append(cn.out, cn.v)
	}
	if err != nil {
		return err
	}
	cn.out = out
	cn.signal()
	return nil
}

// writePacket queues any other packet.
func (cn *conn) writePacket(p codec.Packet) error {
	cn.outMu.Lock()
	defer cn.outMu.Unlock()
	if cn.outClosed {
		return errConnClosed
	}
	out, err := p.Append(cn.out, cn.v)
	if err != nil {
		return err
	}
	cn.out = out
	cn.signal()
	return nil
}

// waitRoom waits, bounded by ctx, until the write queue is below
// maxOutBuffer: a fast publisher on a slow network waits for the writer
// instead of growing the queue without bound.
func (cn *conn) waitRoom(ctx context.Context) error {
	for {
		cn.outMu.Lock()
		if cn.outClosed || len(cn.out) < maxOutBuffer {
			cn.outMu.Unlock()
			return nil
		}
		if cn.room == nil {
			cn.room = make(chan struct{})
		}
		room := cn.room
		cn.outMu.Unlock()
		select {
		case <-room:
		case <-cn.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// writeLoop writes everything queued with one Write (in chunks of at most
// maxWriteChunk), then waits for more.
func (cn *conn) writeLoop() {
	defer cn.wg.Done()
	for {
		select {
		case <-cn.wake:
		case <-cn.done:
			return
		}
		cn.outMu.Lock()
		buf := cn.out
		cn.out, cn.spare = cn.spare[:0], nil
		closed, closeErr := cn.outClosed, cn.closeErr
		if cn.room != nil {
			close(cn.room)
			cn.room = nil
		}
		cn.outMu.Unlock()
		for b := buf; len(b) > 0; {
			n := min(len(b), maxWriteChunk)
			if _, err := cn.nc.Write(b[:n]); err != nil {
				cn.fail(fmt.Errorf("mqtt: write: %w", err))
				return
			}
			b = b[n:]
			cn.lastWrite.Store(time.Now().UnixNano())
		}
		if cap(buf) <= maxKeptBuffer {
			cn.outMu.Lock()
			cn.spare = buf[:0]
			cn.outMu.Unlock()
		}
		if closed {
			cn.fail(closeErr)
			return
		}
	}
}

// keepAliveLoop sends a PINGREQ whenever the client has sent nothing for
// the keep-alive interval ([MQTT-5:3.1.2-20], [MQTT-3:3.1.2-23]) and
// declares the connection dead when the PINGRESP does not come within
// the ping timeout.
func (cn *conn) keepAliveLoop() {
	defer cn.wg.Done()
	t := time.NewTimer(cn.keepAlive)
	defer t.Stop()
	for {
		select {
		case <-cn.done:
			return
		case <-t.C:
		}
		now := time.Now()
		if sent := cn.pingSent.Load(); sent != 0 {
			if wait := time.Duration(sent) + cn.pingTimeout - time.Duration(now.UnixNano()); wait > 0 {
				t.Reset(wait)
				continue
			}
			cn.fail(ErrKeepAliveTimeout)
			return
		}
		idle := time.Duration(now.UnixNano() - cn.lastWrite.Load())
		if idle < cn.keepAlive {
			t.Reset(cn.keepAlive - idle)
			continue
		}
		cn.pingSent.Store(now.UnixNano())
		cn.outMu.Lock()
		if cap(cn.spare) > maxIdleBuffer {
			cn.spare = nil // idle: do not keep a large buffer
		}
		cn.outMu.Unlock()
		cn.writePacket(&codec.Pingreq{})
		t.Reset(cn.pingTimeout)
	}
}

// readLoop decodes packets and hands them to the Client until the
// connection fails. It never waits for handlers.
func (cn *conn) readLoop() {
	defer cn.wg.Done()
	for {
		p, err := cn.r.ReadPacket()
		if err != nil {
			var ce *codec.Error
			switch {
			case errors.As(err, &ce):
				cn.violate(&protocolError{code: ce.Code, msg: ce.Error()})
			case errors.Is(err, io.EOF):
				cn.fail(fmt.Errorf("mqtt: the server closed the connection: %w", err))
			default:
				cn.fail(fmt.Errorf("mqtt: read: %w", err))
			}
			return
		}
		if err := cn.c.handle(cn, p); err != nil {
			var pe *protocolError
			if errors.As(err, &pe) {
				cn.violate(pe)
			} else {
				cn.fail(err)
			}
			return
		}
	}
}

// violate closes the connection after a protocol violation by the server,
// telling a 5.0 server why.
func (cn *conn) violate(pe *protocolError) {
	cn.log.Warn("closing connection", "err", pe)
	var p codec.Packet
	if cn.v == codec.V5 {
		code := pe.code
		if !code.ValidFor(codec.DISCONNECT) {
			code = codec.ProtocolError
		}
		p = &codec.Disconnect{ReasonCode: code}
	}
	cn.closeWith(pe, p)
}

// check reports whether the server accepts m, by the limits in its
// CONNACK, as the *ReasonError the server would answer with.
func (cn *conn) check(m *Message, p *codec.Publish) error {
	switch {
	case m.QoS > cn.maxQoS: // [MQTT-5:3.2.2-11]
		return &ReasonError{Op: "publish", Code: codec.QoSNotSupported,
			Reason: fmt.Sprintf("the server's Maximum QoS is %d", cn.maxQoS)}
	case m.Retain && !cn.retainOK: // [MQTT-5:3.2.2-14]
		return &ReasonError{Op: "publish", Code: codec.RetainNotSupported,
			Reason: "the server does not support retained messages"}
	}
	if cn.maxPacket > 0 { // [MQTT-5:3.2.2-15]
		if n, err := p.Size(cn.v); err == nil && n > cn.maxPacket {
			return &ReasonError{Op: "publish", Code: codec.PacketTooLarge,
				Reason: fmt.Sprintf("the PUBLISH is %d bytes; the server's Maximum Packet Size is %d", n, cn.maxPacket)}
		}
	}
	return nil
}
