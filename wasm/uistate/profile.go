package uistate

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/ternmq/tern/codec"
)

// DefaultMQTTPath is where Tern serves MQTT over WebSocket.
const DefaultMQTTPath = "/mqtt"

// Profile is a saved connection: where to connect and how. Profiles are
// kept in the browser's local storage and can be exported and imported as
// JSON.
type Profile struct {
	Name string `json:"name"`
	// URL is the ws:// or wss:// URL of the broker's WebSocket endpoint.
	URL string `json:"url"`
	// Version is the protocol level: 4 (MQTT 3.1.1) or 5 (MQTT 5.0).
	Version int `json:"version"`
	// ClientID is the client identifier; empty means a random one for each
	// browser tab, so that two tabs do not take over each other's session.
	ClientID string `json:"client_id,omitempty"`
	Username string `json:"username,omitempty"`
	// Password is kept (and exported) only when SavePassword is set.
	Password     string `json:"password,omitempty"`
	SavePassword bool   `json:"save_password,omitempty"`
	// Auth is how the password is used: AuthPassword (empty: sent in the
	// CONNECT) or AuthSCRAM (MQTT 5.0 enhanced authentication: the
	// password never leaves the browser).
	Auth       string `json:"auth,omitempty"`
	CleanStart bool   `json:"clean_start"`
	// SessionExpiry is the 5.0 Session Expiry Interval in seconds.
	SessionExpiry uint32 `json:"session_expiry,omitempty"`
	// KeepAlive in seconds; 0 turns keep-alive off.
	KeepAlive uint16 `json:"keep_alive"`
	Will      *Will  `json:"will,omitempty"`
	// Subscriptions are made when a connection with the profile is made:
	// a saved profile keeps those of the page it was saved from, and
	// loading it restores them.
	Subscriptions []SavedSub `json:"subscriptions,omitempty"`
}

// The authentication methods of a profile.
const (
	AuthPassword = ""              // the password goes in the CONNECT packet
	AuthSCRAM    = "scram-sha-256" // SCRAM-SHA-256 enhanced authentication (5.0)
)

// AuthMethods are the choices of the connection form: the value stored in
// Profile.Auth and its label.
var AuthMethods = [...][2]string{
	{AuthPassword, "Password"},
	{AuthSCRAM, "SCRAM-SHA-256"},
}

// SCRAM reports whether the profile logs in with SCRAM-SHA-256: the client
// then proves it knows the password without sending it, and the password
// must not be put in the CONNECT packet.
func (p *Profile) SCRAM() bool { return p.Auth == AuthSCRAM }

// Will is the Will Message of a profile.
type Will struct {
	Topic   string `json:"topic"`
	Payload string `json:"payload,omitempty"`
	QoS     byte   `json:"qos,omitempty"`
	Retain  bool   `json:"retain,omitempty"`
}

// DefaultProfile is the connection a fresh page offers: this broker's
// WebSocket endpoint, MQTT 5.0, a clean start and a 30 s keep-alive.
func DefaultProfile(pageURL, mqttPath string) Profile {
	return Profile{
		Name:       "This broker",
		URL:        DefaultURL(pageURL, mqttPath),
		Version:    5,
		CleanStart: true,
		KeepAlive:  30,
	}
}

// DefaultURL returns the WebSocket URL of the broker that served the page
// at pageURL: ws:// for an http:// page, wss:// for https://, the same host
// and always an explicit port, and the path mqttPath (DefaultMQTTPath when
// empty). An unusable pageURL gives ws://localhost:8080/mqtt.
func DefaultURL(pageURL, mqttPath string) string {
	if mqttPath == "" {
		mqttPath = DefaultMQTTPath
	}
	if !strings.HasPrefix(mqttPath, "/") {
		mqttPath = "/" + mqttPath
	}
	u, err := url.Parse(pageURL)
	if err != nil || u.Hostname() == "" {
		return "ws://localhost:8080" + mqttPath
	}
	scheme, port := "ws", "80"
	if u.Scheme == "https" {
		scheme, port = "wss", "443"
	}
	if p := u.Port(); p != "" {
		port = p
	}
	return scheme + "://" + net.JoinHostPort(u.Hostname(), port) + mqttPath
}

