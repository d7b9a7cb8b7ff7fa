// Package web serves Tern's web client from the broker's HTTP port: the
// go-app page at / (and its other routes), the compiled client (app.wasm,
// precompressed with brotli and gzip), go-app's scripts and service
// worker, and the local stylesheet and icons under /web/. Nothing is
// loaded from another host, so the client works without internet access
// and the service worker can install it for offline use.
//
// Handler is the only entry point; cmd/tern mounts it at /. The handler is
// built for the server only (it is excluded from js/wasm builds); the
// browser side lives in wasm/.
//
// The client build (app.wasm.br, app.wasm.gz and app.wasm.json, see
// package wasmbuild) is read from Options.Dir, or else from web/dist as
// embedded in the binary by `make wasm` followed by a build of the broker.
// Without a build the handler still answers, with a page that says how to
// build the client.
//
// The JS API is served apart, by NewJSAPI (jsapi.go), which
// cmd/tern registers on its own paths: /tern.js (web/tern), /tern.wasm
// (wasm/jsapi, built by `make jsapi` into web/tern/dist), /tern.d.ts and
// the example dashboard at /examples/dashboard.
package web
