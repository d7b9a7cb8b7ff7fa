package testkit

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ternmq/tern/codec"
)

// Clock says how a Peer waits for what the other side sends.
type Clock int

const (
	// RealTime waits up to Timeout on the real clock; ExpectIdle proves
	// silence with a PINGREQ (so only a client may use it).
	RealTime Clock = iota
	// Bubble is for a peer inside a testing/synctest bubble: Recv,
	// ExpectClosed and ExpectIdle answer once every goroutine of the
	// bubble is blocked (synctest.Wait), so "no packet" and "not closed"
	// are exact, and no fake time passes while waiting.
	Bubble
	// BubbleClock is Bubble, except that Recv waits on the bubble's fake
	// clock (up to Timeout) for a packet the other side sends only when a
	// timer fires, as a client does with keep-alives and backoffs.
	BubbleClock
)

// Peer is a scripted MQTT peer built on the codec only. It writes whatever
// packets or bytes a test gives it, and a reader goroutine decodes what the
// other side sends into a channel, so a test asserts every packet, in
// order. net.Pipe is unbuffered, which is why the reader never stops
// reading.
type Peer struct {
	nc    net.Conn
	v     codec.Version // set by the reader from the CONNECT when accepting
	clock Clock

	pkts chan codec.Packet
	quit chan struct{} // closed by Close to stop the reader
	done chan struct{} // closed when the reader stops: the connection ended
	err  error         // why the reader stopped; read after done

	closeOnce sync.Once
	nextID    uint16
}

// Dial connects to an MQTT server over TCP as a client speaking version
// v. The connection is closed when the test ends.
func Dial(t testing.TB, addr string, v codec.Version) *Peer {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, Timeout)
	if err != nil {
		t.Fatal(err)
	}
	return NewPeer(t, nc, v, RealTime)
}

