package chat

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/wasm/internal/pace"
)

// Defaults of ConnOptions.
const (
	DefaultInterval   = 75 * time.Millisecond
	DefaultMaxPending = 10_000
)

// ConnOptions configures a Conn.
type ConnOptions struct {
	URL      string // ws:// or wss:// in the browser
	Username string
	Password []byte
	ClientID string
	// SessionExpiry is the 5.0 Session Expiry Interval in seconds: above
	// 0 the session, its subscriptions and the messages queued for it
	// outlive the connection, and a later Conn with the same ClientID
	// resumes it (with Clean Start 0).
	SessionExpiry uint32
	// Will is published by the broker when the connection ends without a
	// DISCONNECT (a tab closed, a network lost).
	Will *codec.Will
	// Filters are subscribed at QoS 1 once connected.
	Filters []string
	// Unsubscribe lists filters removed once connected: those an earlier
	// version of the page subscribed its persistent session to.
	Unsubscribe []string
	// Hello is published (QoS 1) on every connection, the first and each
	// automatic reconnection: a presence, whose Will may have cleared it
	// while the connection was down.
	Hello *client.Message
	// OnUpdate receives what happened, batched: at most one call per
	// Interval (DefaultInterval), on a goroutine of the Conn.
	OnUpdate func(Update)
	Interval time.Duration
	// MaxPending bounds the messages waiting for the next update; beyond
	// it the oldest are dropped and counted (DefaultMaxPending).
	MaxPending int
	Logger     *slog.Logger
	// Dialer replaces the client's dialling (see client.Options.Dialer);
	// for tests.
	Dialer func(ctx context.Context, u *url.URL) (net.Conn, error)
}

// In is a received message.
type In struct {
	Topic   string
	Payload []byte
	Retain  bool
	Time    time.Time
}

// ConnState is where a Conn stands.
type ConnState uint8

// The states of a Conn.
const (
	Connecting ConnState = iota
	Connected
	Reconnecting
	Failed
	Closed
)

// String names the state.
func (s ConnState) String() string {
	return [...]string{"connecting", "connected", "reconnecting", "failed", "closed"}[s]
}

// Event is a change of a Conn's state.
type Event struct {
	State ConnState
	Err   error // why, for Reconnecting and Failed
	// SessionPresent is the CONNACK's flag, for Connected: the broker
	// resumed the session (and sends what it queued for it).
	SessionPresent bool
}

// Update is what a Conn hands over at most once per interval.
type Update struct {
	Messages []In
	Events   []Event
	Dropped  int
}

