//go:build js && wasm

// Command jsapi is Tern's JS API: the MQTT client (package client)
// compiled to WebAssembly with syscall/js and nothing else (no UI
// framework), served by the broker as /tern.wasm. The loader, /tern.js
// (web/tern/tern.js), instantiates it and builds the page-facing API on
// the low-level one exported here; pages never call this one directly.
//
// The program hands the loader one object, through Tern.__boot.ready:
//
//	connect(opts, emit, done)                    done(err, {handle, clientId, sessionPresent, properties})
//	subscribe(handle, id, filter, opts, done)    done(err, grantedQoS)
//	unsubscribe(handle, id, done)                done(err)
//	publish(handle, topic, payload, opts, done)  done(err)
//	end(handle, opts, done)                      done(err)
//	stats()                                      {funcs, held, clients, listeners, filters, goroutines}
//	gc(done)                                     runs the Go garbage collector (for leak checks)
//
// Every call returns at once; done is called later with a description of
// the error (see bridge.Describe) or null and the result. emit is the
// connection's one channel to the page, for events and messages:
//
//	emit("connect", connack) emit("reconnect") emit("close") emit("end")
//	emit("error", err)       emit("message", listenerID, topic, payload, qos, retain, dup, properties)
//
// The seven exported functions are the only js.Func values the program
// creates: nothing is wrapped per connection, subscription or call, so
// nothing needs releasing. What Go holds of the page is one emit function
// per open connection and one done function per call in progress (the
// "held" count of stats); both are dropped when the connection ends or
// the call completes, and listeners' callbacks stay on the JavaScript
// side, keyed by id.
package main

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall/js"
	"time"

	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/wasm/jsapi/bridge"
)

// endTimeout bounds c.end(): the DISCONNECT and the wait for running
// message callbacks.
const endTimeout = 10 * time.Second

var (
	liveFuncs  atomic.Int64 // js.Func values created and not released
	heldValues atomic.Int64 // page functions referenced from Go: emit per connection, done per call

	jsObject     = js.Global().Get("Object")
	jsArray      = js.Global().Get("Array")
	jsUint8Array = js.Global().Get("Uint8Array")
	payloadClass js.Value // the loader's Payload, a Uint8Array with text() and json()

	sessionsMu  sync.Mutex
	sessions    = map[int]*session{}
	lastSession int
)

func main() {
	boot := js.Global().Get("Tern")
	if boot.Type() == js.TypeObject {
		boot = boot.Get("__boot")
	}
	if boot.Type() != js.TypeObject {
		js.Global().Get("console").Call("error", "tern.wasm: load it with tern.js (Tern.load()), not on its own")
		return
	}
	payloadClass = boot.Get("Payload")
	if payloadClass.Type() != js.TypeFunction {
		payloadClass = jsUint8Array
	}
	api := jsObject.New()
	export(api, "connect", jsConnect)
	export(api, "subscribe", jsSubscribe)
	export(api, "unsubscribe", jsUnsubscribe)
	export(api, "publish", jsPublish)
	export(api, "end", jsEnd)
	export(api, "stats", jsStats)
	export(api, "gc", jsGC)
	api.Set("goVersion", runtime.Version())
	boot.Call("ready", api)
	select {} // serve the page until it goes
}

// export sets api[name] to fn. These functions live as long as the page,
// so they are never released.
func export(api js.Value, name string, fn func(args []js.Value) any) {
	liveFuncs.Add(1)
	api.Set(name, js.FuncOf(func(_ js.Value, args []js.Value) any { return fn(args) }))
}

// done is the completion callback of one call.
type done struct{ fn js.Value }

// takeDone returns the last argument as the call's completion callback.
func takeDone(args []js.Value) (done, bool) {
	if len(args) == 0 || args[len(args)-1].Type() != js.TypeFunction {
		return done{}, false
	}
	heldValues.Add(1)
	return done{args[len(args)-1]}, true
}

func (d done) resolve(v any) {
	heldValues.Add(-1)
	invoke(d.fn, nil, v)
}

func (d done) reject(err error) {
	heldValues.Add(-1)
	invoke(d.fn, errorValue(err))
}

