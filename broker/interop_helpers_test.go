package broker

// Helpers for the interoperability tests: real MQTT peers (paho.mqtt.golang
// for 3.1.1, paho.golang for 5.0, the Debian mosquitto_pub/mosquitto_sub
// programs) and a raw client built on the codec for what no library will do
// (stay silent past its keep-alive).
//
// Waiting is always on an event with a deadline; nothing sleeps.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// msg is a received Application Message, whichever client received it.
type msg struct {
	Topic   string
	Payload string
	QoS     byte
	Retain  bool
	Dup     bool
	ID      uint16 // packet identifier (QoS 1 and 2)

	p5 *paho.Publish // the 5.0 packet (properties, manual acknowledgement)
}

func (m msg) String() string {
	return fmt.Sprintf("%s %q qos=%d retain=%v dup=%v", m.Topic, m.Payload, m.QoS, m.Retain, m.Dup)
}

// inbox collects received messages without ever blocking the client.
type inbox struct {
	ch       chan msg
	overflow atomic.Bool
}

func newInbox() *inbox { return &inbox{ch: make(chan msg, 1024)} }

func (b *inbox) push(m msg) {
	select {
	case b.ch <- m:
	default:
		b.overflow.Store(true)
	}
}

// next returns the next message, failing the test after waitFor.
func (b *inbox) next(t testing.TB) msg {
	t.Helper()
	if b.overflow.Load() {
		t.Fatal("inbox overflowed")
	}
	return testkit.WaitFor(t, b.ch, "a message")
}

// expect receives the next message and checks its topic, payload, QoS and
// RETAIN flag.
func (b *inbox) expect(t testing.TB, topic, payload string, qos byte, retain bool) msg {
	t.Helper()
	m := b.next(t)
	if m.Topic != topic || m.Payload != payload || m.QoS != qos || m.Retain != retain {
		t.Fatalf("got %v, want %s %q qos=%d retain=%v", m, topic, payload, qos, retain)
	}
	return m
}

// peerConn is the TCP connection under a paho client. When the client
// closes it, Close half-closes it and waits (up to waitFor) for the broker
// to close its side before closing it fully, so that serverClosed can tell
// that the broker has finished with the connection. kill closes it
// abruptly, as a network failure would.
type peerConn struct {
	*net.TCPConn
	closeOnce sync.Once
	closed    chan struct{} // closed when Close has finished
	timedOut  bool          // the broker did not close its side in time
}

// dialPeer dials addr. It may run on a client's goroutine, so it returns
// the error instead of failing the test.
func dialPeer(t testing.TB, addr string) (*peerConn, error) {
	nc, err := net.DialTimeout("tcp", addr, testkit.Timeout)
	if err != nil {
		return nil, err
	}
	pc := &peerConn{TCPConn: nc.(*net.TCPConn), closed: make(chan struct{})}
	t.Cleanup(func() { pc.TCPConn.Close() })
	return pc, nil
}

// Close half-closes the connection and waits for the broker's side to
// close (see peerConn). Data still arriving is discarded.
func (c *peerConn) Close() error {
	c.closeOnce.Do(func() {
		defer close(c.closed)
		c.TCPConn.CloseWrite()
		c.TCPConn.SetReadDeadline(time.Now().Add(testkit.Timeout))
		var buf [512]byte
		for {
			if _, err := c.TCPConn.Read(buf[:]); err != nil {
				c.timedOut = isTimeout(err)
				break
			}
		}
		c.TCPConn.Close()
	})
	return nil
}

// kill cuts the connection in both directions without DISCONNECT, as a
// network failure would: the broker reads EOF, and so does the client
// (a plain Close would look to paho like its own, silent, close).
func (c *peerConn) kill() {
	c.TCPConn.CloseWrite()
	c.TCPConn.CloseRead()
}

