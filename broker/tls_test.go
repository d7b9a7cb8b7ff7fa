package broker

// MQTT over TLS and secure WebSocket: mosquitto_pub/mosquitto_sub with
// --cafile against a TLS listener, Go clients over wss://, and client
// certificates (a certificate from another CA is refused when they are
// required). The certificates are made per test (testkit.NewCA).

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// tlsPKI is what a TLS test needs: the server's CA and a server-only
// certificate from it, a client-only certificate from the same CA and one
// from another CA.
type tlsPKI struct {
	ca, otherCA               *testkit.CA
	server                    tls.Certificate
	client, stranger          tls.Certificate
	clientCert, clientKey     string
	strangerCert, strangerKey string
}

func newTLSPKI(t testing.TB) *tlsPKI {
	t.Helper()
	p := &tlsPKI{ca: testkit.NewCA(t, "Tern test CA"), otherCA: testkit.NewCA(t, "Some other CA")}
	p.server, _, _ = p.ca.Issue(t, "tern-server", x509.ExtKeyUsageServerAuth)
	p.client, p.clientCert, p.clientKey = p.ca.Issue(t, "good-client", x509.ExtKeyUsageClientAuth)
	p.stranger, p.strangerCert, p.strangerKey = p.otherCA.Issue(t, "stranger", x509.ExtKeyUsageClientAuth)
	return p
}

// serverConfig is the broker's TLS configuration; with clientCerts set,
// client certificates from p.ca are required.
func (p *tlsPKI) serverConfig(clientCerts bool) *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{p.server}}
	if clientCerts {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		cfg.ClientCAs = p.ca.Pool()
	}
	return cfg
}

// clientConfig trusts p.ca and presents cert when it is not nil, even
// when the server's list of acceptable CAs does not include its issuer
// (crypto/tls would otherwise quietly send no certificate).
func (p *tlsPKI) clientConfig(cert *tls.Certificate) *tls.Config {
	cfg := &tls.Config{RootCAs: p.ca.Pool(), ServerName: "127.0.0.1"}
	if cert != nil {
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	return cfg
}

// startTLSListener serves MQTT over TLS for ts on another 127.0.0.1 port.
func startTLSListener(t testing.TB, ts *testServer, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	testkit.ServeListener(t, ts, tls.NewListener(ln, cfg))
	return ln.Addr().String()
}

// startWSSServer is startWSServer over HTTPS: the handler at wss://.../mqtt.
func startWSSServer(t testing.TB, cfg *tls.Config) *wsTestServer {
	t.Helper()
	ts := newWSTestServer(t, nil, WebSocketOptions{})
	ts.HTTP.TLS = cfg
	ts.HTTP.StartTLS()
	ts.URL = "wss" + strings.TrimPrefix(ts.HTTP.URL, "https") + "/mqtt"
	return ts
}

// wssDialOptions dials with tlsCfg and offers "mqtt".
func wssDialOptions(t testing.TB, tlsCfg *tls.Config) *websocket.DialOptions {
	tr := &http.Transport{TLSClientConfig: tlsCfg}
	t.Cleanup(tr.CloseIdleConnections)
	return &websocket.DialOptions{
		Subprotocols: []string{Subprotocol},
		HTTPClient:   &http.Client{Transport: tr, Timeout: testkit.Timeout},
	}
}

// dialTLSRaw connects a raw client over TLS.
func dialTLSRaw(t testing.TB, addr string, cfg *tls.Config, v codec.Version) *testkit.Peer {
	t.Helper()
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: testkit.Timeout}, Config: cfg}
	nc, err := d.DialContext(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatalf("TLS dial %s: %v", addr, err)
	}
	return testkit.NewPeer(t, nc, v, testkit.RealTime)
}

// mosq runs a mosquitto client to completion and returns its output and
// exit error.
func mosq(t testing.TB, name string, args ...string) (string, error) {
	t.Helper()
	bin := testkit.RequireTool(t, name, "mosquitto-clients")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	return string(out), err
}

// TestTLSMosquitto: mosquitto_pub and mosquitto_sub with --cafile against
// the broker's TLS listener, in both protocol versions, and a Go client on
// plain TCP of the same broker in the conversation.
func TestTLSMosquitto(t *testing.T) {
	pki := newTLSPKI(t)
	ts := startServer(t, nil)
	addr := startTLSListener(t, ts, pki.serverConfig(false))
	tcp := testkit.Dial(t, ts.Addr, codec.V311)
	tcp.Connect(t, &codec.Connect{ClientID: "tcp-watcher", CleanStart: true})
	tcp.Subscribe(t, 1, "tls/#")

	for _, v := range []string{"mqttv311", "mqttv5"} {
		t.Run(v, func(t *testing.T) {
			sub := startMosqSub(t, addr, "--cafile", pki.ca.File, "-V", v, "-q", "1", "-t", "tls/"+v, "-C", "1", "-W", "10")
			sub.subscribed(t)
			mosqPub(t, addr, "--cafile", pki.ca.File, "-V", v, "-q", "1", "-t", "tls/"+v, "-m", "over TLS")
			sub.msgs.expect(t, "tls/"+v, "over TLS", 1, false)
			sub.exited(t)
			tcp.ExpectMessage(t, "tls/"+v, "over TLS")
		})
	}
	t.Run("untrusted server", func(t *testing.T) {
		// mosquitto_pub checks the server against --cafile: another CA fails.
		out, err := mosq(t, "mosquitto_pub", append(hostPort(t, addr), "--cafile", pki.otherCA.File, "-t", "tls/no", "-m", "x")...)
		if err == nil {
			t.Fatalf("mosquitto_pub trusted a certificate from another CA:\n%s", out)
		}
	})
	tcp.ExpectIdle(t) // nothing from the refused publisher
}

