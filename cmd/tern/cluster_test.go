package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/ternmq/tern/broker/cluster"
	"github.com/ternmq/tern/internal/testkit"
)

// TestClusterConfig reads the cluster options from flags and from the JSON
// file (flags win) and checks what reaches cluster.Config, and which
// combinations are refused before anything starts.
func TestClusterConfig(t *testing.T) {
	dir := t.TempDir()
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	host, _ := os.Hostname()
	ca := testkit.NewCA(t, "tern cluster CA")
	_, cert, key := ca.Issue(t, "n1")
	_, serverCert, serverKey := ca.Issue(t, "server only", x509.ExtKeyUsageServerAuth)
	type want struct {
		name, url, host, store string
		port, client           int
		routes                 []string
		mem, disk              int64
		natsOpts               int
		user, password         string
		tls                    bool
	}
	for _, tt := range []struct {
		name string
		json string // the config file, if any
		args []string
		off  bool   // --cluster is off: no node
		err  string // a refusal, naming the option
		want want
	}{
		{name: "off", off: true},
		{name: "off in memory", args: []string{"--in-memory"}, off: true},
		{name: "defaults", args: []string{"--cluster", "--data", "d"},
			want: want{name: host, host: "127.0.0.1", port: 6222, store: abs("d/cluster")}},
		{name: "flags", args: []string{"--cluster", "--data", dir, "--cluster-node", "n1", "--cluster-listen", "0.0.0.0:7001",
			"--cluster-routes", "10.0.0.2:7001, nats-route://10.0.0.3:7001", "--cluster-routes", "nats://10.0.0.4:7001",
			"--cluster-client-port", "4300", "--cluster-max-memory", "1000", "--cluster-max-store", "2000"},
			want: want{name: "n1", host: "0.0.0.0", port: 7001, client: 4300, store: filepath.Join(dir, "cluster"), mem: 1000, disk: 2000,
				routes: []string{"nats-route://10.0.0.2:7001", "nats-route://10.0.0.3:7001", "nats://10.0.0.4:7001"}}},
		{name: "file", json: `{"cluster": true, "cluster_node": "n2", "cluster_listen": "127.0.0.1:7002", "cluster_routes": ["127.0.0.1:7001"],
			"cluster_store": "` + dir + `/js", "cluster_max_store": 5000, "in_memory": true}`,
			want: want{name: "n2", host: "127.0.0.1", port: 7002, store: dir + "/js", disk: 5000, routes: []string{"nats-route://127.0.0.1:7001"}}},
		{name: "flags win over the file", json: `{"cluster": true, "cluster_node": "n2", "cluster_routes": ["127.0.0.1:7001"]}`,
			args: []string{"--data", dir, "--cluster-node", "n3", "--cluster-routes", "127.0.0.1:7009"},
			want: want{name: "n3", host: "127.0.0.1", port: 6222, store: filepath.Join(dir, "cluster"), routes: []string{"nats-route://127.0.0.1:7009"}}},
		{name: "route security", args: []string{"--cluster", "--data", dir, "--cluster-listen", "10.0.0.1:7001", "--cluster-user", "tern",
			"--cluster-password", "pw", "--cluster-tls-cert", cert, "--cluster-tls-key", key, "--cluster-tls-ca", ca.File},
			want: want{name: host, host: "10.0.0.1", port: 7001, store: filepath.Join(dir, "cluster"), user: "tern", password: "pw", tls: true}},
		{name: "route security in file", json: `{"cluster": true, "cluster_node": "n1", "cluster_user": "tern", "cluster_password": "p w",
			"cluster_tls_cert": "` + cert + `", "cluster_tls_key": "` + key + `", "cluster_tls_ca": "` + ca.File + `", "data": "` + dir + `"}`,
			want: want{name: "n1", host: "127.0.0.1", port: 6222, store: filepath.Join(dir, "cluster"), user: "tern", password: "p w", tls: true}},
		{name: "external", args: []string{"--cluster", "--in-memory", "--cluster-node", "x", "--cluster-nats-url", "nats://a:4222,nats://b:4222",
			"--cluster-nats-user", "u", "--cluster-nats-password", "p", "--cluster-nats-tls-ca", "ca.pem"},
			want: want{name: "x", url: "nats://a:4222,nats://b:4222", natsOpts: 2}},
		{name: "external in file", json: `{"cluster": true, "cluster_nats_url": "tls://nats.example.com:4222", "cluster_nats_creds": "n.creds",
			"cluster_nats_tls_cert": "c.pem", "cluster_nats_tls_key": "k.pem", "cluster_node": "y"}`,
			want: want{name: "y", url: "tls://nats.example.com:4222", natsOpts: 2}},

		{name: "in memory needs a store", args: []string{"--cluster", "--in-memory"}, err: "--cluster-store"},
		{name: "no data needs a store", args: []string{"--cluster", "--data", ""}, err: "--cluster-store"},
		{name: "options without --cluster", args: []string{"--cluster-node", "n1"}, err: "cluster-node: needs --cluster"},
		{name: "file options without cluster", json: `{"cluster_routes": ["a:1"]}`, err: "cluster-routes: needs --cluster"},
		{name: "bad listen", args: []string{"--cluster", "--cluster-listen", "7001"}, err: "cluster-listen"},
		{name: "listen port 0", args: []string{"--cluster", "--cluster-listen", "127.0.0.1:0"}, err: "cluster-listen"},
		{name: "bad route", args: []string{"--cluster", "--cluster-routes", "10.0.0.2"}, err: "cluster-routes"},
		{name: "route scheme", args: []string{"--cluster", "--cluster-routes", "http://10.0.0.2:7001"}, err: "cluster-routes"},
		{name: "client port", args: []string{"--cluster", "--cluster-client-port", "70000"}, err: "cluster-client-port"},
		{name: "negative limit", args: []string{"--cluster", "--cluster-max-store", "-1"}, err: "cluster-max-memory and cluster-max-store"},
		{name: "blank node", args: []string{"--cluster", "--cluster-node", "n 1"}, err: "cluster-node"},
		{name: "routes with url", args: []string{"--cluster", "--cluster-nats-url", "nats://a:4222", "--cluster-routes", "b:1"}, err: "cluster-routes: only for the embedded"},
		{name: "store with url", args: []string{"--cluster", "--cluster-nats-url", "nats://a:4222", "--cluster-store", "s"}, err: "cluster-store: only for the embedded"},
		{name: "creds without url", args: []string{"--cluster", "--cluster-nats-creds", "n.creds"}, err: "cluster-nats-creds: only with --cluster-nats-url"},
		{name: "bad url", args: []string{"--cluster", "--cluster-nats-url", "a b"}, err: "cluster-nats-url"},
		{name: "user without password", args: []string{"--cluster", "--cluster-nats-url", "nats://a:4222", "--cluster-nats-user", "u"}, err: "go together"},
		{name: "user and creds", args: []string{"--cluster", "--cluster-nats-url", "nats://a:4222", "--cluster-nats-user", "u",
			"--cluster-nats-password", "p", "--cluster-nats-creds", "c"}, err: "one or the other"},
		{name: "cluster user without password", args: []string{"--cluster", "--cluster-user", "u"}, err: "cluster-user and cluster-password go together"},
		{name: "cluster password without user", json: `{"cluster": true, "cluster_password": "p"}`, err: "cluster-user and cluster-password go together"},
		{name: "route cert without key", args: []string{"--cluster", "--cluster-tls-cert", cert, "--cluster-tls-ca", ca.File}, err: "cluster-tls-ca go together"},
		{name: "route TLS without CA", args: []string{"--cluster", "--cluster-tls-cert", cert, "--cluster-tls-key", key}, err: "cluster-tls-ca go together"},
		{name: "route CA alone", args: []string{"--cluster", "--cluster-tls-ca", ca.File}, err: "cluster-tls-ca go together"},
		{name: "route certificate missing", args: []string{"--cluster", "--cluster-tls-cert", filepath.Join(dir, "none.pem"), "--cluster-tls-key", key,
			"--cluster-tls-ca", ca.File}, err: "none.pem"},
		{name: "route certificate for servers only", args: []string{"--cluster", "--cluster-tls-cert", serverCert, "--cluster-tls-key", serverKey,
			"--cluster-tls-ca", ca.File}, err: "client authentication"},
		{name: "route user with url", args: []string{"--cluster", "--cluster-nats-url", "nats://a:4222", "--cluster-user", "u", "--cluster-password", "p"},
			err: "cluster-user: only for the embedded"},
		{name: "route TLS with url", args: []string{"--cluster", "--cluster-nats-url", "nats://a:4222", "--cluster-tls-ca", "ca.pem"},
			err: "cluster-tls-ca: only for the embedded"},
		{name: "route password without --cluster", json: `{"cluster_password": "p"}`, err: "cluster-password: needs --cluster"},
		{name: "cert without key", args: []string{"--cluster", "--cluster-nats-url", "nats://a:4222", "--cluster-nats-tls-cert", "c"}, err: "go together"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if tt.json != "" {
				path := filepath.Join(t.TempDir(), "tern.json")
				if err := os.WriteFile(path, []byte(tt.json), 0o600); err != nil {
					t.Fatal(err)
				}
				args = append([]string{"--config", path}, args...)
			}
			cfg, err := parse(args, new(bytes.Buffer))
			if err != nil {
				t.Fatal(err)
			}
			cc, on, err := cfg.clusterConfig(cfg.dataDir())
			switch {
			case tt.err != "":
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one containing %q", err, tt.err)
				}
				return
			case err != nil:
				t.Fatal(err)
			case on == tt.off:
				t.Fatalf("cluster on = %v, want %v", on, !tt.off)
			case tt.off:
				return
			}
			got := want{name: cc.Name, url: cc.URL, host: cc.ClusterHost, port: cc.ClusterPort, client: cc.ClientPort, store: cc.StoreDir,
				routes: cc.Routes, mem: cc.JetStreamMaxMemory, disk: cc.JetStreamMaxStore, natsOpts: len(cc.NATSOptions),
				user: cc.RouteUser, password: cc.RoutePassword, tls: cc.RouteTLS != nil}
			w := tt.want
			if got.name != w.name || got.url != w.url || got.host != w.host || got.port != w.port || got.client != w.client ||
				got.store != w.store || !slices.Equal(got.routes, w.routes) || got.mem != w.mem || got.disk != w.disk || got.natsOpts != w.natsOpts ||
				got.user != w.user || got.password != w.password || got.tls != w.tls {
				t.Errorf("got  %+v\nwant %+v", got, w)
			}
		})
	}
}

