package broker

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Subprotocol is the WebSocket subprotocol MQTT is carried in
// ([MQTT-6.0.0-3], [MQTT-6.0.0-4]).
const Subprotocol = "mqtt"

// WebSocketOptions configures WebSocketHandler.
type WebSocketOptions struct {
	// OriginPatterns lists the browser origins allowed besides the
	// broker's own (same-origin requests, and requests without an Origin
	// header such as those of non-browser clients, are always allowed).
	// Each pattern is a host pattern in path.Match syntax ("dash.example.com",
	// "*.example.com", "localhost:*"), matched case-insensitively against the
	// origin's host; a pattern with "://" is matched against scheme://host.
	// A page from any other origin is refused with 403 Forbidden: without
	// this check any web site a user visits could use their broker.
	OriginPatterns []string
}

// CheckOriginPatterns reports the first malformed pattern in patterns, so
// that a configuration error is found at start-up rather than as a 403 on
// every cross-origin handshake.
func CheckOriginPatterns(patterns []string) error {
	for _, p := range patterns {
		if p == "" {
			return errors.New("empty origin pattern")
		}
		if _, err := path.Match(strings.ToLower(p), ""); err != nil {
			return fmt.Errorf("origin pattern %q: %w", p, err)
		}
	}
	return nil
}

const (
	// wsReadSlack is added to the broker's MaxPacketSize to get the
	// WebSocket message read limit. The codec enforces the packet limit
	// itself (and a 5.0 client is told 0x95 Packet too large); the message
	// limit only bounds how much one message may carry, so it leaves room
	// for a batch of small packets beside one of the largest size.
	wsReadSlack = 64 << 10
	// wsCloseTimeout bounds the WebSocket close handshake.
	wsCloseTimeout = closeGrace
)

// WebSocketHandler returns an http.Handler that serves MQTT over WebSocket
// (MQTT 5.0 chapter 6, which 3.1.1 clients use too). Mount it on a path
// such as /mqtt of an http.Server; over HTTPS it serves secure WebSocket.
//
// The handler:
//   - requires the client to offer the subprotocol "mqtt" and selects it
//     ([MQTT-6.0.0-3], [MQTT-6.0.0-4]); a handshake without it is refused
//     with 400 Bad Request;
//   - allows same-origin pages, clients that send no Origin, and the
//     origins in o.OriginPatterns; other origins get 403 Forbidden;
//   - reads binary messages only: a text message closes the connection
//     with WebSocket status 1003 ([MQTT-6.0.0-1]);
//   - treats the binary messages as one byte stream, so a packet may span
//     messages and frames, and a message may hold several packets
//     ([MQTT-6.0.0-2]);
//   - limits one message to the broker's MaxPacketSize plus 64 KiB;
//   - writes each batch of queued packets as one binary message.
//
// Each connection is then served by ServeConn like any TCP connection, and
// the handler returns when it ends. Handshake refusals are logged at warn
// level with the remote address. Slow peers are bounded by the http.Server's
// ReadHeaderTimeout (the handshake) and the broker's ConnectTimeout.
func (s *Server) WebSocketHandler(o WebSocketOptions) http.Handler {
	accept := &websocket.AcceptOptions{
		Subprotocols:   []string{Subprotocol},
		OriginPatterns: slices.Clone(o.OriginPatterns),
	}
	if err := CheckOriginPatterns(o.OriginPatterns); err != nil {
		s.log.Error("websocket: bad allowed origin; cross-origin handshakes will be refused", "err", err)
	}
	readLimit := int64(s.opts.MaxPacketSize) + wsReadSlack
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log := s.log.With("remote", r.RemoteAddr, "transport", "websocket")
		if isWebSocketUpgrade(r) && !offersToken(r.Header, "Sec-WebSocket-Protocol", Subprotocol) {
			// [MQTT-6.0.0-3]: the client must offer "mqtt".
			log.Warn(`websocket handshake refused: subprotocol "mqtt" not offered`,
				"offered", strings.Join(r.Header.Values("Sec-WebSocket-Protocol"), ", "),
				"user_agent", r.UserAgent())
			http.Error(w, `MQTT over WebSocket needs the subprotocol "mqtt" (Sec-WebSocket-Protocol: mqtt)`, http.StatusBadRequest)
			return
		}
		hw := &hijackRecorder{ResponseWriter: w}
		ws, err := websocket.Accept(hw, r, accept)
		if err != nil {
			// Accept has answered (403 for a foreign Origin, 426 for a
			// request that is not an upgrade, ...).
			log.Warn("websocket handshake refused", "origin", r.Header.Get("Origin"), "err", err)
			return
		}
		if ws.Subprotocol() != Subprotocol || hw.conn == nil {
			// Only a client offering "MQTT" in another case gets here.
			log.Warn(`websocket connection closed: subprotocol is not "mqtt"`, "subprotocol", ws.Subprotocol())
			if hw.conn != nil {
				hw.conn.SetDeadline(time.Now().Add(wsCloseTimeout))
			}
			ws.Close(websocket.StatusPolicyViolation, `subprotocol "mqtt" required`)
			return
		}
		ws.SetReadLimit(readLimit)
		log.Debug("websocket connection accepted", "origin", r.Header.Get("Origin"), "tls", r.TLS != nil)
		// The connection is hijacked, so this handler may return: the
		// connection is served on a new goroutine whose stack starts small,
		// instead of on the HTTP server's deep one, which would stay with
		// every idle WebSocket connection. The request's context ends when
		// the handler returns; the broker (Shutdown) governs the connection.
		s.serveInBackground(context.WithoutCancel(r.Context()), newWSConn(ws, hw.conn, hw.sock), false)
	})
}

