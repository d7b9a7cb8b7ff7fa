package broker

import (
	"crypto/tls"
	"io"
	"net"
	"time"
)

// Closing a connection so that the last packet arrives.
//
// When the server ends a connection with a DISCONNECT (Receive Maximum
// exceeded, packet too large, take-over, keep-alive, shutdown), the client
// may still be sending. Closing a TCP socket whose input has not all been
// read makes the kernel send a reset instead of the end of the stream: the
// peer's stack then reports "connection reset" or "broken pipe" on its next
// write, a client library gives up on that error, and data the server had
// not yet transmitted (the DISCONNECT itself, behind a full window) is
// thrown away. So the writer only half-closes once it has written the
// last packet (the peer reads the DISCONNECT and then the end of the
// stream), and the connection's reader, when everything else about the
// connection is finished, reads and discards the peer's input until the
// peer closes too, for at most lingerTime and lingerBytes, and then closes.
//
// Transports without a half-close (WebSocket, whose close frame and
// handshake wsConn.Close already does; pipes) are closed at once, as
// before.
const (
	// lingerTime bounds the wait for the peer to close after the server
	// has half-closed: a client that has read the DISCONNECT closes at
	// once; a dead or stuck one costs this long an open socket, and no
	// goroutine beyond the connection's own.
	lingerTime = time.Second
	// lingerBytes bounds what is read and discarded from a peer that
	// keeps sending: enough for a client to read the DISCONNECT while its
	// writes still succeed, not enough to matter as CPU.
	lingerBytes = 1 << 20
)

// halfCloser is a connection whose write side can be closed alone:
// *net.TCPConn, *net.UnixConn and *tls.Conn.
type halfCloser interface {
	CloseWrite() error
}

// endWrite ends the writing side of the connection once the writer has
// written its last packet: a half-close when the transport has one (see
// linger), a full close otherwise or when writing failed. It reports
// whether the connection is half-closed. Only the writer calls it.
func (c *conn) endWrite(ok bool) bool {
	if ok && closeWrite(c.nc) {
		return true
	}
	c.nc.Close()
	return false
}

// closeWrite half-closes nc and reports whether it could. For TLS it
// sends the close_notify alert (the peer's end of the stream) and then
// half-closes the TCP connection beneath.
func closeWrite(nc net.Conn) bool {
	hc, ok := nc.(halfCloser)
	if !ok {
		return false
	}
	if tc, isTLS := nc.(*tls.Conn); isTLS {
		if tc.CloseWrite() != nil {
			return false
		}
		if raw, ok := tc.NetConn().(halfCloser); ok {
			raw.CloseWrite()
		}
		return true
	}
	return hc.CloseWrite() == nil
}

// linger reads and discards what the peer still sends after the server
// half-closed (endWrite), until the peer closes its side, lingerTime
// passes or lingerBytes have arrived, and then closes the connection.
// The connection's reader calls it last, after the session has been
// handed back: a take-over never waits for it.
func (c *conn) linger() {
	if err := c.nc.SetReadDeadline(time.Now().Add(lingerTime)); err == nil {
		// io.Discard reads with a pooled buffer: lingering allocates
		// nothing per connection.
		io.CopyN(io.Discard, c.nc, lingerBytes)
	}
	c.nc.Close()
}
