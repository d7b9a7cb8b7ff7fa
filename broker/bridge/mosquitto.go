package bridge

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/ternmq/tern/codec"
)

// ConfLine is one option line of a mosquitto.conf, already split into
// words: the option's name, its arguments, and where it was read (for
// error messages).
type ConfLine struct {
	Name string
	Args []string
	File string
	Line int
}

func (l ConfLine) String() string { return fmt.Sprintf("%s:%d: %s", l.File, l.Line, l.Name) }

// IsMosquittoOption reports whether name is one of Mosquitto's bridge
// options, which belong to the bridge section opened by the last
// "connection" line before them. A mosquitto.conf reader hands those
// lines (the "connection" lines included) to FromMosquitto, in order.
func IsMosquittoOption(name string) bool {
	_, ok := mosquittoOptions[name]
	return ok
}

// FromMosquitto returns the bridges of a mosquitto.conf: lines are its
// bridge option lines (see IsMosquittoOption) in file order after
// includes are merged. Each "connection NAME" line starts a bridge. Lines
// that are not bridge options are skipped, so a reader may also pass
// every line. The result is what Mosquitto 2.0 would run, with these
// differences: addresses may also be URLs (ws://host:port/mqtt,
// wss://...), which Mosquitto does not know; a 5.0 bridge with
// cleansession false asks the remote broker to keep its session
// (Session Expiry Interval 0xFFFFFFFF), where Mosquitto sends none; the
// bridge's local session is always persistent; and the state topic is
// $SYS/broker/connection/<connection name>/state on the local broker only,
// where Mosquitto names it by the remote client id and also publishes it
// (with a will) on the remote broker. An option Tern does
// not implement, or an option value that asks for behaviour Tern does not
// have, is an error naming its line, never silently ignored; options
// that change nothing in Tern (bridge_attempt_unsubscribe, idle_timeout,
// threshold, round_robin, start_type automatic) are accepted.
func FromMosquitto(lines []ConfLine) ([]Config, error) {
	var (
		out  []Config
		cur  *Config
		at   ConfLine // cur's connection line
		tls  bool     // a TLS option was given for cur
		seen = map[string]bool{}
	)
	finish := func() error {
		if cur == nil {
			return nil
		}
		for i, a := range cur.Addresses {
			if !strings.Contains(a, "://") {
				scheme := "mqtt://"
				if tls {
					scheme = "mqtts://"
				}
				cur.Addresses[i] = scheme + a
			}
		}
		if cur.Version == codec.V5 && !cur.CleanStart {
			cur.SessionExpiry = 0xFFFFFFFF
		}
		if err := cur.Validate(); err != nil {
			return fmt.Errorf("%v %s: %w", at, cur.Name, err)
		}
		out = append(out, *cur)
		return nil
	}
	for _, l := range lines {
		opt, ok := mosquittoOptions[l.Name]
		if !ok {
			continue
		}
		if l.Name == "connection" {
			if len(l.Args) != 1 {
				return nil, fmt.Errorf("%v: want one name", l)
			}
			if seen[l.Args[0]] {
				return nil, fmt.Errorf("%v: a second bridge named %q", l, l.Args[0])
			}
			if err := finish(); err != nil {
				return nil, err
			}
			seen[l.Args[0]] = true
			cur, at, tls = &Config{Name: l.Args[0], Version: codec.V311}, l, false
			continue
		}
		if cur == nil {
			return nil, fmt.Errorf("%v: a bridge option before any \"connection\" line", l)
		}
		if opt.tls {
			tls = true
		}
		if err := opt.set(cur, l.Args); err != nil {
			return nil, fmt.Errorf("%v: %w", l, err)
		}
	}
	if err := finish(); err != nil {
		return nil, err
	}
	return out, nil
}

// mosquittoOption maps one Mosquitto bridge option onto a Config.
type mosquittoOption struct {
	set func(c *Config, args []string) error
	tls bool // the option turns TLS on for bare addresses
}

func str(f func(*Config) *string) mosquittoOption {
	return mosquittoOption{set: func(c *Config, args []string) error {
		if len(args) == 0 {
			return fmt.Errorf("no value")
		}
		*f(c) = strings.Join(args, " ") // Mosquitto takes the rest of the line
		return nil
	}}
}

func boolOpt(f func(*Config, bool) error) mosquittoOption {
	return mosquittoOption{set: func(c *Config, args []string) error {
		if len(args) != 1 || (args[0] != "true" && args[0] != "false") {
			return fmt.Errorf("want true or false")
		}
		return f(c, args[0] == "true")
	}}
}

// only accepts the one value of an option that Tern behaves as.
func only(want string) mosquittoOption {
	return mosquittoOption{set: func(c *Config, args []string) error {
		if len(args) != 1 || args[0] != want {
			return fmt.Errorf("only %q is supported", want)
		}
		return nil
	}}
}

func unsupported(why string) mosquittoOption {
	return mosquittoOption{set: func(*Config, []string) error { return fmt.Errorf("not supported: %s", why) }}
}

