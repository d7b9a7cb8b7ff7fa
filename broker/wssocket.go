package broker

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
)

// wsSocket is the socket under a WebSocket over plain TCP, as
// coder/websocket writes to it: the library's buffered writer flushes
// each frame into wsSocket.Write instead of the connection itself. It lets
// a packet be written inline (writenow.go) through the library without
// ever waiting for the socket.
//
// The library serialises its writes (frames, pongs, close frames) under
// its own frame lock, and a write that waits for a full socket holds that
// lock. So wsSocket never waits for the socket except in a Write by the
// connection's writer goroutine (waiter): any other Write makes one
// non-blocking write and keeps what the kernel did not take (rest), to be
// written, in order, before anything later. What rest holds is written by
// the writer goroutine, which waits for it after its own message
// (flushRest), or, when no writer waits, by a goroutine started for it.
// Either way the library's frame lock is never held while the socket is
// full, and a goroutine that claims the writer of an idle connection can
// write a frame through the library without waiting (writeNow).
//
// Writes are serialised by the library's frame lock; mu guards the state
// that the flushing goroutine shares with them. Lock order: the library's
// frame lock, then mu; mu is never held across a write that can block.
type wsSocket struct {
	net.Conn                       // the hijacked connection (*net.TCPConn)
	rc       syscall.RawConn       // its non-blocking writes
	fn       func(fd uintptr) bool // writeFD, made once: a method value allocates

	mu       sync.Mutex
	b        []byte        // the argument of writeFD
	n        int           // its result
	failed   bool          // writeFD failed
	waiter   bool          // the connection's writer is in Write: it flushes rest after
	flushing bool          // a goroutine is writing what rest held, outside mu
	done     chan struct{} // made by one who waits for flushing to end; closed then
	rest     []byte        // written to the socket after what flushing writes
	err      error         // a write failed: every later one fails

	// Read side, used by the connection's reader only (Read, readable).
	br      *bufio.Reader         // the library's read buffer, above the socket
	readFn  func(fd uintptr) bool // readSock, made once
	rb      []byte                // readSock's argument
	rn      int                   // its result
	rerr    error
	waiting bool // readable is filling br: a deadline met is its answer
	// extend is called when a read meets the socket's read deadline: true
	// if that deadline was an early one, now moved on (wsConn.extendRead).
	extend func() bool
}

// Read reads from the socket for the library (its buffered reader), as
// the connection's Read would, with the socket's read deadline, but
// without telling the scheduler of a call that never blocks
// (wssocket_linux.go).
func (s *wsSocket) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	s.rb = p
	err := s.rc.Read(s.readFn)
	for err != nil && s.extend != nil && !s.waiting && errors.Is(err, os.ErrDeadlineExceeded) && s.extend() {
		err = s.rc.Read(s.readFn)
	}
	s.rb = nil
	switch {
	case err != nil:
		return 0, err
	case s.rerr != nil:
		err, s.rerr = s.rerr, nil
		return 0, err
	case s.rn == 0:
		return 0, io.EOF
	}
	return s.rn, nil
}

func (s *wsSocket) readSock(fd uintptr) bool {
	s.rn, s.rerr = readFD(fd, s.rb)
	if s.rerr == syscall.EAGAIN {
		s.rerr = nil
		return false // wait until the socket is readable
	}
	return true
}

// newWSSocket returns a wsSocket over c, or nil when c is not plain TCP
// on a system with non-blocking writes (TLS must encrypt through its own
// locked writer).
func newWSSocket(c net.Conn) *wsSocket {
	tc, ok := c.(*net.TCPConn)
	if !ok || !inlineWrites {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	s := &wsSocket{Conn: c, rc: rc}
	s.fn = s.writeFD
	s.readFn = s.readSock
	return s
}

// readable waits until the next read has something to return (bytes in
// the library's buffer or on the socket, an end, an error) and reports
// whether it has; false when the socket's read deadline passed first.
// What it reads goes into the library's read buffer (br), where the
// library's next read finds it: one system call for the bytes, not a peek
// and then a read.
func (s *wsSocket) readable() bool {
	if s.br.Buffered() > 0 {
		return true
	}
	s.waiting = true
	_, err := s.br.Peek(1)
	s.waiting = false
	// An end or an error other than the deadline is the library's to
	// read: the socket returns it again (an end), or an end after it.
	return err == nil || !errors.Is(err, os.ErrDeadlineExceeded)
}

func (s *wsSocket) writeFD(fd uintptr) bool {
	var err error
	s.n, err = rawWrite(fd, s.b)
	s.failed = err != nil && err != syscall.EAGAIN
	if err != nil {
		s.n = 0
	}
	return true // done, whatever happened: never wait for the socket
}

// Write writes p for the library. It waits for the socket only for the
// connection's writer with nothing left over; otherwise it writes what
// the socket takes at once and keeps the rest.
func (s *wsSocket) Write(p []byte) (int, error) {
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return 0, err
	}
	if !s.flushing && len(s.rest) == 0 {
		if s.waiter {
			// The writer goroutine, with the socket to itself (the
			// library's frame lock): it may wait, as it always did.
			s.mu.Unlock()
			return s.Conn.Write(p)
		}
		s.b = p
		err := s.rc.Write(s.fn)
		s.b = nil
		if err != nil || s.failed {
			if err == nil {
				err = syscall.EPIPE // the socket refused the write (not EAGAIN)
			}
			s.err = err
			s.mu.Unlock()
			return 0, err
		}
		if s.n == len(p) {
			s.mu.Unlock()
			return len(p), nil
		}
		s.rest = append(s.rest, p[s.n:]...)
	} else {
		s.rest = append(s.rest, p...)
	}
	if !s.flushing && !s.waiter {
		s.flushing = true
		go s.flush()
	}
	s.mu.Unlock()
	return len(p), nil
}

// flush writes rest until there is none, then ends flushing. The caller
// has set flushing.
func (s *wsSocket) flush() {
	s.mu.Lock()
	for len(s.rest) > 0 && s.err == nil {
		b := s.rest
		s.rest = nil
		s.mu.Unlock()
		_, err := s.Conn.Write(b)
		s.mu.Lock()
		if err != nil {
			s.err = err
		}
	}
	s.rest = nil
	s.flushing = false
	if s.done != nil {
		close(s.done)
		s.done = nil
	}
	s.mu.Unlock()
}

// beginWrite marks a Write by the connection's writer goroutine, which
// then calls flushRest.
func (s *wsSocket) beginWrite() {
	s.mu.Lock()
	s.waiter = true
	s.mu.Unlock()
}

// flushRest ends the writer's Write: it waits until everything written
// before has reached the socket, writing what is left over itself, and
// reports a failed write.
func (s *wsSocket) flushRest() error {
	s.mu.Lock()
	s.waiter = false
	for {
		switch {
		case s.flushing:
			if s.done == nil {
				s.done = make(chan struct{})
			}
			done := s.done
			s.mu.Unlock()
			<-done
			s.mu.Lock()
		case len(s.rest) > 0 && s.err == nil:
			s.flushing = true
			s.mu.Unlock()
			s.flush()
			s.mu.Lock()
		default:
			err := s.err
			s.mu.Unlock()
			return err
		}
	}
}

// idle reports whether a frame written now goes straight to the socket:
// nothing is left over, no goroutine is writing, and none has failed.
func (s *wsSocket) idle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.flushing && len(s.rest) == 0 && s.err == nil && !s.waiter
}
