//go:build !linux

package broker

import "net"

// acceptor accepts connections with raw system calls on Linux only
// (accept_linux.go); elsewhere Serve calls the listener's Accept.
type acceptor struct{}

func newAcceptor(net.Listener) *acceptor { return nil }

func (*acceptor) accept() (net.Conn, error) { panic("unreachable") }

func (*acceptor) listener(ln net.Listener) net.Listener { return ln }
