package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// tlsConfig returns the TLS configuration for --mqtts and HTTPS, or nil
// when no certificate is configured. TLS 1.2 is the minimum; with
// --tls-client-ca every client must present a certificate signed by one
// of the CAs in that file. The files are read again by reload (SIGHUP):
// new connections get the new certificate, established ones keep theirs.
func (c config) tlsConfig() (*tls.Config, error) {
	f, err := c.tlsFiles()
	if f == nil {
		return nil, err
	}
	return f.config(), nil
}

// tlsFiles returns the certificate files of the configuration, loaded, or
// nil when there are none.
func (c config) tlsFiles() (*tlsFiles, error) {
	if c.TLSCert == "" && c.TLSKey == "" {
		if c.TLSClientCA != "" {
			return nil, errors.New("tls-client-ca needs --tls-cert and --tls-key")
		}
		return nil, nil
	}
	if c.TLSCert == "" || c.TLSKey == "" {
		return nil, errors.New("tls-cert and tls-key go together")
	}
	f := &tlsFiles{cert: c.TLSCert, key: c.TLSKey, ca: c.TLSClientCA}
	if err := f.load(); err != nil {
		return nil, err
	}
	return f, nil
}

// tlsFiles is the certificate, key and client CA files, and the
// configuration made of them, which load replaces as a whole.
type tlsFiles struct {
	cert, key, ca string
	cur           atomic.Pointer[tls.Config]
}

// load reads the files; on error the configuration in force stays.
func (f *tlsFiles) load() error {
	cert, err := tls.LoadX509KeyPair(f.cert, f.key)
	if err != nil {
		return fmt.Errorf("tls-cert/tls-key: %w", err)
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
	}
	if f.ca != "" {
		b, err := os.ReadFile(f.ca)
		if err != nil {
			return fmt.Errorf("tls-client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return fmt.Errorf("tls-client-ca: no PEM certificate in %s", f.ca)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	f.cur.Store(cfg)
	return nil
}

// config returns a configuration whose every handshake uses the files'
// current configuration.
func (f *tlsFiles) config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return f.cur.Load(), nil
		},
	}
}

// Files written by tern gencert.
const (
	caCertFile     = "ca.pem"
	caKeyFile      = "ca.key"
	serverCertFile = "server.pem"
	serverKeyFile  = "server.key"
	clientCertFile = "client.pem"
	clientKeyFile  = "client.key"
)

// gencert writes a development certificate authority and, signed by it, a
// server certificate for the given hosts (also good for a cluster node's
// routes) and a client certificate, so that TLS, secure WebSocket, client
// certificates and secured cluster routes can be tried locally. It never
// overwrites a file.
func gencert(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tern gencert", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", ".", "write the files into this `directory` (created if missing)")
	hosts := fs.String("host", "localhost,127.0.0.1,::1", "comma-separated host names and IP `addresses` the server certificate is valid for")
	days := fs.Int("days", 365, "validity of the certificates in `days`")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "tern gencert writes a development CA and certificates for trying TLS locally.\n\nUsage: tern gencert [flags]\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nFiles: %s %s (the CA), %s %s (server), %s %s (client). Not for production.\n",
			caCertFile, caKeyFile, serverCertFile, serverKeyFile, clientCertFile, clientKeyFile)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("gencert: unexpected argument %q", fs.Arg(0))
	}
	if *days < 1 {
		return errors.New("gencert: -days must be at least 1")
	}
	var names []string
	var ips []net.IP
	for h := range strings.SplitSeq(*hosts, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip)
		} else {
			names = append(names, h)
		}
	}
	if len(names)+len(ips) == 0 {
		return errors.New("gencert: -host names no host")
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	for _, f := range []string{caCertFile, caKeyFile, serverCertFile, serverKeyFile, clientCertFile, clientKeyFile} {
		if _, err := os.Stat(filepath.Join(*dir, f)); err == nil {
			return fmt.Errorf("gencert: %s already exists; remove it or choose another -dir", filepath.Join(*dir, f))
		}
	}

	now := time.Now()
	notAfter := now.Add(time.Duration(*days) * 24 * time.Hour)
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "Tern development CA", Organization: []string{"Tern (development only)"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	if err := writeKeyPair(*dir, caCertFile, caKeyFile, caDER, caKey); err != nil {
		return err
	}
	leaf := func(cn string, usage x509.ExtKeyUsage, certFile, keyFile string) error {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		tmpl := &x509.Certificate{
			SerialNumber: serial(),
			Subject:      pkix.Name{CommonName: cn, Organization: []string{"Tern (development only)"}},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     notAfter,
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		}
		if usage == x509.ExtKeyUsageServerAuth {
			tmpl.DNSNames, tmpl.IPAddresses = names, ips
			// A cluster node presents its certificate on the routes it
			// dials too (--cluster-tls-cert).
			tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return err
		}
		return writeKeyPair(*dir, certFile, keyFile, der, key)
	}
	if err := leaf("tern server", x509.ExtKeyUsageServerAuth, serverCertFile, serverKeyFile); err != nil {
		return err
	}
	if err := leaf("tern client", x509.ExtKeyUsageClientAuth, clientCertFile, clientKeyFile); err != nil {
		return err
	}
	p := func(f string) string { return filepath.Join(*dir, f) }
	fmt.Fprintf(stdout, `Wrote a development CA and certificates to %s (valid for %d days; hosts: %s).

Run the broker with TLS (MQTT over TLS on 8883, HTTPS and secure WebSocket on 8080):
  tern --tls-cert %s --tls-key %s
Try it:
  mosquitto_sub --cafile %s -h localhost -p 8883 -t '#' -v
  curl --cacert %s https://localhost:8080/healthz
Require client certificates with --tls-client-ca %s, then connect with
  mosquitto_pub --cafile %s --cert %s --key %s -h localhost -p 8883 -t hello -m world
Browsers trust the server only after %s is imported as a certificate authority.
Keep %s private, and use a real certificate in production.
`, *dir, *days, *hosts, p(serverCertFile), p(serverKeyFile), p(caCertFile), p(caCertFile), p(caCertFile),
		p(caCertFile), p(clientCertFile), p(clientKeyFile), p(caCertFile), p(caKeyFile))
	return nil
}

// writeKeyPair writes a certificate (0644) and its private key (0600) as PEM.
func writeKeyPair(dir, certFile, keyFile string, der []byte, key *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := writeNew(filepath.Join(dir, certFile), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	return writeNew(filepath.Join(dir, keyFile), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
}

// writeNew creates path, failing if it exists.
func writeNew(path string, b []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// serial returns a random 128-bit certificate serial number.
func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return n.Add(n, big.NewInt(1))
}
