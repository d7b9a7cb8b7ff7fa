package bridge

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"
)

// Server is what Subs needs of a client: the Subscribe and Unsubscribe
// methods of a *client.Client, as method values. (Functions rather than an
// interface: converting a *client.Client to an interface would put its
// full type information, with the types of every field, into the wasm
// build, about 65 KB of gzip.)
type Server struct {
	Subscribe   func(ctx context.Context, h client.Handler, subs ...codec.Subscription) ([]codec.ReasonCode, error)
	Unsubscribe func(ctx context.Context, filters ...string) error
}

// Subs keeps the listeners of one connection: each c.subscribe call of
// the JavaScript API is a listener with an id of the page's choosing, and
// several listeners may share a Topic Filter (two elements showing the same
// topic). The server sees one subscription per filter: a SUBSCRIBE for
// every new listener (so that it gets the retained messages, as with
// MQTT.js; the filter's other listeners get them again too, with
// packet.retain set), and an UNSUBSCRIBE when the last listener of the
// filter goes. The SUBSCRIBE and UNSUBSCRIBE packets of one filter are sent
// one at a time, in the order of the calls, so the server's state always
// matches the listeners once the calls return.
//
// Subs holds no JavaScript values: messages go to Deliver with the ids of
// the listeners that want them.
type Subs struct {
	c       Server
	deliver func(ids []int, m *client.Message)

	mu      sync.Mutex
	filters map[string]*filterState
	byID    map[int]*filterState
}

// filterState is one Topic Filter and its listeners.
type filterState struct {
	filter    string
	listeners []int // in the order they subscribed; guarded by Subs.mu
	users     int   // listeners (ids in byID) plus calls in progress; guarded by Subs.mu

	op         sync.Mutex // held while a SUBSCRIBE or UNSUBSCRIBE is in flight
	subscribed bool       // the server has the subscription; guarded by op
}

// NewSubs returns the listener registry of c. deliver is called on the
// client's handler goroutines, once per message and Topic Filter, with
// the ids of the filter's listeners at that moment; it must not keep ids.
func NewSubs(c Server, deliver func(ids []int, m *client.Message)) *Subs {
	return &Subs{c: c, deliver: deliver, filters: make(map[string]*filterState), byID: make(map[int]*filterState)}
}

// ErrDuplicateListener is returned by Add for an id already in use.
var ErrDuplicateListener = errors.New("tern: listener id already in use")

// Add makes id a listener of sub.Filter and subscribes: it returns the
// granted QoS once the SUBACK arrives. Messages, the filter's retained ones
// included, may reach id before Add returns. On failure id is no listener.
func (s *Subs) Add(ctx context.Context, id int, sub codec.Subscription) (codec.ReasonCode, error) {
	s.mu.Lock()
	if _, dup := s.byID[id]; dup {
		s.mu.Unlock()
		return 0, fmt.Errorf("%w: %d", ErrDuplicateListener, id)
	}
	f := s.filters[sub.Filter]
	if f == nil {
		f = &filterState{filter: sub.Filter}
		s.filters[sub.Filter] = f
	}
	f.users += 2 // the listener, and this call
	s.byID[id] = f
	s.mu.Unlock()
	defer s.release(f)

	f.op.Lock()
	defer f.op.Unlock()
	s.mu.Lock()
	if s.byID[id] != f { // removed (Remove or Clear) while waiting for op
		s.mu.Unlock()
		return 0, client.ErrClosed
	}
	f.listeners = append(f.listeners, id)
	s.mu.Unlock()

	codes, err := s.c.Subscribe(ctx, f.handle(s), sub)
	if err != nil {
		s.drop(id, f)
		return firstCode(codes), err
	}
	f.subscribed = true
	return firstCode(codes), nil
}

func firstCode(codes []codec.ReasonCode) codec.ReasonCode {
	if len(codes) == 0 {
		return 0
	}
	return codes[0]
}

// handle returns the client Handler of f's subscription.
func (f *filterState) handle(s *Subs) client.Handler {
	return func(m *client.Message) {
		s.mu.Lock()
		ids := append([]int(nil), f.listeners...)
		s.mu.Unlock()
		if len(ids) > 0 {
			s.deliver(ids, m)
		}
	}
}

// Remove ends listener id: it gets no more messages from now on, and when
// it was the last listener of its filter the subscription is ended at the
// server. Removing an unknown id does nothing.
func (s *Subs) Remove(ctx context.Context, id int) error {
	s.mu.Lock()
	f := s.byID[id]
	if f == nil {
		s.mu.Unlock()
		return nil
	}
	s.dropLocked(id, f)
	f.users++
	s.mu.Unlock()
	defer s.release(f)

	f.op.Lock()
	defer f.op.Unlock()
	s.mu.Lock()
	last := len(f.listeners) == 0
	s.mu.Unlock()
	if !last || !f.subscribed {
		return nil
	}
	f.subscribed = false
	return s.c.Unsubscribe(ctx, f.filter)
}

// Clear forgets every listener without telling the server, for a client
// that has ended.
func (s *Subs) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, f := range s.byID {
		s.dropLocked(id, f)
	}
}

// Len returns the number of listeners and of Topic Filters with state.
func (s *Subs) Len() (listeners, filters int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byID), len(s.filters)
}

func (s *Subs) drop(id int, f *filterState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byID[id] == f {
		s.dropLocked(id, f)
	}
}

// dropLocked removes listener id of f. The caller holds mu.
func (s *Subs) dropLocked(id int, f *filterState) {
	delete(s.byID, id)
	for i, l := range f.listeners {
		if l == id {
			f.listeners = append(f.listeners[:i], f.listeners[i+1:]...)
			break
		}
	}
	f.users--
	if f.users == 0 {
		delete(s.filters, f.filter)
	}
}

// release ends a call's use of f.
func (s *Subs) release(f *filterState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f.users--
	if f.users == 0 {
		delete(s.filters, f.filter)
	}
}
