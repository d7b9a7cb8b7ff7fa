package client

import (
	"context"
	"log/slog"
	"net"
	"net/url"
	"time"

	"github.com/ternmq/tern/codec"
)

// Options configures a Client. The zero value of each field picks the
// default documented beside it, so Options{} connects as an MQTT 5.0 client
// with a server-assigned client identifier and no automatic reconnect.
type Options struct {
	// ClientID identifies the session. Empty asks a 5.0 server to assign
	// one (see Connack().Properties.AssignedClientIdentifier; reconnects
	// reuse it). A 3.1.1 client with an empty ClientID always connects
	// with Clean Session 1, whatever CleanStart says [MQTT-3:3.1.3-7]:
	// without an identifier there is no session to resume.
	ClientID string
	// Username is sent when not empty; Password when not nil.
	Username string
	Password []byte

	// Auth, when set, authenticates with MQTT 5.0 enhanced
	// authentication (5.0 only): the CONNECT carries Auth.Method() and its
	// first data, the client answers the server's AUTH packets, and the
	// CONNACK must carry data that Auth accepts, or Connect fails.
	// SCRAM(username, password) gives SCRAM-SHA-256, with which the
	// password never goes on the wire. See Client.Reauthenticate.
	Auth EnhancedAuth

	// Version is the protocol version: codec.V5 (the default) or codec.V311.
	Version codec.Version

	// Bridge announces the client as a bridge to a 3.1.1 server with
	// Mosquitto's non-standard marker in the CONNECT (Protocol Level 0x84,
	// its try_private option; see codec.Connect.Bridge): a Mosquitto
	// server then sends the client none of its own messages back and
	// keeps the RETAIN flag of what it forwards, as the 5.0 subscription
	// options No Local and Retain As Published do. Servers that do not
	// know the marker refuse the connection with return code 0x01
	// (unacceptable protocol version). Ignored for 5.0.
	Bridge bool

	// CleanStart discards any session the server holds for ClientID on the
	// first connection. Reconnects never set it when the session outlives
	// the connection (a 5.0 Session Expiry Interval above 0, or a 3.1.1
	// session without CleanStart), so that they resume the session.
	// It is forced on for 3.1.1 with an empty ClientID (see ClientID).
	//
	// A connection made with CleanStart has no session state on either
	// side: a CONNACK with Session Present 1 is then a protocol violation
	// and the client closes the connection ([MQTT-5:3.2.2-2],
	// [MQTT-5:3.2.2-4]): Connect, or that reconnect attempt, fails.
	// Without CleanStart a new Client takes over
	// whatever session the server kept (see DefaultHandler).
	CleanStart bool

	// KeepAlive is the longest time the client stays silent; when it has
	// sent nothing for this long it sends a PINGREQ. It is sent in whole
	// seconds. Default 60s; negative turns keep-alive off. A 5.0 server's
	// Server Keep Alive replaces it.
	KeepAlive time.Duration
	// PingTimeout is how long the client waits for the PINGRESP before it
	// declares the connection dead (default: the keep-alive interval, at
	// most 10s).
	PingTimeout time.Duration
	// ConnectTimeout bounds each reconnect attempt: dial, CONNECT and
	// CONNACK (default 30s). The first connection is bounded by the
	// context given to Connect.
	ConnectTimeout time.Duration

	// Will is the Will Message the server publishes if the connection ends
	// without a normal DISCONNECT (or with codec.DisconnectWithWillMessage).
	Will *codec.Will

	// ConnectProperties are the 5.0 CONNECT properties, ignored for 3.1.1.
	// The client honours the limits it announces here:
	//   - SessionExpiryInterval: how long the server keeps the session
	//     after the connection ends (0, the default, ends it at once);
	//   - ReceiveMaximum: QoS 1 and 2 messages the server may have
	//     unacknowledged towards the client (default 65535). The client
	//     acknowledges a message only after every handler it was
	//     dispatched to has returned, so this also bounds the messages
	//     queued for handlers;
	//   - MaximumPacketSize: the largest packet accepted (default: no
	//     limit beyond the protocol's); also the WebSocket read limit;
	//   - TopicAliasMaximum: server→client topic aliases accepted
	//     (default 0: none);
	//   - UserProperties and the rest are sent as given.
	ConnectProperties codec.Properties

	// AutoReconnect reconnects after the connection is lost, waiting
	// between attempts from MinBackoff (default 100ms) doubling up to
	// MaxBackoff (default 30s), each wait randomised to between half and
	// all of it. Pending QoS 1 and 2 publishes and subscriptions survive.
	AutoReconnect bool
	MinBackoff    time.Duration
	MaxBackoff    time.Duration

	// DefaultHandler receives the messages that match no subscription
	// made by this Client. Those are typically messages the server
	// queued for a persistent session (CleanStart off, or a 5.0 Session
	// Expiry Interval above 0) and sends right after the CONNACK, before
	// a new Client for the same session (a restarted program, a reloaded
	// page) has subscribed again. It runs like a subscription's handler,
	// on a queue of its own (see Handler). Without it such messages are
	// acknowledged and dropped.
	DefaultHandler Handler

	// SerialHandlers runs every handler, DefaultHandler included, on one
	// queue, one message at a time in the order the messages arrived,
	// instead of one queue per subscription: a slow handler then holds up
	// all the others. It is for programs that must see the messages of
	// several subscriptions in the order the server sent them, such as a
	// bridge, whose handler hands each message on (see Message.Defer) and
	// returns at once. QoS 0 messages beyond 4096 waiting in the queue are
	// dropped and logged.
	SerialHandlers bool

	// OnConnectionLost is called with the cause each time an established
	// connection is lost (not after Disconnect). OnReconnect is called
	// with the server's CONNACK after each automatic reconnect. They run
	// one at a time, in order, on a goroutine of their own, never on the
	// read loop; see Disconnect for calling it from them.
	OnConnectionLost func(error)
	OnReconnect      func(*codec.Connack)

	// TLSConfig (a *tls.Config) is used for mqtts://, ssl:// and wss://
	// (default: the system roots, with ServerName from the URL). Ignored
	// in the browser, which does TLS itself; there its type is a
	// placeholder so that the wasm binary does not carry crypto/tls.
	TLSConfig tlsConfigType
	// HTTPHeader (an http.Header) is added to the WebSocket handshake
	// request. Ignored in the browser, which does not let a page set
	// handshake headers.
	HTTPHeader httpHeaderType
	// Dialer, when set, replaces the built-in dialling for every URL: it
	// returns a connection that carries MQTT bytes (for ws:// and wss://,
	// already unwrapped from WebSocket).
	Dialer func(ctx context.Context, u *url.URL) (net.Conn, error)

	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
}