// invoke calls a page function. The loader's functions catch what the
// page's callbacks throw; anything that still escapes is logged, never
// allowed to stop the program.
func invoke(fn js.Value, args ...any) {
	defer func() {
		if r := recover(); r != nil {
			js.Global().Get("console").Call("error", "tern.wasm: a callback failed:", js.ValueOf(errString(r)))
		}
	}()
	fn.Invoke(args...)
}

func errString(r any) string {
	if err, ok := r.(error); ok {
		return err.Error()
	}
	if s, ok := r.(string); ok {
		return s
	}
	return "panic"
}

// arg returns args[i], or undefined.
func arg(args []js.Value, i int) js.Value {
	if i < len(args) {
		return args[i]
	}
	return js.Undefined()
}

// source returns the options object v as a bridge.Source, nil when v is
// undefined or null.
func source(v js.Value) bridge.Source {
	if v.Type() != js.TypeObject {
		return nil
	}
	return jsSource{v}
}

// jsSource reads a JavaScript object for the bridge package.
type jsSource struct{ v js.Value }

func (s jsSource) Get(key string) any { return fromJS(s.v.Get(key)) }

func fromJS(v js.Value) any {
	switch v.Type() {
	case js.TypeUndefined, js.TypeNull:
		return nil
	case js.TypeString:
		return v.String()
	case js.TypeNumber:
		return v.Float()
	case js.TypeBoolean:
		return v.Bool()
	case js.TypeObject:
		if v.InstanceOf(jsUint8Array) {
			return bytesOf(v)
		}
		if jsArray.Call("isArray", v).Bool() {
			out := make([]any, v.Length())
			for i := range out {
				out[i] = fromJS(v.Index(i))
			}
			return out
		}
		return jsSource{v}
	}
	return bridge.Other(v.Type().String())
}

func bytesOf(v js.Value) []byte {
	b := make([]byte, v.Length())
	js.CopyBytesToGo(b, v)
	return b
}

// errorValue describes err for the loader, which turns it into a
// TernError.
func errorValue(err error) js.Value {
	info := bridge.Describe(err)
	o := jsObject.New()
	o.Set("kind", info.Kind)
	o.Set("message", info.Message)
	if info.Code >= 0 {
		o.Set("code", info.Code)
		o.Set("codeName", info.CodeName)
	}
	if info.Op != "" {
		o.Set("op", info.Op)
	}
	if info.Rule != "" {
		o.Set("rule", info.Rule)
	}
	return o
}

// propsValue builds the properties object of a packet, undefined when
// there are none.
func propsValue(ps []bridge.Prop) js.Value {
	if len(ps) == 0 {
		return js.Undefined()
	}
	o := jsObject.New()
	for _, p := range ps {
		switch v := p.Value.(type) {
		case []byte:
			u := jsUint8Array.New(len(v))
			js.CopyBytesToJS(u, v)
			o.Set(p.Name, u)
		case []float64:
			if len(v) == 1 {
				o.Set(p.Name, v[0])
				continue
			}
			a := jsArray.New()
			for _, x := range v {
				a.Call("push", x)
			}
			o.Set(p.Name, a)
		case []bridge.UserProp:
			u := jsObject.New()
			for _, kv := range v {
				if len(kv.Values) == 1 {
					u.Set(kv.Key, kv.Values[0])
					continue
				}
				a := jsArray.New()
				for _, x := range kv.Values {
					a.Call("push", x)
				}
				u.Set(kv.Key, a)
			}
			o.Set(p.Name, u)
		default:
			o.Set(p.Name, v)
		}
	}
	return o
}

// session is one connection of the page.
type session struct {
	id            int
	clientID      string // as configured, or as the server assigned it
	c             *client.Client
	subs          *bridge.Subs
	autoReconnect bool

	// ctx bounds the connection's calls; it ends with the connection.
	ctx    context.Context
	cancel context.CancelFunc

	mu   sync.Mutex
	emit js.Value // undefined once the connection has ended
}

func lookup(h js.Value) *session {
	if h.Type() != js.TypeNumber {
		return nil
	}
	sessionsMu.Lock()
	defer sessionsMu.Unlock()
	return sessions[h.Int()]
}

// event sends an event to the page.
func (s *session) event(args ...any) {
	s.mu.Lock()
	emit := s.emit
	s.mu.Unlock()
	if emit.Type() == js.TypeFunction {
		invoke(emit, args...)
	}
}

