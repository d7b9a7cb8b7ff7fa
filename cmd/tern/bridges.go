package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/broker/bridge"
)

// checkBridges validates the "bridges" section of the config file before
// anything listens.
func checkBridges(cfgs []bridge.Config) error {
	names := map[string]bool{}
	for i := range cfgs {
		if err := cfgs[i].Validate(); err != nil {
			return fmt.Errorf("bridges: %w", err)
		}
		if names[cfgs[i].Name] {
			return fmt.Errorf("bridges: two bridges named %q", cfgs[i].Name)
		}
		names[cfgs[i].Name] = true
	}
	return nil
}

// startBridges runs the bridges on srv and returns the function that
// stops them and waits for them: the daemon calls it before it shuts the
// broker down, so that each bridge closes its own session first.
func startBridges(cfgs []bridge.Config, srv *broker.Server, log *slog.Logger) (stop func(), err error) {
	var bs []*bridge.Bridge
	for _, c := range cfgs {
		if c.Logger == nil {
			c.Logger = log
		}
		b, err := bridge.New(srv, c)
		if err != nil {
			return nil, fmt.Errorf("bridges: %w", err)
		}
		bs = append(bs, b)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, b := range bs {
		wg.Go(func() { b.Run(ctx) })
		log.Info("bridge", "name", b.Name())
	}
	return func() { cancel(); wg.Wait() }, nil
}
