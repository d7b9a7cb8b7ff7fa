package cluster

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ternmq/tern/broker"
)

// Config says how a node joins the cluster: with an embedded nats-server
// (URL empty) or through an external NATS cluster (URL set).
type Config struct {
	// Name is the node's name, unique in the cluster; the embedded
	// server's ServerName.
	Name string
	// URL, when set, is the external NATS cluster to connect to (the
	// fields of the embedded server below are then ignored), with
	// NATSOptions (credentials, TLS).
	URL         string
	NATSOptions []nats.Option

	// ClusterName is the NATS cluster's name (default "tern").
	ClusterName string
	// ClusterHost and ClusterPort are where the embedded server listens
	// for routes from the other nodes (default host 127.0.0.1).
	ClusterHost string
	ClusterPort int
	// Routes are the other nodes' route URLs (nats-route://host:port);
	// listing the node itself is allowed.
	Routes []string
	// RouteUser and RoutePassword, when set, are the credentials every
	// node of the cluster shares for its routes: the embedded server
	// refuses a route that does not present them, and presents them in
	// every route it dials (added to the Routes URLs that carry no
	// credentials of their own). Both or neither.
	RouteUser, RoutePassword string
	// RouteTLS, when set, encrypts the routes with mutual TLS: each node
	// presents its certificate both when it accepts a route and when it
	// dials one, and verifies the other's against the cluster's CA. It
	// must require and verify client certificates
	// (tls.RequireAndVerifyClientCert) and hold a certificate, RootCAs
	// and ClientCAs; RouteTLSConfig builds one from PEM files. A node's
	// certificate must name the host or IP address the others dial: that
	// of its URL in their Routes (a route learned from the cluster, not
	// listed there, is dialled at the IP address the node connects from
	// and checked against the first host name of the dialling node's
	// Routes, or that IP address).
	RouteTLS *tls.Config
	// ClientPort is the embedded server's port for NATS clients on
	// 127.0.0.1 (0: a random one). The node itself connects in-process;
	// the listener is there because nats-server (v2.15) starts its routes
	// only after its client listener (DontListen would leave the node
	// alone).
	ClientPort int
	// StoreDir is JetStream's directory; JetStreamMaxMemory and
	// JetStreamMaxStore its limits in bytes (default 64 MiB and 1 GiB).
	StoreDir                              string
	JetStreamMaxMemory, JetStreamMaxStore int64

	// Logger receives the node's log lines and the embedded server's
	// (nil: slog.Default()).
	Logger *slog.Logger
}

// Node is one broker's membership of the cluster. It implements
// broker.Cluster: give it to broker.Options.Cluster, then call Attach
// with the Server.
type Node struct {
	id  string
	log *slog.Logger
	ns  *server.Server // nil with an external NATS
	nc  *nats.Conn

	srv atomic.Pointer[broker.Server]
	seq atomic.Uint64

	mu   sync.Mutex
	subs map[string]*subject // by NATS subject
	done bool

	in      chan *nats.Msg
	stop    chan struct{}
	stopped chan struct{}
	seen    map[string]*window // by origin; the dispatcher's only

	stats Stats
	sh    shared    // shared subscriptions (shared.go)
	q     *durable  // the streams (qos.go)
	reg   *registry // the session registry (registry.go)
}

// subject is one NATS subscription and the number of local subscriptions
// (a filter held by one session) that need it.
type subject struct {
	n   int
	sub *nats.Subscription
}

// Stats are a node's counters.
type Stats struct {
	Published    atomic.Uint64 // messages sent to the other nodes
	PublishFails atomic.Uint64 // messages NATS refused (too large, connection closed)
	Received     atomic.Uint64 // messages from other nodes routed here
	Echoes       atomic.Uint64 // own messages that came back, dropped
	Duplicates   atomic.Uint64 // second copies (overlapping subscriptions) or late ones, dropped
	Bad          atomic.Uint64 // messages with a bad subject or header, dropped
	SlowConsumer atomic.Uint64 // times NATS dropped messages because the node lagged
}

// inbox is how many received messages wait for the dispatcher before NATS
// drops them (counted in Stats.SlowConsumer).
const inbox = 1 << 16