// TestClusterUnsecuredRoutes: the start-up warning about unauthenticated
// routes is given for an embedded server whose route listener is not on
// loopback and that has neither a route password nor TLS.
func TestClusterUnsecuredRoutes(t *testing.T) {
	for _, tt := range []struct {
		cfg  cluster.Config
		warn string // the address named, "" for no warning
	}{
		{cluster.Config{ClusterHost: "0.0.0.0", ClusterPort: 6222}, "0.0.0.0:6222"},
		{cluster.Config{ClusterHost: "10.0.0.1", ClusterPort: 7001}, "10.0.0.1:7001"},
		{cluster.Config{ClusterHost: "::", ClusterPort: 6222}, "[::]:6222"},
		{cluster.Config{ClusterHost: "node1.example.com", ClusterPort: 6222}, "node1.example.com:6222"},
		{cluster.Config{ClusterHost: "127.0.0.1", ClusterPort: 6222}, ""},
		{cluster.Config{ClusterHost: "::1", ClusterPort: 6222}, ""},
		{cluster.Config{ClusterHost: "localhost", ClusterPort: 6222}, ""},
		{cluster.Config{ClusterHost: "", ClusterPort: 6222}, ""}, // the embedded server's default: 127.0.0.1
		{cluster.Config{ClusterHost: "0.0.0.0", ClusterPort: 6222, RouteUser: "u", RoutePassword: "p"}, ""},
		{cluster.Config{ClusterHost: "0.0.0.0", ClusterPort: 6222, RouteTLS: &tls.Config{}}, ""},
		{cluster.Config{URL: "nats://a:4222"}, ""},
	} {
		addr, open := unsecuredRoutes(tt.cfg)
		if open != (tt.warn != "") || addr != tt.warn {
			t.Errorf("unsecuredRoutes(host %q, password %v, TLS %v, URL %q) = %q, %v; want %q",
				tt.cfg.ClusterHost, tt.cfg.RoutePassword != "", tt.cfg.RouteTLS != nil, tt.cfg.URL, addr, open, tt.warn)
		}
	}
}