// isWebSocketUpgrade reports whether r asks for a WebSocket upgrade.
func isWebSocketUpgrade(r *http.Request) bool {
	return offersTokenFold(r.Header, "Connection", "upgrade") && offersTokenFold(r.Header, "Upgrade", "websocket")
}

// offersToken reports whether a comma-separated header lists token exactly
// (subprotocol names are case-sensitive).
func offersToken(h http.Header, key, token string) bool {
	for _, v := range h.Values(key) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.TrimSpace(t) == token {
				return true
			}
		}
	}
	return false
}

func offersTokenFold(h http.Header, key, token string) bool {
	for _, v := range h.Values(key) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// hijackRecorder keeps the connection that websocket.Accept hijacks, so
// that wsConn can set deadlines on it and report its addresses. Over plain
// TCP it puts a wsSocket under the library's buffered writer, so that a
// frame can be written without waiting for the socket (wssocket.go).
type hijackRecorder struct {
	http.ResponseWriter
	conn net.Conn
	sock *wsSocket // nil: not plain TCP
}

func (h *hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err == nil {
		h.conn = c
		// The library writes through brw.Writer (net/http's writer on
		// c, empty once the upgrade response is out); Reset keeps its
		// buffer. It reads through brw.Reader, which it sets to read
		// what net/http buffered and then the connection it is given.
		if s := newWSSocket(c); s != nil && brw.Writer.Buffered() == 0 {
			brw.Writer.Reset(s)
			s.br = brw.Reader
			h.sock = s
			return s, brw, nil // the library reads through s.Read
		}
	}
	return c, brw, err
}

func (h *hijackRecorder) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// errTextFrame ends a connection that sent a text message.
var errTextFrame = errors.New("websocket: text message received; MQTT is carried in binary messages only [MQTT-6.0.0-1]")

// wsConn presents a WebSocket as the byte stream the broker's connection
// code reads and writes: reads continue across binary messages, and each
// Write is one binary message (the writer writes one batch of packets per
// call, so one batch is one frame).
//
// It is used instead of websocket.NetConn because of deadlines: NetConn
// implements an expired read deadline by closing the whole WebSocket, so a
// DISCONNECT the broker queues when it kicks a client (take-over, shutdown)
// or times it out could never be written. wsConn sets deadlines on the
// underlying (hijacked) connection instead, where an expired read deadline
// only fails the read, as on TCP; the same deadlines bound the close
// handshake. Operations use a context without deadline, so the library
// allocates no timer per message. Over plain TCP the library reads and
// writes through a wsSocket (wssocket.go): writes other than the writer
// goroutine's never wait (inline writes, writenow.go), and reads are raw
// non-blocking calls.
type wsConn struct {
	ws   *websocket.Conn
	raw  net.Conn  // the hijacked TCP or TLS connection
	sock *wsSocket // the library writes through it; nil: no inline writes
	r    io.Reader

	// peek is held by messageSoon while it waits, outside the library
	// and its read lock, on the library's read buffer and the socket;
	// Close takes it before the close handshake reads through them. Lock
	// order: peek, then mu.
	peek    sync.Mutex
	mu      sync.Mutex // guards the fields below and deadline changes
	closing bool       // Close has started: deadlines no longer change
	code    websocket.StatusCode
	reason  string
	rd, wd  time.Time // deadlines set by the broker

	// With a wsSocket, the read deadline on raw (set) moves lazily: it
	// may be earlier than rd (a linger's end, or an rd the broker has
	// moved on since), and a read that times out before rd is tried
	// again with rd (extendRead). Moving it before every message (the
	// linger, then back, and the keep-alive deadline) woke an idle thread
	// to poll the network each time; see lingerUntil in park.go.
	set      time.Time
	lingerBy time.Time // messageSoon's wait ends here (the reader's only)
}

func newWSConn(ws *websocket.Conn, raw net.Conn, sock *wsSocket) *wsConn {
	c := &wsConn{ws: ws, raw: raw, sock: sock, code: websocket.StatusNormalClosure}
	if sock != nil {
		sock.extend = c.extendRead
	}
	return c
}

// Read reads from the current binary message, moving on to the next one
// when it ends. It must not be called concurrently.
func (c *wsConn) Read(p []byte) (int, error) {
	for {
		if err := c.waitMessage(); err != nil {
			return 0, err
		}
		n, err := c.r.Read(p)
		if err == io.EOF {
			c.r = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

// waitMessage waits for the next binary message, unless one is being
// read. The broker's reader calls it between packets before it takes its
// read buffer back from the pool, so that an idle WebSocket connection
// waits holding none of Tern's buffers (coder/websocket's own stay).
func (c *wsConn) waitMessage() error {
	if c.r != nil {
		// An empty read tells whether the message has bytes left (nil) or
		// has ended (io.EOF), without blocking on the next message.
		if _, err := c.r.Read(nil); err != io.EOF {
			return err
		}
		c.r = nil
	}
	typ, r, err := c.ws.Reader(context.Background())
	if err != nil {
		switch websocket.CloseStatus(err) {
		case websocket.StatusNormalClosure, websocket.StatusGoingAway:
			return io.EOF
		}
		return err
	}
	if typ != websocket.MessageBinary {
		c.mu.Lock()
		c.code, c.reason = websocket.StatusUnsupportedData, "MQTT needs binary frames"
		c.mu.Unlock()
		return errTextFrame
	}
	c.r = r
	return nil
}

// messageSoon reports whether the next message begins within the linger
// (or the current one has bytes left), without the library reading it
// (its first bytes go into the library's read buffer: wsSocket.readable);
// false also when the broker's read deadline passes first, or the
// transport cannot wait without reading (TLS).
//
// A WebSocket reader that has handled packets waits this long for the
// next message on its own goroutine before its connection waits on a new
// goroutine, whose stack has not grown (conn.go: freshReader). At a steady
// rate of more than a message per linger, every message would otherwise
// start a goroutine and grow its stack again before the packet can be
// routed: time on each message's path. The linger is the parked TCP
// reader's (park.go): it ends between parkLinger and lingerUntil from now,
// and the deadline behind it moves once per lingerUntil - parkLinger.
func (c *wsConn) messageSoon() bool {
	if c.r != nil {
		if _, err := c.r.Read(nil); err != io.EOF {
			return true
		}
		c.r = nil
	}
	s := c.sock
	if s == nil {
		return false
	}
	c.peek.Lock()
	defer c.peek.Unlock()
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return false
	}
	if now := time.Now(); c.lingerBy.Sub(now) < parkLinger {
		c.lingerBy = now.Add(lingerUntil)
	}
	if want := earliest(c.rd, c.lingerBy); !want.Equal(c.set) {
		c.raw.SetReadDeadline(want)
		c.set = want
	}
	c.mu.Unlock()
	// The linger's deadline stays: reads through the library that meet it
	// are tried again with rd (extendRead).
	return s.readable()
}

// extendRead is called by the socket's Read when the read deadline on raw
// has passed. If that was not the broker's (rd) but an earlier one (set),
// it sets rd and reports true: the read is tried again.
func (c *wsConn) extendRead() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing || c.set.Equal(c.rd) || !c.rd.IsZero() && !time.Now().Before(c.rd) {
		return false
	}
	c.set = c.rd
	c.raw.SetReadDeadline(c.rd)
	return true
}

// setRead sets the broker's read deadline; c.mu is held. With a wsSocket
// a later deadline than the one on raw is only recorded (extendRead).
func (c *wsConn) setRead(t time.Time) error {
	c.rd = t
	if c.sock != nil && !c.set.IsZero() && (t.IsZero() || t.After(c.set)) {
		return nil
	}
	c.set = t
	return c.raw.SetReadDeadline(t)
}

// Write sends p as one binary message. It is called by the connection's
// writer goroutine only, and returns once the message and everything
// written before it are on the socket.
func (c *wsConn) Write(p []byte) (int, error) {
	if c.sock == nil {
		if err := c.ws.Write(context.Background(), websocket.MessageBinary, p); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	c.sock.beginWrite()
	err := c.ws.Write(context.Background(), websocket.MessageBinary, p)
	if ferr := c.sock.flushRest(); err == nil {
		err = ferr
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// canWriteNow reports whether a message written now with writeNow goes
// straight to the socket (writenow.go): plain TCP, nothing left over from
// an earlier write, no write failed.
func (c *wsConn) canWriteNow() bool {
	return c.sock != nil && c.sock.idle()
}

// writeNow sends p as one binary message without waiting for the socket:
// what the socket does not take at once is written by a goroutine started
// for it, before any later message. The caller holds the connection's
// writer claim. A failed write closes the socket, as the writer goroutine
// would close the connection: its reader then ends it.
func (c *wsConn) writeNow(p []byte) {
	if err := c.ws.Write(context.Background(), websocket.MessageBinary, p); err != nil {
		c.raw.Close()
	}
}

// Close runs the WebSocket close handshake, bounded by wsCloseTimeout,
// and closes the connection.
func (c *wsConn) Close() error {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return nil
	}
	c.closing = true
	code, reason := c.code, c.reason
	c.mu.Unlock()
	// A reader waiting in messageSoon (lingerUntil at most: its deadline is
	// still its own) is done before the handshake reads the same buffer.
	c.peek.Lock()
	c.peek.Unlock()
	c.mu.Lock()
	// A peer that never answers, or stalls inside a frame, must not hold
	// this goroutine: the handshake gets wsCloseTimeout at most, and no
	// more than the broker's own deadlines allow (after a kick, the read
	// deadline has passed: the close frame is sent but not waited for).
	limit := time.Now().Add(wsCloseTimeout)
	c.set = earliest(c.rd, limit)
	c.raw.SetReadDeadline(c.set)
	c.raw.SetWriteDeadline(earliest(c.wd, limit))
	c.mu.Unlock()
	err := c.ws.Close(code, reason)
	c.raw.Close()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

func (c *wsConn) LocalAddr() net.Addr  { return c.raw.LocalAddr() }
func (c *wsConn) RemoteAddr() net.Addr { return c.raw.RemoteAddr() }

// earliest returns the earlier of a deadline (zero: none) and limit.
func earliest(deadline, limit time.Time) time.Time {
	if !deadline.IsZero() && deadline.Before(limit) {
		return deadline
	}
	return limit
}

func (c *wsConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return nil
	}
	c.wd = t
	if err := c.raw.SetWriteDeadline(t); err != nil {
		return err
	}
	return c.setRead(t)
}

func (c *wsConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return nil
	}
	return c.setRead(t)
}

func (c *wsConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return nil
	}
	c.wd = t
	return c.raw.SetWriteDeadline(t)
}
