// Package service is the web client's MQTT connection service: one
// Service per broker connection owns a client.Client and its goroutines,
// and hands the UI what happened in batches, at most one update per
// interval (75 ms by default), however fast messages arrive. The UI
// applies each update in one go, so a page receiving thousands of messages
// a second renders at most a dozen times a second.
//
// A connection is shared by the pages that read from it: each
// subscription belongs to a uistate.Sink (the message log, the topic tree,
// the chat), a message matching subscriptions of several sinks arrives
// once and carries all their sinks, and each page takes what is its own
// (see Subscribe). The chat's room connections are Services too, with a
// Hello published on every connection and a Will of their own.
//
// The package is plain Go: it builds for the browser (GOOS=js GOARCH=wasm),
// where the client dials through the browser's WebSocket, and natively,
// where it is tested.
package service

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/wasm/internal/pace"
	"github.com/ternmq/tern/wasm/uistate"
)

// Defaults of Options.
const (
	DefaultInterval   = 75 * time.Millisecond
	DefaultMaxPending = uistate.DefaultLogCapacity
)

// ErrNotConnected is returned by operations before Connect succeeded.
var ErrNotConnected = errors.New("not connected")

// Options configures a Service.
type Options struct {
	// URL is the broker's address (ws:// or wss:// in the browser).
	URL string
	// Client holds the client options (client id, credentials, version,
	// session, Will, keep alive). The service sets the callbacks, the
	// default handler, the logger and automatic reconnection itself.
	Client client.Options
	// Subscribe lists subscriptions made, for DefaultSink, when Connect
	// has connected; Unsubscribe lists filters removed then (those an
	// earlier version of a page left in a persistent session).
	Subscribe   []uistate.Subscription
	Unsubscribe []string
	// DefaultSink is the sink of Subscribe's subscriptions, and receives
	// the messages of no subscription of this service: those a resumed
	// session delivers before its subscriptions are made again. 0 drops
	// those messages: a page's persistent session may still hold a
	// subscription of an earlier page (the tree's "#") that nobody here
	// asked for.
	DefaultSink uistate.Sink
	// Hello is published (at QoS 1) on every connection, the first and
	// each automatic reconnection: a presence, which the Will may have
	// cleared while the connection was down.
	Hello *client.Message
	// OnUpdate receives the batched updates, on a goroutine of the
	// service, one at a time and at most once per Interval.
	OnUpdate func(uistate.Update)
	// Interval is the shortest time between two updates (DefaultInterval).
	Interval time.Duration
	// MaxPending bounds the messages waiting for the next update; beyond
	// it the oldest are dropped and counted (DefaultMaxPending, the size of
	// the log: older ones would leave the log at once anyway).
	MaxPending int
	Logger     *slog.Logger
}

// ProfileOptions returns the options of a connection made with a saved
// connection profile and the given client id.
func ProfileOptions(p uistate.Profile, clientID string) Options {
	o := client.Options{
		ClientID:   clientID,
		Username:   p.Username,
		Version:    codec.Version(p.Version),
		CleanStart: p.CleanStart,
		KeepAlive:  time.Duration(p.KeepAlive) * time.Second,
	}
	if p.KeepAlive == 0 {
		o.KeepAlive = -1
	}
	switch {
	case p.SCRAM():
		// The password stays here: the server gets a proof only.
		o.Auth = client.SCRAM(p.Username, []byte(p.Password))
	case p.Password != "":
		o.Password = []byte(p.Password)
	}
	if p.Version == 5 {
		o.ConnectProperties.SessionExpiryInterval = p.SessionExpiry
		// Let the server send topic aliases: fewer bytes per message.
		o.ConnectProperties.TopicAliasMaximum = 64
	}
	if w := p.Will; w != nil && w.Topic != "" {
		o.Will = &codec.Will{Topic: w.Topic, Payload: []byte(w.Payload), QoS: codec.QoS(w.QoS), Retain: w.Retain}
	}
	return Options{URL: p.URL, Client: o}
}

// Service is one connection of the web client.
type Service struct {
	o      Options
	copts  client.Options
	c      atomic.Pointer[client.Client]
	ctx    context.Context // ends with Close
	cancel context.CancelFunc

	hmu   sync.Mutex
	hello *client.Message

	mu     sync.Mutex
	subs   map[string]*filterSubs // by filter; see subs.go
	batch  batch
	wake   chan struct{}
	done   chan struct{}
	closed sync.Once
}

