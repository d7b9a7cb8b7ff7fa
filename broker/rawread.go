package broker

import (
	"errors"
	"io"
	"os"
	"syscall"
)

// Raw reads for parked TCP connections.
//
// The reader of a plain TCP connection that parks (park.go) reads its
// socket through rawSource instead of net.Conn.Read: the same read(2) on
// the same non-blocking socket, with the same deadlines (syscall.RawConn's
// Read waits in the runtime's network poller when the socket is empty and
// honours the read deadline), but made without telling the scheduler
// (readFD, wssocket_linux.go), as the WebSocket path already reads and
// inline writes already write.
//
// Why: a system call made the ordinary way (entersyscall) wakes the
// runtime's monitor thread, sysmon, when it is in its deep sleep, which is
// where it is whenever the broker has been idle for a moment: at 1,000
// msg/s, before every message. Each message then paid a futex wake-up of
// sysmon on its own path, and sysmon, once awake, polled every 20 µs for
// the next millisecond, a thread competing for the message's core
// (measured with ternbench's latency case: about 2,000 sysmon context
// switches per second, a fifth of the broker's CPU time). A read of a
// non-blocking socket never blocks, so the scheduler has nothing to do
// for it.

// rawSource is a conn read through raw system calls; the conn's codec
// Reader reads from it (newConnFor). It is a conversion of the conn, not
// a separate object: an idle connection holds nothing more for it.
type rawSource conn

// rawRead is the state of one raw read, taken from the Server's pool for
// the duration of a Read: the function handed to RawConn.Read is made
// once per rawRead, not per read (a closure per read would allocate).
type rawRead struct {
	fn  func(fd uintptr) bool // read, made once
	b   []byte
	n   int
	err error
	// nowait: an empty socket ends the read with errWouldBlock instead of
	// waiting in the poller (parker.nowait).
	nowait bool
}

func newRawRead() *rawRead {
	r := &rawRead{}
	r.fn = r.read
	return r
}

func (r *rawRead) read(fd uintptr) bool {
	r.n, r.err = readFD(fd, r.b)
	if r.err == syscall.EAGAIN {
		if r.nowait {
			r.err = errWouldBlock
			return true
		}
		r.err = nil
		return false // wait in the poller until the socket is readable (or the deadline)
	}
	return true
}

// Read reads from the connection's socket as net.Conn.Read would: an
// error from the poller (closed, deadline) comes wrapped as net wraps it,
// end of stream is io.EOF, and a failed read is an *os.SyscallError.
func (s *rawSource) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c := (*conn)(s)
	r := c.srv.rawReads.Get().(*rawRead)
	r.b, r.nowait = p, c.pk.nowait
	err := c.pk.rc.Read(r.fn)
	n, rerr := r.n, r.err
	r.b, r.n, r.err, r.nowait = nil, 0, nil, false
	c.srv.rawReads.Put(r)
	switch {
	case err != nil:
		return 0, err
	case rerr == errWouldBlock:
		return 0, rerr
	case rerr != nil:
		return 0, os.NewSyscallError("read", rerr)
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// errWouldBlock ends a read that must not wait (parker.nowait) of an
// empty socket. The codec Reader keeps what it had read of a packet, so a
// ReadPacket that fails with it can be made again.
var errWouldBlock = errors.New("read would block")

// readSource returns what the codec Reader of a connection served with
// parking state pk reads from: rawSource for plain TCP on a system with
// raw reads, the connection itself otherwise (TLS decrypts above the
// socket; pipes, WebSocket and other systems have no socket here).
func (c *conn) readSource(pk *parker) io.Reader {
	if pk != nil && pk.plain && inlineWrites {
		return (*rawSource)(c)
	}
	return c.nc
}
