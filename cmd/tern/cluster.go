package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/ternmq/tern/broker/cluster"
)

// clusterOptions are the --cluster options. They are embedded in config,
// so the JSON file has them at its top level under the flags' names
// ("cluster": true, "cluster_node": "n1", ...).
//
// A node either embeds a nats-server (the default: it listens for routes
// on ClusterListen and dials ClusterRoutes, secured with ClusterUser and
// ClusterPassword and mutual TLS with the ClusterTLS* files, and keeps
// JetStream's files in ClusterStore) or, with ClusterNATSURL, connects to
// an existing NATS cluster with the ClusterNATS* credentials; the options
// of the one mode are refused in the other.
type clusterOptions struct {
	Cluster             bool     `json:"cluster"`               // join a cluster
	ClusterNode         string   `json:"cluster_node"`          // this node's name, unique in the cluster (default: host name)
	ClusterListen       string   `json:"cluster_listen"`        // route listener of the embedded nats-server (default 127.0.0.1:6222)
	ClusterRoutes       []string `json:"cluster_routes"`        // the other nodes' route addresses
	ClusterUser         string   `json:"cluster_user"`          // route user all nodes share
	ClusterPassword     string   `json:"cluster_password"`      // and its password
	ClusterTLSCert      string   `json:"cluster_tls_cert"`      // this node's route certificate file (server and client)
	ClusterTLSKey       string   `json:"cluster_tls_key"`       // its key file
	ClusterTLSCA        string   `json:"cluster_tls_ca"`        // CA file that verifies the other nodes' certificates
	ClusterClientPort   int      `json:"cluster_client_port"`   // embedded nats-server's client port on 127.0.0.1 (0: random)
	ClusterStore        string   `json:"cluster_store"`         // JetStream directory (default: cluster/ in --data)
	ClusterMaxMemory    int64    `json:"cluster_max_memory"`    // JetStream memory limit in bytes (0: 64 MiB)
	ClusterMaxStore     int64    `json:"cluster_max_store"`     // JetStream disk limit in bytes (0: 1 GiB)
	ClusterNATSURL      string   `json:"cluster_nats_url"`      // an external NATS cluster instead of the embedded server
	ClusterNATSCreds    string   `json:"cluster_nats_creds"`    // its credentials file (JWT and NKey seed)
	ClusterNATSUser     string   `json:"cluster_nats_user"`     // or its user
	ClusterNATSPassword string   `json:"cluster_nats_password"` // and password
	ClusterNATSTLSCA    string   `json:"cluster_nats_tls_ca"`   // CA file to verify the NATS servers
	ClusterNATSTLSCert  string   `json:"cluster_nats_tls_cert"` // client certificate file
	ClusterNATSTLSKey   string   `json:"cluster_nats_tls_key"`  // and its key
}

// Defaults of the embedded nats-server (flag help and clusterConfig).
const (
	defaultClusterListen = "127.0.0.1:6222"
	defaultClusterDir    = "cluster" // in the data directory
)

