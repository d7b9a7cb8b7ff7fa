// Package client will hold Tern's Go MQTT 3.1.1 and 5.0 client. Natively it
// connects over TCP, TLS and WebSocket; built for GOOS=js GOARCH=wasm it
// connects over the browser's WebSocket, behind the same API. It uses the
// codec package for all packet bytes, and it is what the browser programs in
// the wasm package are built on.
//
// The package is planned; it has no API yet.
package client
