//go:build js && wasm

package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"sync"
	"syscall/js"
	"time"
)

// supportedSchemes lists the URL schemes Connect accepts in the browser.
const supportedSchemes = "ws:// or wss:// (the browser offers no raw TCP or TLS)"

// dial opens a WebSocket through the browser's own WebSocket object.
// TLSConfig and HTTPHeader do not apply: the browser does TLS and chooses
// the handshake headers. The browser API is used directly rather than
// through a WebSocket library, which would bring net/http and crypto/tls
// into the wasm binary for nothing (about 0.5 MB gzip).
func dial(ctx context.Context, u *url.URL, o *Options) (net.Conn, error) {
	if !isWebSocket(u.Scheme) {
		return nil, fmt.Errorf("mqtt: %s:// is not available in the browser: use %s", u.Scheme, supportedSchemes)
	}
	c, err := openBrowserWS(ctx, u, o.maxPacketSize())
	if err != nil {
		return nil, wsDialError(u, err)
	}
	return c, nil
}

// browserConn is a browser WebSocket as the byte stream MQTT runs on:
// binary messages only [MQTT-6.0.0-1], read as one stream whatever the
// framing [MQTT-6.0.0-2], closed with a normal closure.
type browserConn struct {
	ws    js.Value
	url   *url.URL
	limit int // largest message accepted, 0 for no limit
	funcs []js.Func
	wake  chan struct{} // a new message, the close, or a deadline

	mu       sync.Mutex
	opened   bool
	msgs     [][]byte // received, not yet read
	cur      []byte   // the part of msgs[0] not yet read
	closed   bool
	err      error // why reading ends
	deadline time.Time
	timer    *time.Timer
	once     sync.Once
}

func openBrowserWS(ctx context.Context, u *url.URL, maxPacket int) (c *browserConn, err error) {
	c = &browserConn{url: u, wake: make(chan struct{}, 1)}
	if maxPacket > 0 {
		c.limit = maxPacket + wsReadSlack
	}
	defer func() {
		// The constructor throws a SyntaxError for a URL it refuses.
		if p := recover(); p != nil {
			c, err = nil, fmt.Errorf("%v", p)
		}
	}()
	c.ws = js.Global().Get("WebSocket").New(u.String(), js.ValueOf([]any{"mqtt"})) // [MQTT-6.0.0-3]
	c.ws.Set("binaryType", "arraybuffer")
	c.on("open", func(js.Value) {
		c.mu.Lock()
		c.opened = true
		c.mu.Unlock()
		c.signal()
	})
	c.on("message", c.onMessage)
	c.on("close", func(ev js.Value) {
		code := ev.Get("code").Int()
		err := io.EOF
		if code != 1000 {
			err = fmt.Errorf("websocket closed with status %d %s", code, ev.Get("reason").String())
		}
		c.fail(err)
	})
	// The browser says nothing more about an error; the close event follows.
	c.on("error", func(js.Value) {})

	for {
		c.mu.Lock()
		opened, closed, cerr := c.opened, c.closed, c.err
		c.mu.Unlock()
		switch {
		case closed:
			c.release()
			if errors.Is(cerr, io.EOF) {
				cerr = errors.New("websocket closed during the handshake")
			}
			return nil, cerr
		case opened:
			if p := c.ws.Get("protocol").String(); p != "mqtt" {
				// [MQTT-6.0.0-4]: the server must select "mqtt".
				c.Close()
				return nil, fmt.Errorf("the server selected subprotocol %q, not \"mqtt\": is this path an MQTT endpoint?", p)
			}
			return c, nil
		}
		select {
		case <-c.wake:
		case <-ctx.Done():
			c.Close()
			return nil, ctx.Err()
		}
	}
}

// on sets the handler of a WebSocket event; Close releases it.
func (c *browserConn) on(event string, f func(js.Value)) {
	fn := js.FuncOf(func(_ js.Value, args []js.Value) any {
		f(args[0])
		return nil
	})
	c.funcs = append(c.funcs, fn)
	c.ws.Set("on"+event, fn)
}

