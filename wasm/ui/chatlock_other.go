//go:build !js || !wasm

package ui

// Outside the browser (server-side rendering, native tests) there are no
// Web Locks; the chat never claims an identity there.
func haveWebLocks() bool { return false }

func holdLock(string) bool { return false }
