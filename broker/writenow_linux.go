package broker

import (
	"syscall"
	"unsafe"
)

// inlineWrites: this system has the calls writenow.go needs.
const inlineWrites = true

// rawWrite is write(2) on the socket fd, which is non-blocking.
func rawWrite(fd uintptr, b []byte) (int, error) { return syscall.Write(int(fd), b) }

// sendQueued returns the bytes in the send queue of the socket fd
// (SIOCOUTQ), or -1.
func sendQueued(fd uintptr) int {
	var n int32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&n))); errno != 0 {
		return -1
	}
	return int(n)
}
