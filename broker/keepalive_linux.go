package broker

import (
	"net"
	"syscall"
)

// keepAliveOnAccept reports whether every connection accepted from ln has
// TCP keep-alive on from the start: ln is a TCP listener whose socket has
// SO_KEEPALIVE set, which Linux copies to each connection it accepts
// (with the kernel's timers, as tcpKeepAlive sets them). Then a client
// that asks for no MQTT keep-alive costs no socket option of its own on
// accept (conn.serve): one system call fewer on its connect path. The
// option must be set before the socket listens (cmd/tern sets it in its
// ListenConfig's Control), or connections completed in between would
// not have it; so the broker only reads it here, once per listener. A TLS
// listener hides its socket: its connections set the option one by one.
func keepAliveOnAccept(ln net.Listener) bool {
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return false
	}
	rc, err := tl.SyscallConn()
	if err != nil {
		return false
	}
	on := 0
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		on, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE)
	}); err != nil || gerr != nil {
		return false
	}
	return on == 1
}

// ListenControl is a net.ListenConfig Control for MQTT listeners: it
// turns TCP keep-alive and TCP_NODELAY on for the listening socket before
// it listens, and Linux passes both options to every connection accepted
// from it. The broker sees that (keepAliveOnAccept, accept_linux.go) and
// sets neither option on the connections itself: two system calls fewer per connect (SO_KEEPALIVE for clients
// that ask for no MQTT keep-alive, TCP_NODELAY for all). The kernel's
// keep-alive timers apply (net.ipv4.tcp_keepalive_time, 2 hours unless
// set otherwise), so a client with an MQTT keep-alive, ended by the
// broker long before that, never sees a probe.
func ListenControl(_, _ string, rc syscall.RawConn) error {
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1)
		if serr == nil {
			serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
		}
	}); err != nil {
		return err
	}
	return serr
}
