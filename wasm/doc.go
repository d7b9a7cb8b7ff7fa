// Package wasm is the root of Tern's browser side; the code is in its
// subpackages:
//
//   - cmd/app: the web client, compiled with GOOS=js GOARCH=wasm and
//     served by package web;
//   - ui: its go-app components (thin) and the Hub they share;
//   - uistate: the page's state as plain Go (message log, subscriptions,
//     connection status and hints, profiles, publish form and history,
//     payload formats), tested natively;
//   - service: the MQTT service, one per connection, which batches what it
//     receives into one UI update per interval;
//   - the topic tree, chat rooms and the JS API, in packages of
//     their own.
//
// Everything here builds and is tested natively too, except thin glue
// that is restricted to js/wasm builds. It builds on the client and codec
// packages and never imports the broker.
package wasm
