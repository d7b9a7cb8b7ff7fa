package pebble

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"
)

// logger carries pebble's messages to slog. Fatalf does not exit (pebble's
// default logger would): it logs at error level and fences the DB, which
// the Store then closes and reopens, as a restart would.
type logger struct {
	log *slog.Logger
	f   *fence
}

// Infof logs at debug level: pebble's informational messages (which WAL
// files an open replayed, and so on) are detail.
func (l logger) Infof(format string, args ...any) {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug(fmt.Sprintf(format, args...))
	}
}

// Errorf logs at error level.
func (l logger) Errorf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...))
}

// Fatalf logs at error level and fences the DB.
func (l logger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.log.Error("pebble failed; the store stops writing and reopens", "err", msg)
	l.f.fail(errors.New("pebble: " + msg))
}

// listener routes the pebble events worth an operator's attention to
// slog; flushes and compactions go to debug level.
func listener(log *slog.Logger) *pebble.EventListener {
	debug := func(what string, info fmt.Stringer) {
		if log.Enabled(context.Background(), slog.LevelDebug) {
			log.Debug(what, "info", info.String())
		}
	}
	return &pebble.EventListener{
		BackgroundError: func(err error) { log.Error("pebble background error", "err", err) },
		DataCorruption: func(info pebble.DataCorruptionInfo) {
			log.Error("pebble found corrupt data", "path", info.Path, "err", info.Details)
		},
		DiskSlow: func(info pebble.DiskSlowInfo) {
			log.Warn("slow disk operation", "info", info.String())
		},
		LowDiskSpace: func(info pebble.LowDiskSpaceInfo) {
			log.Warn("low disk space", "available", info.AvailBytes, "total", info.TotalBytes)
		},
		WriteStallBegin: func(info pebble.WriteStallBeginInfo) {
			log.Warn("store writes stalled", "reason", info.Reason)
		},
		WriteStallEnd: func() { log.Info("store writes resumed") },
		FlushEnd:      func(info pebble.FlushInfo) { debug("pebble flush", info) },
		CompactionEnd: func(info pebble.CompactionInfo) { debug("pebble compaction", info) },
	}
}
