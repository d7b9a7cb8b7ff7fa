package broker

import (
	"syscall"
	"unsafe"
)

// inlineWrites: this system has the calls writenow.go needs.
const inlineWrites = true

// rawWrite is write(2) on the socket fd, which is non-blocking, so it is
// made without telling the scheduler (see wssocket_linux.go).
func rawWrite(fd uintptr, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
