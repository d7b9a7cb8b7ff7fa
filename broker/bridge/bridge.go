package bridge

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"
)

// Bridge connects the local broker to a remote one and forwards messages
// between them by its topic rules. Create it with New and run it with
// Run.
//
// Both ends are clients: on the local broker the bridge is a 5.0 client
// connected in-process (over a net.Pipe served by broker.Server.ServeConn)
// with a persistent session, so the broker's own session machinery queues
// what is bound for the remote broker, durably with a store, and applies
// its Authenticator and Authorizer to the bridge as to anyone. On the
// remote broker it is a Tern client (client package) over TCP, TLS,
// WebSocket or secure WebSocket.
//
// A QoS 1 or 2 message is acknowledged to the side it came from only
// after the other side has acknowledged it (PUBACK, or PUBCOMP for QoS 2),
// so it stays in that side's session until then, across lost connections
// and restarts. Messages are forwarded in the order they arrived, those
// of all rules and those queued in the session before the bridge
// subscribed again alike, up to MaxInflight at a time each way (the
// bridge's Receive Maximum on both brokers). QoS 0 messages are dropped (and counted) while the other side
// is unreachable.
//
// Loops are prevented with the 5.0 subscription options No Local and
// Retain As Published on both brokers (and, towards a 3.1.1 remote
// broker, Mosquitto's bridge marker, which asks it for the same): a
// message the bridge forwards is not sent back to it.
//
// The bridge publishes its state, "1" when the remote broker is connected
// and its subscriptions are made and "0" otherwise, as a retained message
// on $SYS/broker/connection/<Name>/state of the local broker.
type Bridge struct {
	cfg   Config
	srv   *broker.Server
	log   *slog.Logger
	rules rules
	tls   *tls.Config
	urls  []string
	// The local and remote subscriptions, in the order of their handlers.
	outSubs, inSubs *subscriptions

	stats   Stats
	running atomic.Bool
	next    atomic.Int64 // index of the address to dial next

	// opCtx bounds the forwarding publishes; it ends after the transports
	// are closed, so that no acknowledgement escapes a stopping bridge.
	opCtx context.Context
	// outq and inq carry the flows in progress to the drain goroutines
	// (drains counts them).
	outq, inq chan pending
	drains    sync.WaitGroup
	// ready is closed once remote is set.
	ready  chan struct{}
	remote atomic.Pointer[client.Client]
	local  atomic.Pointer[client.Client]

	mu       sync.Mutex
	stopping bool
	conns    map[*trackedConn]struct{} // the open transports of both sides
	pipes    sync.WaitGroup            // ServeConn goroutines of the local side

	stateMu sync.Mutex
	losses  int // remote connections lost, under stateMu
	up      atomic.Bool
}

// Stats are a bridge's counters.
type Stats struct {
	// Out and In count the messages forwarded to the remote broker and
	// to the local one (a QoS 1 or 2 message once acknowledged there).
	Out, In atomic.Uint64
	// Dropped counts the messages not forwarded: QoS 0 while the other
	// side is unreachable, and messages the other side refused (a 5.0
	// reason code such as 0x87 Not authorized, a topic the mapping made
	// invalid); each is logged.
	Dropped atomic.Uint64
}

// errStopping is the dial error of a bridge that is stopping.
var errStopping = errors.New("bridge: stopping")

// New returns a bridge from cfg between srv and the remote broker. It
// validates cfg and reads its TLS files; it does not connect (see Run).
func New(srv *broker.Server, cfg Config) (*Bridge, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	tc, err := cfg.TLS.tlsConfig()
	if err != nil {
		return nil, err
	}
	b := &Bridge{
		cfg:   cfg,
		srv:   srv,
		log:   cfg.Logger.With("bridge", cfg.Name),
		rules: rules(cfg.Topics),
		tls:   tc,
		ready: make(chan struct{}),
		conns: make(map[*trackedConn]struct{}),
		outq:  make(chan pending, cfg.MaxInflight),
		inq:   make(chan pending, cfg.MaxInflight),
	}
	for _, a := range cfg.Addresses {
		u, _ := remoteURL(a) // checked by Validate
		b.urls = append(b.urls, u)
	}
	b.outSubs = newSubscriptions(b.rules.filters(Direction.out, Rule.LocalFilter))
	b.inSubs = newSubscriptions(b.rules.filters(Direction.in, Rule.RemoteFilter))
	return b, nil
}

