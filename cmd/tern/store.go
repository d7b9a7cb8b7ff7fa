package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/broker/store/pebble"
)

// openStore opens the durable store in the data directory, creating it
// on first start, or returns nil when the broker runs in memory (--data ""
// or --in-memory).
func openStore(cfg config, log *slog.Logger) (broker.Store, func() error, error) {
	if cfg.InMemory || cfg.Data == "" {
		log.Warn("running in memory: sessions, queued and retained messages are lost when tern stops")
		return nil, func() error { return nil }, nil
	}
	dir, err := filepath.Abs(cfg.Data)
	if err != nil {
		return nil, nil, fmt.Errorf("data: %w", err)
	}
	_, statErr := os.Stat(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("data: %w", err)
	}
	st, err := pebble.Open(dir, pebble.Options{Logger: log.With("component", "store")})
	if err != nil {
		return nil, nil, fmt.Errorf("data %s: %w", dir, err)
	}
	log.Info("durable store", "data", dir, "created", os.IsNotExist(statErr))
	return st, st.Close, nil
}
