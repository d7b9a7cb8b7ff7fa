package main

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ternmq/tern/broker/bridge"
	"github.com/ternmq/tern/cmd/tern/internal/mosqconf"
	"github.com/ternmq/tern/codec"
)

// messageOverhead is what --mosquitto-conf adds to message_size_limit,
// which bounds a payload, to bound whole packets as Tern does: room for
// a topic and properties of up to 1 KiB.
const messageOverhead = 1024

// applyMosquitto reads a mosquitto.conf and sets the configuration from
// it, as Mosquitto 2.0 would run it (mosqconf reads the file):
//
//   - its listeners replace --mqtt, --mqtts and --http: Tern serves one
//     listener of each kind, MQTT over TCP, MQTT over TLS and WebSocket
//     (protocol websockets, at /mqtt beside the web client), so a file
//     with two of one kind is refused; the TLS listeners share one
//     certificate, key and client CA (require_certificate);
//   - allow_anonymous, password_file and acl_file, for every listener
//     (per_listener_settings true is accepted while the listeners agree);
//   - persistence true keeps the durable store in tern-data inside
//     persistence_location (Tern does not read mosquitto.db), false or
//     unset runs in memory, as Mosquitto does by default;
//   - the limits it names; options the file does not set keep Tern's
//     defaults, not Mosquitto's;
//   - max_qos (per listener in Mosquitto: the lowest of the listeners
//     Tern serves applies to all) and retain_available.
//
// Options that change security and that Tern cannot honour are an error:
// the broker would be more open than the file says. Every other option
// Tern does not support is kept for the one warning of warnMosquitto.
func (c *config) applyMosquitto(path string) error {
	mc, err := mosqconf.Load(path)
	if err != nil {
		return fmt.Errorf("mosquitto-conf: %w", err)
	}
	if len(mc.Refused) > 0 {
		return fmt.Errorf("mosquitto-conf %s sets options that change security, which Tern cannot honour, so it does not start: %s",
			path, joinNotes(mc.Refused))
	}
	// Bridge sections go to broker/bridge, which reads Mosquitto's bridge
	// options; the reader itself leaves them unsupported.
	var notes []mosqconf.Note
	var bridgeLines []bridge.ConfLine
	for _, n := range mc.Unsupported {
		if bridge.IsMosquittoOption(n.Name) {
			bridgeLines = append(bridgeLines, bridge.ConfLine{Name: n.Name, Args: n.Args(), File: n.File, Line: n.Line})
			continue
		}
		notes = append(notes, n)
	}
	bridges, err := bridge.FromMosquitto(bridgeLines)
	if err != nil {
		return fmt.Errorf("mosquitto-conf: %w", err)
	}
	c.Bridges = append(c.Bridges, bridges...)
	c.mosquittoFile = path
	c.MQTT, c.MQTTS, c.HTTP = "", "", ""
	sec, local, n, err := c.mosquittoListeners(mc)
	if err != nil {
		return fmt.Errorf("mosquitto-conf: %w", err)
	}
	notes = append(notes, n...)
	if err := c.mosquittoSecurity(sec, local); err != nil {
		return fmt.Errorf("mosquitto-conf: %w", err)
	}
	c.Data = "" // in memory, unless --data on the command line says otherwise
	if mc.Persistence {
		c.Data = filepath.Join(mc.PersistenceLocation, "tern-data")
	}
	notes = append(notes, c.mosquittoLimits(mc)...)
	for _, n := range notes {
		c.mosquittoNote = append(c.mosquittoNote, n.String())
	}
	return nil
}

