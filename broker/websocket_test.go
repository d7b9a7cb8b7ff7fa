package broker

// Tests of MQTT over WebSocket (MQTT 5.0 chapter 6, the same for 3.1.1):
// the handshake (subprotocol, Origin), framing, limits, and that a
// WebSocket client is served by the same connection code as a TCP one.
//
// Clients are the codec-based rawConn over a coder/websocket NetConn; a
// test that needs to send particular frames writes them with the
// *websocket.Conn underneath. Everything waits on events with deadlines.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	paho "github.com/eclipse/paho.golang/paho"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// logBuffer collects a server's log lines for assertions.
type logBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	written chan struct{} // signalled after each write
}

func newLogBuffer() *logBuffer { return &logBuffer{written: make(chan struct{}, 1)} }

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case l.written <- struct{}{}:
	default:
	}
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// hasLine reports whether one logged line contains every one of parts.
func (l *logBuffer) hasLine(parts ...string) bool {
	for line := range strings.SplitSeq(l.String(), "\n") {
		found := true
		for _, p := range parts {
			found = found && strings.Contains(line, p)
		}
		if found {
			return true
		}
	}
	return false
}

// expectLine waits until a line containing every one of parts is logged,
// failing the test after waitFor. Use it for lines logged after the event
// the test saw (a handshake refusal is logged after the response is sent).
func (l *logBuffer) expectLine(t testing.TB, parts ...string) {
	t.Helper()
	timer := time.NewTimer(testkit.Timeout)
	defer timer.Stop()
	for !l.hasLine(parts...) {
		select {
		case <-l.written:
		case <-timer.C:
			t.Fatalf("no log line contains all of %q; log:\n%s", parts, l.String())
		}
	}
}

// wsTestServer is a broker with a TCP listener (Addr) and an HTTP server
// that serves WebSocketHandler at /mqtt (URL).
type wsTestServer struct {
	*testServer
	URL  string // ws://127.0.0.1:port/mqtt, or wss:// for startWSSServer
	HTTP *httptest.Server
	logs *logBuffer
}

// startWSServer starts a broker and a plain-HTTP test server for it on
// 127.0.0.1; both stop when the test ends.
func startWSServer(t testing.TB, opts *Options, wo WebSocketOptions) *wsTestServer {
	t.Helper()
	ts := newWSTestServer(t, opts, wo)
	ts.HTTP.Start()
	ts.URL = "ws" + strings.TrimPrefix(ts.HTTP.URL, "http") + "/mqtt"
	return ts
}

// newWSTestServer prepares a wsTestServer whose HTTP server is not started.
func newWSTestServer(t testing.TB, opts *Options, wo WebSocketOptions) *wsTestServer {
	t.Helper()
	var o Options
	if opts != nil {
		o = *opts
	}
	logs := newLogBuffer()
	if o.Logger == nil {
		var w io.Writer = logs
		if testing.Verbose() {
			w = io.MultiWriter(logs, os.Stderr)
		}
		o.Logger = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ts := startServer(t, &o)
	mux := http.NewServeMux()
	mux.Handle("/mqtt", ts.WebSocketHandler(wo))
	hs := httptest.NewUnstartedServer(mux)
	hs.Config.ErrorLog = log.New(logs, "http: ", 0)
	t.Cleanup(hs.Close) // runs before the broker's Shutdown
	return &wsTestServer{testServer: ts, HTTP: hs, logs: logs}
}

// wsTryDial performs a WebSocket handshake with url. o nil offers the
// subprotocol "mqtt" only. Unless o brings its own HTTP client, the
// handshake uses a transport of its own that is cleaned up with the test.
func wsTryDial(t testing.TB, url string, o *websocket.DialOptions) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	var do websocket.DialOptions
	if o != nil {
		do = *o
	} else {
		do.Subprotocols = []string{Subprotocol}
	}
	if do.HTTPClient == nil {
		tr := &http.Transport{}
		t.Cleanup(tr.CloseIdleConnections)
		do.HTTPClient = &http.Client{Transport: tr, Timeout: testkit.Timeout}
	}
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Timeout)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, url, &do)
	if err == nil {
		t.Cleanup(func() { ws.CloseNow() })
	}
	return ws, resp, err
}

