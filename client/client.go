package client

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ternmq/tern/codec"
)

// Client is a connection to an MQTT server and the session that goes with
// it. Create it with Connect. Its methods are safe for concurrent use.
type Client struct {
	opts Options
	url  *url.URL
	log  *slog.Logger

	// ctx ends when Disconnect is called; it aborts reconnect attempts.
	ctx    context.Context
	cancel context.CancelFunc

	// cur is the live connection, nil while reconnecting. It is written
	// with mu held, so that holders of mu see a stable value, and read
	// without it on the QoS 0 path.
	cur    atomic.Pointer[conn]
	closed atomic.Bool // no more operations: Disconnect, or lost for good

	mu           sync.Mutex
	clientID     string           // the id in use (the server may assign one)
	connack      *codec.Connack   // the last CONNACK
	closeErr     error            // why the client closed
	disconnected bool             // Disconnect was called
	reason       codec.ReasonCode // its reason code
	out          outbound         // our QoS 1/2 publishes, SUBSCRIBE, UNSUBSCRIBE
	in           inbound          // the server's QoS 1/2 publishes
	subs         []subscription   // granted, made again when the server lost the session
	lastSubID    int              // the last Subscription Identifier given

	// routesMu is never held while taking mu.
	routesMu sync.RWMutex
	routes   []*route          // one per subscribed filter
	fallback *route            // Options.DefaultHandler's, nil without one
	oneQueue *serial[delivery] // the queue of every route with Options.SerialHandlers

	reauthMu sync.Mutex // one Reauthenticate at a time

	userWG sync.WaitGroup // handler and callback goroutines
	events *serial[func()]
	done   chan struct{} // closed when the supervisor goroutine ends
}

// Connect dials the server at url, sends CONNECT and waits for the CONNACK,
// all bounded by ctx. The URL's scheme picks the transport: mqtt:// or
// tcp:// (port 1883 by default), mqtts://, ssl:// or tls:// (8883), ws://
// (80) or wss:// (443); in the browser only ws:// and wss://. A WebSocket
// URL keeps its path, such as ws://host:8080/mqtt.
//
// A CONNACK with a failure reason code is returned as a *ReasonError. On
// success the Client keeps the connection open: it sends PINGREQ to keep
// it alive, and with Options.AutoReconnect it reconnects when it is lost.
// Call Disconnect to end it.
func Connect(ctx context.Context, url string, opts Options) (*Client, error) {
	opts.setDefaults()
	if !opts.Version.Valid() {
		return nil, fmt.Errorf("mqtt: unsupported protocol version %v", opts.Version)
	}
	if opts.Auth != nil && opts.Version != codec.V5 {
		return nil, fmt.Errorf("mqtt: enhanced authentication (Options.Auth) needs MQTT 5.0")
	}
	u, err := parseURL(url)
	if err != nil {
		return nil, err
	}
	c := &Client{
		opts:     opts,
		url:      u,
		log:      opts.Logger.With("broker", u.Redacted()),
		clientID: opts.ClientID,
		done:     make(chan struct{}),
	}
	c.out.init()
	c.in.init(opts.receiveMaximum())
	c.events = newSerial(&c.userWG, func(f func()) { f() })
	if opts.SerialHandlers {
		c.oneQueue = newSerial(&c.userWG, c.deliver)
	}
	if h := opts.DefaultHandler; h != nil {
		c.fallback = c.newRoute("", "", h)
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())

	cn, ack, err := c.handshake(ctx, opts.CleanStart)
	if err != nil {
		c.cancel()
		return nil, err
	}
	c.mu.Lock()
	c.attach(cn, ack)
	c.mu.Unlock()
	go c.supervise(cn)
	return c, nil
}

// Connack returns a copy of the CONNACK of the current (or last)
// connection: Session Present, and for 5.0 the server's limits and
// assignments (Assigned Client Identifier, Server Keep Alive, Receive
// Maximum, Maximum QoS, Topic Alias Maximum, ...).
func (c *Client) Connack() *codec.Connack {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.connack == nil {
		return nil
	}
	ack := *c.connack
	ack.Properties = cloneProperties(&c.connack.Properties)
	return &ack
}

