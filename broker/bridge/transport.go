package bridge

import (
	"context"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"
)

// This file holds the bridge's transports (the in-process pipe to the
// local broker, the dialled connection to the remote one), its state
// topic, and how it stops.

// trackedConn is a transport of the bridge, closed first when it stops.
type trackedConn struct {
	net.Conn
	b    *Bridge
	once sync.Once
}

// Close closes the transport and forgets it.
func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.b.mu.Lock()
		delete(c.b.conns, c)
		c.b.mu.Unlock()
	})
	return c.Conn.Close()
}

// track registers nc, or closes it and fails when the bridge is stopping.
func (b *Bridge) track(nc net.Conn) (net.Conn, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopping {
		nc.Close()
		return nil, errStopping
	}
	c := &trackedConn{Conn: nc, b: b}
	b.conns[c] = struct{}{}
	return c, nil
}

// dialLocal is the local client's Dialer: one end of a new pipe, whose
// other end the local broker serves like any connection.
func (b *Bridge) dialLocal(context.Context, *url.URL) (net.Conn, error) {
	cli, srv := net.Pipe()
	nc, err := b.track(cli)
	if err != nil {
		srv.Close()
		return nil, err
	}
	b.pipes.Add(1)
	go func() {
		defer b.pipes.Done()
		b.srv.ServeConn(context.Background(), srv) // ends when the pipe closes
	}()
	return nc, nil
}

// dialRemote is the remote client's Dialer: it dials the address whose
// turn it is, and passes the turn to the next address when that fails.
func (b *Bridge) dialRemote(ctx context.Context, _ *url.URL) (net.Conn, error) {
	i := b.next.Load()
	u := b.urls[int(i)%len(b.urls)]
	nc, err := client.Dial(ctx, u, client.Options{TLSConfig: b.tls, Version: b.cfg.Version})
	if err != nil {
		b.next.CompareAndSwap(i, (i+1)%int64(len(b.urls)))
		b.log.Info("cannot reach the remote broker", "address", redact(u), "err", err)
		return nil, err
	}
	b.log.Debug("remote broker reached", "address", redact(u))
	return b.track(nc)
}

// redact hides the password of a URL for the logs.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return p.Redacted()
}

// password returns the password to send, nil for none.
func password(p string) []byte {
	if p == "" {
		return nil
	}
	return []byte(p)
}

// firstUp reports the first connection to the remote broker, once its
// subscriptions are made, unless it was lost meanwhile (and reported by
// lost, after which OnReconnect reports it again).
func (b *Bridge) firstUp() {
	b.stateMu.Lock()
	defer b.stateMu.Unlock()
	if b.losses == 0 {
		b.setStateLocked(true)
	}
}

// lost is OnConnectionLost of the remote client.
func (b *Bridge) lost(err error) {
	b.stateMu.Lock()
	defer b.stateMu.Unlock()
	b.losses++
	b.mu.Lock()
	stopping := b.stopping
	b.mu.Unlock()
	if !stopping {
		b.log.Warn("remote broker connection lost", "err", err)
	}
	b.setStateLocked(false)
}

// setState publishes the state.
func (b *Bridge) setState(up bool) {
	b.stateMu.Lock()
	defer b.stateMu.Unlock()
	b.setStateLocked(up)
}

// setStateLocked publishes the state as a retained QoS 1 message on the
// local broker; the caller holds stateMu, which keeps the publications in
// order.
func (b *Bridge) setStateLocked(up bool) {
	b.up.Store(up)
	v := "0"
	if up {
		v = "1"
	}
	err := b.srv.Publish(&broker.Message{Topic: stateTopic(b.cfg.Name), Payload: []byte(v), QoS: 1, Retain: true})
	if err != nil {
		b.log.Debug("state not published", "state", v, "err", err)
	}
}

// stop closes both transports first, so that nothing more is
// acknowledged to either broker, then ends the forwarding publishes and
// the clients, and publishes the state "0".
func (b *Bridge) stop(cancelOps context.CancelFunc, local, remote *client.Client) {
	b.mu.Lock()
	b.stopping = true
	conns := make([]*trackedConn, 0, len(b.conns))
	for c := range b.conns {
		conns = append(conns, c)
	}
	b.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	cancelOps()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, c := range []*client.Client{remote, local} {
		if c != nil {
			c.Disconnect(ctx, codec.NormalDisconnection)
		}
	}
	b.drains.Wait()
	b.pipes.Wait()
	b.setState(false)
	b.log.Info("stopped")
}
