package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/ternmq/tern/codec"
)

// config is one run of the generator.
type config struct {
	Target    string
	Scenario  string
	QoS       int
	MQTT      string // "3.1.1" or "5" / "5.0"
	Payload   int
	Pubs      int // fan-in publishers
	Subs      int // fan-out subscribers
	Pairs     int
	Duration  time.Duration
	Count     int64   // messages per publisher (0: until Duration)
	Rate      float64 // latency: messages per second
	Window    int     // messages a publisher may be ahead of its subscribers (0: open loop)
	Conns     int
	Workers   int // connections: parallel dialers
	Settle    time.Duration
	Ping      bool   // connections: every client sends a PINGREQ after the first reading, then RSS is read again
	CAFile    string // mqtts targets: PEM file of the CA that signed the broker's certificate
	Retained  int
	Filter    string // retained: the new subscriber's filter
	BrokerPID int
	Broker    string // label
	Name      string // case label
	Drain     time.Duration
	Stall     time.Duration
	LatLog    string // latency: write every message's send time and latency to this file

	Inflight   int           // QoS 1/2: unacknowledged messages per publisher at most (0: the broker's Receive Maximum)
	Persistent bool          // subscribers keep their session (clean session 0 / 5.0 session expiry)
	Sessions   int           // restart, queued-memory: offline persistent sessions
	Queued     int           // restart: messages per session; queued-memory: messages to the shared topic
	Kill       string        // restart: how the broker is stopped: term or kill
	PprofURL   string        // queued-memory: the broker's net/http/pprof, for its heap
	Ready      time.Duration // restart: how long the broker may take to accept a connection
	BrokerCmd  []string      // restart: the broker's command line (after --)

	Username   string        // every CONNECT's user name (connect-rate with Users: the prefix)
	Password   string        // every CONNECT's password
	Users      int           // connect-rate: log in as Username+"0" .. Username+(Users-1)
	Connectors int           // connect-rate: clients connecting in parallel
	Warm       time.Duration // connect-rate: a second pass over the users, this long
}

func defaultConfig() config {
	return config{
		Target:   "tcp://127.0.0.1:1883",
		Scenario: "fan-in",
		MQTT:     "3.1.1",
		Payload:  64,
		Pubs:     8,
		Subs:     16,
		Pairs:    16,
		Duration: 5 * time.Second,
		Rate:     1000,
		Window:   1000,
		Conns:    1000,
		Workers:  16,
		Settle:   2 * time.Second,
		Retained: 1000,
		Filter:   "#",
		Drain:    5 * time.Second,
		Stall:    500 * time.Millisecond,
		Sessions: 1000,
		Queued:   100,
		Kill:     "term",
		Ready:    2 * time.Minute,

		Connectors: 8,
	}
}

var scenarios = []string{"fan-in", "fan-out", "pairs", "latency", "connections", "retained", "open-loop", "restart", "queued-memory", "connect-rate"}

func (c *config) version() (codec.Version, error) {
	switch c.MQTT {
	case "3.1.1", "4", "311":
		return codec.V311, nil
	case "5", "5.0":
		return codec.V5, nil
	}
	return 0, fmt.Errorf("--mqtt-version %q: want 3.1.1 or 5", c.MQTT)
}

func (c *config) check() error {
	if _, err := c.version(); err != nil {
		return err
	}
	switch {
	case c.QoS < 0 || c.QoS > 2:
		return errors.New("--qos must be 0, 1 or 2")
	case c.Payload < headerLen:
		return fmt.Errorf("--payload must be at least %d bytes (sequence number and timestamp)", headerLen)
	case c.Duration <= 0 && c.Count <= 0:
		return errors.New("a run needs a bound: --duration or --count")
	case c.Duration > time.Hour:
		return errors.New("--duration is capped at one hour")
	case c.Pubs < 1 || c.Subs < 1 || c.Pairs < 1 || c.Pubs > 10000 || c.Subs > 10000 || c.Pairs > 10000:
		return errors.New("--publishers, --subscribers and --pairs must be between 1 and 10000")
	case c.Conns < 1 || c.Conns > 1_000_000:
		return errors.New("--conns must be between 1 and 1000000")
	case c.Retained < 1 || c.Retained > 10_000_000:
		return errors.New("--retained must be between 1 and 10000000")
	case c.Workers < 1:
		return errors.New("--workers must be at least 1")
	case c.Rate < 0 || c.Window < 0 || c.Inflight < 0:
		return errors.New("--rate, --window and --inflight must not be negative")
	case c.Scenario == "open-loop" && c.Rate <= 0:
		return errors.New("open-loop needs a --rate above 0")
	case c.Sessions < 1 || c.Sessions > 1_000_000 || c.Queued < 1 || c.Queued > 1_000_000:
		return errors.New("--sessions and --queued must be between 1 and 1000000")
	case int64(c.Sessions)*int64(c.Queued) > 100_000_000:
		return errors.New("--sessions × --queued is capped at 100000000")
	case c.Kill != "term" && c.Kill != "kill":
		return errors.New("--kill must be term (SIGTERM) or kill (SIGKILL)")
	case c.Scenario == "restart" && len(c.BrokerCmd) == 0:
		return errors.New("restart needs the broker's command line after --")
	case c.Scenario != "restart" && len(c.BrokerCmd) > 0:
		return fmt.Errorf("unexpected argument %q (a broker command line is for --scenario restart)", c.BrokerCmd[0])
	case c.Ready <= 0 || c.Ready > time.Hour:
		return errors.New("--ready must be above 0 and at most one hour")
	case c.Users < 0 || c.Users > 10_000_000:
		return errors.New("--users must be between 0 and 10000000")
	case c.Users > 0 && c.Username == "":
		return errors.New("--users needs --username: the users are --username followed by 0, 1, ...")
	case c.Connectors < 1 || c.Connectors > 10000:
		return errors.New("--connectors must be between 1 and 10000")
	case c.Users > 0 && c.Users < c.Connectors:
		return errors.New("--users must be at least --connectors (each connector logs in its own users)")
	case c.Warm < 0 || c.Warm > time.Hour:
		return errors.New("--warm must be between 0 and one hour")
	case c.Scenario == "connect-rate" && c.Duration <= 0:
		return errors.New("connect-rate needs a --duration")
	case c.LatLog != "" && c.Scenario != "latency":
		return errors.New("--latency-log is for --scenario latency")
	case c.Password != "" && c.Username == "" && c.MQTT != "5" && c.MQTT != "5.0":
		return errors.New("--password needs --username in MQTT 3.1.1")
	}
	for _, s := range scenarios {
		if s == c.Scenario {
			return nil
		}
	}
	return fmt.Errorf("unknown scenario %q (want one of %v)", c.Scenario, scenarios)
}
