package broker

import (
	"context"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the package if any goroutine outlives the tests
// (connections, writers, timers' callbacks).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testServer is a broker listening on a loopback port for one test.
type testServer struct {
	*Server
	Addr string // host:port of the MQTT listener
}

// startServer starts a broker on 127.0.0.1:0 and stops it when the test
// ends. opts may be nil. Logs go to the test log when -v is set.
func startServer(t testing.TB, opts *Options) *testServer {
	t.Helper()
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil && testing.Verbose() {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv := New(o)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(context.Background(), ln)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		<-done
	})
	return &testServer{Server: srv, Addr: ln.Addr().String()}
}
