package cluster

// Authenticated and encrypted routes: three nodes with a route password
// and mutual TLS form a cluster and carry messages; a fourth node with the
// wrong password, a certificate of another CA or no TLS is refused.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// lines records the messages a node logs (the embedded nats-server's come
// through natsLogger), and passes every record on to the test logger.
type lines struct {
	mu  sync.Mutex
	got []string
}

// logger returns a logger that records into l and writes to next.
func (l *lines) logger(next *slog.Logger) *slog.Logger {
	return slog.New(recorder{next: next.Handler(), to: l})
}

// count returns how many recorded lines contain s.
func (l *lines) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, g := range l.got {
		if strings.Contains(g, s) {
			n++
		}
	}
	return n
}

type recorder struct {
	next slog.Handler
	to   *lines
}

func (r recorder) Enabled(context.Context, slog.Level) bool { return true }

func (r recorder) Handle(ctx context.Context, rec slog.Record) error {
	r.to.mu.Lock()
	r.to.got = append(r.to.got, rec.Message)
	r.to.mu.Unlock()
	if r.next.Enabled(ctx, rec.Level) {
		return r.next.Handle(ctx, rec)
	}
	return nil
}

func (r recorder) WithAttrs(a []slog.Attr) slog.Handler {
	return recorder{next: r.next.WithAttrs(a), to: r.to}
}

func (r recorder) WithGroup(g string) slog.Handler {
	return recorder{next: r.next.WithGroup(g), to: r.to}
}

