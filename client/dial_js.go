//go:build js && wasm

package client

import (
	"context"
	"fmt"
	"net"
	"net/url"

	"github.com/coder/websocket"
)

// supportedSchemes lists the URL schemes Connect accepts in the browser.
const supportedSchemes = "ws:// or wss:// (the browser offers no raw TCP or TLS)"

// dial opens a WebSocket through the browser. TLSConfig and HTTPHeader do
// not apply: the browser does TLS and chooses the handshake headers.
func dial(ctx context.Context, u *url.URL, o *Options) (net.Conn, error) {
	if !isWebSocket(u.Scheme) {
		return nil, fmt.Errorf("mqtt: %s:// is not available in the browser: use %s", u.Scheme, supportedSchemes)
	}
	ws, _, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{
		Subprotocols: []string{"mqtt"}, // [MQTT-6.0.0-3]
	})
	if err != nil {
		return nil, wsDialError(u, err)
	}
	return wrapWebSocket(u, ws, o.maxPacketSize())
}
