//go:build !linux

package broker

import "errors"

// peekFD and readFD are not used where there are no inline writes (no
// wsSocket).
func peekFD(fd uintptr, b []byte) bool { return true }

func readFD(fd uintptr, b []byte) (int, error) { return 0, errors.ErrUnsupported }