// mosquittoListeners sets the listen addresses and TLS files, and returns
// the security of the listeners, whether the file has only Mosquitto's
// local-only listener, and notes about what is not honoured.
func (c *config) mosquittoListeners(mc *mosqconf.Config) (mosqconf.Security, bool, []mosqconf.Note, error) {
	var notes []mosqconf.Note
	var tlsL, secL *mosqconf.Listener
	sec := mc.Security
	local := true
	var limits []int
	for _, l := range mc.Listeners {
		if l.Socket != "" {
			notes = append(notes, mosqconf.Note{Directive: l.At, Why: "Unix socket listeners are not supported"})
			continue
		}
		local = local && l.LocalOnly
		slot, kind := &c.MQTT, "MQTT over TCP"
		switch {
		case l.Protocol == mosqconf.WebSockets:
			slot, kind = &c.HTTP, "WebSocket"
			c.HTTPPlain = !l.TLS()
		case l.TLS():
			slot, kind = &c.MQTTS, "MQTT over TLS"
		}
		if *slot != "" {
			return sec, false, nil, fmt.Errorf("%s: a second %s listener (%s and %s): Tern serves one listener of each kind", l.At.Pos(), kind, *slot, l.Addr())
		}
		*slot = l.Addr()
		if l.TLS() {
			if tlsL != nil && (tlsL.CertFile != l.CertFile || tlsL.KeyFile != l.KeyFile || tlsL.RequireCertificate != l.RequireCertificate ||
				(l.RequireCertificate && tlsL.CAFile != l.CAFile)) {
				return sec, false, nil, fmt.Errorf("%s: the TLS listeners on %s and %s differ in certfile, keyfile, cafile or require_certificate: Tern's TLS listeners share them",
					l.At.Pos(), tlsL.Addr(), l.Addr())
			}
			tlsL = l
			c.TLSCert, c.TLSKey = l.CertFile, l.KeyFile
			if l.RequireCertificate {
				c.TLSClientCA = l.CAFile
			}
		}
		if mc.PerListenerSettings {
			if secL != nil && !sameSecurity(secL.Security, l.Security) {
				return sec, false, nil, fmt.Errorf("%s: per_listener_settings true with allow_anonymous, password_file or acl_file different from the listener on %s: Tern applies one set to every listener",
					l.At.Pos(), secL.Addr())
			}
			secL, sec = l, l.Security
		}
		limits = append(limits, l.MaxConnections)
	}
	if c.MQTT == "" && c.MQTTS == "" && c.HTTP == "" {
		return sec, false, nil, errors.New("no listener Tern can serve")
	}
	notes = append(notes, c.mosquittoMaxConnections(mc, limits)...)
	notes = append(notes, c.mosquittoMaxQoS(mc)...)
	return sec, local, notes, nil
}

// mosquittoMaxConnections maps max_connections, which Mosquitto counts per
// listener and Tern for the whole broker: exact with one listener, the sum
// of the limits with several (noted).
func (c *config) mosquittoMaxConnections(mc *mosqconf.Config, limits []int) []mosqconf.Note {
	sum, limited := 0, 0
	for _, n := range limits {
		if n >= 0 {
			sum += n
			limited++
		}
	}
	if limited == 0 {
		return nil
	}
	var at mosqconf.Directive
	for _, l := range mc.Listeners {
		if l.MaxConnections >= 0 {
			at = l.At
			break
		}
	}
	switch {
	case len(limits) == 1:
		c.MaxConnections = max(sum, 1) // Mosquitto's 0 refuses every client; Tern's means none
		if sum == 0 {
			return []mosqconf.Note{{Directive: at, Why: "max_connections 0 refuses every client in Mosquitto; Tern allows one"}}
		}
		return nil
	case limited == len(limits):
		c.MaxConnections = max(sum, 1)
		return []mosqconf.Note{{Directive: at, Why: fmt.Sprintf("max_connections is per listener; Tern caps all listeners together at %d", c.MaxConnections)}}
	}
	return []mosqconf.Note{{Directive: at, Why: "max_connections is per listener, and another listener has no limit; Tern sets none"}}
}

// mosquittoMaxQoS maps max_qos, which Mosquitto sets per listener and
// Tern for the whole broker: with listeners that differ, the lowest
// applies to all (noted), so that no client may publish above what its
// listener allowed.
func (c *config) mosquittoMaxQoS(mc *mosqconf.Config) []mosqconf.Note {
	var low *mosqconf.Listener
	differ := false
	for _, l := range mc.Listeners {
		if l.Socket != "" { // not served
			continue
		}
		if low != nil && l.MaxQoS != low.MaxQoS {
			differ = true
		}
		if low == nil || l.MaxQoS < low.MaxQoS {
			low = l
		}
	}
	if low == nil {
		return nil
	}
	if low.MaxQoS < 2 {
		c.MaxQoS = new(low.MaxQoS)
	}
	if differ {
		at := mc.At("max_qos")
		if at.Name == "" {
			at = mc.At("maximum_qos")
		}
		return []mosqconf.Note{{Directive: at, Why: fmt.Sprintf("max_qos is per listener, and the listeners differ; Tern applies the lowest, %d, to every listener", low.MaxQoS)}}
	}
	return nil
}

