//go:build !linux

package main

import "syscall"

// keepAliveListener is nil here: whether accepted connections inherit the
// listener's keep-alive differs between systems, so the broker sets it per
// connection where a client asks for no MQTT keep-alive.
var keepAliveListener func(network, address string, rc syscall.RawConn) error