// routeNames returns the names of the servers ns has routes to, each once,
// sorted.
func routeNames(t testing.TB, ns *server.Server) []string {
	t.Helper()
	rz, err := ns.Routez(nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rz.Routes {
		names = append(names, r.RemoteName)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// Lines of nats-server (v2.15) when it refuses a route.
const (
	authRefused = "authentication error"
	tlsRefused  = "TLS route handshake error"
)

// TestRouteSecurity starts three nodes whose routes need a password and
// mutual TLS: they form a cluster without an authentication or TLS error
// and carry a QoS 0 and a QoS 1 message from node 1 to node 3. Then a
// fourth nats-server, configured as a node would be, dials node 1 with
// the wrong password, with a certificate of another CA, or without TLS:
// node 1 refuses it (and logs why), and no node of the cluster lists it
// as a route.
func TestRouteSecurity(t *testing.T) {
	ca := testkit.NewCA(t, "tern cluster CA")
	const user, password = "tern", "s3cret:/@?"
	logs := make([]*lines, 3)
	ms := startCluster(t, 3, func(i int, c *Config) {
		_, certFile, keyFile := ca.Issue(t, c.Name)
		tc, err := RouteTLSConfig(certFile, keyFile, ca.File)
		if err != nil {
			t.Fatal(err)
		}
		c.RouteUser, c.RoutePassword, c.RouteTLS = user, password, tc
		logs[i] = new(lines)
		c.Logger = logs[i].logger(c.Logger)
	})
	n1, n3 := ms[0], ms[2]
	all := []string{"n1", "n2", "n3"}
	for i, m := range ms {
		ns := m.node.NATSServer()
		want := slices.Delete(slices.Clone(all), i, i+1)
		eventually(t, fmt.Sprintf("%s to route to %v", all[i], want), func() bool {
			return slices.Equal(routeNames(t, ns), want)
		})
		vz, err := ns.Varz(nil)
		if err != nil {
			t.Fatal(err)
		}
		if c := vz.Cluster; !c.TLSRequired || !c.TLSVerify || c.TLSTimeout != routeTLSTimeout {
			t.Errorf("%s: route TLS required %v, verified %v, timeout %v s; want true, true, %d", all[i], c.TLSRequired, c.TLSVerify, c.TLSTimeout, routeTLSTimeout)
		}
		for _, s := range []string{authRefused, tlsRefused} {
			if n := logs[i].count(s); n != 0 {
				t.Errorf("%s logged %q %d times while the cluster formed", all[i], s, n)
			}
		}
	}

	sub := dial(t, n3, codec.V5, "sub")
	sub.Subscribe(t, 1, "sec/#")
	n1.interest(t, "sec/x", true) // for QoS 0 on core NATS
	pub := dial(t, n1, codec.V311, "pub")
	pub.Publish(t, 0, "sec/0", "qos 0 over TLS")
	pub.Publish(t, 1, "sec/1", "qos 1 over TLS") // waits for the PUBACK: the stream has it
	want := []string{`q0 dup=0 retain=0 sec/0 "qos 0 over TLS"`, `q1 dup=0 retain=0 sec/1 "qos 1 over TLS"`}
	if got := recvAll(t, sub, 2); !slices.Equal(got, want) {
		t.Errorf("node 3 got\n%q\nwant\n%q", got, want)
	}

	stranger := testkit.NewCA(t, "another CA")
	n1route := fmt.Sprintf("nats-route://127.0.0.1:%d", n1.node.NATSServer().ClusterAddr().Port)
	for _, tt := range []struct {
		name  string
		edit  func(c *Config)
		where string // what node 1 logs
	}{
		{"wrong password", func(c *Config) { c.RoutePassword = "guess" }, authRefused},
		{"no password", func(c *Config) { c.RouteUser, c.RoutePassword = "", "" }, authRefused},
		{"certificate of another CA", func(c *Config) {
			cert, _, _ := stranger.Issue(t, "n4")
			c.RouteTLS = &tls.Config{
				Certificates: []tls.Certificate{cert},
				RootCAs:      ca.Pool(), // it trusts the cluster's nodes (the CA certificate is no secret)
				ClientCAs:    stranger.Pool(),
				ClientAuth:   tls.RequireAndVerifyClientCert,
			}
		}, tlsRefused},
		{"no TLS", func(c *Config) { c.RouteTLS = nil }, tlsRefused},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, certFile, keyFile := ca.Issue(t, "n4")
			tc, err := RouteTLSConfig(certFile, keyFile, ca.File)
			if err != nil {
				t.Fatal(err)
			}
			before := logs[0].count(tt.where)
			cfg := Config{
				Name:        "n4",
				ClusterPort: testkit.FreePort(t),
				Routes:      []string{n1route},
				StoreDir:    t.TempDir(),
				RouteUser:   user, RoutePassword: password, RouteTLS: tc,
				JetStreamMaxMemory: 16 << 20,
				JetStreamMaxStore:  64 << 20,
				Logger:             logger(),
			}
			tt.edit(&cfg)
			ns, err := embed(cfg, cfg.Logger)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
			// The refusal is the event: node 1 logs it before it closes the
			// connection, which it never registered as a route.
			eventually(t, fmt.Sprintf("node 1 to log %q", tt.where), func() bool { return logs[0].count(tt.where) > before })
			for i, m := range ms {
				want := slices.Delete(slices.Clone(all), i, i+1)
				if got := routeNames(t, m.node.NATSServer()); !slices.Equal(got, want) {
					t.Errorf("%s routes to %v, want %v", all[i], got, want)
				}
			}
			// The refused node itself may list node 1 for a moment: it
			// registers the route on node 1's INFO, which comes before
			// node 1 reads its CONNECT; node 1 sends it nothing else.
		})
	}
	for i := range ms {
		if n := logs[i].count(password); n != 0 {
			t.Errorf("%s logged the route password %d times", all[i], n)
		}
	}
}

// TestRouteConfigRefused: half-set route security is refused before
// anything starts, with an error naming what is missing, and so is a
// route port another program holds (at once, not after nats-server's
// wait for its listeners).
func TestRouteConfigRefused(t *testing.T) {
	ca := testkit.NewCA(t, "tern cluster CA")
	good, certFile, keyFile := ca.Issue(t, "n1")
	_, serverOnly, serverKey := ca.Issue(t, "server only", x509.ExtKeyUsageServerAuth)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	mutual := func() *tls.Config {
		return &tls.Config{Certificates: []tls.Certificate{good}, RootCAs: ca.Pool(), ClientCAs: ca.Pool(), ClientAuth: tls.RequireAndVerifyClientCert}
	}
	for _, tt := range []struct {
		name string
		edit func(c *Config)
		err  string
	}{
		{"user without password", func(c *Config) { c.RouteUser = "u" }, "RouteUser and Config.RoutePassword go together"},
		{"password without user", func(c *Config) { c.RoutePassword = "p" }, "go together"},
		{"server TLS only", func(c *Config) { c.RouteTLS = mutual(); c.RouteTLS.ClientAuth = tls.VerifyClientCertIfGiven }, "mutual TLS"},
		{"no certificate", func(c *Config) { c.RouteTLS = mutual(); c.RouteTLS.Certificates = nil }, "no certificate"},
		{"server certificate only", func(c *Config) {
			c.RouteTLS = mutual()
			c.RouteTLS.Certificates = nil
			c.RouteTLS.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &good, nil }
		}, "GetClientCertificate"},
		{"no CA", func(c *Config) { c.RouteTLS = mutual(); c.RouteTLS.ClientCAs = nil }, "RootCAs and ClientCAs"},
		{"insecure", func(c *Config) { c.RouteTLS = mutual(); c.RouteTLS.InsecureSkipVerify = true }, "InsecureSkipVerify"},
		{"bad route", func(c *Config) { c.Routes = []string{"nats-route://u:secret@h:1/%zz"} }, `@h:1/%zz"`},
		{"route port taken", func(c *Config) { c.ClusterPort = busy.Addr().(*net.TCPAddr).Port }, "cannot listen for routes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Name: "n1", ClusterPort: testkit.FreePort(t), StoreDir: t.TempDir(), Logger: logger()}
			tt.edit(&cfg)
			ns, err := embed(cfg, cfg.Logger)
			if err == nil {
				ns.Shutdown()
				ns.WaitForShutdown()
				t.Fatal("embed accepted it")
			}
			if !strings.Contains(err.Error(), tt.err) || strings.Contains(err.Error(), "secret") {
				t.Fatalf("err = %v, want one containing %s (and no password)", err, tt.err)
			}
		})
	}

	for _, tt := range []struct {
		name, cert, key, ca, err string
	}{
		{"good", certFile, keyFile, ca.File, ""},
		{"no CA", certFile, keyFile, "", "needs a certificate, its key and a CA"},
		{"no key", certFile, "", ca.File, "needs a certificate, its key and a CA"},
		{"server certificate only", serverOnly, serverKey, ca.File, "client authentication"},
		{"key of another certificate", certFile, serverKey, ca.File, "private key does not match"},
		{"CA not PEM", certFile, keyFile, keyFile, "no PEM certificate"},
	} {
		t.Run("files/"+tt.name, func(t *testing.T) {
			tc, err := RouteTLSConfig(tt.cert, tt.key, tt.ca)
			switch {
			case tt.err == "" && err != nil:
				t.Fatal(err)
			case tt.err == "":
				if tc.ClientAuth != tls.RequireAndVerifyClientCert || tc.RootCAs == nil || tc.ClientCAs == nil || len(tc.Certificates) != 1 {
					t.Errorf("RouteTLSConfig = %+v, want mutual TLS with the CA", tc)
				}
			case err == nil || !strings.Contains(err.Error(), tt.err):
				t.Errorf("err = %v, want one containing %q", err, tt.err)
			}
		})
	}
}