var accepted = mosquittoOption{set: func(*Config, []string) error { return nil }}

var mosquittoOptions = map[string]mosquittoOption{
	"connection":      {}, // handled by FromMosquitto
	"address":         {set: setAddresses},
	"addresses":       {set: setAddresses},
	"topic":           {set: addTopic},
	"remote_clientid": str(func(c *Config) *string { return &c.ClientID }),
	"clientid":        str(func(c *Config) *string { return &c.ClientID }),
	"remote_username": str(func(c *Config) *string { return &c.Username }),
	"username":        str(func(c *Config) *string { return &c.Username }),
	"remote_password": str(func(c *Config) *string { return &c.Password }),
	"password":        str(func(c *Config) *string { return &c.Password }),
	"local_clientid":  str(func(c *Config) *string { return &c.LocalClientID }),
	"local_username":  str(func(c *Config) *string { return &c.LocalUsername }),
	"local_password":  str(func(c *Config) *string { return &c.LocalPassword }),
	"bridge_cafile":   {set: str(func(c *Config) *string { return &c.TLS.CAFile }).set, tls: true},
	"bridge_certfile": {set: str(func(c *Config) *string { return &c.TLS.CertFile }).set, tls: true},
	"bridge_keyfile":  {set: str(func(c *Config) *string { return &c.TLS.KeyFile }).set, tls: true},
	"bridge_insecure": boolOpt(func(c *Config, v bool) error { c.TLS.Insecure = v; return nil }),
	"cleansession":    boolOpt(func(c *Config, v bool) error { c.CleanStart = v; return nil }),
	"try_private":     boolOpt(func(c *Config, v bool) error { c.NoTryPrivate = !v; return nil }),
	"local_cleansession": boolOpt(func(c *Config, v bool) error {
		if v {
			return fmt.Errorf("not supported: the bridge's local session is always persistent")
		}
		return nil
	}),
	"bridge_protocol_version": {set: func(c *Config, args []string) error {
		switch strings.Join(args, " ") {
		case "mqttv311":
			c.Version = codec.V311
		case "mqttv50":
			c.Version = codec.V5
		default:
			return fmt.Errorf("want mqttv311 or mqttv50 (Tern does not speak MQTT 3.1)")
		}
		return nil
	}},
	"keepalive_interval": {set: func(c *Config, args []string) error {
		n, err := seconds(args, 5, 65535)
		c.KeepAlive = uint16(n)
		return err
	}},
	"restart_timeout": {set: func(c *Config, args []string) error {
		if len(args) != 1 && len(args) != 2 {
			return fmt.Errorf("want a time, or a base and a cap, in seconds")
		}
		lo, err := seconds(args[:1], 1, 1<<20)
		hi := lo
		if err == nil && len(args) == 2 {
			hi, err = seconds(args[1:], lo, 1<<20)
		}
		c.MinBackoff, c.MaxBackoff = time.Duration(lo)*time.Second, time.Duration(hi)*time.Second
		return err
	}},
	"notifications":              only("true"),
	"notifications_local_only":   only("true"),
	"start_type":                 only("automatic"),
	"bridge_outgoing_retain":     only("true"),
	"bridge_attempt_unsubscribe": accepted,
	"round_robin":                accepted, // Tern stays on the address that works
	"idle_timeout":               accepted, // for start_type lazy
	"threshold":                  accepted, // for start_type lazy
	"bridge_tls_version":         accepted, // Tern uses TLS 1.2 or 1.3
	"notification_topic":         unsupported("the state is on $SYS/broker/connection/<name>/state"),
	"bridge_capath":              unsupported("use bridge_cafile"),
	"bridge_alpn":                unsupported("ALPN"),
	"bridge_identity":            unsupported("TLS-PSK"),
	"bridge_psk":                 unsupported("TLS-PSK"),
	"bridge_require_ocsp":        unsupported("OCSP"),
	"bridge_bind_address":        unsupported("a local bind address"),
	"bridge_max_packet_size":     unsupported("a maximum packet size for bridges"),
}

// setAddresses takes host[:port] words (port 1883 by default; an IPv6
// address needs brackets and a port) or URLs.
func setAddresses(c *Config, args []string) error {
	if len(c.Addresses) > 0 {
		return fmt.Errorf("a second address line")
	}
	if len(args) == 0 {
		return fmt.Errorf("no address")
	}
	for _, a := range args {
		if !strings.Contains(a, "://") {
			if _, _, err := net.SplitHostPort(a); err != nil {
				a = net.JoinHostPort(a, "1883")
			}
		}
		c.Addresses = append(c.Addresses, a)
	}
	return nil
}

func addTopic(c *Config, args []string) error {
	r, err := ParseRuleWords(args)
	if err != nil {
		return err
	}
	c.Topics = append(c.Topics, r)
	return nil
}

// seconds parses one whole number between lo and hi.
func seconds(args []string, lo, hi int) (int, error) {
	if len(args) != 1 {
		return 0, fmt.Errorf("want one number")
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%q: want a number from %d to %d", args[0], lo, hi)
	}
	return n, nil
}