func (c *browserConn) onMessage(ev js.Value) {
	data := ev.Get("data")
	if data.Type() == js.TypeString {
		// [MQTT-6.0.0-1]: a text frame closes the connection.
		c.ws.Call("close", 1003, "MQTT needs binary frames")
		c.fail(errors.New("the server sent a text WebSocket frame"))
		return
	}
	arr := js.Global().Get("Uint8Array").New(data)
	n := arr.Length()
	if c.limit > 0 && n > c.limit {
		c.ws.Call("close", 1009, "message too big")
		c.fail(fmt.Errorf("WebSocket message of %d bytes exceeds the limit of %d", n, c.limit))
		return
	}
	b := make([]byte, n)
	js.CopyBytesToGo(b, arr)
	c.mu.Lock()
	c.msgs = append(c.msgs, b)
	c.mu.Unlock()
	c.signal()
}

// fail ends reading with err, after what was already received.
func (c *browserConn) fail(err error) {
	c.mu.Lock()
	if !c.closed {
		c.closed, c.err = true, err
	}
	c.mu.Unlock()
	c.signal()
}

func (c *browserConn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Read reads received bytes, waiting for a message.
func (c *browserConn) Read(p []byte) (int, error) {
	for {
		c.mu.Lock()
		if len(c.cur) == 0 && len(c.msgs) > 0 {
			c.cur, c.msgs[0] = c.msgs[0], nil
			c.msgs = c.msgs[1:]
		}
		if len(c.cur) > 0 {
			n := copy(p, c.cur)
			c.cur = c.cur[n:]
			c.mu.Unlock()
			return n, nil
		}
		closed, err, dl := c.closed, c.err, c.deadline
		c.mu.Unlock()
		if closed {
			return 0, err
		}
		if !dl.IsZero() && !time.Now().Before(dl) {
			return 0, os.ErrDeadlineExceeded
		}
		<-c.wake
	}
}

// Write sends p as one binary message. The browser queues it, so Write does
// not block.
func (c *browserConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return 0, net.ErrClosed
	}
	arr := js.Global().Get("Uint8Array").New(len(p))
	js.CopyBytesToJS(arr, p)
	c.ws.Call("send", arr)
	return len(p), nil
}

// Close closes the WebSocket with a normal closure and releases the
// event handlers.
func (c *browserConn) Close() error {
	c.once.Do(func() {
		c.ws.Call("close", 1000, "")
		c.fail(net.ErrClosed)
		c.release()
	})
	return nil
}

func (c *browserConn) release() {
	for _, ev := range []string{"onopen", "onmessage", "onclose", "onerror"} {
		c.ws.Set(ev, js.Null())
	}
	for _, fn := range c.funcs {
		fn.Release()
	}
	c.funcs = nil
	c.mu.Lock()
	if c.timer != nil {
		c.timer.Stop()
	}
	c.mu.Unlock()
}

// SetDeadline sets the read deadline; writes never block in the browser.
func (c *browserConn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

// SetReadDeadline makes a waiting Read return os.ErrDeadlineExceeded at t.
func (c *browserConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	if !t.IsZero() {
		c.timer = time.AfterFunc(time.Until(t), c.signal)
	}
	return nil
}

// SetWriteDeadline does nothing: Write never blocks.
func (c *browserConn) SetWriteDeadline(time.Time) error { return nil }

// LocalAddr returns a placeholder: the browser does not tell.
func (c *browserConn) LocalAddr() net.Addr { return wsAddr("browser") }

// RemoteAddr returns the WebSocket URL.
func (c *browserConn) RemoteAddr() net.Addr { return wsAddr(c.url.String()) }

type wsAddr string

func (a wsAddr) Network() string { return "websocket" }
func (a wsAddr) String() string  { return string(a) }