// Start starts the node: it starts the embedded nats-server and waits
// until it accepts connections, or connects to cfg.URL. It does not wait
// for JetStream (see WaitJetStream): the data plane does not need it, and
// the first node of a cluster has no JetStream quorum until others start.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.Name == "" {
		return nil, errors.New("cluster: Config.Name is empty")
	}
	var nonce [4]byte
	rand.Read(nonce[:])
	n := &Node{
		id:      cfg.Name + "-" + hex.EncodeToString(nonce[:]),
		log:     cfg.Logger,
		subs:    make(map[string]*subject),
		in:      make(chan *nats.Msg, inbox),
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
		seen:    make(map[string]*window),
	}
	if n.log == nil {
		n.log = slog.Default()
	}
	n.log = n.log.With("node", cfg.Name)
	opts := []nats.Option{
		nats.Name("tern " + n.id),
		nats.MaxReconnects(-1),
		nats.NoEcho(), // the node delivered its own messages itself
		nats.ErrorHandler(n.natsError),
	}
	addr := cfg.URL
	if addr == "" {
		ns, err := embed(cfg, n.log)
		if err != nil {
			return nil, err
		}
		n.ns = ns
		opts = append(opts, nats.InProcessServer(ns))
	}
	opts = append(opts, cfg.NATSOptions...)
	nc, err := nats.Connect(addr, opts...)
	if err != nil {
		n.shutdownServer()
		return nil, fmt.Errorf("cluster: connect to NATS: %w", err)
	}
	n.nc = nc
	if err := n.startShared(addr, opts); err != nil {
		nc.Close()
		n.shutdownServer()
		return nil, err
	}
	n.reg = startRegistry(n, cfg)
	go n.dispatch()
	n.startDurable(cfg)
	return n, nil
}

// embed starts an embedded nats-server for cfg.
func embed(cfg Config, log *slog.Logger) (*server.Server, error) {
	o := &server.Options{
		ServerName:         cfg.Name,
		Host:               "127.0.0.1",
		Port:               cmp(cfg.ClientPort, -1),
		MaxControlLine:     1 << 18, // a long escaped topic (up to 3 × 64 KiB)
		MaxPayload:         8 << 20,
		JetStream:          true,
		StoreDir:           cfg.StoreDir,
		JetStreamMaxMemory: cmp(cfg.JetStreamMaxMemory, 64<<20),
		JetStreamMaxStore:  cmp(cfg.JetStreamMaxStore, 1<<30),
		Cluster: server.ClusterOpts{
			Name: cfg.ClusterName,
			Host: cfg.ClusterHost,
			Port: cfg.ClusterPort,
		},
		NoSigs: true,
		// A dead route is dialled every second: report the first failed
		// attempts, then one in a minute (nats-server reports each).
		ConnectErrorReports:   60,
		ReconnectErrorReports: 60,
	}
	if o.Cluster.Name == "" {
		o.Cluster.Name = "tern"
	}
	if o.Cluster.Host == "" {
		o.Cluster.Host = "127.0.0.1"
	}
	if o.StoreDir == "" {
		return nil, errors.New("cluster: Config.StoreDir is empty")
	}
	if err := routeSecurity(&o.Cluster, cfg); err != nil {
		return nil, err
	}
	for _, r := range cfg.Routes {
		u, err := url.Parse(r)
		if err != nil {
			// url.Error quotes the URL, password and all: only its cause.
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			return nil, fmt.Errorf("cluster: route %q: %w", redact(r), err)
		}
		if u.User == nil && cfg.RouteUser != "" {
			u.User = url.UserPassword(cfg.RouteUser, cfg.RoutePassword)
		}
		o.Routes = append(o.Routes, u)
	}
	routeAddr := net.JoinHostPort(o.Cluster.Host, strconv.Itoa(o.Cluster.Port))
	if o.Cluster.Port > 0 {
		// nats-server would wait out ReadyForConnections and not say why.
		ln, err := net.Listen("tcp", routeAddr)
		if err != nil {
			return nil, fmt.Errorf("cluster: cannot listen for routes: %w", err)
		}
		ln.Close()
	}
	ns, err := server.NewServer(o)
	if err != nil {
		return nil, fmt.Errorf("cluster: nats-server: %w", err)
	}
	ns.SetLoggerV2(natsLogger{log}, false, false, false)
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		err := errors.New("cluster: nats-server not ready for connections within 10s")
		if o.Cluster.Port > 0 && ns.ClusterAddr() == nil {
			err = fmt.Errorf("cluster: nats-server cannot listen for routes on %s (taken meanwhile?)", routeAddr)
		}
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, err
	}
	return ns, nil
}