// wsDial is wsTryDial that fails the test when the handshake fails.
func wsDial(t testing.TB, url string, o *websocket.DialOptions) *websocket.Conn {
	t.Helper()
	ws, _, err := wsTryDial(t, url, o)
	if err != nil {
		t.Fatalf("WebSocket handshake with %s: %v", url, err)
	}
	return ws
}

// wsRaw opens a WebSocket to url and returns a raw MQTT client on it, and
// the WebSocket itself for tests that write frames of their own.
func wsRaw(t testing.TB, url string, v codec.Version) (*testkit.Peer, *websocket.Conn) {
	t.Helper()
	return wsRawWith(t, url, v, nil)
}

func wsRawWith(t testing.TB, url string, v codec.Version, o *websocket.DialOptions) (*testkit.Peer, *websocket.Conn) {
	t.Helper()
	ws := wsDial(t, url, o)
	nc := websocket.NetConn(context.Background(), ws, websocket.MessageBinary)
	return testkit.NewPeer(t, nc, v, testkit.RealTime), ws
}

// wsWrite writes one WebSocket message of type typ.
func wsWrite(t testing.TB, ws *websocket.Conn, typ websocket.MessageType, b []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Timeout)
	defer cancel()
	if err := ws.Write(ctx, typ, b); err != nil {
		t.Fatalf("WebSocket write: %v", err)
	}
}

func describeAll(pkts ...codec.Packet) []string {
	s := make([]string, len(pkts))
	for i, p := range pkts {
		s[i] = testkit.Describe(p)
	}
	return s
}

// carriesOn checks that an established client is unaffected: it publishes
// to itself and gets the message back.
func carriesOn(t testing.TB, c *testkit.Peer, topic string) {
	t.Helper()
	c.Send(t, &codec.Publish{Topic: topic, Payload: []byte("still here")})
	c.ExpectMessage(t, topic, "still here")
}

// TestWebSocketPacketAcrossFrames_MQTT_6_0_0_2: a packet split across three
// binary messages, and across three frames of one fragmented message, is
// reassembled; MQTT packets are not aligned on frames [MQTT-6.0.0-2].
func TestWebSocketPacketAcrossFrames_MQTT_6_0_0_2(t *testing.T) {
	ts := startWSServer(t, nil, WebSocketOptions{})
	sub := testkit.Dial(t, ts.Addr, codec.V311)
	sub.Connect(t, &codec.Connect{ClientID: "tcp-sub", CleanStart: true})
	sub.Subscribe(t, 1, "frames/#")

	pub, ws := wsRaw(t, ts.URL, codec.V5)
	pub.Connect(t, &codec.Connect{ClientID: "ws-pub", CleanStart: true})

	payload := strings.Repeat("split ", 50)
	for _, tc := range []struct {
		name       string
		fragmented bool // three frames of one message, else three messages
		cut1, cut2 int  // split points; 0 means thirds
	}{
		{"three messages", false, 0, 0},
		{"three frames of one message", true, 0, 0},
		{"fixed header split", false, 1, 2},
		{"fixed header split, fragmented", true, 1, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &codec.Publish{QoS: 1, PacketID: pub.PID(), Topic: "frames/" + strings.ReplaceAll(tc.name, " ", "-"), Payload: []byte(payload)}
			b := testkit.Encode(codec.V5, p)
			c1, c2 := tc.cut1, tc.cut2
			if c1 == 0 {
				c1, c2 = len(b)/3, 2*len(b)/3
			}
			parts := [][]byte{b[:c1], b[c1:c2], b[c2:]}
			if tc.fragmented {
				ctx, cancel := context.WithTimeout(context.Background(), testkit.Timeout)
				defer cancel()
				w, err := ws.Writer(ctx, websocket.MessageBinary)
				if err != nil {
					t.Fatal(err)
				}
				for _, part := range parts {
					if _, err := w.Write(part); err != nil { // one frame per Write
						t.Fatal(err)
					}
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
			} else {
				for _, part := range parts {
					wsWrite(t, ws, websocket.MessageBinary, part)
				}
			}
			pub.ExpectDescribed(t, fmt.Sprintf("PUBACK id=%d rc=0x00", p.PacketID))
			sub.ExpectMessage(t, p.Topic, payload)
		})
	}
}

