//go:build linux

package broker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"unsafe"
)

// poller is the epoll set that holds the sockets of parked connections
// (see park.go). Its one goroutine (run) waits in epoll_wait and resumes a
// connection's reader when its socket becomes readable or is hung up. It
// belongs to the Server: made at the first park, stopped by Shutdown.
//
// Each socket is registered one-shot, with the socket number and a
// generation as the event's data: socket numbers are reused as soon as a
// connection is closed, so an event (or a removal) counts only if the
// number still belongs to the same connection and the same park.
//
// The socket is registered from inside syscall.RawConn.Control, which
// keeps it from being closed meanwhile; it is never duplicated, so closing
// the connection also takes it out of the set.
type poller struct {
	epfd int
	// stopR and stopW are a pipe: a byte written to stopW ends run.
	stopR, stopW int
	done         chan struct{} // closed when run returns
	log          *slog.Logger

	mu sync.Mutex // innermost: taken with no other lock held
	// conns holds the parked connections by socket number, and n counts
	// them. Socket numbers are small and dense (the kernel gives the
	// lowest free one): a slice costs 8 bytes per socket, less than a map
	// (BenchmarkIdleConn/parked: 12 B of live heap per idle connection).
	conns []*conn
	n     int
	gen   uint32 // generation of the last registration
	evs   []syscall.EpollEvent
	// adding is the connection add registers, and added its result (under
	// mu); register, made once, is the function add hands to Control: a
	// closure per park would be an allocation per park.
	adding   *conn
	added    bool
	register func(s uintptr)
	// resumes hands each goroutine that start starts its connection.
	resumes   chan *conn
	resumeOne func() // p.runOne, made once
}

func newPoller(log *slog.Logger) (*poller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	var pipe [2]int
	if err := syscall.Pipe2(pipe[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		syscall.Close(epfd)
		return nil, fmt.Errorf("pipe2: %w", err)
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(pipe[0])}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, pipe[0], &ev); err != nil {
		syscall.Close(epfd)
		syscall.Close(pipe[0])
		syscall.Close(pipe[1])
		return nil, fmt.Errorf("epoll_ctl: %w", err)
	}
	p := &poller{epfd: epfd, stopR: pipe[0], stopW: pipe[1], done: make(chan struct{}), log: log,
		evs: make([]syscall.EpollEvent, 128)}
	p.register = p.registerFD
	p.resumes = make(chan *conn, 256)
	p.resumeOne = p.runOne
	go p.run()
	return p, nil
}

// run waits for events until stop. A blocking epoll_wait holds one OS
// thread; the Go scheduler runs the other goroutines on others.
func (p *poller) run() {
	defer close(p.done)
	for {
		n, err := syscall.EpollWait(p.epfd, p.evs, -1)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			// Not expected; parked connections are still woken by their
			// keep-alive timers, kicks and Shutdown.
			p.log.Error("epoll_wait failed; parked connections wake only on timers", "err", err)
			return
		}
		for i := range n {
			ev := p.evs[i]
			if ev.Fd == int32(p.stopR) {
				return
			}
			if c := p.take(ev.Fd, uint32(ev.Pad)); c != nil {
				c.wakeBy()
			}
		}
	}
}

// start runs c.resume on a new goroutine. The go statement takes a
// func value made once and the connection goes through a channel: `go
// c.resume()` would allocate a closure per wake. Each goroutine started
// takes one connection, so a send waits only for goroutines already
// started, which receive before doing anything else.
func (p *poller) start(c *conn) {
	p.resumes <- c
	go p.resumeOne()
}

func (p *poller) runOne() { (<-p.resumes).resume() }

// take removes and returns the connection parked on socket fd with
// generation gen, or nil if that park is over.
func (p *poller) take(fd int32, gen uint32) *conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.get(fd)
	if c == nil || c.pk.gen != gen {
		return nil
	}
	p.del(fd)
	return c
}

// add registers the parked connection c, unless it was resumed
// meanwhile, and reports whether it did. It holds mu across Control,
// which only pins the socket.
func (p *poller) add(c *conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.adding, p.added = c, false
	err := c.pk.rc.Control(p.register)
	p.adding = nil
	return err == nil && p.added
}

// registerFD registers socket s of p.adding; the caller holds mu.
func (p *poller) registerFD(s uintptr) {
	c := p.adding
	if c.pk.state.Load() != parked {
		return
	}
	fd := int32(s)
	p.gen++
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: fd, Pad: int32(p.gen)}
	if err := epollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(s), &ev); err != nil {
		p.log.Warn("cannot park a connection; it keeps its reader", "err", err)
		return
	}
	c.pk.fd, c.pk.gen = fd, p.gen
	if int(fd) >= len(p.conns) {
		p.conns = append(p.conns, make([]*conn, int(fd)+1-len(p.conns))...)
	}
	if p.conns[fd] == nil {
		p.n++
	}
	p.conns[fd] = c
	p.added = true
}

// remove takes c out of the set if it is still registered there.
func (p *poller) remove(c *conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.get(c.pk.fd) == c {
		p.del(c.pk.fd)
	}
}

// del forgets socket fd; the caller holds mu. The socket may have been
// closed already, which took it out of the epoll set: then EPOLL_CTL_DEL
// fails harmlessly (a number reused by another registered socket is
// never removed, since conns maps it to that socket's connection).
func (p *poller) del(fd int32) {
	if p.conns[fd] != nil {
		p.conns[fd] = nil
		p.n--
	}
	epollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
}

// epollCtl is syscall.EpollCtl made as a raw system call: epoll_ctl never
// blocks, and one made the ordinary way (entersyscall) wakes the
// runtime's sysmon thread when it sleeps deeply, which resets it to
// polling every 20 µs for the next millisecond or more: a park per
// connect woke it at each CONNECT that came after a pause (see
// rawread.go for the same on reads).
func epollCtl(epfd, op, fd int, ev *syscall.EpollEvent) error {
	_, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(ev)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// get returns the connection registered on socket fd, or nil; the caller
// holds mu.
func (p *poller) get(fd int32) *conn {
	if fd < 0 || int(fd) >= len(p.conns) {
		return nil
	}
	return p.conns[fd]
}

// len returns the number of registered connections.
func (p *poller) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// stop ends run and releases the epoll set. Every connection has
// finished by then (Shutdown waits for them).
func (p *poller) stop() {
	syscall.Write(p.stopW, []byte{0})
	<-p.done
	syscall.Close(p.epfd)
	syscall.Close(p.stopR)
	syscall.Close(p.stopW)
}

// parkerFor returns the parking state of a TCP or TLS-over-TCP
// connection, or nil for anything else, which keeps its reader goroutine.
func parkerFor(nc net.Conn) *parker {
	tc, secure := nc.(*tls.Conn)
	if secure {
		nc = tc.NetConn()
	}
	var sc syscall.Conn
	switch nc := nc.(type) {
	case *net.TCPConn:
		sc = nc
	case *tcpConn:
		sc = nc
	default:
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return &parker{rc: rc, plain: !secure}
}

// readable reports whether a read of the socket would not block: bytes,
// an end of stream or an error are waiting. It does not consume them and
// ignores deadlines (which a read whose deadline has passed would not).
func (pk *parker) readable() bool {
	ready := true
	pk.rc.Control(func(s uintptr) {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(s), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		ready = n > 0 || err == nil || !errors.Is(err, syscall.EAGAIN)
	})
	return ready
}
