//go:build !js || !wasm

package ui

import (
	"context"
	"errors"
)

// fetchAdmin stands in for the browser's admin API client outside the
// browser (server-side rendering, native tests): it never reaches one.
type fetchAdmin struct {
	origin         string
	user, password string
}

// DeleteRetained fails: there is no fetch outside the browser.
func (fetchAdmin) DeleteRetained(context.Context, string) (int, []byte, error) {
	return 0, nil, errors.New("no fetch outside the browser")
}

// ListRetained fails: there is no fetch outside the browser.
func (fetchAdmin) ListRetained(context.Context, string, int) (int, []byte, error) {
	return 0, nil, errors.New("no fetch outside the browser")
}
