package client

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/coder/websocket"
)

// parseURL checks a broker URL and fills in the default port.
func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("mqtt: bad broker URL: %w", err)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	port, ok := defaultPorts[u.Scheme]
	if !ok {
		return nil, fmt.Errorf("mqtt: unsupported scheme %q in %q: use %s", u.Scheme, u.Redacted(), supportedSchemes)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("mqtt: no host in broker URL %q", u.Redacted())
	}
	if u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), port)
	}
	return u, nil
}

var defaultPorts = map[string]string{
	"mqtt": "1883", "tcp": "1883",
	"mqtts": "8883", "ssl": "8883", "tls": "8883",
	"ws": "80", "wss": "443",
}

// isWebSocket reports whether the scheme is carried over WebSocket.
func isWebSocket(scheme string) bool { return scheme == "ws" || scheme == "wss" }

// wsReadSlack is added to the client's Maximum Packet Size to get the
// WebSocket message read limit: a server may put a batch of small packets
// beside one of the largest size in one message.
const wsReadSlack = 64 << 10

// wrapWebSocket turns a dialled WebSocket into the byte stream MQTT runs
// on: binary messages only [MQTT-6.0.0-1], read as one stream whatever the
// framing [MQTT-6.0.0-2], closed with a normal closure (which also works in
// browsers, where CloseNow fails).
func wrapWebSocket(u *url.URL, ws *websocket.Conn, maxPacket int) (net.Conn, error) {
	if p := ws.Subprotocol(); p != "mqtt" {
		// [MQTT-6.0.0-4]: the server must select "mqtt".
		ws.Close(websocket.StatusPolicyViolation, `subprotocol "mqtt" required`)
		return nil, fmt.Errorf("mqtt: WebSocket server at %s selected subprotocol %q, not \"mqtt\": is this path an MQTT endpoint?", u.Redacted(), p)
	}
	// The lifetime of the net.Conn is governed by Close, not by a context.
	nc := websocket.NetConn(context.Background(), ws, websocket.MessageBinary)
	// NetConn lifts the read limit; put back one that matches the Maximum
	// Packet Size (the library's default of 32 KiB is too small for MQTT).
	limit := int64(-1)
	if maxPacket > 0 {
		limit = int64(maxPacket) + wsReadSlack
	}
	ws.SetReadLimit(limit)
	return nc, nil
}

// wsDialError explains a failed WebSocket dial. Browsers hide the cause,
// so the message names the URL and the usual suspects.
func wsDialError(u *url.URL, err error) error {
	return fmt.Errorf("mqtt: cannot open WebSocket %s: %w (check the URL path, that the server offers the \"mqtt\" subprotocol, and that it accepts this origin)", u.Redacted(), err)
}
