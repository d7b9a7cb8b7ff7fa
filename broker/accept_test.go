//go:build linux

package broker

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// TestAcceptorConn: a connection accepted with raw system calls
// (accept_linux.go) is what net would have made of it: TCP_NODELAY on
// whether the listener has it (inherited) or not (set per connection), the
// same addresses, and net's errors after a close and at a deadline.
func TestAcceptorConn(t *testing.T) {
	for _, tc := range []struct {
		name    string
		noDelay bool // on the listening socket
		wild    bool // ask the socket its local address
	}{{"plain listener", false, false}, {"TCP_NODELAY listener", true, false}, {"wildcard address", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
				var serr error
				if tc.noDelay {
					rc.Control(func(fd uintptr) {
						serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
					})
				}
				return serr
			}}
			ln, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			a := newAcceptor(ln)
			l := a.listener(ln)
			defer l.Close()
			if a.noDelay != tc.noDelay {
				t.Fatalf("acceptor sees TCP_NODELAY %t on the listener, want %t", a.noDelay, tc.noDelay)
			}
			a.wild = tc.wild
			client, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			nc, err := a.accept()
			if err != nil {
				t.Fatal(err)
			}
			if got, want := nc.RemoteAddr().String(), client.LocalAddr().String(); got != want {
				t.Errorf("RemoteAddr %s, want %s", got, want)
			}
			if got, want := nc.LocalAddr().String(), client.RemoteAddr().String(); got != want {
				t.Errorf("LocalAddr %s, want %s", got, want)
			}
			rc, err := nc.(syscall.Conn).SyscallConn()
			if err != nil {
				t.Fatal(err)
			}
			var on int
			rc.Control(func(fd uintptr) { on, _ = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_NODELAY) })
			if on != 1 {
				t.Errorf("TCP_NODELAY %d, want 1", on)
			}
			// A round trip, a read deadline, a half close, a close.
			client.Write([]byte("ping"))
			var b [4]byte
			if _, err := io.ReadFull(nc, b[:]); err != nil || string(b[:]) != "ping" {
				t.Fatalf("read %q, %v", b, err)
			}
			nc.SetReadDeadline(time.Now())
			_, err = nc.Read(b[:])
			var ne net.Error
			if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
				t.Errorf("read past the deadline: %v, want a net.Error that is a timeout", err)
			}
			if err := nc.(halfCloser).CloseWrite(); err != nil {
				t.Fatal(err)
			}
			if n, err := client.Read(b[:]); n != 0 || err != io.EOF {
				t.Errorf("client read after CloseWrite: %d, %v, want EOF", n, err)
			}
			nc.Close()
			if _, err := nc.Read(b[:]); !errors.Is(err, net.ErrClosed) {
				t.Errorf("read after Close: %v, want net.ErrClosed", err)
			}
			if err := rc.Read(func(uintptr) bool { return true }); !errors.Is(err, net.ErrClosed) {
				t.Errorf("raw read after Close: %v, want net.ErrClosed", err)
			}
		})
	}
}

// TestServeListenerClosed: Serve returns once its context ends, and once
// the listener's owner has closed it and someone tries to connect (Linux
// waits on a duplicate of the listening socket); no connection is served
// after that.
func TestServeListenerClosed(t *testing.T) {
	for _, how := range []string{"context", "owner"} {
		t.Run(how, func(t *testing.T) {
			srv := New(Options{})
			defer srv.Shutdown(testkit.Context(t))
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- srv.Serve(ctx, ln) }()
			p := testkit.Dial(t, ln.Addr().String(), codec.V311)
			p.Connect(t, &codec.Connect{ClientID: "served", CleanStart: true})
			if how == "context" {
				cancel()
			} else {
				ln.Close()
				if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
					c.Close() // accepted by the duplicate before Serve saw the close
				}
			}
			testkit.WaitFor(t, done, "Serve returned")
			if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
				t.Error("a connection was accepted after Serve returned")
			}
		})
	}
}