// routeTLSTimeout bounds a route's TLS handshake, in seconds
// (nats-server's default of 2 s is short for two busy cores).
const routeTLSTimeout = 5

// routeSecurity sets the route credentials and TLS of cfg on o, refusing
// half-set ones.
func routeSecurity(o *server.ClusterOpts, cfg Config) error {
	if (cfg.RouteUser == "") != (cfg.RoutePassword == "") {
		return errors.New("cluster: Config.RouteUser and Config.RoutePassword go together")
	}
	o.Username, o.Password = cfg.RouteUser, cfg.RoutePassword
	t := cfg.RouteTLS
	if t == nil {
		return nil
	}
	switch {
	case t.ClientAuth != tls.RequireAndVerifyClientCert:
		return errors.New("cluster: Config.RouteTLS: routes need mutual TLS (ClientAuth tls.RequireAndVerifyClientCert)")
	case len(t.Certificates) == 0 && (t.GetCertificate == nil || t.GetClientCertificate == nil):
		// A node presents its certificate as a server and as a client.
		return errors.New("cluster: Config.RouteTLS has no certificate for the node (Certificates, or GetCertificate and GetClientCertificate)")
	case t.RootCAs == nil || t.ClientCAs == nil:
		return errors.New("cluster: Config.RouteTLS: set RootCAs and ClientCAs to the CA of the nodes' certificates")
	case t.InsecureSkipVerify:
		return errors.New("cluster: Config.RouteTLS: InsecureSkipVerify would accept any node's certificate")
	}
	o.TLSConfig = t.Clone()
	o.TLSTimeout = routeTLSTimeout
	return nil
}

