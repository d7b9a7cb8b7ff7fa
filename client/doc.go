// Package client is Tern's MQTT 3.1.1 and 5.0 client. The same API runs
// natively, over TCP, TLS, WebSocket and secure WebSocket, and in the
// browser (GOOS=js GOARCH=wasm), over the browser's WebSocket. All packet
// bytes come from the codec package.
//
// # Connecting
//
// Connect dials, sends CONNECT and waits for the CONNACK:
//
//	c, err := client.Connect(ctx, "mqtt://localhost:1883", client.Options{ClientID: "sensor-1"})
//	...
//	defer c.Disconnect(context.Background(), codec.NormalDisconnection)
//
// Every blocking method takes a context. The client sends PINGREQ to keep
// the connection alive and declares it dead when the PINGRESP does not
// come. With Options.AutoReconnect it reconnects with exponential backoff
// and jitter and resumes the session: unacknowledged QoS 1 and 2 messages
// are sent again (with DUP, or as PUBREL), and subscriptions are made again
// when the server has lost the session.
//
// # Publishing and subscribing
//
// Publish returns when the message's QoS flow is complete. Subscribe takes
// a Handler for its Topic Filters; messages are routed locally, by the
// Subscription Identifiers the client gives each filter (5.0) or with
// codec.MatchTopic, so overlapping subscriptions each get the message once.
// Handlers never run on the read loop: each subscription has its own
// queue and goroutine, so its messages are handled in order. QoS 1 and 2
// messages are acknowledged, in the order received, once their handlers
// return, which holds the server to the Receive Maximum the client
// announced (see Handler).
//
// The client honours the server's limits from the CONNACK: Receive
// Maximum (publishes beyond it wait), Maximum QoS, Retain Available,
// Maximum Packet Size and Topic Alias Maximum (the client assigns topic
// aliases itself, up to 1024 per connection). It accepts the server's
// topic aliases up to the Topic Alias Maximum it announced in
// Options.ConnectProperties. Incoming QoS 2 messages are delivered exactly
// once: their packet identifiers are remembered until the PUBREL.
//
// # In the browser
//
// Built with GOOS=js GOARCH=wasm, Connect accepts only ws:// and wss://
// URLs, and takes care of the browser's WebSocket: it closes with a normal
// closure (the browser cannot close without a handshake), sets the message
// read limit from the Maximum Packet Size (the WebSocket library's default
// of 32 KiB is too small for MQTT), relies on PINGREQ for keep-alive (a
// page cannot send WebSocket pings), and reports a failed dial with the URL
// and the usual causes (a wrong path, a server without the "mqtt"
// subprotocol, an origin the server refuses), since the browser hides the
// reason.
//
// The client logs with log/slog to Options.Logger and never prints.
package client