// New returns a service for one connection and starts its batching
// goroutine; call Connect to connect and Close to end it.
func New(o Options) *Service {
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
		o.OnUpdate = func(uistate.Update) {}
	}
	s := &Service{
		o:     o,
		hello: o.Hello,
		subs:  make(map[string]*filterSubs),
		batch: newBatch(),
		wake:  make(chan struct{}, 1),
		done:  make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.copts = s.clientOptions()
	go s.loop()
	return s
}

// clientOptions completes the caller's client options with the service's
// callbacks.
func (s *Service) clientOptions() client.Options {
	o := s.o.Client
	o.AutoReconnect = true
	if o.MaxBackoff == 0 {
		o.MaxBackoff = 10 * time.Second
	}
	o.Logger = s.o.Logger
	o.DefaultHandler = func(m *client.Message) { s.deliver("", m) }
	o.OnConnectionLost = func(err error) {
		s.event(uistate.ConnEvent{State: uistate.Reconnecting, Failure: failure(err, false)})
	}
	o.OnReconnect = func(ack *codec.Connack) {
		s.event(uistate.ConnEvent{State: uistate.Connected, Server: s.server(ack)})
		if s.helloMessage() != nil {
			go s.sayHello()
		}
	}
	return o
}

// Connect connects, makes Options.Subscribe and publishes the Hello, and
// reports Connected, or Failed with the reason, to OnUpdate. It returns
// the error too. The connection then reconnects on its own when it is
// lost, reporting Reconnecting and Connected.
func (s *Service) Connect(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()

	c, err := client.Connect(ctx, s.o.URL, s.copts)
	if err != nil {
		s.event(uistate.ConnEvent{State: uistate.Failed, Failure: failure(err, true)})
		return err
	}
	if s.ctx.Err() != nil || !s.c.CompareAndSwap(nil, c) {
		c.Disconnect(context.Background(), codec.NormalDisconnection)
		return client.ErrClosed
	}
	if err := s.setUp(ctx); err != nil {
		s.event(uistate.ConnEvent{State: uistate.Failed, Failure: failure(err, false)})
		return err
	}
	s.event(uistate.ConnEvent{State: uistate.Connected, Server: s.server(c.Connack())})
	return nil
}

// setUp makes the subscriptions of the options and says hello.
func (s *Service) setUp(ctx context.Context) error {
	for _, sub := range s.o.Subscribe {
		if _, err := s.Subscribe(ctx, s.o.DefaultSink, sub); err != nil {
			return err
		}
	}
	if len(s.o.Unsubscribe) > 0 {
		if err := s.c.Load().Unsubscribe(ctx, s.o.Unsubscribe...); err != nil {
			s.o.Logger.Warn("unsubscribe", "err", err)
		}
	}
	return s.publishHello(ctx)
}

// server describes a CONNACK for the UI.
func (s *Service) server(ack *codec.Connack) *uistate.Server {
	o := &s.copts
	srv := &uistate.Server{Version: int(o.Version), ClientID: o.ClientID, KeepAlive: uint16(max(o.KeepAlive, 0) / time.Second),
		SessionExpiry: o.ConnectProperties.SessionExpiryInterval, RetainAvailable: true, MaximumQoS: 2, ReceiveMaximum: 65535}
	if srv.Version == 0 {
		srv.Version = 5
	}
	if ack == nil {
		return srv
	}
	srv.SessionPresent = ack.SessionPresent
	if srv.Version != 5 {
		return srv
	}
	pr := &ack.Properties
	if pr.AssignedClientIdentifier != "" {
		srv.ClientID, srv.AssignedID = pr.AssignedClientIdentifier, true
	}
	if pr.Has(codec.PropServerKeepAlive) {
		srv.KeepAlive = pr.ServerKeepAlive
	}
	if pr.Has(codec.PropReceiveMaximum) {
		srv.ReceiveMaximum = pr.ReceiveMaximum
	}
	if pr.Has(codec.PropMaximumQoS) {
		srv.MaximumQoS = pr.MaximumQoS
	}
	if pr.Has(codec.PropRetainAvailable) {
		srv.RetainAvailable = pr.RetainAvailable == 1
	}
	if pr.Has(codec.PropSessionExpiryInterval) {
		srv.SessionExpiry = pr.SessionExpiryInterval
	}
	srv.MaximumPacketSize = pr.MaximumPacketSize
	srv.TopicAliasMaximum = pr.TopicAliasMaximum
	srv.ResponseInfo = pr.ResponseInformation
	srv.ServerReference = pr.ServerReference
	srv.ReasonString = pr.ReasonString
	return srv
}

