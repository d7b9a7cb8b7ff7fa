// Package web will hold the static assets of Tern's web client (the
// compiled app.wasm, precompressed, the loader script and local icons) and
// the HTTP handler that serves the UI from the broker's HTTP port. The
// go-app server handler is restricted to native builds; cmd/tern is where
// this handler and the broker meet.
//
// The package is planned; it has no API yet.
package web
