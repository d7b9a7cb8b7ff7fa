package main

import (
	"log/slog"

	"github.com/ternmq/tern/broker"
)

// reloadLimits reads the configuration again (the JSON file of --config;
// the command line's flags do not change) and applies the limits that can
// change while tern runs (broker.Limits): the broker logs each change. A
// configuration that fails to read or check leaves the limits in force.
func (d *daemon) reloadLimits(log *slog.Logger) {
	if d.reparse == nil {
		return
	}
	cfg, err := d.reparse()
	if err == nil {
		var opts broker.Options
		if opts, err = cfg.options(log); err == nil {
			changes := d.srv.SetLimits(broker.Limits{ConnectTimeout: opts.ConnectTimeout, MaxKeepAlive: opts.MaxKeepAlive,
				MaxSessionExpiry: opts.MaxSessionExpiry, MaxInflight: opts.MaxInflight, MaxQueued: opts.MaxQueued, QueueQoS0: opts.QueueQoS0})
			log.Info("limits reloaded", "changed", len(changes))
			return
		}
	}
	log.Error("configuration not reloaded; the limits in force stay", "err", err)
}
