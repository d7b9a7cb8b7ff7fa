//go:build linux

package broker

import (
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"
	"unsafe"
)

// Raw accepts for TCP listeners (Linux).
//
// Serve accepts the connections of a *net.TCPListener itself: accept4(2)
// as a raw system call, made when the listener's socket is readable (the
// runtime's poller waits for that, as for net's Accept), and the socket
// wrapped in an *os.File, which registers it with the same poller and
// gives it the same deadlines. What this spares, per connect, against
// net.TCPListener.Accept:
//
//   - two system calls made the ordinary way (accept4 and setsockopt
//     TCP_NODELAY). Each enters the scheduler's syscall state, which wakes
//     the runtime's sysmon thread whenever it sleeps deeply, as it does
//     each time the broker has been idle for a moment, and resets it to
//     polling every 20 µs for a millisecond or more. In a burst of
//     connects from a generator on the same 2 cores, that polling was
//     17 % of the broker's CPU (perf, 10,000 connects);
//   - getsockname(2): the local address of a connection accepted from a
//     listener on one address is the listener's (it is asked for only
//     when the listener is on a wildcard address, and only when wanted);
//   - setsockopt TCP_NODELAY, when the listening socket has it (cmd/tern
//     sets it before listening, as SO_KEEPALIVE, and Linux passes both to
//     every connection it accepts); otherwise it is set per connection
//     with a raw system call, so every connection has it, as with net.
//
// A connection is a *tcpConn: net.Conn over the *os.File, with net's
// error values (*net.OpError, net.ErrClosed, timeouts) so that the rest
// of the broker cannot tell it from a *net.TCPConn, and CloseWrite,
// SetKeepAliveConfig and SyscallConn as that has them.

// acceptor accepts the connections of one TCP listener; only Serve's
// goroutine uses it. It waits on a duplicate of the listening socket (net
// lets no one wait for a listener's readability but its own Accept), which
// Serve closes with the listener (acceptListener).
type acceptor struct {
	ln  *net.TCPListener
	lrc syscall.RawConn // ln's, to see whether it was closed
	// f is the duplicate, registered with the runtime's poller. Never
	// call its Fd: that makes the socket (the listener's too) blocking.
	f       *os.File
	rc      syscall.RawConn       // f's
	fn      func(fd uintptr) bool // accept, made once
	laddr   *net.TCPAddr          // the listener's address
	wild    bool                  // laddr is a wildcard: ask each socket its own
	noDelay bool                  // the listening socket has TCP_NODELAY
	// The result of fn.
	nfd  int
	rsa  syscall.RawSockaddrAny
	alen uint32
	err  error
}

// newAcceptor returns the acceptor of ln, or nil when ln is not a TCP
// listener or cannot be duplicated (then Serve calls ln.Accept).
func newAcceptor(ln net.Listener) *acceptor {
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return nil
	}
	laddr, ok := tl.Addr().(*net.TCPAddr)
	if !ok {
		return nil
	}
	lrc, err := tl.SyscallConn()
	if err != nil {
		return nil
	}
	f, err := tl.File() // non-blocking, as the listening socket is
	if err != nil {
		return nil
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil
	}
	a := &acceptor{ln: tl, lrc: lrc, f: f, rc: rc, laddr: laddr, wild: laddr.IP == nil || laddr.IP.IsUnspecified()}
	a.fn = a.accept4
	var on int
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		on, gerr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_NODELAY)
	}); err == nil && gerr == nil {
		a.noDelay = on != 0
	}
	return a
}

// acceptListener is the listener Serve keeps for a listener it accepts
// from with an acceptor: closing it closes the acceptor's duplicate too,
// which ends a wait for the next connection.
type acceptListener struct {
	net.Listener
	a *acceptor
}

// Close closes the duplicate and the listener.
func (l *acceptListener) Close() error {
	l.a.f.Close()
	return l.Listener.Close()
}

// listener returns ln as Serve keeps it: see acceptListener.
func (a *acceptor) listener(ln net.Listener) net.Listener { return &acceptListener{Listener: ln, a: a} }

