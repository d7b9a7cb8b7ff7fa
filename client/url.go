package client

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Dial opens the transport to the server at url as Connect does, without
// speaking MQTT: the scheme picks TCP, TLS (with opts.TLSConfig), WebSocket
// or secure WebSocket (with opts.HTTPHeader and the subprotocol "mqtt"),
// and the result is the byte stream MQTT runs on. It is the building block
// of an Options.Dialer that chooses among several servers, such as a
// bridge that tries a list of addresses in turn.
func Dial(ctx context.Context, url string, opts Options) (net.Conn, error) {
	u, err := parseURL(url)
	if err != nil {
		return nil, err
	}
	opts.setDefaults()
	return dial(ctx, u, &opts)
}

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

// wsDialError explains a failed WebSocket dial. Browsers hide the cause,
// so the message names the URL and the usual suspects.
func wsDialError(u *url.URL, err error) error {
	return fmt.Errorf("mqtt: cannot open WebSocket %s: %w (check the URL path, that the server offers the \"mqtt\" subprotocol, and that it accepts this origin)", u.Redacted(), err)
}
