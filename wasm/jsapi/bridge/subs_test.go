package bridge

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"
)

// fakeServer stands in for a client: it records SUBSCRIBE and UNSUBSCRIBE
// in order, keeps each filter's handler, and can refuse or hold calls.
type fakeServer struct {
	mu       sync.Mutex
	log      []string
	handlers map[string]client.Handler
	refuse   map[string]codec.ReasonCode
	gate     chan struct{} // when set, each call waits for a receive
	entered  chan string   // when set, each call reports itself before waiting
}

func newFakeServer() *fakeServer {
	return &fakeServer{handlers: map[string]client.Handler{}, refuse: map[string]codec.ReasonCode{}}
}

func (f *fakeServer) wait(ctx context.Context, what string) error {
	if f.entered != nil {
		f.entered <- what
	}
	if f.gate == nil {
		return nil
	}
	select {
	case <-f.gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *fakeServer) Subscribe(ctx context.Context, h client.Handler, subs ...codec.Subscription) ([]codec.ReasonCode, error) {
	s := subs[0]
	if err := f.wait(ctx, "SUB "+s.Filter); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, fmt.Sprintf("SUB %s q%d", s.Filter, s.QoS))
	if rc, ok := f.refuse[s.Filter]; ok {
		return []codec.ReasonCode{rc}, &client.ReasonError{Op: "subscribe", Code: rc}
	}
	f.handlers[s.Filter] = h
	return []codec.ReasonCode{codec.ReasonCode(s.QoS)}, nil
}

func (f *fakeServer) Unsubscribe(ctx context.Context, filters ...string) error {
	if err := f.wait(ctx, "UNSUB "+filters[0]); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, "UNSUB "+filters[0])
	delete(f.handlers, filters[0])
	return nil
}

func (f *fakeServer) server() Server {
	return Server{Subscribe: f.Subscribe, Unsubscribe: f.Unsubscribe}
}

// publish hands m to the handler of filter, as the client would.
func (f *fakeServer) publish(filter, topic string) bool {
	f.mu.Lock()
	h := f.handlers[filter]
	f.mu.Unlock()
	if h == nil {
		return false
	}
	h(&client.Message{Topic: topic})
	return true
}

func (f *fakeServer) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.log)
}

// recorder collects deliveries.
type recorder struct {
	mu  sync.Mutex
	got []string
}

func (r *recorder) deliver(ids []int, m *client.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		r.got = append(r.got, fmt.Sprintf("%d:%s", id, m.Topic))
	}
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := r.got
	r.got = nil
	return got
}

