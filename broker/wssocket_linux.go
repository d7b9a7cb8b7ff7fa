package broker

import (
	"syscall"
	"unsafe"
)

// The calls below never block (the socket is non-blocking, or
// MSG_DONTWAIT), so they are made without telling the scheduler
// (RawSyscall): a system call made the ordinary way wakes the runtime's
// monitor thread (sysmon) when it sleeps, as it does whenever the broker
// has been idle for a moment, which is before every message at a low rate:
// a futex wake-up and a thread scheduled on the message's path.

// readFD is read(2) on the non-blocking socket fd.
func readFD(fd uintptr, b []byte) (int, error) {
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