// serverClosed waits until the client has closed the connection and the
// broker has closed its side.
func (c *peerConn) serverClosed(t testing.TB) {
	t.Helper()
	testkit.WaitFor(t, c.closed, "the client to close the connection")
	if c.timedOut {
		t.Fatal("the broker did not close the connection")
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// ---- paho.mqtt.golang (MQTT 3.1.1) ----

// p3 is a connected paho.mqtt.golang client. Messages for which no
// subscription callback is registered (all of them: sub passes nil) land in
// msgs.
type p3 struct {
	mqtt.Client
	msgs    *inbox
	lost    chan error
	present bool // Session Present of the CONNACK

	mu sync.Mutex
	pc *peerConn
}

// connectP3 connects a 3.1.1 client with the given client id and
// CleanSession flag; opts adjust the paho options (will, auto-ack).
func connectP3(t testing.TB, addr, id string, clean bool, opts ...func(*mqtt.ClientOptions)) *p3 {
	t.Helper()
	c := &p3{msgs: newInbox(), lost: make(chan error, 1)}
	o := mqtt.NewClientOptions().
		AddBroker("tcp://" + addr).
		SetClientID(id).
		SetCleanSession(clean).
		SetProtocolVersion(4).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetKeepAlive(30 * time.Second).
		SetConnectTimeout(testkit.Timeout).
		SetWriteTimeout(testkit.Timeout).
		SetOrderMatters(true).
		SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) {
			c.msgs.push(msg{Topic: m.Topic(), Payload: string(m.Payload()), QoS: m.Qos(), Retain: m.Retained(), Dup: m.Duplicate(), ID: m.MessageID()})
		}).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			select {
			case c.lost <- err:
			default:
			}
		}).
		SetCustomOpenConnectionFn(func(u *url.URL, _ mqtt.ClientOptions) (net.Conn, error) {
			pc, err := dialPeer(t, u.Host)
			if err != nil {
				return nil, err
			}
			c.mu.Lock()
			c.pc = pc
			c.mu.Unlock()
			return pc, nil
		})
	for _, f := range opts {
		f(o)
	}
	c.Client = mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(testkit.Timeout) {
		t.Fatalf("paho3 %s: CONNECT timed out", id)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("paho3 %s: connect: %v", id, err)
	}
	c.present = tok.(*mqtt.ConnectToken).SessionPresent()
	t.Cleanup(func() { c.Disconnect(250) })
	return c
}

func (c *p3) conn() *peerConn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pc
}

// sub subscribes to filter and checks the granted QoS.
func (c *p3) sub(t testing.TB, filter string, qos byte) {
	t.Helper()
	tok := c.Subscribe(filter, qos, nil)
	if !tok.WaitTimeout(testkit.Timeout) {
		t.Fatalf("SUBSCRIBE %s timed out", filter)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("SUBSCRIBE %s: %v", filter, err)
	}
	if got := tok.(*mqtt.SubscribeToken).Result()[filter]; got != qos {
		t.Fatalf("SUBACK for %s granted %d, want %d", filter, got, qos)
	}
}

// pub publishes and waits until the broker has acknowledged it (QoS 1/2)
// or it is written (QoS 0).
func (c *p3) pub(t testing.TB, topic string, qos byte, retain bool, payload string) {
	t.Helper()
	tok := c.Publish(topic, qos, retain, payload)
	if !tok.WaitTimeout(testkit.Timeout) {
		t.Fatalf("PUBLISH %s qos %d not acknowledged", topic, qos)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("PUBLISH %s: %v", topic, err)
	}
}

// leave sends DISCONNECT and waits until the broker has closed the
// connection, which it does only after it has processed the DISCONNECT.
func (c *p3) leave(t testing.TB) {
	t.Helper()
	pc := c.conn()
	c.Disconnect(1000)
	pc.serverClosed(t)
}

// p3Will sets a 3.1.1 will.
func p3Will(topic, payload string, qos byte, retain bool) func(*mqtt.ClientOptions) {
	return func(o *mqtt.ClientOptions) { o.SetWill(topic, payload, qos, retain) }
}

// ---- paho.golang (MQTT 5.0) ----

// p5 is a connected paho.golang client over a peerConn.
type p5 struct {
	*paho.Client
	pc   *peerConn
	ack  *paho.Connack
	msgs *inbox
	disc chan *paho.Disconnect // DISCONNECT packets from the broker
}

