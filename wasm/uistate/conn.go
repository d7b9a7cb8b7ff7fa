package uistate

import (
	"net/url"
	"strings"
	"time"

	"github.com/ternmq/tern/codec"
)

// ConnState is the state of the page's connection to the broker.
type ConnState uint8

// The connection states.
const (
	Disconnected ConnState = iota
	Connecting
	Connected
	Reconnecting // the connection was lost; the client retries on its own
	Failed       // the connection could not be made (see Conn.Hints)
)

var connStateNames = [...]string{"Disconnected", "Connecting", "Connected", "Reconnecting", "Failed"}

// String returns the state as the status indicator shows it.
func (s ConnState) String() string {
	if int(s) < len(connStateNames) {
		return connStateNames[s]
	}
	return "Unknown"
}

// Live reports whether a client exists in this state (it can be asked to
// disconnect).
func (s ConnState) Live() bool { return s == Connecting || s == Connected || s == Reconnecting }

// Server is what the broker said in its CONNACK.
type Server struct {
	Version           int // 4 or 5
	SessionPresent    bool
	ClientID          string // the id in use (assigned by a 5.0 server when asked)
	AssignedID        bool
	KeepAlive         uint16 // seconds, as the server set it (5.0) or as asked
	ReceiveMaximum    uint16
	MaximumQoS        byte
	RetainAvailable   bool
	MaximumPacketSize uint32
	TopicAliasMaximum uint16
	SessionExpiry     uint32
	ResponseInfo      string
	ServerReference   string
	ReasonString      string
}

// Failure describes why a connection could not be made or was lost.
type Failure struct {
	// Dial is set when no MQTT conversation started: the WebSocket could
	// not be opened (the browser does not say why).
	Dial bool
	// Code is the server's reason code when it refused the connection
	// (CONNACK) or ended it (DISCONNECT); 0 otherwise.
	Code codec.ReasonCode
	// Timeout is set when the attempt ran out of time.
	Timeout bool
	// Text is the error message.
	Text string
	// ServerReference is a 5.0 Server Reference to try instead.
	ServerReference string
	// ServerNotAuthenticated is set when a SCRAM login was accepted by a
	// server that did not prove it holds the user's credentials.
	ServerNotAuthenticated bool
}

// Conn is the connection status the UI shows.
type Conn struct {
	State      ConnState
	URL        string    // the URL dialled, shown in full
	ClientID   string    // the client id asked for
	Since      time.Time // when State was entered
	Failure    *Failure  // the last failure, kept while Reconnecting or Failed
	Hints      []string  // what to check after a failure
	Server     *Server   // the last CONNACK, while connected
	Reconnects int       // automatic reconnects since the connection was made
}

// ConnEvent is a change of the connection, reported by the MQTT service.
type ConnEvent struct {
	State   ConnState
	Time    time.Time
	Failure *Failure
	Server  *Server
}

// apply moves c to the event's state; pageURL is used for the hints.
func (c *Conn) apply(e ConnEvent, pageURL string) {
	prev := c.State
	c.State, c.Since = e.State, e.Time
	switch e.State {
	case Connected:
		c.Failure, c.Hints, c.Server = nil, nil, e.Server
		if prev == Reconnecting {
			c.Reconnects++
		}
	case Connecting:
		c.Failure, c.Hints, c.Server, c.Reconnects = nil, nil, nil, 0
	case Reconnecting, Failed:
		c.Failure = e.Failure
		c.Hints = Hints(c.URL, pageURL, e.Failure)
	case Disconnected:
		c.Failure, c.Hints, c.Server = nil, nil, nil
	}
}

