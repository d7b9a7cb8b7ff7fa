package broker

import (
	"log/slog"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/ternmq/tern/internal/testkit"
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
	addr := testkit.ServeLoopback(t, srv)
	return &testServer{Server: srv, Addr: addr}
}