// deliver hands a message to the listeners ids; it runs on the client's
// handler goroutine of the message's subscription.
func (s *session) deliver(ids []int, m *client.Message) {
	s.mu.Lock()
	emit := s.emit
	s.mu.Unlock()
	if emit.Type() != js.TypeFunction {
		return
	}
	payload := payloadClass.New(len(m.Payload))
	js.CopyBytesToJS(payload, m.Payload)
	props := propsValue(bridge.PublishProps(&m.Properties))
	for _, id := range ids {
		invoke(emit, "message", id, m.Topic, payload, int(m.QoS), m.Retain, m.Dup, props)
	}
}

// lost reports a lost connection: error, close, and reconnect when the
// client reconnects; otherwise the connection ends.
func (s *session) lost(err error) {
	s.event("error", errorValue(err))
	s.event("close")
	if s.autoReconnect {
		s.event("reconnect")
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), endTimeout)
		defer cancel()
		s.c.Disconnect(ctx, 0) // stops the client's goroutines; the connection is gone already
		s.finish()
	}()
}

// finish forgets the session and what it holds of the page.
func (s *session) finish() {
	s.cancel()
	s.subs.Clear()
	sessionsMu.Lock()
	delete(sessions, s.id)
	sessionsMu.Unlock()
	s.mu.Lock()
	emit := s.emit
	s.emit = js.Undefined()
	s.mu.Unlock()
	if emit.Type() == js.TypeFunction {
		heldValues.Add(-1)
	}
}

// jsConnect: connect(opts, emit, done).
func jsConnect(args []js.Value) any {
	d, ok := takeDone(args)
	if !ok {
		return nil
	}
	emit := arg(args, 1)
	cfg, err := bridge.DecodeConnect(sourceOrEmpty(arg(args, 0)))
	if err == nil && emit.Type() != js.TypeFunction {
		err = errors.New("tern: connect: no event callback")
	}
	if err != nil {
		d.reject(err)
		return nil
	}
	heldValues.Add(1)
	s := &session{emit: emit, clientID: cfg.Options.ClientID, autoReconnect: cfg.Options.AutoReconnect}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	opts := cfg.Options
	ready := make(chan struct{}) // s.c is set
	opts.OnConnectionLost = func(err error) {
		<-ready
		s.lost(err)
	}
	opts.OnReconnect = func(ack *codec.Connack) {
		<-ready
		s.event("connect", connackValue(s, ack))
	}
	go func() {
		ctx, cancel := context.WithTimeout(s.ctx, cfg.Timeout)
		c, err := client.Connect(ctx, cfg.URL, opts)
		cancel()
		if err != nil {
			close(ready)
			s.cancel()
			s.mu.Lock()
			s.emit = js.Undefined()
			s.mu.Unlock()
			heldValues.Add(-1)
			d.reject(err)
			return
		}
		s.c = c
		s.subs = bridge.NewSubs(bridge.Server{Subscribe: c.Subscribe, Unsubscribe: c.Unsubscribe}, s.deliver)
		sessionsMu.Lock()
		lastSession++
		s.id = lastSession
		sessions[s.id] = s
		sessionsMu.Unlock()
		close(ready)
		d.resolve(connackValue(s, c.Connack()))
	}()
	return nil
}

func sourceOrEmpty(v js.Value) bridge.Source {
	if src := source(v); src != nil {
		return src
	}
	return bridge.Map{}
}

// connackValue describes a CONNACK for the page.
func connackValue(s *session, ack *codec.Connack) js.Value {
	o := jsObject.New()
	o.Set("handle", s.id)
	s.mu.Lock()
	if ack != nil && ack.Properties.AssignedClientIdentifier != "" {
		s.clientID = ack.Properties.AssignedClientIdentifier
	}
	o.Set("clientId", s.clientID)
	s.mu.Unlock()
	if ack != nil {
		o.Set("sessionPresent", ack.SessionPresent)
		o.Set("reasonCode", int(ack.ReasonCode))
		o.Set("properties", propsValue(bridge.ConnackProps(&ack.Properties)))
	}
	return o
}