// Name returns the bridge's name.
func (b *Bridge) Name() string { return b.cfg.Name }

// Connected reports whether the remote broker is connected and the
// bridge's subscriptions are made (its state topic says "1").
func (b *Bridge) Connected() bool { return b.up.Load() }

// Stats returns the bridge's counters.
func (b *Bridge) Stats() *Stats { return &b.stats }

// Run connects the bridge and forwards messages until ctx is done, then
// stops it and returns nil. It connects to the local broker first, so
// that messages for the remote broker are queued from then on, then to
// the remote broker, with a jittered exponential backoff between attempts
// that never gives up; the client package reconnects the same way after a
// connection is lost. A bridge runs once: a second Run returns an error.
func (b *Bridge) Run(ctx context.Context) error {
	if !b.running.CompareAndSwap(false, true) {
		return errors.New("bridge: Run called twice")
	}
	opCtx, cancelOps := context.WithCancel(context.WithoutCancel(ctx))
	b.opCtx = opCtx
	b.drains.Go(func() { b.drain(b.outq) })
	b.drains.Go(func() { b.drain(b.inq) })
	b.setState(false)
	var local, remote *client.Client
	if local = b.connectLocal(ctx); local != nil {
		b.local.Store(local)
		if remote = b.connectRemote(ctx); remote != nil {
			b.remote.Store(remote)
			close(b.ready)
			b.subscribe(ctx, remote, b.inSubs, b.inHandler, b.cfg.Version == codec.V5)
			b.firstUp()
		}
	}
	<-ctx.Done()
	b.stop(cancelOps, local, remote)
	return nil
}

// connectLocal connects the bridge's session on the local broker and
// makes its subscriptions for the Out rules; nil when ctx ends first.
func (b *Bridge) connectLocal(ctx context.Context) *client.Client {
	opts := client.Options{
		ClientID: b.cfg.LocalClientID,
		Username: b.cfg.LocalUsername,
		Password: password(b.cfg.LocalPassword),
		Version:  codec.V5,
		// A persistent session: what matches the Out rules is queued
		// in it while the remote broker is away, or the bridge stopped.
		ConnectProperties: codec.Properties{SessionExpiryInterval: b.cfg.LocalSessionExpiry, ReceiveMaximum: b.cfg.MaxInflight},
		KeepAlive:         -1, // a pipe in the same process
		AutoReconnect:     true,
		SerialHandlers:    true, // one order for all subscriptions and the default handler
		MinBackoff:        10 * time.Millisecond,
		MaxBackoff:        time.Second,
		Dialer:            b.dialLocal,
		// Messages queued for the session arrive before the
		// subscriptions are made again.
		DefaultHandler: b.outHandler(-1),
		Logger:         b.log.With("side", "local"),
	}
	c := retry(ctx, b, "local broker", func(ctx context.Context) (*client.Client, error) {
		return client.Connect(ctx, "mqtt://local", opts)
	})
	if c != nil {
		b.subscribe(ctx, c, b.outSubs, b.outHandler, true)
	}
	return c
}

