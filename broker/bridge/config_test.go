package bridge

import (
	"errors"
	"testing"
	"time"

	"github.com/ternmq/tern/codec"
)

func TestValidate(t *testing.T) {
	ok := Config{Name: "b", Addresses: []string{"h:1883"}, Topics: []Rule{{Pattern: "#"}}}
	for name, change := range map[string]func(c *Config){
		"empty name":         func(c *Config) { c.Name = "" },
		"name with a level":  func(c *Config) { c.Name = "a/b" },
		"name with wildcard": func(c *Config) { c.Name = "a+" },
		"no address":         func(c *Config) { c.Addresses = nil },
		"empty address":      func(c *Config) { c.Addresses = []string{""} },
		"bad scheme":         func(c *Config) { c.Addresses = []string{"http://h"} },
		"no host":            func(c *Config) { c.Addresses = []string{"mqtt://:1883"} },
		"version 3":          func(c *Config) { c.Version = 3 },
		"no topic":           func(c *Config) { c.Topics = nil },
		"bad topic":          func(c *Config) { c.Topics = []Rule{{Pattern: "a/#/b"}} },
		"cert without key":   func(c *Config) { c.TLS.CertFile = "c.pem" },
		"negative backoff":   func(c *Config) { c.MinBackoff = -time.Second },
	} {
		c := ok
		change(&c)
		if err := c.Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: Validate() = %v, want an ErrConfig", name, err)
		}
	}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	d := ok.withDefaults()
	if d.Version != codec.V5 || d.KeepAlive != 60 || d.LocalClientID != "local."+d.ClientID ||
		d.LocalSessionExpiry != 0xFFFFFFFF || d.MaxInflight != 100 || d.MinBackoff != time.Second || d.MaxBackoff != 30*time.Second {
		t.Errorf("defaults: %+v", d)
	}
	if tc, err := (TLS{CAFile: ""}).tlsConfig(); tc != nil || err != nil {
		t.Errorf("an empty TLS gave %v, %v; want the client's defaults", tc, err)
	}
}

// The waits grow from lo, doubling to hi, each between half and all of
// its step: never zero, never above hi, even for huge attempt numbers.
func TestBackoff(t *testing.T) {
	lo, hi := 100*time.Millisecond, 3*time.Second
	for n, step := range []time.Duration{lo, 2 * lo, 4 * lo, 8 * lo, 16 * lo, hi, hi} {
		for range 50 {
			if d := backoff(n, lo, hi); d < step/2 || d > step {
				t.Fatalf("attempt %d waits %v, want %v..%v", n, d, step/2, step)
			}
		}
	}
	if d := backoff(1000, lo, hi); d < hi/2 || d > hi {
		t.Errorf("attempt 1000 waits %v", d)
	}
}
