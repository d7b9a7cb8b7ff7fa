package bridge_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ternmq/tern/broker/bridge"
	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
	"github.com/ternmq/tern/internal/testkit/brokerkit"
)

// TestMosquittoTLS bridges to mosquitto over mqtts:// with a private CA
// and a client certificate that mosquitto requires: the certificate
// files of Config.TLS are used, and the server's certificate is checked
// against the CA.
func TestMosquittoTLS(t *testing.T) {
	dir := t.TempDir()
	f := func(name string) string { return filepath.Join(dir, name) }
	ca, caKey := writeCA(t, dir)
	writeLeaf(t, dir, "server", ca, caKey, true)
	writeLeaf(t, dir, "client", ca, caKey, false)
	tlsPort := testkit.FreePort(t)
	_, port := mosquitto(t, fmt.Sprintf("listener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\nrequire_certificate true",
		tlsPort, f("ca.pem"), f("server.pem"), f("server.key")))

	tern := brokerkit.Start(t, nil, brokerOpts())
	st := watchState(t, tern.TCP, "tls")
	run(t, tern.Server, bridge.Config{
		Name: "tls", Addresses: []string{fmt.Sprintf("mqtts://localhost:%d", tlsPort)}, Version: codec.V311,
		TLS:    bridge.TLS{CAFile: f("ca.pem"), CertFile: f("client.pem"), KeyFile: f("client.key")},
		Topics: rules(t, `# out 1 "" tls/`),
	})
	st.wait(t, "1")
	remote := newInbox()
	rc := connect(t, fmt.Sprintf("mqtt://127.0.0.1:%d", port), client.Options{ClientID: "r", CleanStart: true})
	subscribe(t, rc, "tls/#", 1, remote.handle)
	lc := connect(t, tern.TCP, client.Options{ClientID: "l", CleanStart: true})
	publish(t, lc, "a", "secret", false)
	remote.until(t, "tls/a secret")
}

// A bridge checks the remote broker's certificate unless told otherwise,
// and refuses TLS files that are missing or hold no certificate.
func TestTLSFiles(t *testing.T) {
	dir := t.TempDir()
	writeCA(t, dir)
	os.WriteFile(filepath.Join(dir, "junk.pem"), []byte("not PEM"), 0o600)
	base := bridge.Config{Name: "t", Addresses: []string{"mqtts://h:1"}, Topics: rules(t, "#")}
	srv := brokerkit.Start(t, nil, brokerOpts()).Server
	for _, tc := range []struct {
		tls bridge.TLS
		ok  bool
	}{
		{bridge.TLS{CAFile: filepath.Join(dir, "ca.pem")}, true},
		{bridge.TLS{CAFile: filepath.Join(dir, "missing.pem")}, false},
		{bridge.TLS{CAFile: filepath.Join(dir, "junk.pem")}, false},
		{bridge.TLS{CertFile: filepath.Join(dir, "ca.pem")}, false}, // no key
		{bridge.TLS{CertFile: filepath.Join(dir, "junk.pem"), KeyFile: filepath.Join(dir, "junk.pem")}, false},
	} {
		cfg := base
		cfg.TLS = tc.tls
		if _, err := bridge.New(srv, cfg); (err == nil) != tc.ok {
			t.Errorf("%+v: New: %v", tc.tls, err)
		}
	}
}

// writeCA writes ca.pem into dir and returns the CA and its key.
func writeCA(t testing.TB, dir string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bridge test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", der)
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return ca, key
}

// writeLeaf writes name.pem and name.key into dir: a server certificate
// for localhost and 127.0.0.1, or a client certificate.
func writeLeaf(t testing.TB, dir, name string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, server bool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames, tmpl.IPAddresses = []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, name+".pem"), "CERTIFICATE", der)
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, name+".key"), "EC PRIVATE KEY", kb)
}

func writePEM(t testing.TB, file, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
