package mosqconf

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The protocols of a listener.
const (
	MQTT       = "mqtt"
	WebSockets = "websockets"
)

// DefaultPort is the port of Mosquitto's default listener.
const DefaultPort = 1883

// Security is who may connect and what they may do: broker-wide, or one
// listener's with per_listener_settings true.
type Security struct {
	AllowAnonymous *bool // nil when not set
	PasswordFile   string
	ACLFile        string
}

// Listener is one of Mosquitto's listeners with its own settings.
type Listener struct {
	Port     int
	Host     string // "" listens on every interface
	Protocol string // MQTT or WebSockets
	// Default is the listener of the port and bind_address options (and of
	// listener options given before any listener line).
	Default bool
	// LocalOnly is the listener Mosquitto 2.0 opens when the file has no
	// listener at all: port 1883 on the loopback interface, anonymous
	// clients allowed.
	LocalOnly bool
	// Socket is the path of a Unix socket listener ("listener 0 PATH").
	Socket string

	CertFile, KeyFile, CAFile string
	RequireCertificate        bool
	MaxConnections            int // -1: no limit
	// MaxQoS is the listener's max_qos (or maximum_qos), 0 to 2; 2, the
	// default, supports every QoS.
	MaxQoS int

	// Security is the listener's own with per_listener_settings true.
	Security Security

	At Directive // the listener line, or the first line of the default listener
}

// Addr returns the listener's "host:port".
func (l *Listener) Addr() string { return net.JoinHostPort(l.Host, strconv.Itoa(l.Port)) }

// TLS reports whether the listener speaks TLS (it has a certfile).
func (l *Listener) TLS() bool { return l.CertFile != "" }

// Note is a directive with why Tern does not honour it.
type Note struct {
	Directive
	Why string
}

// String returns "name (file:line): why".
func (n Note) String() string {
	if n.Why == "" {
		return n.Directive.String()
	}
	return n.Directive.String() + ": " + n.Why
}

// Config is what a mosquitto.conf asks for, in Mosquitto's terms.
// Integer settings are nil when the file does not set them.
type Config struct {
	PerListenerSettings bool
	// Security is broker-wide (per_listener_settings false, the default).
	Security  Security
	Listeners []*Listener // in file order, the default listener first

	Persistence         bool
	PersistenceLocation string
	QueueQoS0Messages   bool
	// RetainAvailable is retain_available, nil when not set (true).
	RetainAvailable *bool

	MaxQueuedMessages   *int
	MaxInflightMessages *int
	MaxPacketSize       *int
	MessageSizeLimit    *int
	MaxKeepalive        *int
	SysInterval         *int

	// Unsupported lists, in file order, the options Tern does not
	// support: the caller names them all in one warning.
	Unsupported []Note
	// Refused lists the options that would change security in a way Tern
	// cannot honour: the caller must not start.
	Refused []Note

	at map[string]Directive // the last line of each option
}

// At returns the last line that set the option name (the zero Directive
// if none did).
func (c *Config) At(name string) Directive { return c.at[name] }

// Supported are the options Interpret maps, beside include_dir, which
// Load expands.
var Supported = []string{
	"acl_file", "allow_anonymous", "bind_address", "cafile", "certfile", "keyfile", "listener",
	"max_connections", "max_inflight_messages", "max_keepalive", "max_packet_size", "max_qos", "max_queued_messages",
	"maximum_qos", "message_size_limit", "password_file", "per_listener_settings", "persistence", "persistence_location",
	"port", "protocol", "queue_qos0_messages", "require_certificate", "retain_available", "sys_interval",
}

// Refusals are the options that change who may connect or what they may
// do, with what each does: Tern cannot honour them, so a file that sets
// them must not run with the option left out. Names ending in '_' are
// prefixes (plugin_opt_*, auth_opt_*).
var Refusals = map[string]string{
	"use_identity_as_username": "takes the username from the client certificate",
	"use_subject_as_username":  "takes the username from the client certificate's subject",
	"use_username_as_clientid": "replaces each client id by its username",
	"psk_file":                 "pre-shared-key TLS users",
	"psk_hint":                 "pre-shared-key TLS",
	"auth_plugin":              "an authentication and authorization plugin",
	"plugin":                   "an authentication and authorization plugin",
	"plugin_opt_":              "an option of a plugin",
	"auth_opt_":                "an option of an authentication plugin",
	"capath":                   "client certificates checked against a directory of CAs (Tern reads cafile only)",
	"crlfile":                  "revoked client certificates",
	"ciphers":                  "restricts the TLS 1.2 cipher suites",
	"ciphers_tls1.3":           "restricts the TLS 1.3 cipher suites",
	"mount_point":              "confines a listener's clients below a topic prefix",
	"check_retain_source":      "checks retained messages against the ACL of the client that set them",
}

