package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ternmq/tern/broker/cluster"
	"github.com/ternmq/tern/codec"
)

const testTimeout = 10 * time.Second

func TestTransportFlags(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tern.json")
	os.WriteFile(path, []byte(`{"http": "127.0.0.1:9090", "allow_origins": ["file.example.com"], "tls_cert": "c.pem"}`), 0o600)

	cfg, err := parse([]string{"--config", path}, new(bytes.Buffer))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP != "127.0.0.1:9090" || !slices.Equal(cfg.AllowOrigins, []string{"file.example.com"}) || cfg.TLSCert != "c.pem" {
		t.Errorf("file settings not applied: %+v", cfg)
	}
	if cfg.MQTTS != "127.0.0.1:8883" {
		t.Errorf("mqtts default %q", cfg.MQTTS)
	}

	cfg, err = parse([]string{"--config", path, "--allow-origin", "a.example.com", "--allow-origin=b.example.com, https://*.example.org",
		"--http", "", "--mqtts", "0.0.0.0:8883", "--tls-key", "k.pem", "--tls-client-ca", "ca.pem"}, new(bytes.Buffer))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a.example.com", "b.example.com", "https://*.example.org"}; !slices.Equal(cfg.AllowOrigins, want) {
		t.Errorf("allow-origin = %q, want %q (the command line replaces the file's list)", cfg.AllowOrigins, want)
	}
	if cfg.HTTP != "" || cfg.MQTTS != "0.0.0.0:8883" || cfg.TLSKey != "k.pem" || cfg.TLSClientCA != "ca.pem" {
		t.Errorf("flags not applied: %+v", cfg)
	}

	var out bytes.Buffer
	parse([]string{"-h"}, &out)
	for _, name := range []string{"-http", "-mqtts", "-allow-origin", "-tls-cert", "-tls-key", "-tls-client-ca", "gencert"} {
		if !strings.Contains(out.String(), name) {
			t.Errorf("-h does not document %s", name)
		}
	}
}

// devCerts runs tern gencert into a temporary directory.
func devCerts(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "certs")
	var out bytes.Buffer
	if err := gencert([]string{"-dir", dir}, &out, &out); err != nil {
		t.Fatalf("gencert: %v\n%s", err, out.String())
	}
	return dir
}

func loadCert(t *testing.T, file string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM", file)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func caPool(t *testing.T, dir string) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(loadCert(t, filepath.Join(dir, caCertFile)))
	return p
}

func TestGencert(t *testing.T) {
	dir := devCerts(t)
	roots := caPool(t, dir)
	server := loadCert(t, filepath.Join(dir, serverCertFile))
	for _, host := range []string{"localhost", "127.0.0.1", "::1"} {
		if _, err := server.Verify(x509.VerifyOptions{Roots: roots, DNSName: host}); err != nil {
			t.Errorf("server certificate for %s: %v", host, err)
		}
	}
	if _, err := server.Verify(x509.VerifyOptions{Roots: roots, DNSName: "example.com"}); err == nil {
		t.Error("server certificate valid for example.com")
	}
	client := loadCert(t, filepath.Join(dir, clientCertFile))
	if _, err := client.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client certificate: %v", err)
	}
	for _, f := range []string{caKeyFile, serverKeyFile, clientKeyFile} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v mode %v, want 0600", f, err, fi.Mode().Perm())
		}
	}
	if _, err := tls.LoadX509KeyPair(filepath.Join(dir, serverCertFile), filepath.Join(dir, serverKeyFile)); err != nil {
		t.Errorf("server key pair: %v", err)
	}
	// The server certificate serves a cluster node's routes too, which it
	// presents when it dials.
	if _, err := cluster.RouteTLSConfig(filepath.Join(dir, serverCertFile), filepath.Join(dir, serverKeyFile), filepath.Join(dir, caCertFile)); err != nil {
		t.Errorf("server certificate as a route certificate: %v", err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, caKeyFile))
	if err := gencert([]string{"-dir", dir}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second gencert into the same directory: %v, want a refusal", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, caKeyFile)); !bytes.Equal(before, after) {
		t.Error("the CA key was overwritten")
	}
}

