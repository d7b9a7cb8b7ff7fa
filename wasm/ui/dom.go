package ui

import (
	"strconv"
	"time"

	"github.com/maxence-charriere/go-app/v9/pkg/app"

	"github.com/ternmq/tern/wasm/uistate"
)

// This file holds the little direct DOM work the components need. Every
// JavaScript callback made here with app.FuncOf is released as soon as it
// has run; event listeners added to the window are released by the
// components' OnDismount.

// applyTheme sets data-theme on <html>; the stylesheet picks its colors
// from it, or from prefers-color-scheme when it is not set.
func applyTheme(t uistate.Theme) {
	if !app.IsClient {
		return
	}
	root := app.Window().Get("document").Get("documentElement")
	if t == uistate.ThemeSystem {
		root.Call("removeAttribute", "data-theme")
		return
	}
	root.Call("setAttribute", "data-theme", string(t))
}

// elementByID returns the element with the given id, or nil.
func elementByID(id string) app.Value {
	if !app.IsClient {
		return nil
	}
	e := app.Window().GetElementByID(id)
	if e == nil || e.IsNull() || e.IsUndefined() {
		return nil
	}
	return e
}

// focus moves the keyboard focus to the element with the given id.
func focus(id string) {
	if e := elementByID(id); e != nil {
		e.Call("focus")
	}
}

// download offers data to the user as a file.
func download(name, mime string, data []byte) {
	if !app.IsClient {
		return
	}
	w := app.Window()
	blob := w.Get("Blob").New([]any{string(data)}, map[string]any{"type": mime})
	href := w.Get("URL").Call("createObjectURL", blob)
	a := w.Get("document").Call("createElement", "a")
	a.Set("href", href)
	a.Set("download", name)
	a.Call("click")
	w.Get("URL").Call("revokeObjectURL", href)
}

// readFile reads the first file chosen in the <input type=file> that sent
// the event, and calls done with its text or an error. done runs on a
// JavaScript callback, not on the UI goroutine: use Hub.post from it. The
// two promise callbacks are released when either has run.
func readFile(ctx app.Context, done func(text string, err error)) {
	files := ctx.JSSrc().Get("files")
	if files.IsUndefined() || files.Length() == 0 {
		return
	}
	file := files.Index(0)
	var onOK, onErr app.Func
	release := func() {
		onOK.Release()
		onErr.Release()
	}
	onOK = app.FuncOf(func(_ app.Value, args []app.Value) any {
		release()
		done(args[0].String(), nil)
		return nil
	})
	onErr = app.FuncOf(func(_ app.Value, args []app.Value) any {
		release()
		msg := "cannot read the file"
		if len(args) > 0 && args[0].Truthy() {
			msg = args[0].Call("toString").String()
		}
		done("", errText(msg))
		return nil
	})
	file.Call("text").Call("then", onOK, onErr)
	// Let the same file be chosen again.
	ctx.JSSrc().Set("value", "")
}

type errText string

func (e errText) Error() string { return string(e) }

// isKey reports whether the keyboard event e is key with Ctrl (or ⌘ on a
// Mac) held or not.
func isKey(e app.Event, key string, ctrl bool) bool {
	if e.Get("key").String() != key {
		return false
	}
	mod := e.Get("ctrlKey").Bool() || e.Get("metaKey").Bool()
	return mod == ctrl
}

// inputValue returns the value of the element that sent the event.
func inputValue(ctx app.Context) string { return ctx.JSSrc().Get("value").String() }

// checked returns the checked state of the checkbox that sent the event.
func checked(ctx app.Context) bool { return ctx.JSSrc().Get("checked").Bool() }

// atoi parses a non-negative integer from a form field, or returns 0.
func atoi(s string, max uint64) uint64 {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0
	}
	return min(n, max)
}

// clock formats a time as the log shows it: 15:04:05.000 local time.
func clock(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format("15:04:05.000")
}

// when returns f() if cond holds, else nil. Unlike app.If, it does not
// build the element when cond is false (app.If's arguments are evaluated
// before it is called).
func when(cond bool, f func() app.UI) app.UI {
	if !cond {
		return nil
	}
	return f()
}

// px formats a length in CSS pixels.
func px(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) + "px" }

// size formats a byte count.
func size(n int) string {
	switch {
	case n < 1024:
		return strconv.Itoa(n) + " B"
	case n < 1<<20:
		return strconv.FormatFloat(float64(n)/1024, 'f', 1, 64) + " KiB"
	}
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
}

// typed keeps, by element id, what the user last typed into the text
// fields of one mounted component, so that renders do not write it back.
// go-app sets a field's value from its attribute trimmed ("hello "
// becomes "hello"), and a render that runs behind fast typing would write
// an older value over newer keys (spaces went first: typing faster than
// one key per frame dropped them). A field whose Go value is what was
// typed is left alone; the Go side writes the field only when it changes
// the value itself. A component keeps one in an unexported field, which
// lives as long as the component is mounted, as its elements do.
type typed struct{ m map[string]string }

// read returns the value of the field that sent the event, and remembers
// it as typed.
func (t *typed) read(ctx app.Context) string {
	src := ctx.JSSrc()
	v := src.Get("value").String()
	if t.m == nil {
		t.m = map[string]string{}
	}
	t.m[src.Get("id").String()] = v
	return v
}

// write reports whether a render must set the field id to v: the Go side
// changed it. An emptied field is cleared at once (go-app cannot tell an
// empty attribute from a missing one, so it would not).
func (t *typed) write(id, v string) bool {
	was, ok := t.m[id]
	if ok && was == v {
		return false
	}
	if t.m == nil {
		t.m = map[string]string{}
	}
	t.m[id] = v
	if v == "" && ok {
		if e := elementByID(id); e != nil {
			e.Set("value", "")
		}
		return false
	}
	return true
}

// input sets an input's value when the Go side changed it (see typed).
func (t *typed) input(el app.HTMLInput, id, v string) app.HTMLInput {
	if t.write(id, v) {
		return el.Value(v)
	}
	return el
}

// textarea sets a textarea's value when the Go side changed it.
func (t *typed) textarea(el app.HTMLTextarea, id, v string) app.HTMLTextarea {
	if t.write(id, v) {
		return el.Attr("value", v)
	}
	return el
}

// first returns the first of two values.
func first(a, _ int) int { return a }
