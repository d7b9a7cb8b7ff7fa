package client_test

// A scripted server for the tests that need a server to misbehave or to
// hold its acknowledgements: it runs over net.Pipe inside a testing/synctest
// bubble, so keep-alive intervals and backoffs pass in fake time and
// synctest.Wait tells when the client has nothing more to send.

import (
	"context"
	"net"
	"net/url"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"
)

// fakeServer is the server end of one client connection.
type fakeServer struct {
	t    testing.TB
	nc   net.Conn
	v    codec.Version
	pkts chan codec.Packet // packets from the client, each a copy it owns
	eof  chan struct{}     // closed when the client closes the connection
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

// accept takes the next connection, reads its CONNECT and starts reading
// the packets that follow.
func accept(t testing.TB, accepted chan net.Conn) (*fakeServer, *codec.Connect) {
	t.Helper()
	nc := within(t, (<-chan net.Conn)(accepted), "a dial")
	s := &fakeServer{t: t, nc: nc, pkts: make(chan codec.Packet, 1024), eof: make(chan struct{})}
	r := codec.NewReader(nc, 0)
	p, err := r.ReadPacket()
	if err != nil {
		t.Fatalf("reading CONNECT: %v", err)
	}
	connect := own(t, p, 0).(*codec.Connect)
	s.v = connect.Version
	go func() {
		defer close(s.eof)
		for {
			p, err := r.ReadPacket()
			if err != nil {
				return
			}
			s.pkts <- own(t, p, s.v)
		}
	}()
	t.Cleanup(func() { nc.Close() })
	return s, connect
}

// own returns a copy of p that shares nothing with the Reader's buffer.
func own(t testing.TB, p codec.Packet, v codec.Version) codec.Packet {
	b, err := p.Append(nil, v)
	if err != nil {
		t.Fatalf("re-encoding %v: %v", p.Type(), err)
	}
	q, _, err := codec.Decode(b, v, 0)
	if err != nil {
		t.Fatalf("decoding %v: %v", p.Type(), err)
	}
	return q
}

// send writes packets to the client.
func (s *fakeServer) send(ps ...codec.Packet) {
	s.t.Helper()
	for _, p := range ps {
		b, err := p.Append(nil, s.v)
		if err != nil {
			s.t.Fatalf("encoding %v: %v", p.Type(), err)
		}
		if _, err := s.nc.Write(b); err != nil {
			s.t.Fatalf("writing %v: %v", p.Type(), err)
		}
	}
}

// next returns the next packet from the client.
func (s *fakeServer) next() codec.Packet {
	s.t.Helper()
	return within(s.t, (<-chan codec.Packet)(s.pkts), "a packet from the client")
}

// nextPublish returns the next packet, which must be a PUBLISH.
func (s *fakeServer) nextPublish() *codec.Publish {
	s.t.Helper()
	p, ok := s.next().(*codec.Publish)
	if !ok {
		s.t.Fatalf("got %T, want PUBLISH", p)
	}
	return p
}

// nextAck returns the next packet, which must be of type typ, as its Ack.
func (s *fakeServer) nextAck(typ codec.PacketType) *codec.Ack {
	s.t.Helper()
	p := s.next()
	if p.Type() != typ {
		s.t.Fatalf("got %v, want %v", p.Type(), typ)
	}
	switch p := p.(type) {
	case *codec.Puback:
		return &p.Ack
	case *codec.Pubrec:
		return &p.Ack
	case *codec.Pubrel:
		return &p.Ack
	case *codec.Pubcomp:
		return &p.Ack
	}
	s.t.Fatalf("%v is not an acknowledgement", typ)
	return nil
}

// quiet fails if the client has sent anything not yet read: call it
// after synctest.Wait.
func (s *fakeServer) quiet() {
	s.t.Helper()
	synctest.Wait()
	select {
	case p := <-s.pkts:
		s.t.Fatalf("unexpected %v from the client", p.Type())
	default:
	}
}

// closed waits until the client has closed the connection.
func (s *fakeServer) closed() {
	s.t.Helper()
	within(s.t, (<-chan struct{})(s.eof), "the client to close the connection")
}

// fakeConnect connects a client through a fake server that answers with
// ack (a plain successful CONNACK when nil). The client is disconnected at
// the end of the test.
func fakeConnect(t *testing.T, opts client.Options, ack *codec.Connack) (*client.Client, *fakeServer, chan net.Conn) {
	t.Helper()
	dial, accepted := pipeDialer()
	opts.Dialer = dial
	if opts.Logger == nil {
		opts.Logger = testLogger()
	}
	type result struct {
		c   *client.Client
		err error
	}
	res := make(chan result, 1)
	go func() {
		c, err := client.Connect(context.Background(), "mqtt://fake", opts)
		res <- result{c, err}
	}()
	s, _ := accept(t, accepted)
	if ack == nil {
		ack = &codec.Connack{}
	}
	s.send(ack)
	r := within(t, (<-chan result)(res), "Connect")
	if r.err != nil {
		t.Fatalf("connect: %v", r.err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		r.c.Disconnect(ctx, codec.NormalDisconnection)
	})
	return r.c, s, accepted
}

// async runs f on a goroutine and returns a channel with its result.
func async(f func() error) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- f() }()
	return ch
}
