package main

import "syscall"

// keepAliveListener is the Control of the MQTT listeners: it turns TCP
// keep-alive on for the listening socket before it listens, and Linux
// passes the option to every connection accepted from it. The broker sees
// that (broker/keepalive_linux.go) and sets no option of its own on the
// connections of clients that ask for no MQTT keep-alive, which need
// TCP's: one system call fewer per such connection. The kernel's timers
// apply (net.ipv4.tcp_keepalive_time, 2 hours unless set otherwise), so a
// client with an MQTT keep-alive, ended by the broker long before that,
// never sees a probe.
func keepAliveListener(_, _ string, rc syscall.RawConn) error {
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1)
	}); err != nil {
		return err
	}
	return serr
}