// TestWebSocketTenPacketsInOneFrame_MQTT_6_0_0_2: ten packets in a single
// binary frame are all handled, in order [MQTT-6.0.0-2].
func TestWebSocketTenPacketsInOneFrame_MQTT_6_0_0_2(t *testing.T) {
	ts := startWSServer(t, nil, WebSocketOptions{})
	c, ws := wsRaw(t, ts.URL, codec.V311)

	pkts := []codec.Packet{
		&codec.Connect{Version: codec.V311, ClientID: "ten", CleanStart: true},
		&codec.Subscribe{PacketID: 1, Subscriptions: []codec.Subscription{{Filter: "ten/#"}}},
	}
	var want []codec.Packet
	want = append(want, &codec.Connack{}, &codec.Suback{PacketID: 1, ReasonCodes: []codec.ReasonCode{0}})
	for i := range 7 {
		p := &codec.Publish{Topic: fmt.Sprintf("ten/%d", i), Payload: []byte(fmt.Sprint("message ", i))}
		pkts = append(pkts, p)
		want = append(want, p)
	}
	pkts = append(pkts, &codec.Pingreq{})
	want = append(want, &codec.Pingresp{})
	if len(pkts) != 10 {
		t.Fatalf("built %d packets", len(pkts))
	}
	wsWrite(t, ws, websocket.MessageBinary, testkit.Encode(codec.V311, pkts...))
	c.ExpectDescribed(t, describeAll(want...)...)
	c.Disconnect(t)
}

// TestWebSocketTextFrameCloses_MQTT_6_0_0_1: a packet in a text frame
// closes the connection (WebSocket status 1003) without being handled, as
// a network failure would: the will is published. Others carry on
// [MQTT-6.0.0-1].
func TestWebSocketTextFrameCloses_MQTT_6_0_0_1(t *testing.T) {
	ts := startWSServer(t, nil, WebSocketOptions{})
	other, _ := wsRaw(t, ts.URL, codec.V5)
	other.Connect(t, &codec.Connect{ClientID: "other", CleanStart: true})
	other.Subscribe(t, 1, "text/#")

	for _, v := range []codec.Version{codec.V311, codec.V5} {
		t.Run(v.String(), func(t *testing.T) {
			bad, ws := wsRaw(t, ts.URL, v)
			bad.Connect(t, &codec.Connect{ClientID: "texter", CleanStart: true,
				Will: &codec.Will{Topic: "text/will", Payload: []byte("gone " + v.String()), QoS: 1}})
			wsWrite(t, ws, websocket.MessageText, testkit.Encode(v, &codec.Publish{Topic: "text/x", Payload: []byte("in a text frame")}))
			bad.ExpectClosed(t)
			if got := websocket.CloseStatus(bad.Err()); got != websocket.StatusUnsupportedData {
				t.Errorf("close status %v (%v), want %v", got, bad.Err(), websocket.StatusUnsupportedData)
			}
			// The will comes first: the PUBLISH in the text frame was not routed.
			other.ExpectMessage(t, "text/will", "gone "+v.String())
			ts.logs.expectLine(t, "connection lost", "text message received", "MQTT-6.0.0-1")
			carriesOn(t, other, "text/ok")
		})
	}
}

