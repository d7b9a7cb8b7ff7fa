//go:build !js

package client

import (
	"crypto/tls"
	"net/http"
)

// The types of Options.TLSConfig and Options.HTTPHeader outside the browser.
type (
	tlsConfigType  = *tls.Config
	httpHeaderType = http.Header
)
