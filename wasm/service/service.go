// Package service is the web client's MQTT service: one Service per
// connection owns a client.Client and its goroutines, and hands the UI
// what happened in batches, at most one update per interval (75 ms by
// default), however fast messages arrive. The UI applies each update to
// its uistate.Model in one go, so a page receiving thousands of messages
// a second renders at most a dozen times a second.
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
	// Profile says where and how to connect; ClientID is the client id to
	// use (the profile's may be empty).
	Profile  uistate.Profile
	ClientID string
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

// Service is one connection of the web client.
type Service struct {
	o      Options
	copts  client.Options
	c      atomic.Pointer[client.Client]
	ctx    context.Context // ends with Close
	cancel context.CancelFunc

	mu      sync.Mutex
	msgs    []uistate.Message
	seen    map[*client.Message]struct{} // messages of this batch, to log a message once
	counts  map[int]uint64
	dropped uint64
	events  []uistate.ConnEvent

	wake      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
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
		o:      o,
		seen:   make(map[*client.Message]struct{}),
		counts: make(map[int]uint64),
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.copts = s.clientOptions()
	go s.loop()
	return s
}

// clientOptions turns the profile into client options.
func (s *Service) clientOptions() client.Options {
	p := s.o.Profile
	o := client.Options{
		ClientID:      s.o.ClientID,
		Username:      p.Username,
		Version:       codec.Version(p.Version),
		CleanStart:    p.CleanStart,
		KeepAlive:     time.Duration(p.KeepAlive) * time.Second,
		AutoReconnect: true,
		MaxBackoff:    10 * time.Second,
		Logger:        s.o.Logger,
		OnConnectionLost: func(err error) {
			s.event(uistate.ConnEvent{State: uistate.Reconnecting, Failure: failure(err, false)})
		},
		OnReconnect: func(ack *codec.Connack) {
			s.event(uistate.ConnEvent{State: uistate.Connected, Server: s.server(ack)})
		},
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
	return o
}

// Connect connects and reports Connected, or Failed with the reason, to
// OnUpdate. It returns the error too. The connection then reconnects on
// its own when it is lost, reporting Reconnecting and Connected.
func (s *Service) Connect(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()

	c, err := client.Connect(ctx, s.o.Profile.URL, s.copts)
	if err != nil {
		s.event(uistate.ConnEvent{State: uistate.Failed, Failure: failure(err, true)})
		return err
	}
	if s.ctx.Err() != nil || !s.c.CompareAndSwap(nil, c) {
		c.Disconnect(context.Background(), codec.NormalDisconnection)
		return client.ErrClosed
	}
	s.event(uistate.ConnEvent{State: uistate.Connected, Server: s.server(c.Connack())})
	return nil
}

// server describes a CONNACK for the UI.
func (s *Service) server(ack *codec.Connack) *uistate.Server {
	p := s.o.Profile
	srv := &uistate.Server{Version: p.Version, ClientID: s.o.ClientID, KeepAlive: p.KeepAlive,
		SessionExpiry: p.SessionExpiry, RetainAvailable: true, MaximumQoS: 2, ReceiveMaximum: 65535}
	if ack == nil {
		return srv
	}
	srv.SessionPresent = ack.SessionPresent
	if p.Version != 5 {
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

// Subscribe subscribes to sub and logs the messages it delivers with its
// ID. It returns the server's reason code (the granted QoS or a failure).
func (s *Service) Subscribe(ctx context.Context, sub uistate.Subscription) (codec.ReasonCode, error) {
	c := s.c.Load()
	if c == nil {
		return 0, ErrNotConnected
	}
	id := sub.ID
	codes, err := c.Subscribe(ctx, func(m *client.Message) { s.deliver(id, m) }, sub.Codec())
	var code codec.ReasonCode
	if len(codes) > 0 {
		code = codes[0]
	}
	var re *client.ReasonError
	if errors.As(err, &re) && re.Op == "subscribe" {
		err = nil // the reason code says it
	}
	return code, err
}

// Unsubscribe ends the subscription to filter.
func (s *Service) Unsubscribe(ctx context.Context, filter string) error {
	c := s.c.Load()
	if c == nil {
		return ErrNotConnected
	}
	return c.Unsubscribe(ctx, filter)
}

// Publish publishes p and returns when its QoS flow is complete.
func (s *Service) Publish(ctx context.Context, p uistate.Publish) error {
	if err := p.Validate(); err != nil {
		return err
	}
	c := s.c.Load()
	if c == nil {
		return ErrNotConnected
	}
	m := &client.Message{Topic: p.Topic, Payload: []byte(p.Payload), QoS: codec.QoS(p.QoS), Retain: p.Retain}
	if s.o.Profile.Version == 5 {
		m.Properties = p.Properties()
	}
	return c.Publish(ctx, m)
}

// Close disconnects (normally, so the server discards the Will), stops
// the batching goroutine and waits for it. Updates not yet handed over are
// dropped. Close may be called more than once.
func (s *Service) Close() {
	s.closeOnce.Do(func() {
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

// deliver queues a message delivered by subscription id. Overlapping
// subscriptions hand the client's same *client.Message to each of their
// handlers: it is logged once and counted for each subscription.
func (s *Service) deliver(id int, m *client.Message) {
	now := time.Now()
	s.mu.Lock()
	s.counts[id]++
	if _, dup := s.seen[m]; !dup {
		s.seen[m] = struct{}{}
		lm := uistate.Message{Time: now, Topic: m.Topic, Payload: m.Payload, QoS: byte(m.QoS),
			Retain: m.Retain, Dup: m.Dup, Sub: id}
		if uistate.KeepProperties(&m.Properties) {
			p := m.Properties
			lm.Props = &p
		}
		s.msgs = append(s.msgs, lm)
		if n := len(s.msgs) - s.o.MaxPending; n >= s.o.MaxPending {
			// Keep the newest MaxPending; copying only once per MaxPending
			// messages keeps this O(1) per message.
			s.dropped += uint64(n)
			s.msgs = append(s.msgs[:0], s.msgs[n:]...)
		}
	}
	s.mu.Unlock()
	s.signal()
}

// event queues a connection event.
func (s *Service) event(e uistate.ConnEvent) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	s.mu.Lock()
	s.events = append(s.events, e)
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
		if u := s.take(); !u.Empty() {
			s.o.OnUpdate(u)
		}
	})
}

// take returns what is queued and empties the queue.
func (s *Service) take() uistate.Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := uistate.Update{Messages: s.msgs, Dropped: s.dropped, Conn: s.events}
	if len(s.counts) > 0 {
		u.Counts = s.counts
		s.counts = make(map[int]uint64, len(u.Counts))
	}
	s.msgs, s.dropped, s.events = nil, 0, nil
	clear(s.seen)
	return u
}
