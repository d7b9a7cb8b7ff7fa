//go:build !linux

package broker

// peekFD is not used where there are no inline writes (no wsSocket).
func peekFD(fd uintptr, b []byte) bool { return true }