// refusal returns why the option is refused, or "".
func refusal(d Directive) string {
	if why, ok := Refusals[d.Name]; ok {
		if d.Name == "check_retain_source" && d.Value != "true" {
			return ""
		}
		return why
	}
	for name, why := range Refusals {
		if strings.HasSuffix(name, "_") && strings.HasPrefix(d.Name, name) {
			return why
		}
	}
	// tls_version is Mosquitto's minimum; Tern's is TLS 1.2, so only a
	// TLS 1.3 minimum would be weakened (a lower one is Unsupported).
	if d.Name == "tls_version" && d.Value == "tlsv1.3" {
		return "TLS 1.3 only (Tern also accepts TLS 1.2)"
	}
	return ""
}

// interpreter holds the state of one pass over the directives.
type interpreter struct {
	c   *Config
	def *Listener // the default listener, once an option made it exist
	cur *Listener // the listener of the last listener line
}

// Interpret builds the Config that the directives describe, as
// Mosquitto 2.0 would: options of a listener apply to the last listener
// line (before any, to the default listener of port and bind_address);
// allow_anonymous, password_file and acl_file are broker-wide unless
// per_listener_settings is true, which must come before them.
func Interpret(ds []Directive) (*Config, error) {
	in := &interpreter{c: &Config{at: map[string]Directive{}}}
	for _, d := range ds {
		if d.Name == "per_listener_settings" {
			v, err := boolArg(d)
			if err != nil {
				return nil, err
			}
			in.c.PerListenerSettings = v
		}
	}
	for _, d := range ds {
		in.c.at[d.Name] = d
		if why := refusal(d); why != "" {
			in.c.Refused = append(in.c.Refused, Note{d, why})
			continue
		}
		if err := in.apply(d); err != nil {
			return nil, err
		}
	}
	return in.finish()
}

// apply interprets one directive.
func (in *interpreter) apply(d Directive) error {
	c := in.c
	var err error
	switch d.Name {
	case "per_listener_settings":
	case "listener":
		err = in.listener(d)
	case "port", "bind_address": // the default listener's, wherever they are
		l := in.defaultListener(d)
		if d.Name == "port" {
			l.Port, err = intArg(d, 1, 65535)
		} else {
			l.Host, err = stringArg(d)
		}
	case "protocol", "certfile", "keyfile", "cafile", "require_certificate", "max_connections", "max_qos", "maximum_qos":
		err = in.listenerOption(d, in.listenerFor(d))
	case "allow_anonymous", "password_file", "acl_file":
		sec := &c.Security
		if c.PerListenerSettings {
			l := in.cur
			if l == nil {
				l = in.defaultListener(d)
			}
			sec = &l.Security
		}
		err = securityOption(d, sec)
	case "persistence":
		c.Persistence, err = boolArg(d)
	case "persistence_location":
		c.PersistenceLocation, err = stringArg(d)
	case "queue_qos0_messages":
		c.QueueQoS0Messages, err = boolArg(d)
	case "retain_available":
		var v bool
		v, err = boolArg(d)
		c.RetainAvailable = &v
	case "max_queued_messages":
		c.MaxQueuedMessages, err = intPtr(d, 0, 1<<31-1)
	case "max_inflight_messages":
		c.MaxInflightMessages, err = intPtr(d, 0, 65535)
	case "max_packet_size":
		c.MaxPacketSize, err = intPtr(d, 0, 268435455)
	case "message_size_limit":
		c.MessageSizeLimit, err = intPtr(d, 0, 268435455)
	case "max_keepalive":
		c.MaxKeepalive, err = intPtr(d, 0, 65535)
	case "sys_interval":
		c.SysInterval, err = intPtr(d, 0, 1<<31-1)
	default:
		c.Unsupported = append(c.Unsupported, Note{Directive: d})
	}
	return err
}

// listenerFor returns the listener a listener option applies to.
func (in *interpreter) listenerFor(d Directive) *Listener {
	if in.cur != nil {
		return in.cur
	}
	return in.defaultListener(d)
}

// defaultListener returns the default listener, which the first option
// that applies to it creates.
func (in *interpreter) defaultListener(d Directive) *Listener {
	if in.def == nil {
		in.def = &Listener{Port: DefaultPort, Protocol: MQTT, Default: true, MaxConnections: -1, MaxQoS: 2, At: d}
	}
	return in.def
}

// listener starts a listener: "listener PORT [ADDRESS]", or a Unix socket
// with port 0 and a path.
func (in *interpreter) listener(d Directive) error {
	args := d.Args()
	if len(args) < 1 || len(args) > 2 {
		return errAt(d, "listener needs a port and at most an address")
	}
	port, err := strconv.Atoi(args[0])
	if err != nil || port < 0 || port > 65535 {
		return errAt(d, "listener port %q is not a number from 0 to 65535", args[0])
	}
	l := &Listener{Port: port, Protocol: MQTT, MaxConnections: -1, MaxQoS: 2, At: d}
	if len(args) == 2 {
		l.Host = args[1]
	}
	if port == 0 {
		if l.Host == "" {
			return errAt(d, "listener 0 needs the path of a Unix socket")
		}
		l.Socket, l.Host = l.Host, ""
	}
	in.cur = l
	in.c.Listeners = append(in.c.Listeners, l)
	return nil
}

