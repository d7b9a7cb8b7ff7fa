package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/broker/bridge"
	"github.com/ternmq/tern/broker/cluster"
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
//
// With a cluster node (--cluster) each bridge runs on one node at a time,
// the holder of its lease bridge.<name> (cluster.Node.RunOwned): three
// nodes do not open three connections with one client id to the remote
// broker. A bridge without a client_id then gets "tern.<name>", the same
// on every node (the default, <host>.<name>, differs per host), so that
// its remote session and its local persistent session (local.tern.<name>,
// taken over by the node that runs the bridge next, with what is queued
// in it) follow the bridge from node to node.
func startBridges(cfgs []bridge.Config, srv *broker.Server, node *cluster.Node, log *slog.Logger) (stop func(), err error) {
	var bs []bridge.Config
	for _, c := range cfgs {
		if c.Logger == nil {
			c.Logger = log
		}
		if node != nil && c.ClientID == "" {
			c.ClientID = "tern." + c.Name
		}
		if _, err := bridge.New(srv, c); err != nil { // reads the TLS files now
			return nil, fmt.Errorf("bridges: %w", err)
		}
		bs = append(bs, c)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, c := range bs {
		if node == nil {
			b, _ := bridge.New(srv, c)
			wg.Go(func() { b.Run(ctx) })
			log.Info("bridge", "name", c.Name)
			continue
		}
		wg.Go(func() { runLeased(ctx, node, srv, c, log) })
		log.Info("bridge", "name", c.Name, "lease", "bridge."+c.Name)
	}
	return func() { cancel(); wg.Wait() }, nil
}

// runLeased runs the bridge of c whenever this node holds its lease, until
// ctx ends. When the bridge stops here (the lease went to another node,
// or this node stops) its state topic on this node is cleared: $SYS
// topics stay on their node, so the "0" the bridge published as it
// stopped would otherwise stay here, retained, while the bridge runs on
// another node. A node that does not run the bridge publishes no state.
func runLeased(ctx context.Context, node *cluster.Node, srv *broker.Server, c bridge.Config, log *slog.Logger) {
	err := node.RunOwned(ctx, "bridge."+c.Name, func(ctx context.Context) {
		b, err := bridge.New(srv, c)
		if err != nil {
			log.Error("bridge not started", "name", c.Name, "err", err)
			return
		}
		log.Info("bridge runs on this node", "name", c.Name, "node", node.ID())
		b.Run(ctx)
		srv.Publish(&broker.Message{Topic: bridge.StateTopic(c.Name), QoS: 1, Retain: true})
		log.Info("bridge stopped on this node", "name", c.Name, "node", node.ID())
	})
	if err != nil {
		log.Error("bridge not run", "name", c.Name, "err", err)
	}
}