func TestTLSConfig(t *testing.T) {
	dir := devCerts(t)
	cert, key, ca := filepath.Join(dir, serverCertFile), filepath.Join(dir, serverKeyFile), filepath.Join(dir, caCertFile)

	cfg, err := config{TLSCert: cert, TLSKey: key}.tlsConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS12 || cfg.ClientAuth != tls.NoClientCert {
		t.Errorf("min version %x, client auth %v", cfg.MinVersion, cfg.ClientAuth)
	}
	cfg, err = config{TLSCert: cert, TLSKey: key, TLSClientCA: ca}.tlsConfig()
	if err != nil {
		t.Fatal(err)
	}
	// Every handshake gets the configuration of the files as last loaded.
	if cfg, err = cfg.GetConfigForClient(&tls.ClientHelloInfo{}); err != nil {
		t.Fatal(err)
	}
	if cfg.ClientAuth != tls.RequireAndVerifyClientCert || cfg.ClientCAs == nil {
		t.Errorf("client CA not required: %v", cfg.ClientAuth)
	}
	if cfg, err := (config{}).tlsConfig(); cfg != nil || err != nil {
		t.Errorf("no certificate: %v %v, want nil, nil", cfg, err)
	}
	for name, c := range map[string]config{
		"cert without key":      {TLSCert: cert},
		"client CA without key": {TLSClientCA: ca},
		"key is not a key":      {TLSCert: cert, TLSKey: cert},
		"client CA not PEM":     {TLSCert: cert, TLSKey: key, TLSClientCA: key},
		"missing file":          {TLSCert: cert, TLSKey: filepath.Join(dir, "nope")},
	} {
		if _, err := c.tlsConfig(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// startDaemon starts tern with cfg and shuts it down when the test ends.
func startDaemon(t *testing.T, cfg config) *daemon {
	t.Helper()
	return startDaemonLog(t, cfg, slog.New(slog.DiscardHandler))
}

// mqttConnect sends a CONNECT on nc and returns the CONNACK.
func mqttConnect(t *testing.T, nc net.Conn, id string) *codec.Connack {
	t.Helper()
	nc.SetDeadline(time.Now().Add(testTimeout))
	b, _ := (&codec.Connect{Version: codec.V5, ClientID: id, CleanStart: true}).Append(nil, codec.V5)
	if _, err := nc.Write(b); err != nil {
		t.Fatalf("%s: write CONNECT: %v", id, err)
	}
	r := codec.NewReader(nc, 0)
	r.SetVersion(codec.V5)
	p, err := r.ReadPacket()
	if err != nil {
		t.Fatalf("%s: read CONNACK: %v", id, err)
	}
	ack, ok := p.(*codec.Connack)
	if !ok || ack.ReasonCode != codec.Success {
		t.Fatalf("%s: got %v, want CONNACK Success", id, p)
	}
	return ack
}

func httpClient(t *testing.T, tlsCfg *tls.Config) *http.Client {
	tr := &http.Transport{TLSClientConfig: tlsCfg}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: testTimeout}
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// wsConnect dials url offering "mqtt" (with origin as Origin when set).
func wsConnect(t *testing.T, c *http.Client, url, origin string) (net.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	o := &websocket.DialOptions{Subprotocols: []string{"mqtt"}, HTTPClient: c}
	if origin != "" {
		o.HTTPHeader = http.Header{"Origin": {origin}}
	}
	ws, resp, err := websocket.Dial(ctx, url, o)
	if err != nil {
		return nil, resp, err
	}
	nc := websocket.NetConn(context.Background(), ws, websocket.MessageBinary)
	t.Cleanup(func() { nc.Close() })
	return nc, resp, nil
}

// TestServeTLS runs tern with a gencert certificate and client
// certificates required: /healthz and / over HTTPS, MQTT over wss:// from
// an allowed origin (and 403 for another), MQTT over TLS, TLS 1.1 refused,
// and a client without a certificate refused.
func TestServeTLS(t *testing.T) {
	dir := devCerts(t)
	d := startDaemon(t, config{
		MQTT: "127.0.0.1:0", MQTTS: "127.0.0.1:0", HTTP: "127.0.0.1:0",
		TLSCert: filepath.Join(dir, serverCertFile), TLSKey: filepath.Join(dir, serverKeyFile),
		TLSClientCA: filepath.Join(dir, caCertFile), AllowOrigins: []string{"dash.example.com"},
	})
	clientCert, err := tls.LoadX509KeyPair(filepath.Join(dir, clientCertFile), filepath.Join(dir, clientKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	tlsCfg := &tls.Config{RootCAs: caPool(t, dir), Certificates: []tls.Certificate{clientCert}}
	hc := httpClient(t, tlsCfg)
	base := "https://" + d.addrs["http"]

	if code, body := get(t, hc, base+"/healthz"); code != 200 || body != "ok" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := get(t, hc, base+"/"); code != 200 || !strings.Contains(body, "/mqtt") {
		t.Errorf("/: %d %q", code, body)
	}
	if code, _ := get(t, hc, base+"/no-such-page"); code != 404 {
		t.Errorf("/no-such-page: %d, want 404", code)
	}

	wss := "wss://" + d.addrs["http"] + "/mqtt"
	nc, _, err := wsConnect(t, hc, wss, "https://dash.example.com")
	if err != nil {
		t.Fatalf("wss from an allowed origin: %v", err)
	}
	mqttConnect(t, nc, "over-wss")
	if _, resp, err := wsConnect(t, hc, wss, "https://evil.example.com"); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("wss from another origin: %v %v, want 403", resp, err)
	}

	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: testTimeout}, "tcp", d.addrs["mqtts"], tlsCfg)
	if err != nil {
		t.Fatalf("mqtts: %v", err)
	}
	defer conn.Close()
	mqttConnect(t, conn, "over-tls")

	old := tlsCfg.Clone()
	old.MinVersion, old.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	if c, err := tls.DialWithDialer(&net.Dialer{Timeout: testTimeout}, "tcp", d.addrs["mqtts"], old); err == nil {
		c.Close()
		t.Error("TLS 1.1 handshake accepted")
	}

	noCert := &tls.Config{RootCAs: caPool(t, dir)}
	if _, _, err := wsConnect(t, httpClient(t, noCert), wss, ""); err == nil {
		t.Error("wss without a client certificate accepted")
	}
}

// TestServePlainHTTP runs tern without TLS: ws:// and /healthz on the HTTP
// port, next to MQTT over TCP; --mqtts is ignored without a certificate.
func TestServePlainHTTP(t *testing.T) {
	d := startDaemon(t, config{MQTT: "127.0.0.1:0", MQTTS: "127.0.0.1:0", HTTP: "127.0.0.1:0"})
	if _, ok := d.addrs["mqtts"]; ok {
		t.Error("MQTT over TLS listening without a certificate")
	}
	hc := httpClient(t, nil)
	if code, body := get(t, hc, "http://"+d.addrs["http"]+"/healthz"); code != 200 || body != "ok" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	nc, _, err := wsConnect(t, hc, "ws://"+d.addrs["http"]+"/mqtt", "")
	if err != nil {
		t.Fatal(err)
	}
	mqttConnect(t, nc, "over-ws")
	tcp, err := net.DialTimeout("tcp", d.addrs["mqtt"], testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	mqttConnect(t, tcp, "over-tcp")
}

func TestStartErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	d := defaults()
	for name, edit := range map[string]func(*config){
		"no listener":           func(c *config) { c.MQTT, c.HTTP = "", "" },
		"bad origin pattern":    func(c *config) { c.AllowOrigins = []string{"[oops"} },
		"client CA without key": func(c *config) { c.TLSClientCA = "ca.pem" },
		"address in use":        func(c *config) { c.HTTP = busy.Addr().String() },
	} {
		cfg := d
		cfg.MQTT, cfg.HTTP, cfg.Data = "127.0.0.1:0", "127.0.0.1:0", t.TempDir()
		edit(&cfg)
		if d, err := start(context.Background(), cfg, slog.New(slog.DiscardHandler)); err == nil {
			d.shutdown(context.Background())
			t.Errorf("%s: started", name)
		}
	}
}

// TestTLSReload: a new certificate in the files is served to new
// connections after reload; a broken file keeps the old one in force.
func TestTLSReload(t *testing.T) {
	dir, other := devCerts(t), devCerts(t)
	cert, key := filepath.Join(dir, serverCertFile), filepath.Join(dir, serverKeyFile)
	f, err := config{TLSCert: cert, TLSKey: key}.tlsFiles()
	if err != nil {
		t.Fatal(err)
	}
	served := func() []byte {
		c, err := f.config().GetConfigForClient(&tls.ClientHelloInfo{})
		if err != nil {
			t.Fatal(err)
		}
		return c.Certificates[0].Certificate[0]
	}
	first := served()
	for _, name := range []string{serverCertFile, serverKeyFile} {
		b, _ := os.ReadFile(filepath.Join(other, name))
		os.WriteFile(filepath.Join(dir, name), b, 0o600)
	}
	if err := f.load(); err != nil {
		t.Fatal(err)
	}
	second := served()
	if bytes.Equal(first, second) {
		t.Fatal("reload kept the old certificate")
	}
	os.WriteFile(cert, []byte("not a certificate"), 0o600)
	if err := f.load(); err == nil {
		t.Fatal("a broken certificate file was accepted")
	}
	if !bytes.Equal(served(), second) {
		t.Error("a failed reload changed the certificate in force")
	}
}
