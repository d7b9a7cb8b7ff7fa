//go:build !js

package client

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"

	"github.com/coder/websocket"
)

// supportedSchemes lists the URL schemes Connect accepts on this platform.
const supportedSchemes = "mqtt://, tcp://, mqtts://, ssl://, tls://, ws:// or wss://"

// dial opens the network connection for u: TCP, TLS or WebSocket.
func dial(ctx context.Context, u *url.URL, o *Options) (net.Conn, error) {
	switch u.Scheme {
	case "mqtt", "tcp":
		var d net.Dialer
		return d.DialContext(ctx, "tcp", u.Host)
	case "mqtts", "ssl", "tls":
		d := tls.Dialer{Config: tlsConfig(u, o)}
		return d.DialContext(ctx, "tcp", u.Host)
	}
	return dialWebSocket(ctx, u, o)
}

func tlsConfig(u *url.URL, o *Options) *tls.Config {
	var cfg *tls.Config
	if o.TLSConfig != nil {
		cfg = o.TLSConfig.Clone()
	} else {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = u.Hostname()
	}
	return cfg
}

func dialWebSocket(ctx context.Context, u *url.URL, o *Options) (net.Conn, error) {
	opts := &websocket.DialOptions{
		Subprotocols: []string{"mqtt"}, // [MQTT-6.0.0-3]
		HTTPHeader:   o.HTTPHeader,
	}
	if u.Scheme == "wss" && o.TLSConfig != nil {
		tr := &http.Transport{TLSClientConfig: tlsConfig(u, o), ForceAttemptHTTP2: false}
		defer tr.CloseIdleConnections()
		opts.HTTPClient = &http.Client{Transport: tr}
	}
	ws, _, err := websocket.Dial(ctx, u.String(), opts)
	if err != nil {
		return nil, wsDialError(u, err)
	}
	return wrapWebSocket(u, ws, o.maxPacketSize())
}

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
