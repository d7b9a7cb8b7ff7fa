package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/ternmq/tern/codec"
)

// target is a broker endpoint on the loopback interface: MQTT over TCP
// or over WebSocket.
type target struct {
	ws   bool
	tls  *tls.Config // mqtts: MQTT over TLS
	addr string      // loopback IP:port that is dialled, checked by parseTarget
	url  string      // ws://host:port/path for WebSocket
	http *http.Client

	// user and password go into every CONNECT (--username, --password);
	// nil: none is sent.
	user     *string
	password []byte
}

// credentials sets what every CONNECT carries: the user name when user
// is not empty, the password when password is not empty.
func (t *target) credentials(user, password string) {
	t.user, t.password = nil, nil
	if user != "" {
		t.user = &user
	}
	if password != "" {
		t.password = []byte(password)
	}
}

// errNotLoopback is returned for any address that is not on loopback.
var errNotLoopback = errors.New("ternbench only drives brokers on the loopback interface (127.0.0.0/8, ::1, localhost)")

// parseTarget accepts tcp://HOST:PORT, mqtt://HOST:PORT, HOST:PORT,
// mqtts://HOST:PORT (TLS, the broker's certificate checked against the CA
// in caFile) and ws://HOST:PORT/PATH, where HOST is a loopback IP or a
// name that resolves only to loopback addresses. The resolved IP is
// dialled, never the name again, so a name cannot be re-resolved
// elsewhere between check and use.
func parseTarget(ctx context.Context, raw, caFile string) (*target, error) {
	if !strings.Contains(raw, "://") {
		raw = "tcp://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("target %q: %w", raw, err)
	}
	t := &target{}
	switch u.Scheme {
	case "tcp", "mqtt":
	case "ws":
		t.ws = true
	case "mqtts":
		if caFile == "" {
			return nil, fmt.Errorf("target %q: mqtts needs --cafile, the CA of the broker's certificate", raw)
		}
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate", caFile)
		}
		t.tls = &tls.Config{RootCAs: pool, ServerName: u.Hostname()}
	default:
		return nil, fmt.Errorf("target %q: scheme must be tcp, mqtt, mqtts or ws", raw)
	}
	host, port := u.Hostname(), u.Port()
	if host == "" || port == "" {
		return nil, fmt.Errorf("target %q: need HOST:PORT", raw)
	}
	ip, err := loopbackIP(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("target %q: %w", raw, err)
	}
	t.addr = net.JoinHostPort(ip.String(), port)
	if t.ws {
		path := u.EscapedPath()
		if path == "" {
			path = "/mqtt"
		}
		t.url = "ws://" + t.addr + path
		dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: -1}
		t.http = &http.Client{Transport: &http.Transport{
			Proxy: nil, // never through a proxy: the broker is on this machine
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return dialer.DialContext(ctx, "tcp", t.addr)
			},
			DisableKeepAlives: true,
		}}
	}
	return t, nil
}

// loopbackIP returns the IP of host when every address it stands for is
// a loopback address.
func loopbackIP(ctx context.Context, host string) (net.IP, error) {
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsLoopback() {
			return nil, errNotLoopback
		}
		return ip, nil
	}
	ips, err := net.DefaultResolver.LookupIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	if len(ips) == 0 {
		return nil, errNotLoopback
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return nil, errNotLoopback
		}
	}
	for _, ip := range ips { // prefer IPv4: brokers often listen on 127.0.0.1 only
		if ip.To4() != nil {
			return ip, nil
		}
	}
	return ips[0], nil
}

func (t *target) transport() string {
	if t.ws {
		return "ws"
	}
	if t.tls != nil {
		return "tls"
	}
	return "tcp"
}

