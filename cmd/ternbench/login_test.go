package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit/brokerkit"
)

// logins is an Authenticator that accepts password "pw" (and anonymous
// clients) and counts the successful logins per user.
type logins struct {
	mu     sync.Mutex
	byUser map[string]int
}

func (l *logins) authenticate(_ context.Context, in *broker.Login) codec.ReasonCode {
	c := in.Connect
	if c.Username == "" {
		return codec.Success
	}
	if string(c.Password) != "pw" {
		return codec.BadUserNameOrPassword
	}
	l.mu.Lock()
	l.byUser[c.Username]++
	l.mu.Unlock()
	return codec.Success
}

func (l *logins) snapshot() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.byUser
	l.byUser = map[string]int{}
	return m
}

func startCountingBroker(t *testing.T) (string, *logins) {
	t.Helper()
	l := &logins{byUser: map[string]int{}}
	b := brokerkit.Start(t, &broker.Options{Authenticator: broker.AuthenticatorFunc(l.authenticate)}, broker.WebSocketOptions{})
	return "tcp://" + b.Addr, l
}

func TestLoginFlags(t *testing.T) {
	var errOut bytes.Buffer
	cfg, _, err := parseFlags([]string{"--scenario", "connect-rate", "--username", "tb", "--password", "s3cret",
		"--users", "2000", "--connectors", "4", "--warm", "3s", "--duration", "2s"}, &errOut)
	if err != nil {
		t.Fatal(err, errOut.String())
	}
	if cfg.Username != "tb" || cfg.Password != "s3cret" || cfg.Users != 2000 || cfg.Connectors != 4 ||
		cfg.Warm != 3*time.Second || cfg.Duration != 2*time.Second || cfg.Scenario != "connect-rate" {
		t.Errorf("parsed %+v", cfg)
	}
	if d := defaultConfig(); d.Connectors != 8 || d.Users != 0 || d.Warm != 0 || d.Username != "" || d.Password != "" {
		t.Errorf("defaults %+v", d)
	}
	// 5.0 allows a password without a user name; 3.1.1 does not.
	if _, _, err := parseFlags([]string{"--password", "x", "--mqtt-version", "5"}, &errOut); err != nil {
		t.Errorf("5.0 password only: %v", err)
	}
	for _, args := range [][]string{
		{"--users", "10"}, // no --username
		{"--username", "u", "--users", "4", "--connectors", "8"},
		{"--connectors", "0"},
		{"--users", "-1"},
		{"--warm", "-1s"},
		{"--password", "x"},
		{"--scenario", "connect-rate", "--duration", "0", "--count", "5"},
	} {
		if _, _, err := parseFlags(args, &errOut); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

func TestUserOf(t *testing.T) {
	cfg := defaultConfig()
	cfg.Username, cfg.Users, cfg.Connectors = "u", 10, 3
	want := [][]string{{"u0", "u3", "u6", "u9"}, {"u1", "u4", "u7"}, {"u2", "u5", "u8"}}
	seen := map[string]bool{}
	for k, users := range want {
		for n := range 2 * len(users) {
			u, ok := cfg.userOf(k, n, true)
			if n < len(users) {
				if !ok || u != users[n] {
					t.Errorf("connector %d, login %d (once): %q %t, want %q", k, n, u, ok, users[n])
				}
				if seen[u] {
					t.Errorf("%s belongs to two connectors", u)
				}
				seen[u] = true
			} else if ok {
				t.Errorf("connector %d, login %d (once): %q, want none left", k, n, u)
			}
			if u, ok := cfg.userOf(k, n, false); !ok || u != users[n%len(users)] {
				t.Errorf("connector %d, login %d (again): %q, want %q", k, n, u, users[n%len(users)])
			}
		}
	}
	if len(seen) != 10 {
		t.Errorf("%d users covered, want 10", len(seen))
	}
	cfg.Users = 0
	if u, ok := cfg.userOf(2, 1000, true); !ok || u != "u" {
		t.Errorf("without --users: %q %t", u, ok)
	}
}

// The first pass logs each user in at most once and ends when a
// connector runs out of users; the repeat pass logs in only the same
// users again; the report's counts are the broker's.
func TestConnectRateUsers(t *testing.T) {
	url, l := startCountingBroker(t)
	cfg := quick(url, "connect-rate")
	cfg.Username, cfg.Password = "tb", "pw"
	cfg.Users, cfg.Connectors = 60, 4
	cfg.Duration = 20 * time.Second // the users run out long before
	cfg.Warm = 300 * time.Millisecond
	start := time.Now()
	rep := mustRun(t, cfg)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v: the first pass should end when the users run out", d)
	}
	// mustRun is done: the warm pass's logins are in the counter too, so
	// check them together: every user at least once in the first pass,
	// first-pass users only once there.
	got := l.snapshot()
	var total int
	for u, n := range got {
		var i int
		if _, err := fmt.Sscanf(u, "tb%d", &i); err != nil || i < 0 || i >= 60 {
			t.Errorf("login as %q", u)
		}
		total += n
	}
	if int64(total) != rep.Logins+rep.WarmLogins {
		t.Errorf("broker saw %d logins, report %d + %d", total, rep.Logins, rep.WarmLogins)
	}
	// Each connector has 15 users; the pass ends when the first is done,
	// the others finish the login in progress: between 15 and 60.
	if rep.Logins < 15 || rep.Logins > 60 {
		t.Errorf("first pass: %d logins, want 15..60", rep.Logins)
	}
	if rep.WarmLogins <= 0 || rep.WarmPerSec <= 0 || rep.WarmP50ms <= 0 || rep.WarmP99ms < rep.WarmP50ms {
		t.Errorf("repeat pass: %d logins at %v/s, p50 %v p99 %v", rep.WarmLogins, rep.WarmPerSec, rep.WarmP50ms, rep.WarmP99ms)
	}
	if rep.ConnectPerSec <= 0 || rep.Seconds <= 0 || rep.P50ms <= 0 || rep.P99ms < rep.P50ms || rep.MaxMs < rep.P99ms {
		t.Errorf("first pass: %v/s over %vs, p50 %v p99 %v max %v", rep.ConnectPerSec, rep.Seconds, rep.P50ms, rep.P99ms, rep.MaxMs)
	}
	if rep.Users != 60 || rep.Connectors != 4 || rep.BrokerUsPerLogin <= 0 {
		t.Errorf("report: %+v", rep)
	}

	// Without the repeat pass the broker's counts are the first pass:
	// nobody twice.
	cfg.Warm = 0
	rep = mustRun(t, cfg)
	got = l.snapshot()
	total = 0
	for u, n := range got {
		if n != 1 {
			t.Errorf("%s logged in %d times in the first pass", u, n)
		}
		total += n
	}
	if int64(total) != rep.Logins || rep.WarmLogins != 0 {
		t.Errorf("broker saw %d logins, report %d (+%d repeat)", total, rep.Logins, rep.WarmLogins)
	}
}

// Without --users the loop runs for --duration as one user.
func TestConnectRateDuration(t *testing.T) {
	url, l := startCountingBroker(t)
	cfg := quick(url, "connect-rate")
	cfg.Username, cfg.Password, cfg.Connectors = "one", "pw", 3
	cfg.Duration = 400 * time.Millisecond
	cfg.Warm = time.Minute // ignored without --users
	start := time.Now()
	rep := mustRun(t, cfg)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v for a 400 ms run", d)
	}
	got := l.snapshot()
	if len(got) != 1 || int64(got["one"]) != rep.Logins || rep.Logins < 3 || rep.WarmLogins != 0 {
		t.Errorf("broker saw %v, report %d logins (+%d repeat)", got, rep.Logins, rep.WarmLogins)
	}
	if rep.Seconds < 0.4 || rep.Seconds > 3 {
		t.Errorf("window %vs, want about 0.4", rep.Seconds)
	}
	if want := round1(float64(rep.Logins) / rep.Seconds); rep.ConnectPerSec < want*0.99 || rep.ConnectPerSec > want*1.01 {
		t.Errorf("rate %v, want %v", rep.ConnectPerSec, want)
	}
	// Anonymous connects work too (the in-process default broker).
	cfg.Username, cfg.Password = "", ""
	b := startBroker(t)
	cfg.Target = b.tcp
	if rep := mustRun(t, cfg); rep.Logins < 3 {
		t.Errorf("anonymous: %d logins", rep.Logins)
	}
}