// TestClusterRefusedBeforeListening: a wrong cluster option stops tern
// before it binds a port or opens its store.
func TestClusterRefusedBeforeListening(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	cfg, err := parse([]string{"--cluster", "--cluster-routes", "nohost", "--data", data, "--mqtt", "127.0.0.1:0", "--http", ""}, new(bytes.Buffer))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := start(context.Background(), cfg, testLogger()); err == nil || !strings.Contains(err.Error(), "cluster-routes") {
		t.Fatalf("start: err = %v, want the bad route", err)
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("the data directory was created: %v", err)
	}
}

// TestNoClusterRunsNoNATS: tern without --cluster has no node and no
// goroutine of NATS's code while it serves.
func TestNoClusterRunsNoNATS(t *testing.T) {
	cfg, err := parse([]string{"--in-memory", "--mqtt", "127.0.0.1:0", "--http", ""}, new(bytes.Buffer))
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemonLog(t, cfg, testLogger())
	if d.node != nil {
		t.Fatal("a node without --cluster")
	}
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	if strings.Contains(stacks, "nats-io/") {
		t.Fatalf("a goroutine runs NATS code without --cluster:\n%s", stacks)
	}
}

// FuzzClusterOptions decodes arbitrary JSON config files: reading the
// cluster options never panics, and a configuration they accept names a
// node and, with the embedded server, a route port and a store.
func FuzzClusterOptions(f *testing.F) {
	f.Add([]byte(`{"cluster": true, "cluster_node": "n1", "cluster_listen": "127.0.0.1:7001", "cluster_routes": ["127.0.0.1:7002", "nats-route://h:1"], "data": "d"}`))
	f.Add([]byte(`{"cluster": true, "cluster_nats_url": "nats://a:1", "cluster_nats_user": "u", "cluster_nats_password": "p", "in_memory": true}`))
	f.Add([]byte(`{"cluster": true, "cluster_store": "s", "cluster_client_port": 4222, "cluster_max_memory": 1, "cluster_max_store": 2}`))
	f.Add([]byte(`{"cluster_nats_tls_cert": "c", "cluster_nats_tls_key": "k", "cluster_nats_tls_ca": "a", "cluster_nats_creds": "x"}`))
	f.Add([]byte(`{"cluster": true, "cluster_store": "s", "cluster_user": "u", "cluster_password": "p", "cluster_tls_ca": "a"}`))
	f.Add([]byte(`{"cluster": true, "cluster_store": "s", "cluster_password": "p", "cluster_tls_cert": "c", "cluster_tls_key": "k", "cluster_tls_ca": "a"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg := defaults()
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if dec.Decode(&cfg) != nil {
			return
		}
		cc, on, err := cfg.clusterConfig(cfg.dataDir())
		if err != nil || !on {
			return
		}
		if cc.Name == "" {
			t.Fatal("accepted without a node name")
		}
		if cc.URL == "" && (cc.ClusterPort == 0 || cc.StoreDir == "") {
			t.Fatalf("embedded server accepted without a route port or a store: %+v", cc)
		}
		if (cc.RouteUser == "") != (cc.RoutePassword == "") || cc.URL != "" && (cc.RouteUser != "" || cc.RouteTLS != nil) {
			t.Fatalf("half-set or misplaced route security accepted: user %q, password set %v, TLS %v, URL %q",
				cc.RouteUser, cc.RoutePassword != "", cc.RouteTLS != nil, cc.URL)
		}
	})
}
