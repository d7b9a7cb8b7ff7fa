package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ternmq/tern/codec"
)

// rawConn is a tiny MQTT client for protocol tests. It writes whatever
// packets or bytes a test gives it, and a reader goroutine decodes what the
// server sends into a channel, so a test can assert every packet, in order.
//
// Over TCP (dialRaw) a test waits for packets with a real deadline. Inside a
// testing/synctest bubble (pipeRaw) it waits with synctest.Wait instead: once
// every goroutine in the bubble is blocked, whatever the server was going to
// send has been sent, so "no packet" and "not closed" are exact answers.
// net.Pipe is unbuffered, which is why the reader never stops reading.
type rawConn struct {
	nc     net.Conn
	v      codec.Version
	bubble bool // inside a synctest bubble

	pkts chan codec.Packet
	quit chan struct{} // closed by close to stop the reader
	done chan struct{} // closed when the reader stops: the connection ended
	err  error         // why the reader stopped; read after done

	closeOnce sync.Once
	nextID    uint16
}

// rawTimeout bounds every wait over real TCP.
const rawTimeout = 10 * time.Second

// dialRaw connects to a broker over TCP and speaks protocol version v. The
// connection is closed when the test ends.
func dialRaw(t testing.TB, addr string, v codec.Version) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, rawTimeout)
	if err != nil {
		t.Fatal(err)
	}
	return newRawClient(t, nc, v, false)
}

// pipeRaw connects to srv over net.Pipe, served by srv.ServeConn. Use it
// inside synctest bubbles, where real sockets cannot be used.
func pipeRaw(t testing.TB, srv *Server, v codec.Version) *rawConn {
	t.Helper()
	cn, sn := net.Pipe()
	go srv.ServeConn(context.Background(), sn)
	return newRawClient(t, cn, v, true)
}

// startPipeServer returns a broker without a listener, for pipeRaw. It is
// shut down when the test ends.
func startPipeServer(t testing.TB, opts *Options) *Server {
	var o Options
	if opts != nil {
		o = *opts
	}
	srv := New(o)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return srv
}