// dial opens the byte stream: a TCP connection, or a WebSocket with the
// "mqtt" subprotocol adapted to net.Conn (each Write is one binary
// message, reads continue across messages).
//
// Without TCP keep-alive (KeepAlive -1): Go's default turns it on with
// four socket options per connection, which no run here needs (they all
// end long before the first probe) and which made the generator's part of
// a connect dearer than it has to be (the connections case measures the
// connect rate with the generator sharing the machine's cores).
func (t *target) dial(ctx context.Context) (net.Conn, error) {
	if !t.ws {
		d := net.Dialer{KeepAlive: -1}
		nc, err := d.DialContext(ctx, "tcp", t.addr)
		if err != nil {
			return nil, err
		}
		if t.tls != nil {
			tc := tls.Client(nc, t.tls)
			if err := tc.HandshakeContext(ctx); err != nil {
				nc.Close()
				return nil, fmt.Errorf("TLS handshake: %w", err)
			}
			return tc, nil
		}
		return nc, nil
	}
	ws, _, err := websocket.Dial(ctx, t.url, &websocket.DialOptions{
		HTTPClient:   t.http,
		Subprotocols: []string{"mqtt"},
	})
	if err != nil {
		return nil, err
	}
	if ws.Subprotocol() != "mqtt" {
		ws.CloseNow()
		return nil, fmt.Errorf("%s: server did not select the mqtt subprotocol", t.url)
	}
	ws.SetReadLimit(64 << 20)
	// The net.Conn lives until Close, not until ctx (the dial context) ends.
	return websocket.NetConn(context.WithoutCancel(ctx), ws, websocket.MessageBinary), nil
}

// client is one MQTT connection driven with the codec directly.
type client struct {
	nc      net.Conn
	r       *codec.Reader
	v       codec.Version
	recvMax int // the server's Receive Maximum (65535 when it sent none)

	wmu sync.Mutex // serialises writes of the publisher and its ack reader
}

// connect dials, sends CONNECT (Clean Start, Keep Alive 0: no pings) and
// waits for a successful CONNACK.
func (t *target) connect(ctx context.Context, id string, v codec.Version) (*client, error) {
	c, _, err := t.connectSession(ctx, id, v, false)
	return c, err
}

// neverExpires is the 5.0 Session Expiry Interval of a session that does
// not expire.
const neverExpires = 0xFFFFFFFF

// connectSession is connect for a session that is kept after the
// connection when persistent is set: Clean Session 0 in 3.1.1, Clean
// Start 0 and a Session Expiry Interval that never ends in 5.0. It
// reports whether the broker had the session (CONNACK Session Present).
// Messages the broker sends right after the CONNACK stay in c.r.
func (t *target) connectSession(ctx context.Context, id string, v codec.Version, persistent bool) (*client, bool, error) {
	user := ""
	if t.user != nil {
		user = *t.user
	}
	c, present, _, err := t.connectAs(ctx, id, user, v, persistent)
	return c, present, err
}

// connectAs is connectSession as user (none when empty) with the
// target's password. It also returns the time from writing the CONNECT
// to reading the CONNACK.
func (t *target) connectAs(ctx context.Context, id, user string, v codec.Version, persistent bool) (*client, bool, time.Duration, error) {
	nc, err := t.dial(ctx)
	if err != nil {
		return nil, false, 0, err
	}
	c := &client{nc: nc, r: codec.NewReader(nc, 0), v: v, recvMax: 65535}
	c.r.SetVersion(v)
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	fail := func(err error) (*client, bool, time.Duration, error) {
		nc.Close()
		if user != "" {
			return nil, false, 0, fmt.Errorf("connect %s as %s: %w", id, user, err)
		}
		return nil, false, 0, fmt.Errorf("connect %s: %w", id, err)
	}
	conn := &codec.Connect{Version: v, ClientID: id, CleanStart: !persistent, Username: user, Password: t.password}
	if persistent && v == codec.V5 {
		conn.Properties.SessionExpiryInterval = neverExpires
	}
	b, err := conn.Append(nil, v)
	if err != nil {
		return fail(err)
	}
	sent := time.Now()
	if err := c.write(b); err != nil {
		return fail(err)
	}
	p, err := c.r.ReadPacket()
	took := time.Since(sent)
	if err != nil {
		return fail(err)
	}
	ack, ok := p.(*codec.Connack)
	if !ok {
		return fail(fmt.Errorf("got %s, want CONNACK", p.Type()))
	}
	if ack.ReasonCode != codec.Success {
		return fail(fmt.Errorf("CONNACK %s", connackText(v, ack.ReasonCode)))
	}
	if v == codec.V5 && ack.Properties.ReceiveMaximum > 0 {
		c.recvMax = int(ack.Properties.ReceiveMaximum)
	}
	nc.SetDeadline(time.Time{})
	return c, ack.SessionPresent, took, nil
}