// connectP5 connects a 5.0 client with cp; cfg adjusts the client config
// (manual acknowledgement).
func connectP5(t testing.TB, addr string, cp *paho.Connect, cfg ...func(*paho.ClientConfig)) *p5 {
	t.Helper()
	pc, err := dialPeer(t, addr)
	if err != nil {
		t.Fatal(err)
	}
	c := &p5{pc: pc, msgs: newInbox(), disc: make(chan *paho.Disconnect, 1)}
	cc := paho.ClientConfig{
		Conn: c.pc,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){
			func(pr paho.PublishReceived) (bool, error) {
				p := pr.Packet
				c.msgs.push(msg{Topic: p.Topic, Payload: string(p.Payload), QoS: p.QoS, Retain: p.Retain, Dup: p.Duplicate(), ID: p.PacketID, p5: p})
				return true, nil
			},
		},
		OnServerDisconnect: func(d *paho.Disconnect) {
			select {
			case c.disc <- d:
			default:
			}
		},
		OnClientError: func(error) {},
	}
	for _, f := range cfg {
		f(&cc)
	}
	c.Client = paho.NewClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Timeout)
	defer cancel()
	ack, err := c.Connect(ctx, cp)
	if err != nil {
		t.Fatalf("paho5 %s: connect: %v (connack %+v)", cp.ClientID, err, ack)
	}
	c.ack = ack
	t.Cleanup(func() {
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.Disconnect(&paho.Disconnect{ReasonCode: 0})
		}()
		select {
		case <-done:
		case <-time.After(testkit.Timeout):
			c.pc.kill()
			<-done
		}
	})
	return c
}

// v5conn returns a CONNECT for a 5.0 client with a 30 s keep-alive.
func v5conn(id string, clean bool, expiry uint32) *paho.Connect {
	cp := &paho.Connect{ClientID: id, CleanStart: clean, KeepAlive: 30}
	if expiry > 0 {
		cp.Properties = &paho.ConnectProperties{SessionExpiryInterval: &expiry}
	}
	return cp
}

func (c *p5) sub(t testing.TB, filter string, qos byte) {
	t.Helper()
	c.subOpts(t, paho.SubscribeOptions{Topic: filter, QoS: qos})
}

// subOpts subscribes with full 5.0 options and checks the granted QoS
// [MQTT-5:3.8.4-7].
func (c *p5) subOpts(t testing.TB, o paho.SubscribeOptions) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Timeout)
	defer cancel()
	sa, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{o}})
	if err != nil {
		t.Fatalf("SUBSCRIBE %s: %v", o.Topic, err)
	}
	if len(sa.Reasons) != 1 || sa.Reasons[0] != o.QoS {
		t.Fatalf("SUBACK for %s: %v, want granted QoS %d", o.Topic, sa.Reasons, o.QoS)
	}
}

// pub publishes and waits for the acknowledgement; it returns the reason
// code of the PUBACK or PUBREC (0 for QoS 0).
func (c *p5) pub(t testing.TB, p *paho.Publish) byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Timeout)
	defer cancel()
	pr, err := c.Publish(ctx, p)
	if pr == nil {
		t.Fatalf("PUBLISH %s: %v", p.Topic, err)
	}
	return pr.ReasonCode
}

func (c *p5) pubSimple(t testing.TB, topic string, qos byte, retain bool, payload string) {
	t.Helper()
	if rc := c.pub(t, &paho.Publish{Topic: topic, QoS: qos, Retain: retain, Payload: []byte(payload)}); rc >= 0x80 {
		t.Fatalf("PUBLISH %s refused with reason code %#x", topic, rc)
	}
}

// leave sends DISCONNECT with reason code rc and waits until the broker has
// closed the connection.
func (c *p5) leave(t testing.TB, rc byte) {
	t.Helper()
	c.Disconnect(&paho.Disconnect{ReasonCode: rc})
	c.pc.serverClosed(t)
}

// v5Will adds a will to a 5.0 CONNECT.
func v5Will(cp *paho.Connect, topic, payload string, qos byte, retain bool, delay uint32) *paho.Connect {
	cp.WillMessage = &paho.WillMessage{Topic: topic, Payload: []byte(payload), QoS: qos, Retain: retain}
	cp.WillProperties = &paho.WillProperties{}
	if delay > 0 {
		cp.WillProperties.WillDelayInterval = &delay
	}
	return cp
}