// clusterFlags defines the --cluster flags on fs, writing to c.
func (c *clusterOptions) clusterFlags(fs *flag.FlagSet) {
	fs.BoolVar(&c.Cluster, "cluster", c.Cluster, "join a cluster of tern nodes over NATS with JetStream: an embedded nats-server routed to --cluster-routes, or --cluster-nats-url (see README, \"Running a cluster\")")
	fs.StringVar(&c.ClusterNode, "cluster-node", c.ClusterNode, "this node's `name`, unique in the cluster (default: the host name)")
	fs.StringVar(&c.ClusterListen, "cluster-listen", c.ClusterListen, "listen for the other nodes' routes on this `address` (embedded NATS; default "+defaultClusterListen+")")
	fileRoutes := true // the first --cluster-routes replaces the config file's list
	fs.Func("cluster-routes", "the other nodes' route `addresses`, host:port or nats-route://host:port (repeatable or comma-separated; listing this node too is allowed)", func(v string) error {
		if fileRoutes {
			c.ClusterRoutes, fileRoutes = nil, false
		}
		for r := range strings.SplitSeq(v, ",") {
			if r = strings.TrimSpace(r); r != "" {
				c.ClusterRoutes = append(c.ClusterRoutes, r)
			}
		}
		return nil
	})
	fs.StringVar(&c.ClusterUser, "cluster-user", c.ClusterUser, "route `user` that every node of the cluster shares, with --cluster-password (embedded NATS)")
	fs.StringVar(&c.ClusterPassword, "cluster-password", c.ClusterPassword, "route `password` for --cluster-user: a route that does not present it is refused (better in the config file: a command line is visible to other users)")
	fs.StringVar(&c.ClusterTLSCert, "cluster-tls-cert", c.ClusterTLSCert, "encrypt the routes with mutual TLS: this node's PEM certificate `file`, for both server and client authentication, naming the host or IP address the other nodes dial (with --cluster-tls-key and --cluster-tls-ca)")
	fs.StringVar(&c.ClusterTLSKey, "cluster-tls-key", c.ClusterTLSKey, "PEM private key `file` for --cluster-tls-cert")
	fs.StringVar(&c.ClusterTLSCA, "cluster-tls-ca", c.ClusterTLSCA, "PEM `file` of the CA that signed the nodes' route certificates: routes from nodes it did not sign are refused")
	fs.IntVar(&c.ClusterClientPort, "cluster-client-port", c.ClusterClientPort, "the embedded nats-server's client `port` on 127.0.0.1, for NATS tools (0: a random one)")
	fs.StringVar(&c.ClusterStore, "cluster-store", c.ClusterStore, "keep the embedded JetStream's replicated state in this `directory` (default: "+defaultClusterDir+"/ in --data; required with --in-memory)")
	fs.Int64Var(&c.ClusterMaxMemory, "cluster-max-memory", c.ClusterMaxMemory, "the embedded JetStream's memory limit in `bytes` (0: 64 MiB)")
	fs.Int64Var(&c.ClusterMaxStore, "cluster-max-store", c.ClusterMaxStore, "the embedded JetStream's disk limit in `bytes` (0: 1 GiB)")
	fs.StringVar(&c.ClusterNATSURL, "cluster-nats-url", c.ClusterNATSURL, "connect to this existing NATS cluster (`URLs`, comma-separated) instead of embedding a nats-server")
	fs.StringVar(&c.ClusterNATSCreds, "cluster-nats-creds", c.ClusterNATSCreds, "credentials `file` for --cluster-nats-url")
	fs.StringVar(&c.ClusterNATSUser, "cluster-nats-user", c.ClusterNATSUser, "`user` for --cluster-nats-url, with --cluster-nats-password")
	fs.StringVar(&c.ClusterNATSPassword, "cluster-nats-password", c.ClusterNATSPassword, "`password` for --cluster-nats-user (better in the config file: a command line is visible to other users)")
	fs.StringVar(&c.ClusterNATSTLSCA, "cluster-nats-tls-ca", c.ClusterNATSTLSCA, "verify the NATS servers of --cluster-nats-url with the CAs of this PEM `file`")
	fs.StringVar(&c.ClusterNATSTLSCert, "cluster-nats-tls-cert", c.ClusterNATSTLSCert, "PEM client certificate `file` for --cluster-nats-url, with --cluster-nats-tls-key")
	fs.StringVar(&c.ClusterNATSTLSKey, "cluster-nats-tls-key", c.ClusterNATSTLSKey, "PEM private key `file` for --cluster-nats-tls-cert")
}

// clusterConfig checks the cluster options and returns the node's
// configuration; ok is false when --cluster is off. data is the broker's
// data directory ("" in memory).
func (c *clusterOptions) clusterConfig(data string) (cfg cluster.Config, ok bool, err error) {
	if !c.Cluster {
		if set := c.setOptions(); len(set) > 0 {
			return cfg, false, fmt.Errorf("cluster-%s: needs --cluster", set[0])
		}
		return cfg, false, nil
	}
	cfg.Name = c.ClusterNode
	if cfg.Name == "" {
		if cfg.Name, err = os.Hostname(); err != nil || cfg.Name == "" {
			return cfg, false, fmt.Errorf("cluster-node: not set, and no host name to use: %v", err)
		}
	}
	if strings.ContainsAny(cfg.Name, " \t\r\n") {
		return cfg, false, fmt.Errorf("cluster-node %q: a name without white space", cfg.Name)
	}
	if c.ClusterNATSURL != "" {
		return c.externalConfig(cfg)
	}
	return c.embeddedConfig(cfg, data)
}

// setOptions names the cluster options that are set (without "cluster-").
func (c *clusterOptions) setOptions() []string {
	var set []string
	for _, o := range []struct {
		name string
		set  bool
	}{
		{"node", c.ClusterNode != ""},
		{"listen", c.ClusterListen != ""},
		{"routes", len(c.ClusterRoutes) > 0},
		{"user", c.ClusterUser != ""},
		{"password", c.ClusterPassword != ""},
		{"tls-cert", c.ClusterTLSCert != ""},
		{"tls-key", c.ClusterTLSKey != ""},
		{"tls-ca", c.ClusterTLSCA != ""},
		{"client-port", c.ClusterClientPort != 0},
		{"store", c.ClusterStore != ""},
		{"max-memory", c.ClusterMaxMemory != 0},
		{"max-store", c.ClusterMaxStore != 0},
		{"nats-url", c.ClusterNATSURL != ""},
		{"nats-creds", c.ClusterNATSCreds != ""},
		{"nats-user", c.ClusterNATSUser != ""},
		{"nats-password", c.ClusterNATSPassword != ""},
		{"nats-tls-ca", c.ClusterNATSTLSCA != ""},
		{"nats-tls-cert", c.ClusterNATSTLSCert != ""},
		{"nats-tls-key", c.ClusterNATSTLSKey != ""},
	} {
		if o.set {
			set = append(set, o.name)
		}
	}
	return set
}