// connectRemote connects to the remote broker; nil when ctx ends first.
func (b *Bridge) connectRemote(ctx context.Context) *client.Client {
	opts := client.Options{
		ClientID:          b.cfg.ClientID,
		Username:          b.cfg.Username,
		Password:          password(b.cfg.Password),
		Version:           b.cfg.Version,
		Bridge:            !b.cfg.NoTryPrivate,
		CleanStart:        b.cfg.CleanStart,
		KeepAlive:         time.Duration(b.cfg.KeepAlive) * time.Second,
		ConnectProperties: codec.Properties{SessionExpiryInterval: b.cfg.SessionExpiry, ReceiveMaximum: b.cfg.MaxInflight},
		AutoReconnect:     true,
		SerialHandlers:    true,
		MinBackoff:        b.cfg.MinBackoff,
		MaxBackoff:        b.cfg.MaxBackoff,
		ConnectTimeout:    b.cfg.ConnectTimeout,
		TLSConfig:         b.tls,
		Dialer:            b.dialRemote,
		DefaultHandler:    b.inHandler(-1),
		OnConnectionLost:  b.lost,
		OnReconnect:       func(*codec.Connack) { b.setState(true) },
		Logger:            b.log.With("side", "remote"),
	}
	return retry(ctx, b, "remote broker", func(ctx context.Context) (*client.Client, error) {
		ctx, cancel := context.WithTimeout(ctx, b.cfg.ConnectTimeout)
		defer cancel()
		c, err := client.Connect(ctx, b.urls[0], opts)
		var re *client.ReasonError
		if opts.Bridge && opts.Version == codec.V311 && errors.As(err, &re) &&
			(re.Code == codec.RefusedProtocolVersion || re.Code == codec.UnsupportedProtocolVersion) {
			b.log.Info("remote broker refused the bridge marker (try_private): connecting as a plain client")
			opts.Bridge = false
			c, err = client.Connect(ctx, b.urls[0], opts)
		}
		return c, err
	})
}

