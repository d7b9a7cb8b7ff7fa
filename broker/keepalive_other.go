//go:build !linux

package broker

import "net"

// keepAliveOnAccept does nothing here: whether accepted sockets inherit
// the listener's keep-alive differs between systems, so each connection
// that needs it sets it (conn.tcpKeepAlive).
func keepAliveOnAccept(net.Listener) bool { return false }