// externalConfig is clusterConfig with --cluster-nats-url.
func (c *clusterOptions) externalConfig(cfg cluster.Config) (cluster.Config, bool, error) {
	for _, o := range c.setOptions() {
		if o != "node" && !strings.HasPrefix(o, "nats-") {
			return cfg, false, fmt.Errorf("cluster-%s: only for the embedded nats-server, not with --cluster-nats-url", o)
		}
	}
	for u := range strings.SplitSeq(c.ClusterNATSURL, ",") {
		if p, err := url.Parse(strings.TrimSpace(u)); err != nil || p.Host == "" {
			return cfg, false, fmt.Errorf("cluster-nats-url: %q is not a URL such as nats://host:4222", u)
		}
	}
	cfg.URL = c.ClusterNATSURL
	switch {
	case (c.ClusterNATSUser == "") != (c.ClusterNATSPassword == ""):
		return cfg, false, errors.New("cluster-nats-user and cluster-nats-password go together")
	case c.ClusterNATSUser != "" && c.ClusterNATSCreds != "":
		return cfg, false, errors.New("cluster-nats-creds and cluster-nats-user: one or the other")
	case (c.ClusterNATSTLSCert == "") != (c.ClusterNATSTLSKey == ""):
		return cfg, false, errors.New("cluster-nats-tls-cert and cluster-nats-tls-key go together")
	}
	if c.ClusterNATSCreds != "" {
		cfg.NATSOptions = append(cfg.NATSOptions, nats.UserCredentials(c.ClusterNATSCreds))
	}
	if c.ClusterNATSUser != "" {
		cfg.NATSOptions = append(cfg.NATSOptions, nats.UserInfo(c.ClusterNATSUser, c.ClusterNATSPassword))
	}
	if c.ClusterNATSTLSCA != "" {
		cfg.NATSOptions = append(cfg.NATSOptions, nats.RootCAs(c.ClusterNATSTLSCA))
	}
	if c.ClusterNATSTLSCert != "" {
		cfg.NATSOptions = append(cfg.NATSOptions, nats.ClientCert(c.ClusterNATSTLSCert, c.ClusterNATSTLSKey))
	}
	return cfg, true, nil
}

// embeddedConfig is clusterConfig without --cluster-nats-url.
func (c *clusterOptions) embeddedConfig(cfg cluster.Config, data string) (cluster.Config, bool, error) {
	for _, o := range c.setOptions() {
		if strings.HasPrefix(o, "nats-") {
			return cfg, false, fmt.Errorf("cluster-%s: only with --cluster-nats-url", o)
		}
	}
	listen := c.ClusterListen
	if listen == "" {
		listen = defaultClusterListen
	}
	host, port, err := hostPort(listen)
	if err != nil || port == 0 {
		return cfg, false, fmt.Errorf("cluster-listen %q: want host:port with a port from 1 to 65535", listen)
	}
	cfg.ClusterHost, cfg.ClusterPort = host, port
	for _, r := range c.ClusterRoutes {
		u, err := routeURL(r)
		if err != nil {
			return cfg, false, fmt.Errorf("cluster-routes: %w", err)
		}
		cfg.Routes = append(cfg.Routes, u)
	}
	if (c.ClusterUser == "") != (c.ClusterPassword == "") {
		return cfg, false, errors.New("cluster-user and cluster-password go together")
	}
	cfg.RouteUser, cfg.RoutePassword = c.ClusterUser, c.ClusterPassword
	if tlsSet := c.ClusterTLSCert != "" || c.ClusterTLSKey != "" || c.ClusterTLSCA != ""; tlsSet {
		if c.ClusterTLSCert == "" || c.ClusterTLSKey == "" || c.ClusterTLSCA == "" {
			return cfg, false, errors.New("cluster-tls-cert, cluster-tls-key and cluster-tls-ca go together (mutual TLS: each node verifies the others)")
		}
		if cfg.RouteTLS, err = cluster.RouteTLSConfig(c.ClusterTLSCert, c.ClusterTLSKey, c.ClusterTLSCA); err != nil {
			return cfg, false, fmt.Errorf("cluster-tls-cert, cluster-tls-key, cluster-tls-ca: %w", err)
		}
	}
	if c.ClusterClientPort < 0 || c.ClusterClientPort > 65535 {
		return cfg, false, fmt.Errorf("cluster-client-port %d: want 0 to 65535", c.ClusterClientPort)
	}
	cfg.ClientPort = c.ClusterClientPort
	if c.ClusterMaxMemory < 0 || c.ClusterMaxStore < 0 {
		return cfg, false, errors.New("cluster-max-memory and cluster-max-store: want 0 (the default) or a number of bytes")
	}
	cfg.JetStreamMaxMemory, cfg.JetStreamMaxStore = c.ClusterMaxMemory, c.ClusterMaxStore
	cfg.StoreDir = c.ClusterStore
	if cfg.StoreDir == "" {
		if data == "" {
			return cfg, false, errors.New("cluster: running in memory (--in-memory or --data \"\"), so say where JetStream keeps the cluster's replicated state with --cluster-store")
		}
		cfg.StoreDir = filepath.Join(data, defaultClusterDir)
	}
	if cfg.StoreDir, err = filepath.Abs(cfg.StoreDir); err != nil {
		return cfg, false, fmt.Errorf("cluster-store: %w", err)
	}
	return cfg, true, nil
}

