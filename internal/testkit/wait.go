package testkit

import (
	"context"
	"testing"
	"time"
)

// Timeout bounds every wait for an event. Events arrive within
// milliseconds; the bound only turns a bug into a failure instead of a
// hang, so it is generous for -race on two cores. Inside a
// testing/synctest bubble it is fake time.
const Timeout = 10 * time.Second

// WaitFor returns the next value from ch (or the zero value once ch is
// closed), failing the test if none comes within Timeout. what names the
// event in the failure message.
func WaitFor[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	timer := time.NewTimer(Timeout)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("timed out after %v waiting for %s", Timeout, what)
	}
	panic("unreachable")
}

// Context returns a context bounded by Timeout, cancelled when the test
// ends.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	t.Cleanup(cancel)
	return ctx
}

// Became returns a channel closed once cond holds, for WaitFor, when the
// code under test has no event to wait on: cond is checked every
// millisecond until it holds or the test ends.
func Became(t testing.TB, cond func() bool) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for !cond() {
			select {
			case <-tick.C:
			case <-t.Context().Done():
				return
			}
		}
		close(ch)
	}()
	return ch
}