func TestSubsShareAFilter(t *testing.T) {
	ctx := context.Background()
	srv, rec := newFakeServer(), &recorder{}
	s := NewSubs(srv.server(), rec.deliver)

	if rc, err := s.Add(ctx, 1, codec.Subscription{Filter: "sensors/#", QoS: 1}); err != nil || rc != 1 {
		t.Fatalf("Add 1: %v %v", rc, err)
	}
	if _, err := s.Add(ctx, 2, codec.Subscription{Filter: "sensors/#"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add(ctx, 3, codec.Subscription{Filter: "cmd/+"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add(ctx, 3, codec.Subscription{Filter: "x"}); !errors.Is(err, ErrDuplicateListener) {
		t.Errorf("duplicate id: %v", err)
	}
	srv.publish("sensors/#", "sensors/t")
	srv.publish("cmd/+", "cmd/lamp")
	if got, want := rec.take(), []string{"1:sensors/t", "2:sensors/t", "3:cmd/lamp"}; !slices.Equal(got, want) {
		t.Errorf("deliveries %v, want %v", got, want)
	}
	if l, f := s.Len(); l != 3 || f != 2 {
		t.Errorf("Len = %d listeners, %d filters; want 3, 2", l, f)
	}

	// The first listener goes: the filter stays subscribed for the second,
	// and the first gets nothing more.
	if err := s.Remove(ctx, 1); err != nil {
		t.Fatal(err)
	}
	srv.publish("sensors/#", "sensors/h")
	if got, want := rec.take(), []string{"2:sensors/h"}; !slices.Equal(got, want) {
		t.Errorf("after removing 1: %v, want %v", got, want)
	}
	if err := s.Remove(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, 2); err != nil {
		t.Errorf("removing twice: %v", err)
	}
	want := []string{"SUB sensors/# q1", "SUB sensors/# q0", "SUB cmd/+ q0", "UNSUB sensors/#"}
	if got := srv.calls(); !slices.Equal(got, want) {
		t.Errorf("server saw %v, want %v", got, want)
	}
	if l, f := s.Len(); l != 1 || f != 1 {
		t.Errorf("Len = %d, %d; want 1, 1", l, f)
	}
	s.Clear()
	if l, f := s.Len(); l != 0 || f != 0 {
		t.Errorf("after Clear: Len = %d, %d", l, f)
	}
}

func TestSubsRefused(t *testing.T) {
	ctx := context.Background()
	srv, rec := newFakeServer(), &recorder{}
	s := NewSubs(srv.server(), rec.deliver)
	srv.refuse["secret/#"] = codec.NotAuthorized
	rc, err := s.Add(ctx, 1, codec.Subscription{Filter: "secret/#"})
	var re *client.ReasonError
	if !errors.As(err, &re) || re.Code != codec.NotAuthorized || rc != codec.NotAuthorized {
		t.Fatalf("Add = %v, %v; want Not authorized", rc, err)
	}
	if l, f := s.Len(); l != 0 || f != 0 {
		t.Errorf("a refused listener is kept: Len = %d, %d", l, f)
	}
	// Nothing to unsubscribe.
	if err := s.Remove(ctx, 1); err != nil || len(srv.calls()) != 1 {
		t.Errorf("Remove after refusal: %v, calls %v", err, srv.calls())
	}
}

// TestSubsOrder: a subscribe that comes while the filter's last listener is
// being removed is sent after the UNSUBSCRIBE, so the server ends with the
// subscription.
func TestSubsOrder(t *testing.T) {
	ctx := context.Background()
	srv, rec := newFakeServer(), &recorder{}
	s := NewSubs(srv.server(), rec.deliver)
	if _, err := s.Add(ctx, 1, codec.Subscription{Filter: "a"}); err != nil {
		t.Fatal(err)
	}
	srv.gate = make(chan struct{})
	srv.entered = make(chan string)

	removed := make(chan error)
	go func() { removed <- s.Remove(ctx, 1) }()
	if got := <-srv.entered; got != "UNSUB a" {
		t.Fatalf("first call %q, want UNSUB a", got)
	}
	added := make(chan error)
	go func() {
		_, err := s.Add(ctx, 2, codec.Subscription{Filter: "a"})
		added <- err
	}()
	// Add waits for the filter: the SUBSCRIBE is not sent before the
	// UNSUBSCRIBE completes.
	srv.gate <- struct{}{}
	if err := <-removed; err != nil {
		t.Fatal(err)
	}
	if got := <-srv.entered; got != "SUB a" {
		t.Fatalf("second call %q, want SUB a", got)
	}
	srv.gate <- struct{}{}
	if err := <-added; err != nil {
		t.Fatal(err)
	}
	want := []string{"SUB a q0", "UNSUB a", "SUB a q0"}
	if got := srv.calls(); !slices.Equal(got, want) {
		t.Errorf("server saw %v, want %v", got, want)
	}
	if !srv.publish("a", "a") || !slices.Equal(rec.take(), []string{"2:a"}) {
		t.Error("listener 2 does not get messages")
	}
}

// TestSubsCycles is the leak check at the Go level: many
// subscribe/unsubscribe cycles, on shared and distinct filters, from
// several goroutines, leave no state behind.
func TestSubsCycles(t *testing.T) {
	ctx := context.Background()
	srv, rec := newFakeServer(), &recorder{}
	s := NewSubs(srv.server(), rec.deliver)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 250 {
				id := g*1000 + i
				filter := fmt.Sprintf("cycle/%d", i%3)
				if _, err := s.Add(ctx, id, codec.Subscription{Filter: filter}); err != nil {
					t.Error(err)
					return
				}
				if err := s.Remove(ctx, id); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if l, f := s.Len(); l != 0 || f != 0 {
		t.Errorf("after 1000 cycles: %d listeners, %d filters left", l, f)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.handlers) != 0 {
		t.Errorf("server still has subscriptions: %v", srv.handlers)
	}
}

// TestSubsClearDuringAdd: ending the client while a subscribe waits for
// its filter fails the subscribe and keeps nothing.
func TestSubsClearDuringAdd(t *testing.T) {
	ctx := context.Background()
	srv, rec := newFakeServer(), &recorder{}
	s := NewSubs(srv.server(), rec.deliver)
	srv.gate = make(chan struct{})
	srv.entered = make(chan string)
	first := make(chan error)
	go func() {
		_, err := s.Add(ctx, 1, codec.Subscription{Filter: "a"})
		first <- err
	}()
	<-srv.entered
	second := make(chan error)
	go func() {
		_, err := s.Add(ctx, 2, codec.Subscription{Filter: "a"})
		second <- err
	}()
	// Wait until the second Add holds its place.
	for {
		if l, _ := s.Len(); l == 2 {
			break
		}
		runtime.Gosched()
	}
	s.Clear()
	srv.gate <- struct{}{}
	if err := <-first; err != nil {
		t.Errorf("first Add: %v", err)
	}
	if err := <-second; !errors.Is(err, client.ErrClosed) {
		t.Errorf("second Add after Clear: %v, want ErrClosed", err)
	}
	if l, f := s.Len(); l != 0 || f != 0 {
		t.Errorf("Len = %d, %d after Clear", l, f)
	}
}