// TestWebSocketSubprotocol_MQTT_6_0_0_3: a handshake that does not offer
// "mqtt" is refused with 400 and a log line [MQTT-6.0.0-3]; one that does
// gets "mqtt" selected [MQTT-6.0.0-4]. Connected clients carry on.
func TestWebSocketSubprotocol_MQTT_6_0_0_3(t *testing.T) {
	ts := startWSServer(t, nil, WebSocketOptions{})
	other, _ := wsRaw(t, ts.URL, codec.V311)
	other.Connect(t, &codec.Connect{ClientID: "other", CleanStart: true})
	other.Subscribe(t, 1, "proto/#")

	for _, offered := range [][]string{nil, {"mqttv3.1"}, {"MQTT"}, {"chat", "superchat"}} {
		t.Run(fmt.Sprintf("refused %q", offered), func(t *testing.T) {
			_, resp, err := wsTryDial(t, ts.URL, &websocket.DialOptions{Subprotocols: offered})
			if err == nil {
				t.Fatal("handshake accepted")
			}
			if resp == nil || resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("got %v (%v), want 400 Bad Request", resp, err)
			}
			body, _ := io.ReadAll(resp.Body)
			if !strings.Contains(string(body), `"mqtt"`) {
				t.Errorf("response body %q does not say what is missing", body)
			}
			ts.logs.expectLine(t, "level=WARN", `subprotocol \"mqtt\" not offered`, "remote=127.0.0.1:")
		})
	}
	t.Run("selected [MQTT-6.0.0-4]", func(t *testing.T) {
		ws := wsDial(t, ts.URL, &websocket.DialOptions{Subprotocols: []string{"wamp", "mqtt"}})
		if got := ws.Subprotocol(); got != "mqtt" {
			t.Fatalf("server selected subprotocol %q, want mqtt", got)
		}
		c := testkit.NewPeer(t, websocket.NetConn(context.Background(), ws, websocket.MessageBinary), codec.V5, testkit.RealTime)
		c.Connect(t, &codec.Connect{ClientID: "selected", CleanStart: true})
		c.Disconnect(t)
	})
	carriesOn(t, other, "proto/ok")
}

// TestWebSocketOrigin: same-origin pages and clients without an Origin
// are accepted; other origins only when they match OriginPatterns, and
// are otherwise refused with 403 and a log line.
func TestWebSocketOrigin(t *testing.T) {
	ts := startWSServer(t, nil, WebSocketOptions{OriginPatterns: []string{"dash.example.com", "https://*.example.org"}})
	other, _ := wsRaw(t, ts.URL, codec.V311)
	other.Connect(t, &codec.Connect{ClientID: "other", CleanStart: true})
	other.Subscribe(t, 1, "origin/#")

	host := strings.TrimPrefix(ts.HTTP.URL, "http://")
	_, port, _ := net.SplitHostPort(host)
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"", true},                        // not a browser
		{"http://" + host, true},          // same origin
		{"http://dash.example.com", true}, // host pattern, any scheme
		{"https://dash.example.com:8443", false},
		{"https://a.example.org", true}, // scheme://host pattern
		{"http://a.example.org", false},
		{"https://evil.example.net", false},
		{"http://localhost:" + port, false}, // same port, another host name
		{"null", false},
	} {
		t.Run(fmt.Sprintf("Origin %q", tc.origin), func(t *testing.T) {
			o := &websocket.DialOptions{Subprotocols: []string{Subprotocol}}
			if tc.origin != "" {
				o.HTTPHeader = http.Header{"Origin": {tc.origin}}
			}
			if !tc.ok {
				_, resp, err := wsTryDial(t, ts.URL, o)
				if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
					t.Fatalf("got %v, %v; want 403 Forbidden", resp, err)
				}
				ts.logs.expectLine(t, "level=WARN", "websocket handshake refused", "origin="+tc.origin)
				return
			}
			c, _ := wsRawWith(t, ts.URL, codec.V5, o)
			c.Connect(t, &codec.Connect{ClientID: "origin-ok", CleanStart: true})
			c.Disconnect(t)
		})
	}
	carriesOn(t, other, "origin/ok")
}

// TestWebSocketNotAnUpgrade: a plain GET of the WebSocket path is told to
// upgrade.
func TestWebSocketNotAnUpgrade(t *testing.T) {
	ts := startWSServer(t, nil, WebSocketOptions{})
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: testkit.Timeout}).Get(ts.HTTP.URL + "/mqtt")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("GET /mqtt: %s, want 426 Upgrade Required", resp.Status)
	}
}

// TestWebSocketPacketTooLarge: a packet over the broker's Maximum Packet
// Size sent over WebSocket closes only that connection; a 5.0 client is
// told DISCONNECT 0x95 first ([MQTT-5:3.2.2-15] is the client's duty; the
// broker announced the limit in CONNACK).
func TestWebSocketPacketTooLarge(t *testing.T) {
	ts := startWSServer(t, &Options{MaxPacketSize: 1024}, WebSocketOptions{})
	other, _ := wsRaw(t, ts.URL, codec.V5)
	other.Connect(t, &codec.Connect{ClientID: "other", CleanStart: true})
	other.Subscribe(t, 1, "big/#")

	for _, v := range []codec.Version{codec.V5, codec.V311} {
		t.Run(v.String(), func(t *testing.T) {
			c, _ := wsRaw(t, ts.URL, v)
			ack := c.Connect(t, &codec.Connect{ClientID: "big-" + v.String(), CleanStart: true})
			if v == codec.V5 && ack.Properties.MaximumPacketSize != 1024 {
				t.Errorf("CONNACK Maximum Packet Size %d, want 1024", ack.Properties.MaximumPacketSize)
			}
			c.Send(t, &codec.Publish{Topic: "big/one", Payload: make([]byte, 2000)})
			if v == codec.V5 {
				c.ExpectDescribed(t, "DISCONNECT rc=0x95")
			}
			c.ExpectClosed(t)
			carriesOn(t, other, "big/ok")
		})
	}
}