// ServerLimits returns the Maximum QoS and Retain Available of the current
// connection's CONNACK (5.0): what a QoS 1 or 2 message or a retained one
// must fit to be sent on it [MQTT-5:3.2.2-11] [MQTT-5:3.2.2-14]. Without
// a connection, and for 3.1.1, it returns QoS 2 and true. A message is
// checked against the limits of the connection it is sent on, which may
// be a later one.
func (c *Client) ServerLimits() (maxQoS codec.QoS, retain bool) {
	if cn := c.cur.Load(); cn != nil {
		return cn.maxQoS, cn.retainOK
	}
	return codec.ExactlyOnce, true
}

// Disconnect ends the session's connection: it sends DISCONNECT with the
// reason code (5.0 only; codec.NormalDisconnection discards the Will,
// codec.DisconnectWithWillMessage asks the server to publish it), closes
// the network connection, stops reconnecting, and fails operations still
// pending with ErrClosed. Messages received but not yet handed to a
// handler are dropped (unacknowledged, so a persistent session gets them
// again). It then waits, bounded by ctx, for running handlers and
// callbacks to return: a handler or callback that wants to disconnect must
// call Disconnect from a new goroutine.
//
// It returns ErrClosed if Disconnect was already called, and ctx's error if
// ctx ended first.
func (c *Client) Disconnect(ctx context.Context, reason codec.ReasonCode) error {
	c.mu.Lock()
	if c.disconnected {
		c.mu.Unlock()
		return ErrClosed
	}
	c.disconnected, c.reason = true, reason
	c.closed.Store(true)
	cn := c.cur.Load()
	c.mu.Unlock()
	c.cancel()

	var err error
	if cn != nil {
		// DISCONNECT is the last packet on the connection, which the
		// writer closes after writing it [MQTT-3.14.4-1] [MQTT-3.14.4-2].
		cn.closeWith(ErrClosed, &codec.Disconnect{ReasonCode: reason})
		select {
		case <-cn.done:
		case <-ctx.Done():
			cn.fail(ctx.Err())
			err = ctx.Err()
		}
	}
	<-c.done
	c.closeRoutes()
	c.events.close()
	if werr := waitGroup(ctx, &c.userWG); werr != nil {
		return werr
	}
	return err
}