// Hints returns what to check when a connection to dialURL from the page at
// pageURL failed with f. Browsers do not tell a page why a WebSocket could
// not be opened, so a failed dial lists the usual causes: the URL, the
// path, the "mqtt" subprotocol and the page's origin.
func Hints(dialURL, pageURL string, f *Failure) []string {
	if f == nil {
		return nil
	}
	var h []string
	u, err := url.Parse(dialURL)
	if err != nil || u.Host == "" {
		return []string{"The URL " + quote(dialURL) + " is not valid: use ws://host:port/path or wss://host:port/path."}
	}
	page, _ := url.Parse(pageURL)
	switch {
	case u.Scheme != "ws" && u.Scheme != "wss":
		h = append(h, "Browsers reach MQTT only over WebSocket: the URL must start with ws:// or wss://, not "+u.Scheme+"://.")
	case page != nil && page.Scheme == "https" && u.Scheme == "ws":
		h = append(h, "This page was loaded over HTTPS, so the browser blocks ws:// connections: use wss://.")
	}
	if f.Code != 0 {
		return append(h, reasonHints(f.Code, f.ServerReference)...)
	}
	if f.ServerNotAuthenticated {
		return append(h, "The server accepted the SCRAM login without proving that it knows your credentials: it may not be the broker you meant. The connection was closed.")
	}
	if f.Timeout {
		h = append(h, "The server at "+u.Host+" did not answer in time: is the address right, and is a firewall or proxy holding the connection?")
	}
	if !f.Dial {
		return h
	}
	h = append(h, "Dialled "+dialURL+": check the host and port, and that the broker is running and listening there (Tern: --http).")
	if u.Path == "" || u.Path == "/" {
		h = append(h, "The URL has no path. Tern serves MQTT over WebSocket at "+DefaultMQTTPath+"; other brokers often use /mqtt or /ws.")
	} else {
		h = append(h, "Check the path "+quote(u.Path)+": Tern serves MQTT over WebSocket at "+DefaultMQTTPath+"; a wrong path fails the WebSocket handshake.")
	}
	h = append(h, `The server must accept the WebSocket subprotocol "mqtt" (Sec-WebSocket-Protocol: mqtt).`)
	if page != nil && page.Host != "" && !sameOrigin(u, page) {
		// The broker matches the origin's host with its port: the hint
		// names both, so that it works as written.
		h = append(h, "This page's origin is "+page.Scheme+"://"+page.Host+": the broker must allow it (Tern: --allow-origin "+page.Host+").")
	} else {
		h = append(h, "The broker must accept this page's origin (Tern accepts its own pages; other origins need --allow-origin).")
	}
	return h
}

func sameOrigin(ws, page *url.URL) bool {
	scheme := map[string]string{"ws": "http", "wss": "https"}[ws.Scheme]
	return scheme == page.Scheme && hostPort(ws) == hostPort(page)
}

func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"ws": "80", "http": "80", "wss": "443", "https": "443"}[u.Scheme]
	}
	return strings.ToLower(u.Hostname()) + ":" + port
}

func reasonHints(code codec.ReasonCode, ref string) []string {
	switch code {
	case codec.BadUserNameOrPassword:
		return []string{"The broker refused the user name or password."}
	case codec.BadAuthenticationMethod:
		return []string{"The broker does not offer this authentication method: choose Password, or give the user a SCRAM entry (tern passwd -H scram-sha-256 FILE USER)."}
	case codec.NotAuthorized:
		return []string{"The broker does not allow this client to connect: check the user name, password and the broker's access rules."}
	case codec.ClientIdentifierNotValid:
		return []string{"The broker refused the client id: leave it empty for a random one, or use letters and digits only (at most 23 for MQTT 3.1.1)."}
	case codec.UnsupportedProtocolVersion:
		return []string{"The broker does not speak this MQTT version: try the other one (3.1.1 or 5.0)."}
	case codec.UseAnotherServer, codec.ServerMoved:
		if ref != "" {
			return []string{"The broker sends clients to another server: " + ref + "."}
		}
		return []string{"The broker sends clients to another server."}
	case codec.SessionTakenOver:
		return []string{"Another client connected with the same client id and took over the session. Each tab uses its own random id unless you set one."}
	case codec.KeepAliveTimeout:
		return []string{"The broker heard nothing within the keep-alive interval (a suspended tab or a slow network)."}
	case codec.ServerShuttingDown:
		return []string{"The broker is shutting down; the client reconnects when it is back."}
	case codec.QuotaExceeded, codec.ConnectionRateExceeded, codec.ServerBusy, codec.ServerUnavailable:
		return []string{"The broker is busy or at its connection limit; try again later."}
	}
	return []string{"The broker answered " + code.String() + "."}
}

func quote(s string) string { return "“" + s + "”" }
