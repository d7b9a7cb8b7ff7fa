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
	Retained  int
	Filter    string // retained: the new subscriber's filter
	BrokerPID int
	Broker    string // label
	Name      string // case label
	Drain     time.Duration
	Stall     time.Duration
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
	}
}

var scenarios = []string{"fan-in", "fan-out", "pairs", "latency", "connections", "retained"}

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
	case c.Rate < 0 || c.Window < 0:
		return errors.New("--rate and --window must not be negative")
	}
	for _, s := range scenarios {
		if s == c.Scenario {
			return nil
		}
	}
	return fmt.Errorf("unknown scenario %q (want one of %v)", c.Scenario, scenarios)
}