// TestWebSocketMessageOverReadLimit: one WebSocket message carrying more
// than MaxPacketSize + 64 KiB of (small) packets is refused by the
// WebSocket layer with status 1009 Message Too Big.
func TestWebSocketMessageOverReadLimit(t *testing.T) {
	ts := startWSServer(t, &Options{MaxPacketSize: 1024}, WebSocketOptions{})
	c, ws := wsRaw(t, ts.URL, codec.V311)
	c.Connect(t, &codec.Connect{ClientID: "flood", CleanStart: true})
	one := testkit.Encode(codec.V311, &codec.Publish{Topic: "nobody/listens", Payload: []byte("x")})
	wsWrite(t, ws, websocket.MessageBinary, bytes.Repeat(one, (1024+wsReadSlack)/len(one)+1))
	c.ExpectClosed(t)
	if got := websocket.CloseStatus(c.Err()); got != websocket.StatusMessageTooBig {
		t.Errorf("close status %v (%v), want %v", got, c.Err(), websocket.StatusMessageTooBig)
	}
}

// TestWebSocketAndTCPExchange: a WebSocket client and a TCP client are the
// same to the broker: messages flow both ways and both see the same
// retained messages.
func TestWebSocketAndTCPExchange(t *testing.T) {
	ts := startWSServer(t, nil, WebSocketOptions{})
	wsc, _ := wsRaw(t, ts.URL, codec.V5)
	wsc.Connect(t, &codec.Connect{ClientID: "ws-client", CleanStart: true})
	wsc.Subscribe(t, 2, "mix/to-ws")
	tcp := testkit.Dial(t, ts.Addr, codec.V311)
	tcp.Connect(t, &codec.Connect{ClientID: "tcp-client", CleanStart: true})
	tcp.Subscribe(t, 2, "mix/to-tcp")

	for qos := range codec.QoS(3) {
		wsc.Publish(t, qos, "mix/to-tcp", fmt.Sprint("from ws q", qos))
		tcp.ExpectMessage(t, "mix/to-tcp", fmt.Sprint("from ws q", qos))
		tcp.Publish(t, qos, "mix/to-ws", fmt.Sprint("from tcp q", qos))
		wsc.ExpectMessage(t, "mix/to-ws", fmt.Sprint("from tcp q", qos))
	}

	wsc.PublishWith(t, &codec.Publish{QoS: 1, Retain: true, Topic: "state/ws", Payload: []byte("set over ws")})
	tcp.PublishWith(t, &codec.Publish{QoS: 1, Retain: true, Topic: "state/tcp", Payload: []byte("set over tcp")})
	want := map[string]string{"state/ws": "set over ws", "state/tcp": "set over tcp"}

	lateWS, _ := wsRaw(t, ts.URL, codec.V311)
	lateWS.Connect(t, &codec.Connect{ClientID: "late-ws", CleanStart: true})
	lateTCP := testkit.Dial(t, ts.Addr, codec.V5)
	lateTCP.Connect(t, &codec.Connect{ClientID: "late-tcp", CleanStart: true})
	for name, c := range map[string]*testkit.Peer{"websocket": lateWS, "tcp": lateTCP} {
		c.Subscribe(t, 1, "state/#")
		got := map[string]string{}
		for range want {
			p := testkit.Expect[*codec.Publish](t, c)
			if !p.Retain {
				t.Errorf("%s: %s without RETAIN", name, testkit.Describe(p))
			}
			got[p.Topic] = string(p.Payload)
			c.Ack(t, p)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s client sees retained %v, want %v", name, got, want)
		}
	}
}