// listenerOption applies an option of one listener.
func (in *interpreter) listenerOption(d Directive, l *Listener) error {
	var err error
	switch d.Name {
	case "protocol":
		l.Protocol, err = stringArg(d)
		if err == nil && l.Protocol != MQTT && l.Protocol != WebSockets {
			err = errAt(d, "protocol %q is neither mqtt nor websockets", l.Protocol)
		}
	case "certfile":
		l.CertFile, err = stringArg(d)
	case "keyfile":
		l.KeyFile, err = stringArg(d)
	case "cafile":
		l.CAFile, err = stringArg(d)
	case "require_certificate":
		l.RequireCertificate, err = boolArg(d)
	case "max_connections":
		l.MaxConnections, err = intArg(d, -1, 1<<31-1)
	case "max_qos", "maximum_qos": // Mosquitto reads both names
		l.MaxQoS, err = intArg(d, 0, 2)
	}
	return err
}

func securityOption(d Directive, s *Security) error {
	var err error
	switch d.Name {
	case "allow_anonymous":
		var v bool
		v, err = boolArg(d)
		s.AllowAnonymous = &v
	case "password_file":
		s.PasswordFile, err = stringArg(d)
	case "acl_file":
		s.ACLFile, err = stringArg(d)
	}
	return err
}

// finish adds the default listener in front, or Mosquitto 2.0's
// local-only listener when the file configures none.
func (in *interpreter) finish() (*Config, error) {
	c := in.c
	if in.def != nil {
		c.Listeners = slices.Insert(c.Listeners, 0, in.def)
	}
	if len(c.Listeners) == 0 {
		c.Listeners = []*Listener{{Port: DefaultPort, Host: "127.0.0.1", Protocol: MQTT, Default: true, LocalOnly: true, MaxConnections: -1, MaxQoS: 2}}
	}
	for _, l := range c.Listeners {
		if (l.CertFile == "") != (l.KeyFile == "") {
			return nil, errAt(l.At, "listener on %s: certfile and keyfile go together", l.Addr())
		}
		if l.RequireCertificate && l.CAFile == "" && l.CertFile != "" {
			return nil, errAt(l.At, "listener on %s: require_certificate needs cafile", l.Addr())
		}
	}
	return c, nil
}

func stringArg(d Directive) (string, error) {
	if d.Value == "" {
		return "", errAt(d, "%s needs a value", d.Name)
	}
	return d.Value, nil
}

func boolArg(d Directive) (bool, error) {
	switch d.Value {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, errAt(d, "%s must be true or false, not %q", d.Name, d.Value)
}

func intArg(d Directive, lo, hi int) (int, error) {
	v, err := strconv.Atoi(d.Value)
	if err != nil || v < lo || v > hi {
		return 0, errAt(d, "%s must be a whole number from %d to %d, not %q", d.Name, lo, hi, d.Value)
	}
	return v, nil
}

func intPtr(d Directive, lo, hi int) (*int, error) {
	v, err := intArg(d, lo, hi)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// Load reads the configuration file at path and the files of its
// include_dir lines (the *.conf files of each directory in alphabetical
// order, at the point of the include_dir line, as Mosquitto 2.0 does; an
// included file may not include again), and interprets them.
func Load(path string) (*Config, error) {
	ds, err := readFile(path, true)
	if err != nil {
		return nil, err
	}
	return Interpret(ds)
}

// readFile parses one file and expands its include_dir lines.
func readFile(path string, top bool) ([]Directive, error) {
	data, err := readLimited(path)
	if err != nil {
		return nil, &Error{File: path, Msg: "cannot read", Err: err}
	}
	ds, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	var out []Directive
	for _, d := range ds {
		if d.Name != "include_dir" {
			out = append(out, d)
			continue
		}
		if !top {
			return nil, errAt(d, "include_dir in an included file")
		}
		dir, err := stringArg(d)
		if err != nil {
			return nil, err
		}
		files, err := filepath.Glob(filepath.Join(dir, "*.conf"))
		if err != nil {
			return nil, errAt(d, "include_dir %s: %v", dir, err)
		}
		if _, err := os.Stat(dir); err != nil {
			return nil, &Error{File: d.File, Line: d.Line, Msg: "include_dir", Err: err}
		}
		slices.Sort(files)
		for _, f := range files {
			inc, err := readFile(f, false)
			if err != nil {
				return nil, err
			}
			out = append(out, inc...)
		}
	}
	return out, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > MaxFileSize {
		return nil, fmt.Errorf("larger than %d bytes", MaxFileSize)
	}
	b := make([]byte, fi.Size())
	_, err = io.ReadFull(f, b)
	return b, err
}
