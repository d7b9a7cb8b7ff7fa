package bridge

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/ternmq/tern/codec"
)

// Config describes one bridge: the remote broker, how to connect to it,
// and the topic rules. The zero value of each optional field picks the
// default documented beside it. In JSON (cmd/tern's config file) the
// fields are named by their tags and each rule is one string in
// ParseRule's syntax.
type Config struct {
	// Name names the bridge in logs and in its state topic,
	// $SYS/broker/connection/<Name>/state. One topic level: no "/", "+"
	// or "#". Required.
	Name string `json:"name"`
	// Addresses are the remote broker's URLs, tried in order until one
	// connects; after a connection is lost the same address is tried
	// first, and the next one after it fails. mqtt://host:port,
	// mqtts://, ws://host:port/path and wss://; a bare host:port means
	// mqtt://. Required.
	Addresses []string `json:"addresses"`
	// Version is the protocol spoken to the remote broker: 5 (MQTT 5.0,
	// the default) or 4 (3.1.1).
	Version codec.Version `json:"version"`
	// ClientID is the client identifier on the remote broker (default:
	// the host name, ".", Name, as Mosquitto does).
	ClientID string `json:"client_id"`
	// Username and Password are the remote broker's credentials.
	Username string `json:"username"`
	Password string `json:"password"`
	// TLS is used for mqtts:// and wss:// addresses.
	TLS TLS `json:"tls"`
	// CleanStart starts a new session on the remote broker at each
	// connection. Off by default, so that the remote broker keeps the
	// bridge's subscriptions and queues what comes in for it while the
	// bridge is away (a 5.0 remote for SessionExpiry seconds).
	CleanStart bool `json:"clean_start"`
	// SessionExpiry is the 5.0 Session Expiry Interval asked of the
	// remote broker, in seconds (default 0: the session ends with the
	// connection; 0xFFFFFFFF: never).
	SessionExpiry uint32 `json:"session_expiry"`
	// KeepAlive is the keep-alive interval towards the remote broker, in
	// seconds (default 60).
	KeepAlive uint16 `json:"keepalive"`
	// NoTryPrivate leaves out Mosquitto's bridge marker (try_private) in
	// the 3.1.1 CONNECT. With the marker a Mosquitto remote sends the
	// bridge none of its own messages back; a remote that refuses the
	// marker is connected to again without it, so turning it off is
	// rarely needed.
	NoTryPrivate bool `json:"no_try_private"`

	// Topics are the topic rules. At least one is required.
	Topics []Rule `json:"topics"`

	// LocalClientID is the client identifier of the bridge's session on
	// the local broker (default "local." + ClientID, as Mosquitto does).
	LocalClientID string `json:"local_client_id"`
	// LocalUsername and LocalPassword authenticate the bridge to the
	// local broker, which applies its Authenticator and Authorizer to the
	// bridge as to any client.
	LocalUsername string `json:"local_username"`
	LocalPassword string `json:"local_password"`
	// LocalSessionExpiry is the Session Expiry Interval of the bridge's
	// session on the local broker, in seconds: how long messages for the
	// remote broker stay queued while the bridge is not running (default
	// 0xFFFFFFFF, never expire). While the bridge runs and the remote is
	// down they are queued whatever this says, up to the broker's
	// MaxQueued, and with a durable store they survive a restart.
	LocalSessionExpiry uint32 `json:"local_session_expiry"`
	// MaxInflight is the number of messages the bridge holds from each
	// side before their acknowledgement (default 100): the Receive
	// Maximum it announces to both brokers.
	MaxInflight uint16 `json:"max_inflight"`

	// MinBackoff and MaxBackoff bound the wait between attempts to
	// connect to the remote broker: it starts at MinBackoff (default
	// 1s), doubles up to MaxBackoff (default 30s), and each wait is drawn
	// at random between half and all of it. Attempts never stop while the
	// bridge runs.
	MinBackoff time.Duration `json:"-"`
	MaxBackoff time.Duration `json:"-"`
	// ConnectTimeout bounds each attempt: dial, CONNECT and CONNACK
	// (default 30s).
	ConnectTimeout time.Duration `json:"-"`

	// Logger receives the bridge's logs; nil discards them.
	Logger *slog.Logger `json:"-"`
}