// send encodes and writes one packet (not on a hot path).
func (c *client) send(p codec.Packet) error {
	b, err := p.Append(nil, c.v)
	if err != nil {
		return err
	}
	return c.write(b)
}

func (c *client) write(b []byte) error {
	c.wmu.Lock()
	_, err := c.nc.Write(b)
	c.wmu.Unlock()
	return err
}

// subscribe subscribes to filter and waits for the SUBACK. It is used
// before any message can arrive, so nothing else is read here.
func (c *client) subscribe(filter string, qos codec.QoS) error {
	if err := c.send(&codec.Subscribe{PacketID: 1, Subscriptions: []codec.Subscription{{Filter: filter, QoS: qos}}}); err != nil {
		return err
	}
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer c.nc.SetReadDeadline(time.Time{})
	p, err := c.r.ReadPacket()
	if err != nil {
		return fmt.Errorf("subscribe %s: %w", filter, err)
	}
	ack, ok := p.(*codec.Suback)
	if !ok || len(ack.ReasonCodes) != 1 || ack.ReasonCodes[0].IsError() {
		return fmt.Errorf("subscribe %s: unexpected answer %#v", filter, p)
	}
	return nil
}

// ping sends a PINGREQ and reads the PINGRESP (2 bytes; nothing else is
// sent to an idle client) without a codec.Reader.
func (c *client) ping() error {
	c.nc.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.nc.SetDeadline(time.Time{})
	if err := c.send(&codec.Pingreq{}); err != nil {
		return err
	}
	var b [2]byte
	if _, err := io.ReadFull(c.nc, b[:]); err != nil {
		return fmt.Errorf("PINGRESP: %w", err)
	}
	if b != [2]byte{byte(codec.PINGRESP) << 4, 0} {
		return fmt.Errorf("got % x, want PINGRESP", b)
	}
	return nil
}

// close sends DISCONNECT (best effort) and closes the connection.
func (c *client) close() {
	c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	c.send(&codec.Disconnect{})
	c.nc.Close()
}

// connackText names a refusal: the 5.0 reason code, or the 3.1.1 return
// code (whose numbers mean something else in 5.0).
func connackText(v codec.Version, rc codec.ReasonCode) string {
	if v == codec.V5 {
		return rc.String()
	}
	names := [...]string{1: "unacceptable protocol version", 2: "identifier rejected", 3: "server unavailable",
		4: "bad user name or password", 5: "not authorized"}
	if int(rc) < len(names) && names[rc] != "" {
		return fmt.Sprintf("return code %d (%s)", rc, names[rc])
	}
	return fmt.Sprintf("return code %d", rc)
}

// deadlineOnly is the context of a plain TCP connect in the connections
// case: it has a deadline (10 s) but no Done channel. The net package
// bounds a connect by its context's deadline through the socket's write
// deadline, and starts a goroutine per dial to watch the context only
// when Done is not nil: that goroutine, its two channels and the hand-off
// to it on every connect were a good part of the generator's cost per
// connection, which shares the machine's two cores with the broker whose
// connect rate is measured. The CONNECT/CONNACK exchange is bounded by
// the same deadline (connectAs). Cancelling the run does not interrupt a
// connect in progress, which on loopback ends at once.
type deadlineOnly struct{ at time.Time }

func (d deadlineOnly) Deadline() (time.Time, bool) { return d.at, true }
func (deadlineOnly) Done() <-chan struct{}         { return nil }
func (deadlineOnly) Err() error                    { return nil }
func (deadlineOnly) Value(any) any                 { return nil }