// TestTLSClientCertificates: with client certificates required, a client
// with a certificate from the configured CA is served, and one with a
// certificate from another CA, or with none, is refused, over MQTT/TLS
// (mosquitto and Go) and over wss://.
func TestTLSClientCertificates(t *testing.T) {
	pki := newTLSPKI(t)
	ts := startServer(t, nil)
	addr := startTLSListener(t, ts, pki.serverConfig(true))
	wss := startWSSServer(t, pki.serverConfig(true))

	t.Run("mosquitto", func(t *testing.T) {
		sub := startMosqSub(t, addr, "--cafile", pki.ca.File, "--cert", pki.clientCert, "--key", pki.clientKey,
			"-t", "mtls/#", "-C", "1", "-W", "10")
		sub.subscribed(t)
		mosqPub(t, addr, "--cafile", pki.ca.File, "--cert", pki.clientCert, "--key", pki.clientKey, "-t", "mtls/ok", "-m", "trusted")
		sub.msgs.expect(t, "mtls/ok", "trusted", 0, false)
		sub.exited(t)
		for name, extra := range map[string][]string{
			"other CA": {"--cert", pki.strangerCert, "--key", pki.strangerKey},
			"no cert":  nil,
		} {
			args := append(hostPort(t, addr), "--cafile", pki.ca.File, "-t", "mtls/bad", "-m", "x")
			if out, err := mosq(t, "mosquitto_pub", append(args, extra...)...); err == nil {
				t.Errorf("%s: mosquitto_pub was served:\n%s", name, out)
			}
		}
	})

	good := dialTLSRaw(t, addr, pki.clientConfig(&pki.client), codec.V5)
	good.Connect(t, &codec.Connect{ClientID: "good", CleanStart: true})
	good.Subscribe(t, 1, "mtls/#")

	t.Run("Go over TLS", func(t *testing.T) {
		for name, cert := range map[string]*tls.Certificate{"other CA": &pki.stranger, "no cert": nil} {
			t.Run(name, func(t *testing.T) {
				// With TLS 1.3 the client learns of the refusal on its
				// first read, after its handshake has finished.
				c := dialTLSRaw(t, addr, pki.clientConfig(cert), codec.V5)
				c.Conn().SetWriteDeadline(time.Now().Add(testkit.Timeout))
				c.Conn().Write(testkit.Encode(codec.V5, &codec.Connect{Version: codec.V5, ClientID: "bad", CleanStart: true}))
				c.ExpectClosed(t)
				if c.Err() == nil || !strings.Contains(c.Err().Error(), "certificate") {
					t.Errorf("connection ended with %v, want a certificate error", c.Err())
				}
			})
		}
	})
	t.Run("Go over wss", func(t *testing.T) {
		c, _ := wsRawWith(t, wss.URL, codec.V311, wssDialOptions(t, pki.clientConfig(&pki.client)))
		c.Connect(t, &codec.Connect{ClientID: "wss-good", CleanStart: true})
		c.Disconnect(t)
		for name, cert := range map[string]*tls.Certificate{"other CA": &pki.stranger, "no cert": nil} {
			_, _, err := wsTryDial(t, wss.URL, wssDialOptions(t, pki.clientConfig(cert)))
			if err == nil || !strings.Contains(err.Error(), "certificate") {
				t.Errorf("%s: wss handshake: %v, want a certificate error", name, err)
			}
		}
	})
	carriesOn(t, good, "mtls/still")
}

// TestWSSExchange: a Go client over wss:// and one over MQTT/TLS exchange
// messages through one broker.
func TestWSSExchange(t *testing.T) {
	pki := newTLSPKI(t)
	wss := startWSSServer(t, pki.serverConfig(false))
	addr := startTLSListener(t, wss.testServer, pki.serverConfig(false))

	w, ws := wsRawWith(t, wss.URL, codec.V5, wssDialOptions(t, pki.clientConfig(nil)))
	if ws.Subprotocol() != Subprotocol {
		t.Fatalf("subprotocol %q", ws.Subprotocol())
	}
	w.Connect(t, &codec.Connect{ClientID: "wss-client", CleanStart: true})
	w.Subscribe(t, 2, "secure/to-wss")
	m := dialTLSRaw(t, addr, pki.clientConfig(nil), codec.V311)
	m.Connect(t, &codec.Connect{ClientID: "mqtts-client", CleanStart: true})
	m.Subscribe(t, 2, "secure/to-mqtts")
	for qos := range codec.QoS(3) {
		w.Publish(t, qos, "secure/to-mqtts", fmt.Sprint("from wss q", qos))
		m.ExpectMessage(t, "secure/to-mqtts", fmt.Sprint("from wss q", qos))
		m.Publish(t, qos, "secure/to-wss", fmt.Sprint("from mqtts q", qos))
		w.ExpectMessage(t, "secure/to-wss", fmt.Sprint("from mqtts q", qos))
	}
	wss.logs.expectLine(t, "websocket connection accepted", "tls=true")
	// A plain-text WebSocket client cannot talk to the HTTPS port.
	if _, _, err := wsTryDial(t, "ws"+strings.TrimPrefix(wss.URL, "wss"), nil); err == nil {
		t.Error("ws:// handshake accepted on the HTTPS port")
	}
}
