// Package tern holds the files of the repository root that the broker
// serves: DashboardHTML, the example dashboard of the JS API
// (index.html). The code is in the subdirectories: codec, client, broker,
// wasm, web and cmd.
package tern

import _ "embed"

// DashboardHTML is index.html: a plain HTML dashboard that loads the
// client with tern.js from the broker that serves it (or from the broker
// named by its ?broker= parameter) and uses the JS API and its
// custom elements. The broker serves it at /examples/dashboard.
//
//go:embed index.html
var DashboardHTML []byte
