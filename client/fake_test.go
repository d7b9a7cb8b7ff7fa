package client_test

// A scripted server for the tests that need a server to misbehave or to
// hold its acknowledgements: testkit's Peer in the server role, over
// net.Pipe inside a testing/synctest bubble, so keep-alive intervals and
// backoffs pass in fake time and synctest.Wait tells when the client has
// nothing more to send.

import (
	"context"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
	"github.com/ternmq/tern/internal/testkit/brokerkit"
)

// fakeServer is the server end of one client connection: a testkit.Peer
// bound to its test.
type fakeServer struct {
	*testkit.Peer
	t  testing.TB
	nc net.Conn
}

// pipeDialer returns an Options.Dialer that connects the client to a new
// net.Pipe on each dial, and the channel that yields the server ends.
func pipeDialer() (func(context.Context, *url.URL) (net.Conn, error), chan net.Conn) {
	accepted := make(chan net.Conn, 4)
	return func(ctx context.Context, u *url.URL) (net.Conn, error) {
		cli, srv := net.Pipe()
		accepted <- srv
		return cli, nil
	}, accepted
}

// accept takes the next connection and reads its CONNECT.
func accept(t testing.TB, accepted chan net.Conn) (*fakeServer, *codec.Connect) {
	t.Helper()
	nc := testkit.WaitFor(t, (<-chan net.Conn)(accepted), "a dial")
	p, connect := testkit.Accept(t, nc, testkit.BubbleClock)
	return &fakeServer{Peer: p, t: t, nc: nc}, connect
}

func (s *fakeServer) send(ps ...codec.Packet) { s.t.Helper(); s.Send(s.t, ps...) }

func (s *fakeServer) next() codec.Packet { s.t.Helper(); return s.Recv(s.t) }

func (s *fakeServer) nextPublish() *codec.Publish {
	s.t.Helper()
	return testkit.Expect[*codec.Publish](s.t, s.Peer)
}

func (s *fakeServer) nextAck(typ codec.PacketType) *codec.Ack {
	s.t.Helper()
	return s.ExpectAck(s.t, typ)
}

// quiet fails if the client has sent anything not yet read.
func (s *fakeServer) quiet() { s.t.Helper(); s.ExpectIdle(s.t) }

// closed waits until the client has closed the connection.
func (s *fakeServer) closed() { s.t.Helper(); s.ExpectClosed(s.t) }

// fakeConnect connects a client through a fake server that answers with
// ack (a plain successful CONNACK when nil). The client is disconnected at
// the end of the test.
func fakeConnect(t *testing.T, opts client.Options, ack *codec.Connack) (*client.Client, *fakeServer, chan net.Conn) {
	t.Helper()
	c, s, _, accepted := fakeConnectSeen(t, opts, ack)
	return c, s, accepted
}

// fakeConnectSeen is fakeConnect that also returns the client's CONNECT.
func fakeConnectSeen(t *testing.T, opts client.Options, ack *codec.Connack) (*client.Client, *fakeServer, *codec.Connect, chan net.Conn) {
	t.Helper()
	dial, accepted := pipeDialer()
	opts.Dialer = dial
	if opts.Logger == nil {
		opts.Logger = brokerkit.Logger()
	}
	res := connectAsync(opts)
	s, connect := accept(t, accepted)
	if ack == nil {
		ack = &codec.Connack{}
	}
	s.send(ack)
	r := testkit.WaitFor(t, res, "Connect")
	if r.err != nil {
		t.Fatalf("connect: %v", r.err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		r.c.Disconnect(ctx, codec.NormalDisconnection)
	})
	return r.c, s, connect, accepted
}

// connected is what client.Connect returned (connectAsync).
type connected struct {
	c   *client.Client
	err error
}

// connectAsync connects to the fake server of opts.Dialer on a goroutine,
// so that the test can play the server's side of the handshake.
func connectAsync(opts client.Options) <-chan connected {
	res := make(chan connected, 1)
	go func() {
		c, err := client.Connect(context.Background(), "mqtt://fake", opts)
		res <- connected{c, err}
	}()
	return res
}

// async runs f on a goroutine and returns a channel with its result.
func async(f func() error) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- f() }()
	return ch
}