// jsSubscribe: subscribe(handle, id, filter, opts, done).
func jsSubscribe(args []js.Value) any {
	d, ok := takeDone(args)
	if !ok {
		return nil
	}
	s := lookup(arg(args, 0))
	id := arg(args, 1)
	filter := arg(args, 2)
	if filter.Type() != js.TypeString || id.Type() != js.TypeNumber {
		d.reject(&bridge.InvalidError{Msg: "subscribe: the topic filter must be a string"})
		return nil
	}
	sub, err := bridge.DecodeSubscribe(filter.String(), source(arg(args, 3)))
	if err == nil && s == nil {
		err = client.ErrClosed
	}
	if err != nil {
		d.reject(err)
		return nil
	}
	go func() {
		rc, err := s.subs.Add(s.ctx, id.Int(), sub)
		if err != nil {
			d.reject(err)
			return
		}
		d.resolve(int(rc))
	}()
	return nil
}

// jsUnsubscribe: unsubscribe(handle, id, done). A listener of a client
// that has ended is gone already: that is no error.
func jsUnsubscribe(args []js.Value) any {
	d, ok := takeDone(args)
	if !ok {
		return nil
	}
	s := lookup(arg(args, 0))
	id := arg(args, 1)
	if s == nil || id.Type() != js.TypeNumber {
		d.resolve(nil)
		return nil
	}
	go func() {
		err := s.subs.Remove(s.ctx, id.Int())
		if err != nil && !errors.Is(err, client.ErrClosed) && !errors.Is(err, context.Canceled) {
			d.reject(err)
			return
		}
		d.resolve(nil)
	}()
	return nil
}

// jsPublish: publish(handle, topic, payload, opts, done); the loader has
// turned the payload into a Uint8Array.
func jsPublish(args []js.Value) any {
	d, ok := takeDone(args)
	if !ok {
		return nil
	}
	s := lookup(arg(args, 0))
	topic, payload := arg(args, 1), arg(args, 2)
	if topic.Type() != js.TypeString || !payload.InstanceOf(jsUint8Array) {
		d.reject(&bridge.InvalidError{Msg: "publish: the topic must be a string and the payload a string or bytes"})
		return nil
	}
	m, err := bridge.DecodePublish(topic.String(), bytesOf(payload), source(arg(args, 3)))
	if err == nil && s == nil {
		err = client.ErrClosed
	}
	if err != nil {
		d.reject(err)
		return nil
	}
	go func() {
		if err := s.c.Publish(s.ctx, m); err != nil {
			d.reject(err)
			return
		}
		d.resolve(nil)
	}()
	return nil
}

// jsEnd: end(handle, opts, done). It sends DISCONNECT, waits for running
// callbacks, emits close and end, and forgets the connection. Ending a
// connection that is gone does nothing.
func jsEnd(args []js.Value) any {
	d, ok := takeDone(args)
	if !ok {
		return nil
	}
	rc, err := bridge.DecodeEnd(source(arg(args, 1)))
	if err != nil {
		d.reject(err)
		return nil
	}
	s := lookup(arg(args, 0))
	if s == nil {
		d.resolve(nil)
		return nil
	}
	sessionsMu.Lock()
	delete(sessions, s.id) // no new calls
	sessionsMu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), endTimeout)
		defer cancel()
		err := s.c.Disconnect(ctx, rc)
		s.event("close")
		s.event("end")
		s.finish()
		if err != nil && !errors.Is(err, client.ErrClosed) {
			d.reject(err)
			return
		}
		d.resolve(nil)
	}()
	return nil
}

// jsStats: stats() returns the counts that show what the program holds.
func jsStats(args []js.Value) any {
	listeners, filters := 0, 0
	sessionsMu.Lock()
	clients := len(sessions)
	for _, s := range sessions {
		l, f := s.subs.Len()
		listeners += l
		filters += f
	}
	sessionsMu.Unlock()
	o := jsObject.New()
	o.Set("funcs", liveFuncs.Load())
	o.Set("held", heldValues.Load())
	o.Set("clients", clients)
	o.Set("listeners", listeners)
	o.Set("filters", filters)
	o.Set("goroutines", runtime.NumGoroutine())
	return o
}

// jsGC: gc(done) collects garbage, so that the JavaScript values Go no
// longer references are released (their finalizers run soon after).
func jsGC(args []js.Value) any {
	d, ok := takeDone(args)
	if !ok {
		return nil
	}
	go func() {
		runtime.GC()
		runtime.GC()
		d.resolve(nil)
	}()
	return nil
}
