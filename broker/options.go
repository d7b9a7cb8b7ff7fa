package broker

import (
	"log/slog"
	"time"

	"github.com/ternmq/tern/codec"
)

// Options configures a Server. The zero value of each field picks the
// default documented beside it.
type Options struct {
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger

	// ConnectTimeout bounds the wait for the first packet, the CONNECT
	// (default 10s).
	ConnectTimeout time.Duration
	// MaxKeepAlive caps the client's Keep Alive in seconds. A 5.0 client
	// asking for more (or for 0) is told the cap as Server Keep Alive; a
	// 3.1.1 client is held to it silently. 0 means no cap.
	MaxKeepAlive uint16
	// MaxPacketSize is the largest packet accepted from a client, announced
	// to 5.0 clients as Maximum Packet Size (default 1 MiB; at most
	// codec.MaxPacketSize, the largest packet MQTT can encode).
	MaxPacketSize int
	// ReceiveMaximum is the number of unacknowledged QoS 1 and 2 PUBLISH
	// packets a 5.0 client may have outstanding towards the server
	// (default 65535).
	ReceiveMaximum uint16
	// MaxInflight caps the unacknowledged QoS 1 and 2 messages sent to one
	// client, below the client's own Receive Maximum (default 1000).
	MaxInflight int
	// MaxQueued bounds the messages queued for one session while it is
	// offline or its inflight window is full (default 10000). When the
	// queue is full a new QoS 0 message is dropped, and a new QoS 1/2
	// message pushes out the oldest queued one; drops are counted and
	// logged.
	MaxQueued int
	// QueueQoS0 also queues QoS 0 messages for offline sessions.
	QueueQoS0 bool
	// MaxSessionExpiry caps the Session Expiry Interval in seconds
	// (default: none, 0xFFFFFFFF means never expire). It also bounds the
	// life of a 3.1.1 session with CleanSession 0.
	MaxSessionExpiry uint32
	// TopicAliasMaximum is announced to 5.0 clients (default 65535).
	TopicAliasMaximum uint16
	// DisableTopicAliases stops the broker from choosing server→client
	// Topic Aliases for 5.0 clients that accept them.
	DisableTopicAliases bool
	// MaxConnections refuses a CONNECT (5.0: CONNACK 0x97 Quota exceeded,
	// 3.1.1: 0x03 Server unavailable) while this many connections are
	// open. 0 means no limit.
	MaxConnections int
	// MaxQoS caps the QoS the broker supports, as Mosquitto's max_qos:
	// nil (the default) supports QoS 2; set it with new(codec.QoS(1))
	// (a value above 2 counts as 2). Below 2, a 5.0 CONNACK carries it as
	// Maximum QoS [MQTT-5:3.2.2-9]. Every version alike: a SUBSCRIBE
	// asking for more is still accepted and granted MaxQoS
	// [MQTT-5:3.2.2-10]; a PUBLISH above it closes the connection (5.0:
	// DISCONNECT 0x9B QoS not supported); a CONNECT whose Will QoS is above
	// it is refused (5.0: CONNACK 0x9B [MQTT-5:3.2.2-12]). 3.1.1 has no
	// way to announce the cap nor a CONNACK code for it, so, as Mosquitto
	// 2.0 does, a 3.1.1 client learns it from its SUBACK at best and is
	// disconnected (its CONNECT: without a CONNACK) when it goes above.
	// Messages already granted to a session (subscriptions restored from
	// the store, made under a higher cap) keep their granted QoS.
	MaxQoS *codec.QoS
	// DisableRetain turns retained messages off, as Mosquitto's
	// retain_available false: a 5.0 CONNACK carries Retain Available 0; a
	// PUBLISH with RETAIN 1 closes the connection (5.0: DISCONNECT 0x9A
	// Retain not supported); a CONNECT with Will Retain 1 is refused (5.0:
	// CONNACK 0x9A [MQTT-5:3.2.2-13]; 3.1.1: closed without a CONNACK, as
	// Mosquitto 2.0 does). Retained messages the broker already holds (in
	// its store from before, and its own $SYS topics) are still sent to
	// new subscriptions, as in Mosquitto; so are those the program
	// publishes itself with Server.Publish (a bridge's state topic), which
	// neither option refuses. A bridge forwards through a local client
	// connection and is held to both (its client drops what is above).
	DisableRetain bool

	// ResponseInformation is returned in the CONNACK to 5.0 clients that
	// ask for it with Request Response Information; the client may use it
	// to build response topics (5.0 section 4.10). Empty: not returned.
	ResponseInformation string

	// MaxTopicLevels caps the levels of a topic name or filter (default
	// 128): a PUBLISH beyond it closes the connection (5.0: DISCONNECT
	// 0x90), a subscription beyond it is refused (SUBACK 0x8F, 3.1.1 0x80).
	MaxTopicLevels int
	// MaxSubscriptionsPerClient caps one session's subscriptions (default
	// 10,000); more are refused with SUBACK 0x97 (3.1.1: 0x80).
	MaxSubscriptionsPerClient int
	// MaxRetainedPerClient and MaxRetainedBytesPerClient cap the retained
	// messages one client id has set and their topic and payload bytes
	// (defaults 100,000 and 256 MiB); MaxRetainedBytes caps them all
	// (default 4 GiB). A retained PUBLISH beyond a cap is refused: 5.0
	// PUBACK/PUBREC 0x97 (QoS 0: DISCONNECT 0x97), 3.1.1 closes the
	// connection. Negative: no cap.
	MaxRetainedPerClient      int
	MaxRetainedBytesPerClient int
	MaxRetainedBytes          int
	// MaxSessions caps the sessions the broker holds, online or not
	// (default 10,000,000); a CONNECT that would create one more is
	// refused with CONNACK 0x97 (3.1.1: 0x03). Negative: no cap.
	MaxSessions int

	// OutboundBuffer bounds the bytes queued for one connection's writer
	// before QoS 0 messages are dropped for it (default 4 MiB, or twice
	// MaxPacketSize when that is more, so that raising the packet limit
	// never makes a QoS 0 message undeliverable). A message is never
	// dropped for this bound while nothing is queued: the queue may exceed
	// it by one message.
	OutboundBuffer int

	// Authenticator, when set, accepts or refuses each CONNECT; nil
	// accepts every client.
	Authenticator Authenticator
	// Authorizer, when set, decides what each client may publish,
	// subscribe to and receive; nil allows everything but the broker's own
	// rules ($SYS is the broker's).
	Authorizer Authorizer

	// SysInterval is how often the $SYS topics are published (sys.go);
	// 0 publishes none. SysPresence also publishes an event on
	// $SYS/broker/clients/<id>/connected and .../disconnected for each
	// client. Version is what $SYS/broker/version says (default: "tern
	// version" and the module version of the program).
	SysInterval time.Duration
	SysPresence bool
	Version     string
	// DisableMetrics stops counting packets and bytes per connection (the
	// cost measured by BenchmarkMetricsCost); the other counters stay.
	DisableMetrics bool

	// Store keeps sessions, queues and retained messages across restarts
	// (see Open); nil keeps everything in memory only (New).
	Store Store
	// SweepInterval is how often expired retained and queued messages are
	// removed from memory and from the store, while there are messages
	// with a Message Expiry Interval (default 10s).
	SweepInterval time.Duration

	// Cluster, when set, links the Server to the other nodes of a cluster
	// (broker/cluster): it is told about subscriptions and published
	// messages, and routes what other nodes receive with InjectRemote.
	// Nil (the default) is a single node.
	Cluster Cluster

	// writeNowIdle overrides writeNowIdle (writenow.go) for benchmarks
	// and tests: 0 keeps it, negative never writes inline.
	writeNowIdle time.Duration
}

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.MaxPacketSize <= 0 {
		o.MaxPacketSize = 1 << 20
	}
	o.MaxPacketSize = min(o.MaxPacketSize, codec.MaxPacketSize)
	if o.ReceiveMaximum == 0 {
		o.ReceiveMaximum = 65535
	}
	if o.MaxInflight <= 0 {
		o.MaxInflight = 1000
	}
	if o.MaxQueued <= 0 {
		o.MaxQueued = 10000
	}
	if o.MaxSessionExpiry == 0 {
		o.MaxSessionExpiry = 0xFFFFFFFF
	}
	if o.TopicAliasMaximum == 0 {
		o.TopicAliasMaximum = 65535
	}
	if o.writeNowIdle == 0 {
		o.writeNowIdle = writeNowIdle
	}
	if o.OutboundBuffer <= 0 {
		o.OutboundBuffer = max(4<<20, 2*o.MaxPacketSize)
	}
	if o.MaxTopicLevels <= 0 {
		o.MaxTopicLevels = 128
	}
	if o.MaxSubscriptionsPerClient <= 0 {
		o.MaxSubscriptionsPerClient = 10_000
	}
	setCap(&o.MaxRetainedPerClient, 100_000)
	setCap(&o.MaxRetainedBytesPerClient, 256<<20)
	setCap(&o.MaxRetainedBytes, 4<<30)
	setCap(&o.MaxSessions, 10_000_000)
	if o.MaxQoS != nil { // a copy: the caller's variable may change later
		o.MaxQoS = new(min(*o.MaxQoS, codec.ExactlyOnce))
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = 10 * time.Second
	}
}

// maxQoS is the highest QoS the broker supports (Options.MaxQoS).
func (o *Options) maxQoS() codec.QoS {
	if o.MaxQoS == nil {
		return codec.ExactlyOnce
	}
	return *o.MaxQoS
}

// setCap sets a cap left at 0 to its default; a negative cap means none.
func setCap(v *int, def int) {
	switch {
	case *v == 0:
		*v = def
	case *v < 0:
		*v = 0
	}
}