func (a *acceptor) accept4(fd uintptr) bool {
	for {
		a.alen = syscall.SizeofSockaddrAny
		r, _, e := syscall.RawSyscall6(syscall.SYS_ACCEPT4, fd, uintptr(unsafe.Pointer(&a.rsa)), uintptr(unsafe.Pointer(&a.alen)),
			syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0, 0)
		switch e {
		case 0:
			a.nfd, a.err = int(r), nil
			return true
		case syscall.EINTR, syscall.ECONNABORTED:
			continue // as net does: the next connection, if any
		case syscall.EAGAIN:
			return false // wait in the poller until a connection comes
		}
		a.nfd, a.err = -1, e
		return true
	}
}

// accept waits for the next connection. Its errors are net's: a closed
// listener, or a *net.OpError "accept" whose Timeout or Temporary says what
// net's would (EMFILE, ENFILE, ENOBUFS, ...).
//
// A listener closed by its owner rather than by Serve's context or
// Shutdown (which close the duplicate as well) is seen at the next
// connection, which is then closed.
func (a *acceptor) accept() (net.Conn, error) {
	if err := a.rc.Read(a.fn); err != nil {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: a.laddr, Err: net.ErrClosed}
	}
	if a.err != nil {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: a.laddr, Err: os.NewSyscallError("accept4", a.err)}
	}
	fd := a.nfd
	if err := a.lrc.Control(func(uintptr) {}); err != nil {
		syscall.Close(fd)
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: a.laddr, Err: net.ErrClosed}
	}
	if !a.noDelay {
		one := int32(1)
		syscall.RawSyscall6(syscall.SYS_SETSOCKOPT, uintptr(fd), syscall.IPPROTO_TCP, syscall.TCP_NODELAY, uintptr(unsafe.Pointer(&one)), 4, 0)
	}
	c := &tcpConn{a: a, raddr: tcpAddrOf(&a.rsa)}
	c.f = os.NewFile(uintptr(fd), "tcp") // non-blocking: registered with the runtime's poller
	rc, err := c.f.SyscallConn()
	if err != nil {
		c.f.Close()
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: a.laddr, Err: err}
	}
	c.raw.rc, c.raw.c = rc, c
	return c, nil
}

// tcpAddr is a *net.TCPAddr with room for its IP: one allocation.
type tcpAddr struct {
	net.TCPAddr
	ip [16]byte
}

// tcpAddrOf returns the address in rsa (IPv4 or IPv6), or nil.
func tcpAddrOf(rsa *syscall.RawSockaddrAny) *net.TCPAddr {
	ta := &tcpAddr{}
	switch rsa.Addr.Family {
	case syscall.AF_INET:
		sa := (*syscall.RawSockaddrInet4)(unsafe.Pointer(rsa))
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		ta.Port = int(p[0])<<8 | int(p[1])
		ta.IP = ta.ip[:copy(ta.ip[:], sa.Addr[:])]
	case syscall.AF_INET6:
		sa := (*syscall.RawSockaddrInet6)(unsafe.Pointer(rsa))
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		ta.Port = int(p[0])<<8 | int(p[1])
		ta.IP = ta.ip[:copy(ta.ip[:], sa.Addr[:])]
		if sa.Scope_id != 0 {
			ta.Zone = strconv.Itoa(int(sa.Scope_id))
			if ifi, err := net.InterfaceByIndex(int(sa.Scope_id)); err == nil {
				ta.Zone = ifi.Name
			}
		}
	default:
		return nil
	}
	return &ta.TCPAddr
}

// tcpConn is a TCP connection accepted by an acceptor (see above). Its
// socket is reached through raw (a RawConn), never through f.Fd, which
// would make it blocking.
type tcpConn struct {
	f     *os.File
	a     *acceptor
	raddr *net.TCPAddr
	raw   tcpRawConn
}

// Read implements net.Conn.
func (c *tcpConn) Read(b []byte) (int, error) {
	n, err := c.f.Read(b)
	if err != nil && err != io.EOF {
		err = c.opError("read", err)
	}
	return n, err
}

// Write implements net.Conn.
func (c *tcpConn) Write(b []byte) (int, error) {
	n, err := c.f.Write(b)
	if err != nil {
		err = c.opError("write", err)
	}
	return n, err
}

// Close implements net.Conn.
func (c *tcpConn) Close() error {
	if err := c.f.Close(); err != nil {
		return c.opError("close", err)
	}
	return nil
}