func newRawClient(t testing.TB, nc net.Conn, v codec.Version, bubble bool) *rawConn {
	c := &rawConn{
		nc:     nc,
		v:      v,
		bubble: bubble,
		pkts:   make(chan codec.Packet, 256),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go c.readLoop()
	t.Cleanup(c.close)
	return c
}

// readLoop decodes packets with codec.Decode, which returns packets that own
// their memory, until the connection ends or close is called.
func (c *rawConn) readLoop() {
	defer close(c.done)
	var buf []byte
	chunk := make([]byte, 4096)
	for {
		for {
			p, n, err := codec.Decode(buf, c.v, 0)
			if errors.Is(err, codec.ErrIncomplete) {
				break
			}
			if err != nil {
				c.err = fmt.Errorf("decoding what the server sent: %w", err)
				return
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

// close closes the connection and waits for the reader to stop.
func (c *rawConn) close() {
	c.closeOnce.Do(func() {
		close(c.quit)
		c.nc.Close()
	})
	<-c.done
}

// pid returns a fresh packet identifier.
func (c *rawConn) pid() uint16 {
	c.nextID++
	if c.nextID == 0 {
		c.nextID = 1
	}
	return c.nextID
}

// send encodes packets in the client's version and writes them with one write.
func (c *rawConn) send(t testing.TB, pkts ...codec.Packet) {
	t.Helper()
	c.sendRaw(t, encode(c.v, pkts...))
}

// sendRaw writes b as it is.
func (c *rawConn) sendRaw(t testing.TB, b []byte) {
	t.Helper()
	if !c.bubble {
		c.nc.SetWriteDeadline(time.Now().Add(rawTimeout))
	}
	if _, err := c.nc.Write(b); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// encode encodes packets in version v; it panics on an encoding error, which
// is a mistake in the test.
func encode(v codec.Version, pkts ...codec.Packet) []byte {
	var b []byte
	for _, p := range pkts {
		var err error
		if b, err = p.Append(b, v); err != nil {
			panic(fmt.Sprintf("encoding %T: %v", p, err))
		}
	}
	return b
}

// poll returns the next packet if one has arrived, without waiting.
func (c *rawConn) poll() (codec.Packet, bool) {
	select {
	case p := <-c.pkts:
		return p, true
	default:
		return nil, false
	}
}

// isClosed reports whether the connection has ended and every packet sent
// before has been received.
func (c *rawConn) isClosed() bool {
	select {
	case <-c.done:
		return len(c.pkts) == 0
	default:
		return false
	}
}

// recv returns the next packet from the server. Over TCP it waits up to
// rawTimeout; in a bubble it waits until the bubble is idle.
func (c *rawConn) recv(t testing.TB) codec.Packet {
	t.Helper()
	if c.bubble {
		synctest.Wait()
		if p, ok := c.poll(); ok {
			return p
		}
		if c.isClosed() {
			t.Fatalf("connection closed (%v), want a packet", c.err)
		}
		t.Fatal("no packet from the server")
		return nil
	}
	if p, ok := c.poll(); ok {
		return p
	}
	timer := time.NewTimer(rawTimeout)
	defer timer.Stop()
	select {
	case p := <-c.pkts:
		return p
	case <-c.done:
		if p, ok := c.poll(); ok {
			return p
		}
		t.Fatalf("connection closed (%v), want a packet", c.err)
	case <-timer.C:
		t.Fatalf("no packet from the server within %v", rawTimeout)
	}
	return nil
}

// expect receives the next packet and fails unless it is a T.
func expect[T codec.Packet](t testing.TB, c *rawConn) T {
	t.Helper()
	p := c.recv(t)
	v, ok := p.(T)
	if !ok {
		var want T
		t.Fatalf("got %s, want a %T", describe(p), want)
	}
	return v
}

// expectDescribed receives one packet per entry of want and compares their
// descriptions (see describe).
func (c *rawConn) expectDescribed(t testing.TB, want ...string) {
	t.Helper()
	for _, w := range want {
		if got := describe(c.recv(t)); got != w {
			t.Fatalf("got %s, want %s", got, w)
		}
	}
}

// expectClosed fails unless the server closes the connection without
// sending anything more.
func (c *rawConn) expectClosed(t testing.TB) {
	t.Helper()
	if c.bubble {
		synctest.Wait()
	} else {
		timer := time.NewTimer(rawTimeout)
		defer timer.Stop()
		select {
		case <-c.done:
		case p := <-c.pkts:
			t.Fatalf("got %s, want the connection closed", describe(p))
		case <-timer.C:
			t.Fatalf("connection still open after %v", rawTimeout)
		}
	}
	if p, ok := c.poll(); ok {
		t.Fatalf("got %s, want the connection closed", describe(p))
	}
	if !c.isClosed() {
		t.Fatal("connection still open")
	}
}

// expectIdle fails if the server has sent anything or closed the
// connection. Over TCP it proves it with a PINGREQ: the server answers
// packets in order, so the PINGRESP must be the next packet.
func (c *rawConn) expectIdle(t testing.TB) {
	t.Helper()
	if c.bubble {
		synctest.Wait()
		if p, ok := c.poll(); ok {
			t.Fatalf("got %s, want nothing", describe(p))
		}
		if c.isClosed() {
			t.Fatalf("connection closed (%v), want it open", c.err)
		}
		return
	}
	c.send(t, &codec.Pingreq{})
	if p := c.recv(t); p.Type() != codec.PINGRESP {
		t.Fatalf("got %s, want PINGRESP (nothing else pending)", describe(p))
	}
}

// connect sends p and fails unless the server accepts it.
func (c *rawConn) connect(t testing.TB, p *codec.Connect) *codec.Connack {
	t.Helper()
	if p.Version == 0 {
		p.Version = c.v
	}
	c.send(t, p)
	ack := expect[*codec.Connack](t, c)
	if ack.ReasonCode != codec.Success {
		t.Fatalf("CONNACK %s, want Success", ack.ReasonCode)
	}
	return ack
}

// subscribe subscribes to each filter at qos and fails unless every
// subscription is granted.
func (c *rawConn) subscribe(t testing.TB, qos codec.QoS, filters ...string) {
	t.Helper()
	s := &codec.Subscribe{PacketID: c.pid()}
	for _, f := range filters {
		s.Subscriptions = append(s.Subscriptions, codec.Subscription{Filter: f, QoS: qos})
	}
	c.subscribeWith(t, s)
}

// subscribeWith sends s and fails unless every subscription is granted at
// the requested QoS.
func (c *rawConn) subscribeWith(t testing.TB, s *codec.Subscribe) {
	t.Helper()
	if s.PacketID == 0 {
		s.PacketID = c.pid()
	}
	c.send(t, s)
	ack := expect[*codec.Suback](t, c)
	if ack.PacketID != s.PacketID || len(ack.ReasonCodes) != len(s.Subscriptions) {
		t.Fatalf("got %s for SUBSCRIBE id=%d with %d filters", describe(ack), s.PacketID, len(s.Subscriptions))
	}
	for i, rc := range ack.ReasonCodes {
		if rc != codec.ReasonCode(s.Subscriptions[i].QoS) {
			t.Fatalf("SUBACK code 0x%02x for %q, want 0x%02x", byte(rc), s.Subscriptions[i].Filter, s.Subscriptions[i].QoS)
		}
	}
}

// publish sends a PUBLISH and completes its QoS flow: it waits for the
// PUBACK, or for the PUBREC, answers PUBREL and waits for the PUBCOMP.
func (c *rawConn) publish(t testing.TB, qos codec.QoS, topic, payload string) {
	t.Helper()
	c.publishWith(t, &codec.Publish{QoS: qos, Topic: topic, Payload: []byte(payload)})
}

// publishWith sends p (with a fresh packet identifier when it needs one)
// and completes its QoS flow with Success codes.
func (c *rawConn) publishWith(t testing.TB, p *codec.Publish) {
	t.Helper()
	if p.QoS > 0 && p.PacketID == 0 {
		p.PacketID = c.pid()
	}
	c.send(t, p)
	switch p.QoS {
	case 1:
		c.expectDescribed(t, fmt.Sprintf("PUBACK id=%d rc=0x00", p.PacketID))
	case 2:
		c.expectDescribed(t, fmt.Sprintf("PUBREC id=%d rc=0x00", p.PacketID))
		c.send(t, &codec.Pubrel{Ack: codec.Ack{PacketID: p.PacketID}})
		c.expectDescribed(t, fmt.Sprintf("PUBCOMP id=%d rc=0x00", p.PacketID))
	}
}

// expectMessage receives a PUBLISH and checks its topic and payload. A QoS
// 1 message is acknowledged; a QoS 2 message is taken through PUBREC,
// PUBREL and PUBCOMP.
func (c *rawConn) expectMessage(t testing.TB, topic, payload string) *codec.Publish {
	t.Helper()
	p := expect[*codec.Publish](t, c)
	if p.Topic != topic || string(p.Payload) != payload {
		t.Fatalf("got %s, want a PUBLISH to %q with %q", describe(p), topic, payload)
	}
	c.ack(t, p)
	return p
}

// expectPublish receives a PUBLISH and compares it, leaving out the packet
// identifier the server chose, with want, written like
// `q1 dup=0 retain=1 a/b "payload"`. It does not acknowledge it.
func (c *rawConn) expectPublish(t testing.TB, want string) *codec.Publish {
	t.Helper()
	p := expect[*codec.Publish](t, c)
	got := fmt.Sprintf("q%d dup=%d retain=%d %s %q", p.QoS, b2i(p.Dup), b2i(p.Retain), p.Topic, p.Payload)
	if got != want {
		t.Fatalf("got %s, want PUBLISH %s", describe(p), want)
	}
	return p
}

// ack acknowledges a received PUBLISH as its QoS requires.
func (c *rawConn) ack(t testing.TB, p *codec.Publish) {
	t.Helper()
	switch p.QoS {
	case 1:
		c.send(t, &codec.Puback{Ack: codec.Ack{PacketID: p.PacketID}})
	case 2:
		c.send(t, &codec.Pubrec{Ack: codec.Ack{PacketID: p.PacketID}})
		c.expectDescribed(t, fmt.Sprintf("PUBREL id=%d rc=0x00", p.PacketID))
		c.send(t, &codec.Pubcomp{Ack: codec.Ack{PacketID: p.PacketID}})
	}
}

// disconnect sends a normal DISCONNECT and waits for the server to close.
func (c *rawConn) disconnect(t testing.TB) {
	t.Helper()
	c.send(t, &codec.Disconnect{})
	c.expectClosed(t)
}

// describe renders a packet as one short line that tests compare with
// expected strings: the fields that matter to the protocol, without
// properties except the few named.
func describe(p codec.Packet) string {
	switch p := p.(type) {
	case *codec.Connack:
		s := fmt.Sprintf("CONNACK sp=%d rc=0x%02x", b2i(p.SessionPresent), byte(p.ReasonCode))
		if p.Properties.AssignedClientIdentifier != "" {
			s += " assigned"
		}
		return s
	case *codec.Publish:
		s := fmt.Sprintf("PUBLISH q%d dup=%d retain=%d", p.QoS, b2i(p.Dup), b2i(p.Retain))
		if p.QoS > 0 {
			s += fmt.Sprintf(" id=%d", p.PacketID)
		}
		return s + fmt.Sprintf(" %s %q", p.Topic, p.Payload)
	case *codec.Puback:
		return fmt.Sprintf("PUBACK id=%d rc=0x%02x", p.PacketID, byte(p.ReasonCode))
	case *codec.Pubrec:
		return fmt.Sprintf("PUBREC id=%d rc=0x%02x", p.PacketID, byte(p.ReasonCode))
	case *codec.Pubrel:
		return fmt.Sprintf("PUBREL id=%d rc=0x%02x", p.PacketID, byte(p.ReasonCode))
	case *codec.Pubcomp:
		return fmt.Sprintf("PUBCOMP id=%d rc=0x%02x", p.PacketID, byte(p.ReasonCode))
	case *codec.Suback:
		return fmt.Sprintf("SUBACK id=%d %s", p.PacketID, codes(p.ReasonCodes))
	case *codec.Unsuback:
		return fmt.Sprintf("UNSUBACK id=%d %s", p.PacketID, codes(p.ReasonCodes))
	case *codec.Disconnect:
		return fmt.Sprintf("DISCONNECT rc=0x%02x", byte(p.ReasonCode))
	case nil:
		return "<nil>"
	}
	return p.Type().String()
}

func codes(rcs []codec.ReasonCode) string {
	s := make([]string, len(rcs))
	for i, rc := range rcs {
		s[i] = fmt.Sprintf("0x%02x", byte(rc))
	}
	return "[" + strings.Join(s, " ") + "]"
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// advance moves a testing/synctest bubble's fake clock forward by d and
// returns once every goroutine in the bubble is idle again. It cannot wait
// in real time: synctest.Wait panics outside a bubble.
func advance(d time.Duration) {
	synctest.Wait()
	<-time.After(d)
	synctest.Wait()
}

// pollUntil waits, in real time, for cond to hold, checking every
// millisecond until timeout; it reports whether cond held. It is for
// benchmarks that wait on state the broker exposes no event for.
func pollUntil(timeout time.Duration, cond func() bool) bool {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			return cond()
		}
	}
	return true
}