func sameSecurity(a, b mosqconf.Security) bool {
	return a.PasswordFile == b.PasswordFile && a.ACLFile == b.ACLFile &&
		(a.AllowAnonymous == nil) == (b.AllowAnonymous == nil) &&
		(a.AllowAnonymous == nil || *a.AllowAnonymous == *b.AllowAnonymous)
}

// mosquittoSecurity sets the password and ACL files and anonymous access.
// Mosquitto 2.0 refuses anonymous clients unless allow_anonymous is true,
// except on its local-only listener (a file without listeners).
func (c *config) mosquittoSecurity(sec mosqconf.Security, localOnly bool) error {
	anon := localOnly
	if sec.AllowAnonymous != nil {
		anon = *sec.AllowAnonymous
	}
	if !anon && sec.PasswordFile == "" {
		return errors.New("allow_anonymous is false (the default once listeners are configured) and there is no password_file: " +
			"Mosquitto would refuse every client; set password_file, or allow_anonymous true")
	}
	c.AllowAnonymous = anon
	c.PasswordFile, c.ACLFile = sec.PasswordFile, sec.ACLFile
	return nil
}

// mosquittoLimits maps the limits and returns notes about the values Tern
// cannot take as they are.
func (c *config) mosquittoLimits(mc *mosqconf.Config) []mosqconf.Note {
	var notes []mosqconf.Note
	if v := mc.MaxQueuedMessages; v != nil {
		if *v > 0 {
			c.MaxQueued = *v
		} else {
			notes = append(notes, mosqconf.Note{Directive: mc.At("max_queued_messages"), Why: fmt.Sprintf("0 (no limit) is not supported; Tern keeps its bound of %d", c.MaxQueued)})
		}
	}
	if v := mc.MaxInflightMessages; v != nil {
		c.MaxInflight = *v
		if *v == 0 { // no limit: the most a Receive Maximum allows
			c.MaxInflight = 65535
		}
	}
	if v := mc.MaxPacketSize; v != nil {
		c.MaxPacketSize = *v
		if *v == 0 {
			c.MaxPacketSize = codec.MaxPacketSize
		}
	}
	if v := mc.MessageSizeLimit; v != nil && *v > 0 {
		limit := min(*v+messageOverhead, codec.MaxPacketSize)
		if mc.MaxPacketSize == nil || limit < c.MaxPacketSize {
			c.MaxPacketSize = limit
		}
	}
	if v := mc.MaxKeepalive; v != nil {
		c.MaxKeepAlive = uint(*v)
	}
	c.QueueQoS0 = mc.QueueQoS0Messages
	if v := mc.RetainAvailable; v != nil {
		c.RetainAvailable = v
	}
	if v := mc.SysInterval; v != nil {
		c.SysInterval = strconv.Itoa(*v) + "s" // Mosquitto's 0 turns $SYS off, as --sys-interval 0 does
	}
	return notes
}

// warnMosquitto logs, in one warning, every option of the mosquitto.conf
// that has no effect.
func (c *config) warnMosquitto(log *slog.Logger) {
	if c.mosquittoFile == "" {
		return
	}
	if len(c.mosquittoNote) > 0 {
		log.Warn("mosquitto.conf: these options are not supported and have no effect",
			"file", c.mosquittoFile, "count", len(c.mosquittoNote), "options", strings.Join(c.mosquittoNote, "; "))
	}
	log.Info("mosquitto.conf read", "file", c.mosquittoFile, "mqtt", c.MQTT, "mqtts", c.MQTTS, "websocket", c.HTTP,
		"password_file", c.PasswordFile, "acl_file", c.ACLFile, "anonymous", c.AllowAnonymous, "data", c.Data)
}

func joinNotes(ns []mosqconf.Note) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = n.String()
	}
	return strings.Join(s, "; ")
}