// A refused login ends the run with the broker's reason.
func TestConnectRateRefused(t *testing.T) {
	url, _ := startCountingBroker(t)
	cfg := quick(url, "connect-rate")
	cfg.Username, cfg.Password, cfg.Users, cfg.Connectors = "tb", "wrong", 10, 2
	rep, err := runScenario(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rep.Error, "as tb") || !strings.Contains(strings.ToLower(rep.Error), "password") || rep.Logins != 0 {
		t.Errorf("error %q, %d logins", rep.Error, rep.Logins)
	}
}

// Every client of every scenario sends --username and --password.
func TestCredentialsEverywhere(t *testing.T) {
	url, l := startCountingBroker(t)
	for _, scenario := range []string{"fan-in", "connections", "retained"} {
		cfg := quick(url, scenario)
		cfg.Username, cfg.Password = "bench", "pw"
		mustRun(t, cfg)
		got := l.snapshot()
		if len(got) != 1 || got["bench"] == 0 {
			t.Errorf("%s: logins %v, want all as bench", scenario, got)
		}
		cfg.Password = "nope"
		rep, err := runScenario(context.Background(), cfg)
		if err != nil || rep.Error == "" {
			t.Errorf("%s with a wrong password: err %v, report error %q", scenario, err, rep.Error)
		}
	}
	// The summary has the auth cases' rows, with the users and connectors.
	var out bytes.Buffer
	summarize(&out, []*Report{
		{Name: "auth-101", Broker: "mosquitto", Scenario: "connect-rate", Users: 5000, Connectors: 8, ConnectPerSec: 1000, P50ms: 2, P99ms: 8, WarmPerSec: 1000, BrokerCPU: -1},
		{Name: "auth-101", Broker: "tern", Scenario: "connect-rate", Users: 5000, Connectors: 8, ConnectPerSec: 3000, P50ms: 1, P99ms: 4, WarmPerSec: 4000, BrokerCPU: -1},
	}, "mosquitto", "tern")
	for _, want := range []string{
		"| CONNECT with password, $7$ 101 iterations, TCP, 5,000 users, 8 connectors | connects/s, first logins | 1,000 (1,000–1,000) | 3,000 (3,000–3,000) | 3.00× |",
		"|  | p99 ms, first logins | 8.000 (8.000–8.000) | 4.000 (4.000–4.000) | 0.50× |",
		"|  | connects/s, repeat logins | 1,000 (1,000–1,000) | 4,000 (4,000–4,000) | 4.00× |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
}
