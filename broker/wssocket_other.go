//go:build !linux

package broker

import "errors"

// readFD is not used where there are no inline writes (no wsSocket).

func readFD(fd uintptr, b []byte) (int, error) { return 0, errors.ErrUnsupported }
