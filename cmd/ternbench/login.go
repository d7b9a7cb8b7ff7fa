package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// The connect-rate scenario: --connectors clients each connect, wait for
// the CONNACK, disconnect and start again, as fast as the broker answers.
// It measures the CONNECTs a broker completes per second and the time
// from writing a CONNECT to reading its CONNACK, which with a password
// file is mostly the password hash.
//
// With --users N, connector k logs in as the users --username followed by
// k, k+C, k+2C, ... (C connectors): every login of the first pass is the
// first login of its user in the run. A broker that caches verified
// passwords (Tern does, per user and password, for the life of the file)
// pays the hash only then, so the first pass is the cold figure: it ends
// after --duration, or as soon as one connector has logged in all its
// users (so that all connectors run during the whole window). --warm D
// then logs the same users in again for D, each one a repeat login (a
// cache hit in Tern): the warm figure. Without --users every login is as
// --username (warm in Tern from its second login on).

// loginStats is what one pass measured.
type loginStats struct {
	logins  int64
	seconds float64
	hist    histogram
}

func (s *loginStats) perSec() float64 {
	if s.seconds <= 0 {
		return 0
	}
	return round1(float64(s.logins) / s.seconds)
}

func (r *run) connectRate(ctx context.Context) error {
	cfg := r.cfg
	rep := r.rep
	rep.Connectors, rep.Users = cfg.Connectors, cfg.Users
	meter := startCPU(cfg.BrokerPID)
	cold, err := r.loginPass(ctx, "c", cfg.Duration, cfg.Users > 0)
	gen, bcpu, bdur, _ := meter.stop()
	if bcpu >= 0 && cold.logins > 0 {
		rep.BrokerUsPerLogin = round3(float64(bdur.Microseconds()) / float64(cold.logins))
	}
	rep.Logins, rep.Seconds, rep.ConnectPerSec = cold.logins, round3(cold.seconds), cold.perSec()
	rep.setLatency(&cold.hist)
	rep.GenCPU, rep.BrokerCPU = round1(gen), round1(bcpu)
	if err != nil || cfg.Warm <= 0 || cfg.Users == 0 {
		return err
	}
	warm, err := r.loginPass(ctx, "w", cfg.Warm, false)
	rep.WarmLogins, rep.WarmSeconds, rep.WarmPerSec = warm.logins, round3(warm.seconds), warm.perSec()
	if warm.hist.n > 0 {
		var w Report
		w.setLatency(&warm.hist)
		rep.WarmP50ms, rep.WarmP99ms = w.P50ms, w.P99ms
	}
	return err
}

// userOf is the user of connector k's n-th login: with --users, its own
// users k, k+C, k+2C, ... in turn; ok is false when once is set and the
// connector has logged in all of them.
func (cfg *config) userOf(k, n int, once bool) (user string, ok bool) {
	if cfg.Users == 0 {
		return cfg.Username, true
	}
	C := cfg.Connectors
	mine := (cfg.Users - k + C - 1) / C // users k, k+C, ... below Users
	if once && n >= mine {
		return "", false
	}
	return fmt.Sprintf("%s%d", cfg.Username, k+(n%mine)*C), true
}

// loginPass runs the connectors for at most d (once: each user at most
// once, see connectRate). The first failed login ends the pass and is
// returned.
func (r *run) loginPass(ctx context.Context, pass string, d time.Duration, once bool) (*loginStats, error) {
	cfg := r.cfg
	var (
		stop  atomic.Bool
		wg    sync.WaitGroup
		mu    sync.Mutex
		errs  []error
		per   = make([]loginStats, cfg.Connectors)
		start = time.Now()
	)
	deadline := start.Add(d)
	for k := range cfg.Connectors {
		wg.Go(func() {
			s := &per[k]
			for n := 0; !stop.Load() && ctx.Err() == nil && time.Now().Before(deadline); n++ {
				user, ok := cfg.userOf(k, n, once)
				if !ok {
					stop.Store(true) // this connector is out of users: end the window for all
					return
				}
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				c, _, took, err := r.t.connectAs(cctx, fmt.Sprintf("tb-%s-%s%d-%d", r.prefix[10:18], pass, k, n), user, r.v, false)
				cancel()
				if err != nil {
					stop.Store(true)
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				c.close()
				s.logins++
				s.hist.record(int64(took))
			}
		})
	}
	wg.Wait()
	total := &loginStats{seconds: time.Since(start).Seconds()}
	for i := range per {
		total.logins += per[i].logins
		total.hist.merge(&per[i].hist)
	}
	if len(errs) == 0 && ctx.Err() != nil {
		errs = append(errs, ctx.Err())
	}
	if len(errs) > 0 {
		return total, errs[0]
	}
	return total, nil
}