// NewPeer makes a client peer of nc speaking version v. nc is closed when
// the test ends.
func NewPeer(t testing.TB, nc net.Conn, v codec.Version, clock Clock) *Peer {
	c := &Peer{
		nc:    nc,
		v:     v,
		clock: clock,
		pkts:  make(chan codec.Packet, 1024),
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	go c.readLoop()
	t.Cleanup(c.Close)
	return c
}

// Accept makes a server peer of nc: it reads the client's CONNECT, whose
// protocol version the peer then speaks, and returns it. nc is closed
// when the test ends.
func Accept(t testing.TB, nc net.Conn, clock Clock) (*Peer, *Connect) {
	t.Helper()
	c := NewPeer(t, nc, 0, clock)
	return c, Expect[*Connect](t, c)
}

// Connect is codec.Connect, named here for Accept's signature.
type Connect = codec.Connect

// Version is the protocol version the peer speaks.
func (c *Peer) Version() codec.Version { return c.v }

// Err says why the connection ended; call it after ExpectClosed.
func (c *Peer) Err() error {
	<-c.done
	return c.err
}

// readLoop decodes packets with codec.Decode, which returns packets that
// own their memory, until the connection ends or Close is called. A peer
// made without a version (Accept) takes it from the first packet, the
// CONNECT.
func (c *Peer) readLoop() {
	defer close(c.done)
	v := c.v
	var buf []byte
	chunk := make([]byte, 4096)
	for {
		for {
			p, n, err := codec.Decode(buf, v, 0)
			if errors.Is(err, codec.ErrIncomplete) {
				break
			}
			if err != nil {
				c.err = fmt.Errorf("decoding what the other side sent: %w", err)
				return
			}
			if cp, ok := p.(*codec.Connect); ok && v == 0 {
				v = cp.Version
				c.v = v // read by the test after it receives the CONNECT
			}
			buf = buf[n:]
			select {
			case c.pkts <- p:
			case <-c.quit:
				return
			}
		}
		n, err := c.nc.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if err != nil {
			if len(buf) > 0 {
				c.err = fmt.Errorf("connection ended inside a packet (% x): %w", buf, err)
			} else {
				c.err = err
			}
			return
		}
	}
}

// Close closes the connection and waits for the reader to stop.
func (c *Peer) Close() {
	c.closeOnce.Do(func() {
		close(c.quit)
		c.nc.Close()
	})
	<-c.done
}

// PID returns a fresh packet identifier.
func (c *Peer) PID() uint16 {
	c.nextID++
	if c.nextID == 0 {
		c.nextID = 1
	}
	return c.nextID
}

// Send encodes packets in the peer's version and writes them with one
// write.
func (c *Peer) Send(t testing.TB, pkts ...codec.Packet) {
	t.Helper()
	c.SendRaw(t, Encode(c.v, pkts...))
}

// SendRaw writes b as it is.
func (c *Peer) SendRaw(t testing.TB, b []byte) {
	t.Helper()
	if c.clock == RealTime {
		c.nc.SetWriteDeadline(time.Now().Add(Timeout))
	}
	if _, err := c.nc.Write(b); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// Encode encodes packets in version v; it panics on an encoding error,
// which is a mistake in the test.
func Encode(v codec.Version, pkts ...codec.Packet) []byte {
	var b []byte
	for _, p := range pkts {
		var err error
		if b, err = p.Append(b, v); err != nil {
			panic(fmt.Sprintf("encoding %T: %v", p, err))
		}
	}
	return b
}

// Poll returns the next packet if one has arrived, without waiting.
func (c *Peer) Poll() (codec.Packet, bool) {
	select {
	case p := <-c.pkts:
		return p, true
	default:
		return nil, false
	}
}

// IsClosed reports whether the connection has ended and every packet sent
// before has been received.
func (c *Peer) IsClosed() bool {
	select {
	case <-c.done:
		return len(c.pkts) == 0
	default:
		return false
	}
}

// Recv returns the next packet from the other side, waiting as the peer's
// Clock says.
func (c *Peer) Recv(t testing.TB) codec.Packet {
	t.Helper()
	if c.clock == Bubble {
		synctest.Wait()
		if p, ok := c.Poll(); ok {
			return p
		}
		if c.IsClosed() {
			t.Fatalf("connection closed (%v), want a packet", c.err)
		}
		t.Fatal("no packet from the other side")
		return nil
	}
	if p, ok := c.Poll(); ok {
		return p
	}
	timer := time.NewTimer(Timeout)
	defer timer.Stop()
	select {
	case p := <-c.pkts:
		return p
	case <-c.done:
		if p, ok := c.Poll(); ok {
			return p
		}
		t.Fatalf("connection closed (%v), want a packet", c.err)
	case <-timer.C:
		t.Fatalf("no packet from the other side within %v", Timeout)
	}
	return nil
}

// Expect receives the next packet and fails unless it is a T.
func Expect[T codec.Packet](t testing.TB, c *Peer) T {
	t.Helper()
	p := c.Recv(t)
	v, ok := p.(T)
	if !ok {
		var want T
		t.Fatalf("got %s, want a %T", Describe(p), want)
	}
	return v
}

// ExpectAck receives the next packet and fails unless it is a PUBACK,
// PUBREC, PUBREL or PUBCOMP of type typ; it returns its Ack.
func (c *Peer) ExpectAck(t testing.TB, typ codec.PacketType) *codec.Ack {
	t.Helper()
	p := c.Recv(t)
	if p.Type() == typ {
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
	}
	t.Fatalf("got %s, want %v", Describe(p), typ)
	return nil
}

// ExpectDescribed receives one packet per entry of want and compares
// their descriptions (see Describe).
func (c *Peer) ExpectDescribed(t testing.TB, want ...string) {
	t.Helper()
	for _, w := range want {
		if got := Describe(c.Recv(t)); got != w {
			t.Fatalf("got %s, want %s", got, w)
		}
	}
}

// ExpectClosed fails unless the other side closes the connection without
// sending anything more.
func (c *Peer) ExpectClosed(t testing.TB) {
	t.Helper()
	if c.clock != RealTime {
		synctest.Wait()
	} else {
		timer := time.NewTimer(Timeout)
		defer timer.Stop()
		select {
		case <-c.done:
		case p := <-c.pkts:
			t.Fatalf("got %s, want the connection closed", Describe(p))
		case <-timer.C:
			t.Fatalf("connection still open after %v", Timeout)
		}
	}
	if p, ok := c.Poll(); ok {
		t.Fatalf("got %s, want the connection closed", Describe(p))
	}
	if !c.IsClosed() {
		t.Fatal("connection still open")
	}
}

// ExpectIdle fails if the other side has sent anything or closed the
// connection. In a bubble that is exact; over real time a client peer
// proves it with a PINGREQ: the server answers packets in order, so the
// PINGRESP must be the next packet.
func (c *Peer) ExpectIdle(t testing.TB) {
	t.Helper()
	if c.clock != RealTime {
		synctest.Wait()
		if p, ok := c.Poll(); ok {
			t.Fatalf("got %s, want nothing", Describe(p))
		}
		if c.IsClosed() {
			t.Fatalf("connection closed (%v), want it open", c.err)
		}
		return
	}
	c.Send(t, &codec.Pingreq{})
	if p := c.Recv(t); p.Type() != codec.PINGRESP {
		t.Fatalf("got %s, want PINGRESP (nothing else pending)", Describe(p))
	}
}

// Connect sends p (in the peer's version unless p names one) and fails
// unless the server accepts it.
func (c *Peer) Connect(t testing.TB, p *codec.Connect) *codec.Connack {
	t.Helper()
	if p.Version == 0 {
		p.Version = c.v
	}
	c.Send(t, p)
	ack := Expect[*codec.Connack](t, c)
	if ack.ReasonCode != codec.Success {
		t.Fatalf("CONNACK %s, want Success", ack.ReasonCode)
	}
	return ack
}

// Disconnect sends a normal DISCONNECT and waits for the server to close.
func (c *Peer) Disconnect(t testing.TB) {
	t.Helper()
	c.Send(t, &codec.Disconnect{})
	c.ExpectClosed(t)
}

// Conn is the peer's connection, for tests that write to it behind the
// peer's back (a TLS handshake that must fail, a write that must not wait).
func (c *Peer) Conn() net.Conn { return c.nc }