// hostPort splits a host:port address.
func hostPort(addr string) (string, int, error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 {
		return "", 0, fmt.Errorf("port %q", p)
	}
	return h, n, nil
}

// routeURL returns the nats-route:// URL of a route given as host:port or
// as a URL.
func routeURL(r string) (string, error) {
	if !strings.Contains(r, "://") {
		if _, port, err := hostPort(r); err != nil || port == 0 {
			return "", fmt.Errorf("%q: want host:port or nats-route://host:port", r)
		}
		return "nats-route://" + r, nil
	}
	u, err := url.Parse(r)
	if err != nil || (u.Scheme != "nats-route" && u.Scheme != "nats") || u.Hostname() == "" || u.Port() == "" {
		return "", fmt.Errorf("%q: want host:port or nats-route://host:port", r)
	}
	return r, nil
}

// startCluster starts the node of cfg when --cluster is on (nil
// otherwise); without --cluster nothing of NATS runs.
func startCluster(ctx context.Context, c config, log *slog.Logger) (*cluster.Node, error) {
	cc, ok, err := c.clusterConfig(c.dataDir())
	if err != nil || !ok {
		return nil, err
	}
	cc.Logger = log.With("component", "cluster")
	if addr, open := unsecuredRoutes(cc); open {
		log.Warn("cluster routes on "+addr+" are not authenticated: anyone who reaches this address can join the cluster and read or inject every message; "+
			"set --cluster-user and --cluster-password, or mutual TLS with --cluster-tls-cert, --cluster-tls-key and --cluster-tls-ca", "listen", addr)
	}
	node, err := cluster.Start(ctx, cc)
	if err != nil {
		return nil, err
	}
	if cc.URL != "" {
		log.Info("cluster", "node", cc.Name, "id", node.ID(), "nats_url", redactURL(cc.URL))
	} else {
		log.Info("cluster", "node", cc.Name, "id", node.ID(), "listen", net.JoinHostPort(cc.ClusterHost, strconv.Itoa(cc.ClusterPort)),
			"routes", redactURL(strings.Join(cc.Routes, ",")), "route_auth", cc.RouteUser != "", "route_tls", cc.RouteTLS != nil, "nats_client", node.NATSServer().ClientURL(), "store", cc.StoreDir)
	}
	return node, nil
}

// unsecuredRoutes reports whether the embedded server of cc listens for
// routes on an address other than loopback (returned) with neither a
// password nor TLS. An empty host is loopback: the embedded server's
// default.
func unsecuredRoutes(cc cluster.Config) (string, bool) {
	if cc.URL != "" || cc.RoutePassword != "" || cc.RouteTLS != nil {
		return "", false
	}
	h := cc.ClusterHost
	if ip := net.ParseIP(h); h == "" || h == "localhost" || ip != nil && ip.IsLoopback() {
		return "", false
	}
	return net.JoinHostPort(h, strconv.Itoa(cc.ClusterPort)), true
}

// redactURL hides the passwords of NATS URLs in a log line.
func redactURL(urls string) string {
	var out []string
	for u := range strings.SplitSeq(urls, ",") {
		if p, err := url.Parse(strings.TrimSpace(u)); err == nil {
			u = p.Redacted()
		}
		out = append(out, u)
	}
	return strings.Join(out, ",")
}
