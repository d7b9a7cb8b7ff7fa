package broker

import "syscall"

// peekFD reports whether the socket fd has a byte to read, or an end or
// error that a read would return, without reading it; false: nothing yet
// (EAGAIN).
func peekFD(fd uintptr, b []byte) bool {
	_, _, err := syscall.Recvfrom(int(fd), b, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return err != syscall.EAGAIN
}
