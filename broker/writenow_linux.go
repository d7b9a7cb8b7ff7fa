package broker

import "syscall"

// inlineWrites: this system has the calls writenow.go needs.
const inlineWrites = true

// rawWrite is write(2) on the socket fd, which is non-blocking.
func rawWrite(fd uintptr, b []byte) (int, error) { return syscall.Write(int(fd), b) }