// LocalAddr implements net.Conn: the listener's address, or the socket's
// own when the listener is on a wildcard address.
func (c *tcpConn) LocalAddr() net.Addr {
	if !c.a.wild {
		return c.a.laddr
	}
	var rsa syscall.RawSockaddrAny
	n := uint32(syscall.SizeofSockaddrAny)
	var e syscall.Errno
	c.raw.rc.Control(func(fd uintptr) {
		_, _, e = syscall.RawSyscall(syscall.SYS_GETSOCKNAME, fd, uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&n)))
	})
	if a := tcpAddrOf(&rsa); e == 0 && a != nil {
		return a
	}
	return c.a.laddr
}

// RemoteAddr implements net.Conn.
func (c *tcpConn) RemoteAddr() net.Addr { return c.raddr }

// SetDeadline implements net.Conn.
func (c *tcpConn) SetDeadline(t time.Time) error {
	return c.setErr(c.f.SetDeadline(t))
}

// SetReadDeadline implements net.Conn.
func (c *tcpConn) SetReadDeadline(t time.Time) error {
	return c.setErr(c.f.SetReadDeadline(t))
}

// SetWriteDeadline implements net.Conn.
func (c *tcpConn) SetWriteDeadline(t time.Time) error {
	return c.setErr(c.f.SetWriteDeadline(t))
}

func (c *tcpConn) setErr(err error) error {
	if err != nil {
		return c.opError("set", err)
	}
	return nil
}

// SyscallConn returns the socket, as *net.TCPConn's does.
func (c *tcpConn) SyscallConn() (syscall.RawConn, error) { return &c.raw, nil }

// CloseWrite shuts down the writing side, as *net.TCPConn's does.
func (c *tcpConn) CloseWrite() error {
	return c.sockopt("close", func(fd int) error { return syscall.Shutdown(fd, syscall.SHUT_WR) })
}

// SetKeepAliveConfig sets TCP keep-alive as *net.TCPConn's does: on or
// off, and each of the times and the count that is positive.
func (c *tcpConn) SetKeepAliveConfig(cfg net.KeepAliveConfig) error {
	return c.sockopt("set", func(fd int) error {
		on := 0
		if cfg.Enable {
			on = 1
		}
		if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, on); err != nil || !cfg.Enable {
			return err
		}
		for _, o := range []struct {
			opt, v int
		}{{syscall.TCP_KEEPIDLE, int(cfg.Idle / time.Second)}, {syscall.TCP_KEEPINTVL, int(cfg.Interval / time.Second)}, {syscall.TCP_KEEPCNT, cfg.Count}} {
			if o.v > 0 {
				if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, o.opt, o.v); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// sockopt runs f on the socket; its error is reported as net would.
func (c *tcpConn) sockopt(op string, f func(fd int) error) error {
	var ferr error
	if err := c.raw.rc.Control(func(fd uintptr) { ferr = f(int(fd)) }); err != nil {
		return c.opError(op, err)
	}
	if ferr != nil {
		return c.opError(op, ferr)
	}
	return nil
}

// opError returns err, an error of the *os.File or of a system call, as
// net reports the error of an operation on a connection: a *net.OpError
// around net.ErrClosed, a deadline's error (Timeout) or an
// *os.SyscallError.
func (c *tcpConn) opError(op string, err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	switch e := err.(type) {
	case syscall.Errno:
		err = os.NewSyscallError(op, e)
	default:
		if errors.Is(err, os.ErrClosed) || err.Error() == errFileClosing {
			err = net.ErrClosed
		}
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.a.laddr, Addr: c.raddr, Err: err}
}

// errFileClosing is the text of the error of a raw read, write or control
// of an *os.File that has been closed (internal/poll's ErrFileClosing;
// os converts it to os.ErrClosed everywhere else).
const errFileClosing = "use of closed file"

// tcpRawConn is a tcpConn's syscall.RawConn: the *os.File's, with net's
// errors.
type tcpRawConn struct {
	rc syscall.RawConn
	c  *tcpConn
}

// Control implements syscall.RawConn.
func (r *tcpRawConn) Control(f func(fd uintptr)) error {
	if err := r.rc.Control(f); err != nil {
		return r.c.opError("raw-control", err)
	}
	return nil
}

// Read implements syscall.RawConn.
func (r *tcpRawConn) Read(f func(fd uintptr) bool) error {
	if err := r.rc.Read(f); err != nil {
		return r.c.opError("raw-read", err)
	}
	return nil
}

// Write implements syscall.RawConn.
func (r *tcpRawConn) Write(f func(fd uintptr) bool) error {
	if err := r.rc.Write(f); err != nil {
		return r.c.opError("raw-write", err)
	}
	return nil
}