// barrier connects a clean client with id and disconnects it normally. The
// broker answers its CONNECT only after the previous connection with this id
// has been released, so everything that connection's end published (a
// will) has been routed when barrier returns.
func barrier(t testing.TB, addr, id string) {
	t.Helper()
	c := testkit.Dial(t, addr, codec.V311)
	c.Connect(t, &codec.Connect{CleanStart: true, ClientID: id})
	c.Disconnect(t)
}

// ---- mosquitto_pub / mosquitto_sub ----

func hostPort(t testing.TB, addr string) []string {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return []string{"-h", host, "-p", port}
}

// mosqPub runs mosquitto_pub with args against addr and waits for it.
func mosqPub(t testing.TB, addr string, args ...string) {
	t.Helper()
	bin := testkit.RequireTool(t, "mosquitto_pub", "mosquitto-clients")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(hostPort(t, addr), args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// mosqFormat is the -F output format mosquitto_sub prints each message in.
const mosqFormat = "MSG|%r|%q|%t|%p"

// mosqSub is a running mosquitto_sub. It runs with -d so that the SUBACK
// is visible, and prints each message in mosqFormat.
type mosqSub struct {
	cmd      *exec.Cmd
	msgs     *inbox
	subacked chan struct{}
	done     chan struct{}
	err      error // exit status, valid after done
	stderr   bytes.Buffer
	mu       sync.Mutex
	log      []string
}

// startMosqSub starts mosquitto_sub with args (add -C N and -W secs to
// bound it); it is killed when the test ends if still running.
func startMosqSub(t testing.TB, addr string, args ...string) *mosqSub {
	t.Helper()
	bin := testkit.RequireTool(t, "mosquitto_sub", "mosquitto-clients")
	// stdout is a pipe, so mosquitto_sub's debug lines (the SUBACK) would
	// sit in stdio's buffer until it exits: run it line-buffered. stdbuf
	// (coreutils) execs it, so signals reach mosquitto_sub itself.
	stdbuf := testkit.RequireTool(t, "stdbuf", "coreutils")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	all := append([]string{"-oL", bin}, hostPort(t, addr)...)
	all = append(all, "-d", "-F", mosqFormat)
	cmd := exec.CommandContext(ctx, stdbuf, append(all, args...)...)
	s := &mosqSub{cmd: cmd, msgs: newInbox(), subacked: make(chan struct{}), done: make(chan struct{})}
	cmd.Stderr = &s.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() {
		defer close(s.done)
		var once sync.Once
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.log = append(s.log, line)
			s.mu.Unlock()
			if rest, ok := strings.CutPrefix(line, "MSG|"); ok {
				f := strings.SplitN(rest, "|", 4)
				if len(f) == 4 {
					s.msgs.push(msg{Retain: f[0] == "1", QoS: f[1][0] - '0', Topic: f[2], Payload: f[3]})
				}
				continue
			}
			if strings.Contains(line, "received SUBACK") {
				once.Do(func() { close(s.subacked) })
			}
		}
		s.err = cmd.Wait()
	}()
	t.Cleanup(func() {
		cancel()
		<-s.done
		if t.Failed() {
			t.Logf("mosquitto_sub %s output:\n%s\nstderr:\n%s", strings.Join(args, " "), s.output(), s.stderr.String())
		}
	})
	return s
}

func (s *mosqSub) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.log, "\n")
}

// subscribed waits for the SUBACK.
func (s *mosqSub) subscribed(t testing.TB) {
	t.Helper()
	testkit.WaitFor(t, s.subacked, "mosquitto_sub's SUBACK")
}

// exited waits for mosquitto_sub to end and checks that it succeeded.
func (s *mosqSub) exited(t testing.TB) {
	t.Helper()
	testkit.WaitFor(t, s.done, "mosquitto_sub to exit")
	if s.err != nil {
		var ee *exec.ExitError
		if errors.As(s.err, &ee) {
			t.Fatalf("mosquitto_sub exited with %v\n%s\n%s", ee, s.output(), s.stderr.String())
		}
		t.Fatal(s.err)
	}
}