// Defaults documented on Options.
const (
	defaultKeepAlive      = 60 * time.Second
	maxDefaultPingTimeout = 10 * time.Second
	defaultConnectTimeout = 30 * time.Second
	defaultMinBackoff     = 100 * time.Millisecond
	defaultMaxBackoff     = 30 * time.Second
	defaultReceiveMaximum = 65535
)

func (o *Options) setDefaults() {
	if o.Version == 0 {
		o.Version = codec.V5
	}
	if o.Version == codec.V311 && o.ClientID == "" {
		// A zero-byte ClientId needs CleanSession 1 [MQTT-3:3.1.3-7];
		// a 3.1.1 server refuses it otherwise (return code 0x02).
		o.CleanStart = true
	}
	if o.KeepAlive == 0 {
		o.KeepAlive = defaultKeepAlive
	}
	if o.KeepAlive > 0 && o.KeepAlive < time.Second {
		o.KeepAlive = time.Second // the protocol counts in seconds
	}
	if o.KeepAlive > 65535*time.Second {
		o.KeepAlive = 65535 * time.Second
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = defaultConnectTimeout
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = defaultMinBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = defaultMaxBackoff
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// pingTimeout returns the PINGRESP deadline for a keep-alive interval.
func (o *Options) pingTimeout(keepAlive time.Duration) time.Duration {
	if o.PingTimeout > 0 {
		return o.PingTimeout
	}
	return min(keepAlive, maxDefaultPingTimeout)
}

// persistent reports whether the session outlives a connection, so that
// reconnects resume it.
func (o *Options) persistent() bool {
	if o.Version == codec.V5 {
		return o.ConnectProperties.SessionExpiryInterval > 0
	}
	return !o.CleanStart
}

// receiveMaximum is the Receive Maximum the client announces.
func (o *Options) receiveMaximum() int {
	if o.Version == codec.V5 && o.ConnectProperties.ReceiveMaximum > 0 {
		return int(o.ConnectProperties.ReceiveMaximum)
	}
	return defaultReceiveMaximum
}

// maxPacketSize is the largest packet the client accepts, 0 for no limit.
func (o *Options) maxPacketSize() int {
	if o.Version == codec.V5 {
		return int(o.ConnectProperties.MaximumPacketSize)
	}
	return 0
}

// topicAliasMaximum is the Topic Alias Maximum the client announces.
func (o *Options) topicAliasMaximum() uint16 {
	if o.Version == codec.V5 {
		return o.ConnectProperties.TopicAliasMaximum
	}
	return 0
}
