//go:build !linux

package broker

import "errors"

// inlineWrites: no inline writes on this system; every packet goes
// through the writer goroutine (writenow.go).
const inlineWrites = false

func rawWrite(fd uintptr, b []byte) (int, error) { return 0, errors.ErrUnsupported }
