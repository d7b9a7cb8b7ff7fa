//go:build js && wasm

package client

// In the browser, Options.TLSConfig and Options.HTTPHeader do not apply
// (the browser does TLS and chooses the handshake headers), and their
// types are placeholders, so that the wasm binary does not carry
// crypto/tls and net/http.
type (
	tlsConfigType  = *struct{}
	httpHeaderType = map[string][]string
)