// failure describes err for the UI. dial is set for a failed connection
// attempt, as opposed to a connection lost later.
func failure(err error, dial bool) *uistate.Failure {
	f := &uistate.Failure{Text: err.Error()}
	var re *client.ReasonError
	switch {
	case errors.As(err, &re):
		f.Code, f.ServerReference = re.Code, re.ServerReference
	case errors.Is(err, context.DeadlineExceeded):
		f.Timeout = true
	case errors.Is(err, client.ErrServerNotAuthenticated):
		f.ServerNotAuthenticated = true
	default:
		// The browser does not say why a WebSocket could not be opened, nor
		// does a server that closes it at once: the UI lists what to check.
		f.Dial = dial
	}
	return f
}

func (s *Service) helloMessage() *client.Message {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	return s.hello
}

func (s *Service) sayHello() {
	ctx, cancel := context.WithTimeout(s.ctx, 15*time.Second)
	defer cancel()
	if err := s.publishHello(ctx); err != nil && s.ctx.Err() == nil {
		s.o.Logger.Warn("hello after reconnect", "err", err)
	}
}

func (s *Service) publishHello(ctx context.Context) error {
	h := s.helloMessage()
	if h == nil {
		return nil
	}
	m := *h
	m.QoS = codec.AtLeastOnce
	return s.PublishMessage(ctx, &m)
}

// SetHello replaces the Hello (a new nickname) and publishes it when
// connected.
func (s *Service) SetHello(ctx context.Context, m *client.Message) error {
	s.hmu.Lock()
	s.hello = m
	s.hmu.Unlock()
	if s.c.Load() == nil {
		return nil
	}
	return s.publishHello(ctx)
}

// Publish publishes p and returns when its QoS flow is complete.
func (s *Service) Publish(ctx context.Context, p uistate.Publish) error {
	if err := p.Validate(); err != nil {
		return err
	}
	m := &client.Message{Topic: p.Topic, Payload: []byte(p.Payload), QoS: codec.QoS(p.QoS), Retain: p.Retain}
	if s.copts.Version != codec.V311 {
		m.Properties = p.Properties()
	}
	return s.PublishMessage(ctx, m)
}

// PublishMessage publishes m as it is and returns when its QoS flow is
// complete.
func (s *Service) PublishMessage(ctx context.Context, m *client.Message) error {
	c := s.c.Load()
	if c == nil {
		return ErrNotConnected
	}
	return c.Publish(ctx, m)
}

// Leave ends a membership for good: it publishes bye when not nil,
// removes every subscription so that the broker queues nothing more for a
// persistent session, and closes.
func (s *Service) Leave(ctx context.Context, bye *client.Message) {
	if c := s.c.Load(); c != nil {
		if bye != nil {
			if err := c.Publish(ctx, bye); err != nil {
				s.o.Logger.Warn("goodbye", "err", err)
			}
		}
		if filters := s.filters(); len(filters) > 0 {
			if err := c.Unsubscribe(ctx, filters...); err != nil {
				s.o.Logger.Warn("unsubscribe", "err", err)
			}
		}
	}
	s.Close()
}

// Close disconnects (normally, so the server discards the Will and keeps
// a persistent session), stops the batching goroutine and waits for it.
// Updates not yet handed over are dropped. Close may be called more than
// once.
func (s *Service) Close() {
	s.closed.Do(func() {
		s.cancel()
		if c := s.c.Swap(nil); c != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			if err := c.Disconnect(ctx, codec.NormalDisconnection); err != nil {
				s.o.Logger.Warn("disconnect", "err", err)
			}
			cancel()
		}
		<-s.done
	})
}

// event queues a connection event.
func (s *Service) event(e uistate.ConnEvent) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	s.mu.Lock()
	s.batch.events = append(s.batch.events, e)
	s.mu.Unlock()
	s.signal()
}

func (s *Service) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// loop hands the queued updates to OnUpdate: as soon as something is
// queued after a quiet period, then at most once per Interval while
// things keep coming. It runs on its own goroutine until Close.
func (s *Service) loop() {
	defer close(s.done)
	pace.Run(s.ctx, s.wake, s.o.Interval, func() {
		s.mu.Lock()
		u := s.batch.take()
		s.mu.Unlock()
		if !u.Empty() {
			s.o.OnUpdate(u)
		}
	})
}