// TestWebSocketKickSendsDisconnect: when the broker ends a WebSocket
// connection itself (take-over, keep-alive timeout, shutdown), a 5.0 client
// still gets the DISCONNECT before the close: read deadlines do not tear
// the WebSocket down before the writer is done.
func TestWebSocketKickSendsDisconnect(t *testing.T) {
	t.Run("take-over [MQTT-5:3.1.4-3]", func(t *testing.T) {
		ts := startWSServer(t, nil, WebSocketOptions{})
		old, _ := wsRaw(t, ts.URL, codec.V5)
		old.Connect(t, &codec.Connect{ClientID: "twin", CleanStart: true})
		newer := testkit.Dial(t, ts.Addr, codec.V5)
		newer.Connect(t, &codec.Connect{ClientID: "twin", CleanStart: true})
		old.ExpectDescribed(t, "DISCONNECT rc=0x8e")
		old.ExpectClosed(t)
		newer.Disconnect(t)
	})
	t.Run("keep-alive [MQTT-5:3.1.2-22]", func(t *testing.T) {
		ts := startWSServer(t, nil, WebSocketOptions{})
		c, _ := wsRaw(t, ts.URL, codec.V5)
		c.Connect(t, &codec.Connect{ClientID: "sleepy", CleanStart: true, KeepAlive: 1})
		// Silent for 1.5 × Keep Alive: the broker gives up.
		c.ExpectDescribed(t, "DISCONNECT rc=0x8d")
		c.ExpectClosed(t)
	})
	t.Run("shutdown", func(t *testing.T) {
		ts := startWSServer(t, nil, WebSocketOptions{})
		c, _ := wsRaw(t, ts.URL, codec.V5)
		c.Connect(t, &codec.Connect{ClientID: "to-be-shut", CleanStart: true})
		done := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), testkit.Timeout)
			defer cancel()
			done <- ts.Shutdown(ctx)
		}()
		c.ExpectDescribed(t, "DISCONNECT rc=0x8b")
		c.ExpectClosed(t)
		if err := testkit.WaitFor(t, done, "Shutdown"); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	})
}

// TestWebSocketRemoteAddr: log lines about a WebSocket connection carry
// the HTTP peer's address.
func TestWebSocketRemoteAddr(t *testing.T) {
	ts := startWSServer(t, nil, WebSocketOptions{})
	local := make(chan string, 1)
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			local <- nc.LocalAddr().String()
		}
		return nc, err
	}}
	t.Cleanup(tr.CloseIdleConnections)
	c, _ := wsRawWith(t, ts.URL, codec.V311, &websocket.DialOptions{
		Subprotocols: []string{Subprotocol},
		HTTPClient:   &http.Client{Transport: tr},
	})
	addr := testkit.WaitFor(t, local, "the dial")
	c.Connect(t, &codec.Connect{ClientID: "where", CleanStart: true})
	c.Disconnect(t) // the broker has logged the end of the connection
	ts.logs.expectLine(t, "client connected", "remote="+addr, "client=where")
	ts.logs.expectLine(t, "client disconnected", "remote="+addr)
}

// TestWebSocketPahoGolang runs paho.golang (MQTT 5.0) over a coder/websocket
// NetConn: QoS 0, 1 and 2 with properties, both clients on WebSocket.
func TestWebSocketPahoGolang(t *testing.T) {
	ts := startWSServer(t, nil, WebSocketOptions{})
	sub, subMsgs := connectPahoWS(t, ts.URL, "paho-ws-sub")
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Timeout)
	defer cancel()
	sa, err := sub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "paho/#", QoS: 2}}})
	if err != nil || len(sa.Reasons) != 1 || sa.Reasons[0] != 2 {
		t.Fatalf("SUBSCRIBE: %v %+v", err, sa)
	}
	pub, _ := connectPahoWS(t, ts.URL, "paho-ws-pub")
	for qos := range byte(3) {
		topic := fmt.Sprint("paho/q", qos)
		payload := fmt.Sprintf(`{"qos":%d}`, qos)
		pr, err := pub.Publish(ctx, &paho.Publish{
			Topic: topic, QoS: qos, Payload: []byte(payload),
			Properties: &paho.PublishProperties{
				ContentType:     "application/json",
				ResponseTopic:   "paho/reply",
				CorrelationData: []byte{1, 2, qos},
				User:            paho.UserProperties{{Key: "via", Value: "websocket"}},
			},
		})
		if err != nil || (qos > 0 && pr.ReasonCode != 0) {
			t.Fatalf("PUBLISH qos %d: %v %+v", qos, err, pr)
		}
		m := subMsgs.expect(t, topic, payload, qos, false)
		p := m.p5.Properties
		if p == nil || p.ContentType != "application/json" || p.ResponseTopic != "paho/reply" ||
			!bytes.Equal(p.CorrelationData, []byte{1, 2, qos}) || p.User.Get("via") != "websocket" {
			t.Errorf("properties not forwarded: %+v", p)
		}
	}
}

