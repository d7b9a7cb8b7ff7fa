//go:build js && wasm

package ui

import "syscall/js"

// haveWebLocks reports whether the page has the Web Locks API (a secure
// context: https, or http on localhost).
func haveWebLocks() bool {
	return js.Global().Get("navigator").Get("locks").Truthy()
}

// holdLock asks for a Web Lock if it is free and, when granted, holds it
// until the page goes: the callback returns a promise that never settles.
// It reports whether it got the lock, and blocks until the browser
// answers: call it off the UI goroutine. The callbacks are released once
// they have run.
func holdLock(name string) bool {
	got := make(chan bool, 1)
	var cb js.Func
	cb = js.FuncOf(func(_ js.Value, args []js.Value) any {
		defer cb.Release()
		if len(args) == 0 || args[0].IsNull() || args[0].IsUndefined() {
			got <- false
			return nil
		}
		got <- true
		noop := js.FuncOf(func(js.Value, []js.Value) any { return nil })
		defer noop.Release()
		return js.Global().Get("Promise").New(noop)
	})
	js.Global().Get("navigator").Get("locks").Call("request", name, map[string]any{"ifAvailable": true}, cb)
	return <-got
}