// waitGroup waits for wg or ctx.
func waitGroup(ctx context.Context, wg *sync.WaitGroup) error {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// handshake dials and exchanges CONNECT and CONNACK.
func (c *Client) handshake(ctx context.Context, cleanStart bool) (*conn, *codec.Connack, error) {
	dialer := c.opts.Dialer
	if dialer == nil {
		dialer = func(ctx context.Context, u *url.URL) (net.Conn, error) { return dial(ctx, u, &c.opts) }
	}
	nc, err := dialer(ctx, c.url)
	if err != nil {
		return nil, nil, err
	}
	c.mu.Lock()
	clientID := c.clientID
	c.mu.Unlock()
	keepAlive := c.opts.KeepAlive
	if keepAlive < 0 {
		keepAlive = 0
	}
	p := &codec.Connect{
		Version:     c.opts.Version,
		CleanStart:  cleanStart,
		KeepAlive:   uint16(keepAlive / time.Second),
		ClientID:    clientID,
		Will:        c.opts.Will,
		Username:    c.opts.Username,
		HasUsername: c.opts.Username != "",
		Password:    c.opts.Password,
		Bridge:      c.opts.Bridge && c.opts.Version == codec.V311,
	}
	if c.opts.Version == codec.V5 {
		p.Properties = c.opts.ConnectProperties
	}
	cn, ack, err := exchange(ctx, nc, p, c.opts.maxPacketSize(), c.opts.Auth)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	cn.setup(c, ack, keepAlive)
	return cn, ack, nil
}

// attach makes cn the live connection and brings the session up to date
// with the server: it discards the session state when the server has none
// [MQTT-3.2.2-5] (re-subscribing, and re-publishing as new messages what
// the server never acknowledged), or resends what is unacknowledged
// [MQTT-4.4.0-1]. The caller holds mu.
func (c *Client) attach(cn *conn, ack *codec.Connack) {
	c.connack = ack
	if id := ack.Properties.AssignedClientIdentifier; id != "" && c.opts.Version == codec.V5 {
		c.clientID = id
	}
	c.cur.Store(cn)
	c.out.setQuota(cn.sendQuota)
	c.out.resendCtrl(cn)
	if !ack.SessionPresent {
		c.in.reset()
		c.out.resetSession()
		c.resubscribe(cn)
	}
	c.out.pump(cn)
	c.in.flushAcks(cn)
	cn.start()
}

// supervise watches the live connection. When it is lost, it reports the
// loss and reconnects, or closes the client.
func (c *Client) supervise(cn *conn) {
	defer close(c.done)
	for {
		<-cn.done
		cn.wg.Wait()
		cause := cn.err
		c.mu.Lock()
		c.cur.Store(nil)
		c.out.detach()
		disconnected := c.disconnected
		c.mu.Unlock()
		if disconnected {
			c.shutdown(ErrClosed)
			return
		}
		c.log.Warn("connection lost", "err", cause)
		if !c.opts.AutoReconnect {
			c.shutdown(fmt.Errorf("%w: %w", ErrConnectionLost, cause))
		}
		if f := c.opts.OnConnectionLost; f != nil {
			c.events.push(func() { f(cause) }, 0)
		}
		if !c.opts.AutoReconnect {
			return
		}
		if cn = c.reconnect(); cn == nil {
			c.shutdown(ErrClosed)
			return
		}
	}
}

// reconnect dials until a connection is up or Disconnect is called, with
// exponential backoff and jitter between attempts.
func (c *Client) reconnect() *conn {
	clean := !c.opts.persistent() && c.opts.CleanStart
	for attempt := 0; ; attempt++ {
		t := time.NewTimer(backoff(attempt, c.opts.MinBackoff, c.opts.MaxBackoff))
		select {
		case <-c.ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(c.ctx, c.opts.ConnectTimeout)
		cn, ack, err := c.handshake(ctx, clean)
		cancel()
		if err != nil {
			c.log.Info("reconnect failed", "attempt", attempt+1, "err", err)
			continue
		}
		c.mu.Lock()
		if c.disconnected {
			// Disconnect came during the handshake: end this connection
			// as it asked.
			reason := c.reason
			c.mu.Unlock()
			if b, err := (&codec.Disconnect{ReasonCode: reason}).Append(nil, cn.v); err == nil {
				cn.nc.SetWriteDeadline(time.Now().Add(closeGrace))
				cn.nc.Write(b)
			}
			cn.nc.Close()
			return nil
		}
		c.attach(cn, ack)
		c.mu.Unlock()
		c.log.Info("reconnected", "session_present", ack.SessionPresent, "attempt", attempt+1)
		if f := c.opts.OnReconnect; f != nil {
			ack := *ack
			ack.Properties = cloneProperties(&ack.Properties)
			c.events.push(func() { f(&ack) }, 0)
		}
		return cn
	}
}

// backoff returns the wait before reconnect attempt n: min·2ⁿ capped at
// max, randomised to between half and all of it.
func backoff(n int, min, max time.Duration) time.Duration {
	d := max
	if n < 32 && min<<n > 0 && min<<n < max {
		d = min << n
	}
	return d/2 + rand.N(d/2+1)
}

// shutdown closes the client for good: pending operations fail with err.
func (c *Client) shutdown(err error) {
	c.mu.Lock()
	c.closed.Store(true)
	if c.closeErr == nil {
		c.closeErr = err
	}
	c.out.failAll(c.closeErr)
	c.mu.Unlock()
}