// retry calls connect until it succeeds or ctx ends, waiting between
// attempts from MinBackoff doubling up to MaxBackoff, each wait drawn
// between half and all of it.
func retry(ctx context.Context, b *Bridge, what string, connect func(context.Context) (*client.Client, error)) *client.Client {
	for attempt := 0; ; attempt++ {
		c, err := connect(ctx)
		if err == nil {
			b.log.Info("connected", "to", what)
			return c
		}
		if ctx.Err() != nil {
			return nil
		}
		wait := backoff(attempt, b.cfg.MinBackoff, b.cfg.MaxBackoff)
		b.log.Warn("cannot connect", "to", what, "attempt", attempt+1, "retry_in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// backoff returns the wait before attempt n+1: lo·2ⁿ capped at hi, drawn
// at random between half and all of it, so that bridges that lost the
// same broker do not come back in step.
func backoff(n int, lo, hi time.Duration) time.Duration {
	d := hi
	if n < 32 && lo<<n > 0 && lo<<n < hi {
		d = lo << n
	}
	return d/2 + rand.N(d/2+1)
}

// subscriptions are one side's subscriptions, in the order of their
// handlers, and which of them the broker refused.
type subscriptions struct {
	list    []codec.Subscription
	refused []atomic.Bool
}

func newSubscriptions(list []codec.Subscription) *subscriptions {
	return &subscriptions{list: list, refused: make([]atomic.Bool, len(list))}
}

// first returns the index of the first subscription, not refused, that
// matches topic, or -1. Its handler is the one that forwards a message
// that matches several: the broker sends one copy, which the client hands
// to the handler of every matching subscription.
func (s *subscriptions) first(topic string) int {
	for i, sub := range s.list {
		if !s.refused[i].Load() && codec.MatchTopic(sub.Filter, topic) {
			return i
		}
	}
	return -1
}

// subscribe makes subs on c, each with its own handler; with opts, No
// Local and Retain As Published (5.0). A refused subscription is logged:
// its rules forward nothing.
func (b *Bridge) subscribe(ctx context.Context, c *client.Client, subs *subscriptions, handler func(int) client.Handler, opts bool) {
	for i, s := range subs.list {
		if opts {
			s.NoLocal, s.RetainAsPublished = true, true
		}
		if _, err := c.Subscribe(ctx, handler(i), s); err != nil && ctx.Err() == nil {
			subs.refused[i].Store(true)
			b.log.Error("subscription refused: its topic rules forward nothing", "filter", s.Filter, "err", err)
		}
	}
}

// outHandler returns the handler of local subscription i (-1 for the
// local client's default handler), which forwards a message to the
// remote broker.
func (b *Bridge) outHandler(i int) client.Handler {
	return func(m *client.Message) {
		if i >= 0 && b.outSubs.first(m.Topic) != i {
			return // the handler of an earlier matching subscription forwards it
		}
		topic, ok := b.rules.toRemote(m.Topic)
		if !ok {
			return // a subscription left in the session by an older configuration
		}
		select {
		case <-b.ready:
		case <-b.opCtx.Done():
			return
		}
		b.forward(b.remote.Load(), m, topic, b.outq, &b.stats.Out)
	}
}

// inHandler is outHandler for remote subscription i.
func (b *Bridge) inHandler(i int) client.Handler {
	return func(m *client.Message) {
		if i >= 0 && b.inSubs.first(m.Topic) != i {
			return
		}
		topic, ok := b.rules.toLocal(m.Topic)
		if !ok {
			return
		}
		b.forward(b.local.Load(), m, topic, b.inq, &b.stats.In)
	}
}

// pending is a forwarded QoS 1 or 2 message whose flow on the other side
// is not complete: its acknowledgement to its own side waits for it.
type pending struct {
	wait    func(context.Context) error
	release func() // lets the client acknowledge the message to its side
	m       *client.Message
	topic   string
	n       *atomic.Uint64
}

// forward queues m for the other side (client c) on topic, in the order
// the handler is called, and hands the rest of its flow to the
// direction's drain goroutine through q: the handler returns at once, but
// m is acknowledged to its own side only when the other side has
// acknowledged it (Message.Defer), so up to MaxInflight messages are in
// flight each way.
func (b *Bridge) forward(c *client.Client, m *client.Message, topic string, q chan<- pending, n *atomic.Uint64) {
	if c == nil {
		return
	}
	release := m.Defer()
	fwd := &client.Message{Topic: topic, Payload: m.Payload, QoS: m.QoS, Retain: m.Retain, Properties: m.Properties}
	fit(c, fwd)
	wait, err := c.PublishAsync(b.opCtx, fwd)
	if err != nil {
		if b.settle(err, m, topic, n) {
			release()
		}
		return
	}
	select {
	case q <- pending{wait: wait, release: release, m: m, topic: topic, n: n}:
	case <-b.opCtx.Done():
	}
}

// fit lowers fwd to what the side of c allows by its CONNACK (Maximum
// QoS, Retain Available): a broker that takes less gets the message as a
// subscription granted a lower QoS would [MQTT-5:3.8.4-8], and without
// RETAIN, instead of not at all.
func fit(c *client.Client, fwd *client.Message) {
	maxQoS, retain := c.ServerLimits()
	fwd.QoS = min(fwd.QoS, maxQoS)
	fwd.Retain = fwd.Retain && retain
}

// drain completes the flows of one direction, in order, until the bridge
// stops.
func (b *Bridge) drain(q <-chan pending) {
	for {
		select {
		case p := <-q:
			if b.settle(p.wait(b.opCtx), p.m, p.topic, p.n) {
				p.release()
			}
		case <-b.opCtx.Done():
			return
		}
	}
}

// settle counts the outcome of a forward and reports whether the message
// is done with on its own side: forwarded, or dropped (QoS 0 while the
// other side is unreachable, a refusal by the other side, a topic the
// mapping made invalid), which is counted and logged. A stopping bridge
// leaves it unacknowledged: its transports are closed, so the message
// stays in its session and comes again.
func (b *Bridge) settle(err error, m *client.Message, topic string, n *atomic.Uint64) bool {
	switch {
	case err == nil:
		n.Add(1)
	case b.opCtx.Err() != nil || errors.Is(err, client.ErrClosed):
		return false
	default:
		d := b.stats.Dropped.Add(1)
		if d == 1 || d%1000 == 0 {
			b.log.Warn("message dropped", "topic", m.Topic, "to_topic", topic, "qos", m.QoS, "err", err, "dropped_total", d)
		}
	}
	return true
}