// Validate checks what the client would otherwise refuse later (the name
// is checked when the profile is saved).
func (p *Profile) Validate() error {
	u, err := url.Parse(p.URL)
	switch {
	case err != nil:
		return fmt.Errorf("bad URL: %w", err)
	case u.Scheme != "ws" && u.Scheme != "wss":
		return fmt.Errorf("URL %q: a browser connects with ws:// or wss:// only", p.URL)
	case u.Hostname() == "":
		return fmt.Errorf("URL %q has no host", p.URL)
	}
	if p.Version != 4 && p.Version != 5 {
		return fmt.Errorf("version %d: use 4 (MQTT 3.1.1) or 5 (MQTT 5.0)", p.Version)
	}
	switch p.Auth {
	case AuthPassword:
	case AuthSCRAM:
		if p.Version != 5 {
			return errors.New("SCRAM-SHA-256 needs MQTT 5.0 (enhanced authentication)")
		}
		if p.Username == "" {
			return errors.New("SCRAM-SHA-256 needs a user name")
		}
	default:
		return fmt.Errorf("authentication %q: use password or %s", p.Auth, AuthSCRAM)
	}
	if w := p.Will; w != nil {
		if err := codec.ValidTopicName(w.Topic); err != nil {
			return fmt.Errorf("will topic: %w", err)
		}
		if w.QoS > 2 {
			return fmt.Errorf("will QoS %d", w.QoS)
		}
	}
	return nil
}

// forStorage returns the profile as it is saved: without the password
// unless asked to keep it.
func (p Profile) forStorage() Profile {
	if !p.SavePassword {
		p.Password = ""
	}
	if p.Will != nil {
		w := *p.Will
		p.Will = &w
	}
	p.Subscriptions = append([]SavedSub(nil), p.Subscriptions...)
	return p
}

// Profiles is the list of saved profiles, in the order they were saved.
type Profiles struct {
	List []Profile `json:"profiles"`
}

// Save adds p, or replaces the profile of the same name.
func (ps *Profiles) Save(p Profile) error {
	if strings.TrimSpace(p.Name) == "" {
		return errors.New("the profile needs a name")
	}
	if err := p.Validate(); err != nil {
		return err
	}
	p = p.forStorage()
	for i := range ps.List {
		if ps.List[i].Name == p.Name {
			ps.List[i] = p
			return nil
		}
	}
	ps.List = append(ps.List, p)
	return nil
}

// Delete removes the profile called name.
func (ps *Profiles) Delete(name string) {
	for i := range ps.List {
		if ps.List[i].Name == name {
			ps.List = append(ps.List[:i], ps.List[i+1:]...)
			return
		}
	}
}

// Get returns the profile called name.
func (ps *Profiles) Get(name string) (Profile, bool) {
	for _, p := range ps.List {
		if p.Name == name {
			return p, true
		}
	}
	return Profile{}, false
}

// exportFormat tags exported profile files.
const exportFormat = "tern-profiles"

type exportFile struct {
	Format   string    `json:"format"`
	Version  int       `json:"version"`
	Profiles []Profile `json:"profiles"`
}

// Export returns the profiles as an indented JSON document; passwords are
// included only for profiles that save them.
func (ps *Profiles) Export() ([]byte, error) {
	f := exportFile{Format: exportFormat, Version: 1, Profiles: make([]Profile, len(ps.List))}
	for i, p := range ps.List {
		f.Profiles[i] = p.forStorage()
	}
	return json.MarshalIndent(f, "", "  ")
}

// Import reads profiles exported by Export (or a bare JSON array of
// profiles) and saves them, replacing profiles of the same name. Nothing
// is saved when any profile is invalid. It returns how many profiles it
// saved.
func (ps *Profiles) Import(data []byte) (int, error) {
	var list []Profile
	data = []byte(strings.TrimSpace(string(data)))
	if len(data) > 0 && data[0] == '[' {
		if err := json.Unmarshal(data, &list); err != nil {
			return 0, fmt.Errorf("not a list of profiles: %w", err)
		}
	} else {
		var f exportFile
		if err := json.Unmarshal(data, &f); err != nil {
			return 0, fmt.Errorf("not a profiles file: %w", err)
		}
		if f.Format != exportFormat {
			return 0, fmt.Errorf("not a profiles file (format %q, want %q)", f.Format, exportFormat)
		}
		list = f.Profiles
	}
	if len(list) == 0 {
		return 0, errors.New("the file holds no profiles")
	}
	for i := range list {
		if list[i].Version == 0 {
			list[i].Version = 5
		}
		if strings.TrimSpace(list[i].Name) == "" {
			return 0, fmt.Errorf("profile %d has no name", i+1)
		}
		if err := list[i].Validate(); err != nil {
			return 0, fmt.Errorf("profile %d (%q): %w", i+1, list[i].Name, err)
		}
	}
	for _, p := range list {
		ps.Save(p) // validated above
	}
	return len(list), nil
}

// RandomClientID returns a new client identifier such as
// "ternwebk3f9x2ab0q": letters and digits only and fewer than 24 of them,
// which every MQTT 3.1.1 server must accept [MQTT-3.1.3-5].
func RandomClientID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b [10]byte
	rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "ternweb" + string(b[:])
}
