// Package testkit is the one kit of test helpers shared by every package's
// tests, so that they agree on how long to wait, what CI requires and what
// the bytes on the wire mean:
//
//   - [Peer]: a scripted MQTT peer built on the codec only. It is a client
//     against the broker ([Dial], [NewPeer]) or a server against the client
//     ([Accept]); it sends exactly what a test says, and [Expect],
//     [Peer.ExpectClosed] and [Describe] check, in order, what came back.
//   - [WaitFor] and [Timeout]: the one bound on every wait for an event.
//   - [ServeLoopback]: a server on a free 127.0.0.1 port, stopped when the
//     test ends. It takes an interface, so that the broker's own in-package
//     tests can use this package; brokerkit starts a whole broker for the
//     tests outside it.
//   - [Chromium], [RequireTool] and [InCI]: one policy for real components
//     that may be missing: skip with a message outside CI, fail under
//     CI=true.
//   - [GoTool]: the go command of the toolchain that runs the tests.
//   - [NewCA] and [CA.Issue]: a throw-away certificate authority and
//     ECDSA certificates (IP SANs 127.0.0.1 and ::1) as PEM files.
//
// It imports only the codec and the standard library: any package's tests
// may use it, the broker's in-package tests included.
package testkit