// TLS configures TLS towards the remote broker. Certificate checks are on
// unless Insecure says otherwise.
type TLS struct {
	// CAFile is a PEM file of the CAs that sign the remote broker's
	// certificate (default: the system's roots).
	CAFile string `json:"ca_file"`
	// CertFile and KeyFile are the PEM certificate and key the bridge
	// presents, for remote brokers that require client certificates.
	CertFile string `json:"cert_file"`
	KeyFile  string `json:"key_file"`
	// ServerName is the name checked in the remote broker's certificate
	// (default: the address's host).
	ServerName string `json:"server_name"`
	// Insecure skips the check of the remote broker's certificate, which
	// lets anyone on the path read and change the bridged messages. For
	// tests only.
	Insecure bool `json:"insecure"`
}

// ErrConfig is wrapped by every error Validate returns.
var ErrConfig = errors.New("bridge: invalid configuration")

// Validate checks the configuration without touching the network or the
// file system.
func (c *Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %q: %s", ErrConfig, c.Name, fmt.Sprintf(format, args...))
	}
	if c.Name == "" || strings.ContainsAny(c.Name, "/+#") || codec.ValidTopicName(stateTopic(c.Name)) != nil {
		return bad("the name must be one topic level, without / + or #")
	}
	if len(c.Addresses) == 0 {
		return bad("no address")
	}
	for _, a := range c.Addresses {
		if _, err := remoteURL(a); err != nil {
			return bad("%v", err)
		}
	}
	if c.Version != 0 && !c.Version.Valid() {
		return bad("protocol version %d: use 4 (3.1.1) or 5 (5.0)", c.Version)
	}
	if len(c.Topics) == 0 {
		return bad("no topic rule")
	}
	for i, r := range c.Topics {
		if err := r.Validate(); err != nil {
			return bad("topic rule %d: %v", i+1, err)
		}
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return bad("a TLS certificate needs its key, and a key its certificate")
	}
	if c.MinBackoff < 0 || c.MaxBackoff < 0 || c.ConnectTimeout < 0 {
		return bad("negative backoff or timeout")
	}
	return nil
}

// remoteURL returns the URL of an address, adding mqtt:// to a bare
// host:port.
func remoteURL(addr string) (string, error) {
	if addr == "" {
		return "", errors.New("empty address")
	}
	if !strings.Contains(addr, "://") {
		addr = "mqtt://" + addr
	}
	scheme, rest, _ := strings.Cut(addr, "://")
	switch strings.ToLower(scheme) {
	case "mqtt", "tcp", "mqtts", "ssl", "tls", "ws", "wss":
	default:
		return "", fmt.Errorf("address %q: scheme %q: use mqtt://, mqtts://, ws:// or wss://", addr, scheme)
	}
	if rest == "" || strings.HasPrefix(rest, ":") || strings.HasPrefix(rest, "/") {
		return "", fmt.Errorf("address %q has no host", addr)
	}
	return addr, nil
}

// withDefaults returns a copy of c with its defaults filled in.
func (c Config) withDefaults() Config {
	if c.Version == 0 {
		c.Version = codec.V5
	}
	if c.ClientID == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "tern"
		}
		c.ClientID = host + "." + c.Name
	}
	if c.LocalClientID == "" {
		c.LocalClientID = "local." + c.ClientID
	}
	if c.LocalSessionExpiry == 0 {
		c.LocalSessionExpiry = 0xFFFFFFFF
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = 60
	}
	if c.MaxInflight == 0 {
		c.MaxInflight = 100
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = time.Second
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 30 * time.Second
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// tlsConfig reads the files of t into a tls.Config, or returns nil when
// t asks for nothing beyond the defaults.
func (t TLS) tlsConfig() (*tls.Config, error) {
	if t == (TLS{}) {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.Insecure}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("bridge: TLS CA: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("bridge: TLS CA: no PEM certificate in %s", t.CAFile)
		}
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("bridge: TLS certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// stateTopic is where a bridge publishes its state.
func stateTopic(name string) string { return "$SYS/broker/connection/" + name + "/state" }

// StateTopic is the topic on which the bridge named name publishes its
// state, retained, on the local broker: "1" connected, "0" not. $SYS
// topics stay on their node of a cluster.
func StateTopic(name string) string { return stateTopic(name) }