// lockedConn is a net.Conn that is also a sync.Locker. paho.golang writes
// one packet in several Write calls (header, properties, payload) and holds
// the conn's lock around them only when the conn has one. On TCP the
// pieces go out in one writev; over a NetConn each Write is a WebSocket
// message, and without the lock the pieces of a PUBLISH and of a
// concurrent PINGREQ interleave into a malformed stream.
type lockedConn struct {
	net.Conn
	sync.Mutex
}

// connectPahoWS connects a paho.golang client over WebSocket; received
// messages land in the returned inbox.
func connectPahoWS(t testing.TB, url, id string) (*paho.Client, *inbox) {
	t.Helper()
	ws := wsDial(t, url, nil)
	msgs := newInbox()
	c := paho.NewClient(paho.ClientConfig{
		Conn: &lockedConn{Conn: websocket.NetConn(context.Background(), ws, websocket.MessageBinary)},
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){
			func(pr paho.PublishReceived) (bool, error) {
				p := pr.Packet
				msgs.push(msg{Topic: p.Topic, Payload: string(p.Payload), QoS: p.QoS, Retain: p.Retain, p5: p})
				return true, nil
			},
		},
		OnClientError: func(error) {},
	})
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Timeout)
	defer cancel()
	if _, err := c.Connect(ctx, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatalf("paho %s over WebSocket: %v", id, err)
	}
	t.Cleanup(func() {
		c.Disconnect(&paho.Disconnect{})
		testkit.WaitFor(t, c.Done(), "paho to stop")
	})
	return c, msgs
}

// TestCheckOriginPatterns reports malformed patterns.
func TestCheckOriginPatterns(t *testing.T) {
	if err := CheckOriginPatterns([]string{"example.com", "*.example.com", "https://*.example.org", "localhost:*"}); err != nil {
		t.Errorf("valid patterns refused: %v", err)
	}
	for _, bad := range []string{"[", "", "a[b"} {
		if err := CheckOriginPatterns([]string{bad}); err == nil {
			t.Errorf("pattern %q accepted", bad)
		}
	}
}

// TestWebSocketSilentPeers: a WebSocket that never sends CONNECT is closed
// after ConnectTimeout, and a peer that stops reading (it will never answer
// the close handshake) does not hold up Shutdown beyond the close grace.
func TestWebSocketSilentPeers(t *testing.T) {
	t.Run("no CONNECT", func(t *testing.T) {
		ts := startWSServer(t, &Options{ConnectTimeout: 200 * time.Millisecond}, WebSocketOptions{})
		c, _ := wsRaw(t, ts.URL, codec.V5)
		c.ExpectClosed(t)
	})
	t.Run("never reads", func(t *testing.T) {
		ts := startWSServer(t, nil, WebSocketOptions{})
		ws := wsDial(t, ts.URL, nil)
		wsWrite(t, ws, websocket.MessageBinary, testkit.Encode(codec.V5, &codec.Connect{Version: codec.V5, ClientID: "deaf", CleanStart: true}))
		other, _ := wsRaw(t, ts.URL, codec.V5)
		other.Connect(t, &codec.Connect{ClientID: "other", CleanStart: true})
		// Bounded, not prompt: the deaf peer must not hold Shutdown for
		// ever (a bound of 2×wsCloseTimeout failed on a loaded 2-core
		// machine).
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), testkit.Timeout)
		defer cancel()
		if err := ts.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown with a peer that never reads: %v after %v", err, time.Since(start))
		}
	})
}
