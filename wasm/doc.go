// Package wasm will hold Tern's browser side: the UI state (message log,
// topic tree of retained messages, chat rooms) as plain Go that is tested
// natively, the go-app components that render it, and the Promise-based
// JavaScript API for embedding the client in other dashboards. Only thin
// glue is restricted to js/wasm builds; it builds on the client and codec
// packages and never imports the broker.
//
// The package is planned; it has no API yet.
package wasm
