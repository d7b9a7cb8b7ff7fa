package bridge_test

import (
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"testing"

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
	ca := testkit.NewCA(t, "bridge test CA")
	_, serverCert, serverKey := ca.Issue(t, "server", x509.ExtKeyUsageServerAuth)
	_, clientCert, clientKey := ca.Issue(t, "client", x509.ExtKeyUsageClientAuth)
	tlsPort := testkit.FreePort(t)
	_, port := mosquitto(t, fmt.Sprintf("listener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\nrequire_certificate true",
		tlsPort, ca.File, serverCert, serverKey))

	tern := brokerkit.Start(t, nil, brokerOpts())
	st := watchState(t, tern.TCP, "tls")
	run(t, tern.Server, bridge.Config{
		Name: "tls", Addresses: []string{fmt.Sprintf("mqtts://localhost:%d", tlsPort)}, Version: codec.V311,
		TLS:    bridge.TLS{CAFile: ca.File, CertFile: clientCert, KeyFile: clientKey},
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
	caFile := testkit.NewCA(t, "bridge test CA").File
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "junk.pem"), []byte("not PEM"), 0o600)
	base := bridge.Config{Name: "t", Addresses: []string{"mqtts://h:1"}, Topics: rules(t, "#")}
	srv := brokerkit.Start(t, nil, brokerOpts()).Server
	for _, tc := range []struct {
		tls bridge.TLS
		ok  bool
	}{
		{bridge.TLS{CAFile: caFile}, true},
		{bridge.TLS{CAFile: filepath.Join(dir, "missing.pem")}, false},
		{bridge.TLS{CAFile: filepath.Join(dir, "junk.pem")}, false},
		{bridge.TLS{CertFile: caFile}, false}, // no key
		{bridge.TLS{CertFile: filepath.Join(dir, "junk.pem"), KeyFile: filepath.Join(dir, "junk.pem")}, false},
	} {
		cfg := base
		cfg.TLS = tc.tls
		if _, err := bridge.New(srv, cfg); (err == nil) != tc.ok {
			t.Errorf("%+v: New: %v", tc.tls, err)
		}
	}
}