// RouteTLSConfig returns a Config.RouteTLS for mutual TLS between the
// nodes: the node's certificate and key from PEM files certFile and
// keyFile, and the CAs of PEM file caFile to verify the other nodes'
// certificates, both those of the routes it accepts and those it dials.
// The certificate must be good for both server and client authentication
// (both extended key usages, or none).
func RouteTLSConfig(certFile, keyFile, caFile string) (*tls.Config, error) {
	if certFile == "" || keyFile == "" || caFile == "" {
		return nil, errors.New("cluster: route TLS needs a certificate, its key and a CA file")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("cluster: route TLS certificate: %w", err)
	}
	leaf := cert.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("cluster: route TLS certificate: %w", err)
		}
	}
	if err := bothWays(leaf); err != nil {
		return nil, fmt.Errorf("cluster: route TLS certificate %s: %w", certFile, err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("cluster: route TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("cluster: route TLS CA %s: no PEM certificate in it", caFile)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}, nil
}

// bothWays checks that a route certificate may serve as a server's and as
// a client's: a node presents it when it accepts a route and when it dials
// one.
func bothWays(c *x509.Certificate) error {
	if len(c.ExtKeyUsage) == 0 {
		return nil
	}
	var server, client bool
	for _, u := range c.ExtKeyUsage {
		server = server || u == x509.ExtKeyUsageServerAuth || u == x509.ExtKeyUsageAny
		client = client || u == x509.ExtKeyUsageClientAuth || u == x509.ExtKeyUsageAny
	}
	if !server || !client {
		return errors.New("a node presents it both to the nodes it dials and to those that dial it: it needs both the server and the client authentication extended key usage")
	}
	return nil
}

// redact hides the password of a route URL.
func redact(r string) string {
	if u, err := url.Parse(r); err == nil {
		return u.Redacted()
	}
	if i := strings.LastIndex(r, "@"); i >= 0 {
		return "…" + r[i:]
	}
	return r
}

func cmp[T int | int64](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// WaitJetStream waits until JetStream answers (the cluster elected its
// meta leader), asking with a timeout per call, until ctx ends.
func (n *Node) WaitJetStream(ctx context.Context) error {
	js, err := jetstream.New(n.nc)
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	pause := time.NewTimer(0)
	defer pause.Stop()
	for {
		call, cancel := context.WithTimeout(ctx, time.Second)
		_, err := js.AccountInfo(call)
		cancel()
		if err == nil {
			return nil
		}
		// A fast failure (no responders before the meta leader) is retried
		// after a pause, not in a spin.
		pause.Reset(50 * time.Millisecond)
		select {
		case <-pause.C:
		case <-ctx.Done():
			return fmt.Errorf("cluster: JetStream not ready: %w (last: %v)", ctx.Err(), err)
		}
	}
}

// ID is the node's id in message headers: its name and a random suffix
// drawn at Start.
func (n *Node) ID() string { return n.id }

// Stats returns the node's counters.
func (n *Node) Stats() *Stats { return &n.stats }

// NATSServer is the embedded nats-server, nil with an external NATS.
func (n *Node) NATSServer() *server.Server { return n.ns }

// Conn is the node's NATS connection.
func (n *Node) Conn() *nats.Conn { return n.nc }

// Attach routes the messages other nodes send to srv, which must have
// been made with n as Options.Cluster. Messages that come before are
// dropped. The sessions srv recovered from its store are then reconciled
// with the session registry in the background (restart.go); a CONNECT
// for one of them waits for it.
func (n *Node) Attach(srv *broker.Server) {
	n.srv.Store(srv)
	n.reg.restarted(srv)
}

// Subscribed implements broker.Cluster.
func (n *Node) Subscribed(filter string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, s := range FilterSubjects(filter) {
		sub := n.subs[s]
		if sub == nil {
			sub = &subject{}
			n.subs[s] = sub
		}
		if sub.n++; sub.n == 1 && !n.done {
			var err error
			if sub.sub, err = n.nc.ChanSubscribe(s, n.in); err != nil {
				n.log.Error("cluster: subscribe", "subject", s, "filter", filter, "err", err)
			}
		}
	}
}

// Unsubscribed implements broker.Cluster.
func (n *Node) Unsubscribed(filter string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, s := range FilterSubjects(filter) {
		sub := n.subs[s]
		if sub == nil {
			sub = &subject{} // before its Subscribed (see broker.Cluster)
			n.subs[s] = sub
		}
		sub.n--
		if sub.n == 0 && sub.sub != nil {
			if err := sub.sub.Unsubscribe(); err != nil && !n.done {
				n.log.Error("cluster: unsubscribe", "subject", s, "err", err)
			}
			sub.sub = nil
		}
		if sub.n == 0 {
			delete(n.subs, s)
		}
	}
}

// Subjects returns the number of NATS subscriptions the node holds for
// its local subscriptions.
func (n *Node) Subjects() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := 0
	for _, s := range n.subs {
		if s.sub != nil {
			c++
		}
	}
	return c
}

// Published implements broker.Cluster: it sends m to the nodes that
// subscribe to its topic.
func (n *Node) Published(m *broker.Message) {
	msg := encode(m, n.id, n.seq.Add(1), time.Now())
	if err := n.nc.PublishMsg(msg); err != nil {
		n.stats.PublishFails.Add(1)
		n.log.Debug("cluster: publish", "topic", m.Topic, "err", err)
		return
	}
	n.stats.Published.Add(1)
}

// dispatch routes the received messages, one at a time in the order NATS
// delivered them, until Close.
//
// Every pruneEvery it drops the dedup windows of origins that sent
// nothing for windowIdle: a node's id changes at every start, so without
// that each restart of any node would leave an 8 KiB window behind here
// for good.
func (n *Node) dispatch() {
	defer close(n.stopped)
	prune := time.NewTicker(pruneEvery)
	defer prune.Stop()
	for {
		select {
		case msg := <-n.in:
			n.receive(msg)
		case now := <-prune.C:
			n.pruneSeen(now)
		case <-n.stop:
			return
		}
	}
}

// pruneEvery and windowIdle: see dispatch. A copy of a message arrives
// within seconds of the first, or not at all; ten minutes is far beyond.
const (
	pruneEvery = time.Minute
	windowIdle = 10 * time.Minute
)

// pruneSeen drops the windows of the origins not heard from since
// now-windowIdle.
func (n *Node) pruneSeen(now time.Time) {
	for origin, w := range n.seen {
		if now.Sub(w.last) > windowIdle {
			delete(n.seen, origin)
		}
	}
}

func (n *Node) receive(msg *nats.Msg) {
	now := time.Now()
	m, origin, seq, err := decode(msg, now)
	switch {
	case err != nil:
		n.stats.Bad.Add(1)
		n.log.Warn("cluster: dropped a message", "subject", msg.Subject, "err", err)
		return
	case origin == n.id:
		n.stats.Echoes.Add(1)
		return
	}
	w := n.seen[origin]
	if w == nil {
		w = new(window)
		n.seen[origin] = w
	}
	w.last = now
	if !w.fresh(seq) {
		n.stats.Duplicates.Add(1)
		return
	}
	srv := n.srv.Load()
	if srv == nil {
		return
	}
	n.stats.Received.Add(1)
	srv.InjectRemote(m)
}

// natsError counts and logs the NATS connection's asynchronous errors.
func (n *Node) natsError(_ *nats.Conn, sub *nats.Subscription, err error) {
	if errors.Is(err, nats.ErrSlowConsumer) {
		if c := n.stats.SlowConsumer.Add(1); c&(c-1) == 0 { // log at powers of two
			n.log.Warn("cluster: node too slow, NATS dropped messages", "times", c)
		}
		return
	}
	subj := ""
	if sub != nil {
		subj = sub.Subject
	}
	n.log.Error("cluster: NATS", "subject", subj, "err", err)
}

// Close leaves the cluster: it stops routing received messages, closes
// the NATS connection and shuts the embedded server down, waiting for it.
// Hooks called afterwards do nothing.
func (n *Node) Close() {
	n.mu.Lock()
	if n.done {
		n.mu.Unlock()
		return
	}
	n.done = true
	n.mu.Unlock()
	n.q.close()
	n.reg.close()
	n.nc.Close()
	close(n.stop)
	<-n.stopped
	n.closeShared()
	n.shutdownServer()
}

func (n *Node) shutdownServer() {
	if n.ns != nil {
		n.ns.Shutdown()
		n.ns.WaitForShutdown()
	}
}

// window remembers which of an origin's sequence numbers were seen: all
// up to top-size, and those above by bit.
type window struct {
	last time.Time // when the origin last sent (pruneSeen)
	top  uint64
	bits [windowSize / 64]uint64
}

// windowSize is how far behind the newest a copy may arrive and still be
// told apart from a duplicate; older ones are dropped as duplicates.
const windowSize = 1 << 16

// fresh reports whether seq was not seen before, and marks it seen.
func (w *window) fresh(seq uint64) bool {
	switch {
	case seq > w.top:
		if seq-w.top >= windowSize {
			w.bits = [windowSize / 64]uint64{}
		} else {
			for s := w.top + 1; s < seq; s++ {
				w.bits[s%windowSize/64] &^= 1 << (s % 64)
			}
		}
		w.top = seq
	case w.top-seq >= windowSize:
		return false
	case w.bits[seq%windowSize/64]&(1<<(seq%64)) != 0:
		return false
	}
	w.bits[seq%windowSize/64] |= 1 << (seq % 64)
	return true
}

var _ broker.Cluster = (*Node)(nil)

// natsLogger writes the embedded nats-server's log to slog.
type natsLogger struct{ l *slog.Logger }

func (g natsLogger) Noticef(f string, v ...any) { g.l.Info("nats: " + fmt.Sprintf(f, v...)) }
func (g natsLogger) Warnf(f string, v ...any)   { g.l.Warn("nats: " + fmt.Sprintf(f, v...)) }
func (g natsLogger) Fatalf(f string, v ...any)  { g.l.Error("nats: " + fmt.Sprintf(f, v...)) }
func (g natsLogger) Errorf(f string, v ...any)  { g.l.Error("nats: " + fmt.Sprintf(f, v...)) }
func (g natsLogger) Debugf(f string, v ...any)  { g.l.Debug("nats: " + fmt.Sprintf(f, v...)) }
func (g natsLogger) Tracef(f string, v ...any)  { g.l.Debug("nats: " + fmt.Sprintf(f, v...)) }
