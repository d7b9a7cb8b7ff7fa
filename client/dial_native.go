//go:build !js

package client

import (
	"context"
	"crypto/tls"
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
