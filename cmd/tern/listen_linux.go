package main

import "syscall"

// keepAliveListener is the Control of the MQTT listeners: it turns TCP
// keep-alive and TCP_NODELAY on for the listening socket before it
// listens, and Linux passes both options to every connection accepted
// from it. The broker sees that (broker/keepalive_linux.go,
// broker/accept_linux.go) and sets neither option on the connections
// itself: two system calls fewer per connect (SO_KEEPALIVE for clients
// that ask for no MQTT keep-alive, TCP_NODELAY for all). The kernel's
// keep-alive timers apply (net.ipv4.tcp_keepalive_time, 2 hours unless
// set otherwise), so a client with an MQTT keep-alive, ended by the
// broker long before that, never sees a probe.
func keepAliveListener(_, _ string, rc syscall.RawConn) error {
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