// Conn is one MQTT connection of the chat: the lobby's (clean, presence
// of every room) or a room's (persistent, with the member's presence as
// its Will). It reconnects by itself. Messages that arrive for a resumed
// session before it has subscribed again are delivered too
// (client.Options.DefaultHandler).
type Conn struct {
	o      ConnOptions
	c      atomic.Pointer[client.Client]
	ctx    context.Context // ends with Close
	cancel context.CancelFunc

	mu      sync.Mutex
	hello   *client.Message
	msgs    []In
	events  []Event
	dropped int

	wake      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// ErrNotConnected is returned by Publish before Connect succeeded.
var ErrNotConnected = errors.New("chat: not connected")

// NewConn returns a Conn and starts its batching goroutine; call Connect,
// and Close to end it.
func NewConn(o ConnOptions) *Conn {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.MaxPending <= 0 {
		o.MaxPending = DefaultMaxPending
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.OnUpdate == nil {
		o.OnUpdate = func(Update) {}
	}
	c := &Conn{o: o, hello: o.Hello, wake: make(chan struct{}, 1), done: make(chan struct{})}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	go c.loop()
	return c
}

// Connect connects, subscribes and publishes the Hello, and reports
// Connected (or Failed) in an update. It returns the error too.
func (c *Conn) Connect(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(c.ctx, cancel)
	defer stop()
	o := c.o
	copts := client.Options{
		ClientID:       o.ClientID,
		Username:       o.Username,
		Password:       o.Password,
		KeepAlive:      30 * time.Second,
		Will:           o.Will,
		AutoReconnect:  true,
		MaxBackoff:     10 * time.Second,
		Logger:         o.Logger,
		DefaultHandler: c.deliver,
		Dialer:         o.Dialer,
		OnConnectionLost: func(err error) {
			c.event(Event{State: Reconnecting, Err: err})
		},
		OnReconnect: func(ack *codec.Connack) {
			c.event(Event{State: Connected, SessionPresent: ack.SessionPresent})
			go c.sayHello()
		},
	}
	copts.ConnectProperties.SessionExpiryInterval = o.SessionExpiry
	copts.CleanStart = o.SessionExpiry == 0
	cl, err := client.Connect(ctx, o.URL, copts)
	if err != nil {
		c.event(Event{State: Failed, Err: err})
		return err
	}
	if c.ctx.Err() != nil || !c.c.CompareAndSwap(nil, cl) {
		cl.Disconnect(context.Background(), codec.NormalDisconnection)
		return client.ErrClosed
	}
	if len(o.Filters) > 0 {
		subs := make([]codec.Subscription, len(o.Filters))
		for i, f := range o.Filters {
			subs[i] = codec.Subscription{Filter: f, QoS: codec.AtLeastOnce}
		}
		if _, err := cl.Subscribe(ctx, c.deliver, subs...); err != nil {
			c.event(Event{State: Failed, Err: err})
			return err
		}
	}
	if len(o.Unsubscribe) > 0 {
		if err := cl.Unsubscribe(ctx, o.Unsubscribe...); err != nil {
			o.Logger.Warn("chat: unsubscribe", "err", err)
		}
	}
	if err := c.publishHello(ctx); err != nil {
		c.event(Event{State: Failed, Err: err})
		return err
	}
	c.event(Event{State: Connected, SessionPresent: cl.Connack().SessionPresent})
	return nil
}

func (c *Conn) sayHello() {
	ctx, cancel := context.WithTimeout(c.ctx, 15*time.Second)
	defer cancel()
	if err := c.publishHello(ctx); err != nil && c.ctx.Err() == nil {
		c.o.Logger.Warn("chat: hello after reconnect", "err", err)
	}
}

func (c *Conn) publishHello(ctx context.Context) error {
	c.mu.Lock()
	h := c.hello
	c.mu.Unlock()
	if h != nil {
		m := *h
		m.QoS = codec.AtLeastOnce
		return c.publish(ctx, &m)
	}
	return nil
}

// SetHello replaces the Hello (a new nickname) and publishes it when
// connected.
func (c *Conn) SetHello(ctx context.Context, m *client.Message) error {
	c.mu.Lock()
	c.hello = m
	c.mu.Unlock()
	if c.c.Load() == nil {
		return nil
	}
	return c.publishHello(ctx)
}

// Publish publishes at QoS 1 and returns when the broker has it.
func (c *Conn) Publish(ctx context.Context, topic string, payload []byte, retain bool) error {
	return c.publish(ctx, &client.Message{Topic: topic, Payload: payload, QoS: codec.AtLeastOnce, Retain: retain})
}

func (c *Conn) publish(ctx context.Context, m *client.Message) error {
	cl := c.c.Load()
	if cl == nil {
		return ErrNotConnected
	}
	return cl.Publish(ctx, m)
}

// Leave ends the membership for good: it publishes bye (an empty retained
// presence) when not nil, unsubscribes so that the broker queues nothing
// more for the session, and closes.
func (c *Conn) Leave(ctx context.Context, bye *client.Message) {
	if cl := c.c.Load(); cl != nil {
		if bye != nil {
			if err := cl.Publish(ctx, bye); err != nil {
				c.o.Logger.Warn("chat: goodbye", "err", err)
			}
		}
		if len(c.o.Filters) > 0 {
			if err := cl.Unsubscribe(ctx, c.o.Filters...); err != nil {
				c.o.Logger.Warn("chat: unsubscribe", "err", err)
			}
		}
	}
	c.Close()
}

// Close disconnects normally (the broker discards the Will and keeps a
// persistent session), stops the batching goroutine and waits for it.
// Updates not yet handed over are dropped. Close may be called more than
// once.
func (c *Conn) Close() {
	c.closeOnce.Do(func() {
		c.cancel()
		if cl := c.c.Swap(nil); cl != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			if err := cl.Disconnect(ctx, codec.NormalDisconnection); err != nil {
				c.o.Logger.Warn("chat: disconnect", "err", err)
			}
			cancel()
		}
		<-c.done
	})
}

// deliver queues a received message; it is every subscription's handler
// and the default one.
func (c *Conn) deliver(m *client.Message) {
	in := In{Topic: m.Topic, Payload: m.Payload, Retain: m.Retain, Time: time.Now()}
	c.mu.Lock()
	c.msgs = append(c.msgs, in)
	if n := len(c.msgs) - c.o.MaxPending; n >= c.o.MaxPending {
		c.dropped += n
		c.msgs = append(c.msgs[:0], c.msgs[n:]...)
	}
	c.mu.Unlock()
	c.signal()
}

func (c *Conn) event(e Event) {
	c.mu.Lock()
	c.events = append(c.events, e)
	c.mu.Unlock()
	c.signal()
}

func (c *Conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// loop hands the queued updates over: at once after a quiet period, then
// at most once per Interval.
func (c *Conn) loop() {
	defer close(c.done)
	pace.Run(c.ctx, c.wake, c.o.Interval, func() {
		c.mu.Lock()
		u := Update{Messages: c.msgs, Events: c.events, Dropped: c.dropped}
		c.msgs, c.events, c.dropped = nil, nil, 0
		c.mu.Unlock()
		if len(u.Messages) > 0 || len(u.Events) > 0 || u.Dropped > 0 {
			c.o.OnUpdate(u)
		}
	})
}
