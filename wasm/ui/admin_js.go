//go:build js && wasm

package ui

import (
	"context"
	"encoding/base64"
	"errors"
	"net/url"
	"strconv"
	"syscall/js"
)

// fetchAdmin is the broker's admin API through the browser's fetch: a few
// lines of syscall/js instead of net/http, which would add about a
// megabyte to the wasm.
type fetchAdmin struct {
	origin         string // "http://host:port" of the page, which is the broker's
	user, password string
}

// DeleteRetained sends DELETE /api/v1/retained?filter=filter with the
// connection's credentials and returns the status and body.
func (a fetchAdmin) DeleteRetained(ctx context.Context, filter string) (int, []byte, error) {
	return fetch(ctx, a.origin+"/api/v1/retained?filter="+url.QueryEscape(filter), a.options("DELETE"))
}

// options are fetch's options for method with the credentials.
func (a fetchAdmin) options(method string) map[string]any {
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(a.user+":"+a.password))
	return map[string]any{
		"method":      method,
		"credentials": "omit", // only the header's credentials, never the browser's
		"cache":       "no-store",
		"headers":     map[string]any{"Authorization": auth},
	}
}

// ListRetained sends GET /api/v1/retained?filter=filter&limit=limit.
func (a fetchAdmin) ListRetained(ctx context.Context, filter string, limit int) (int, []byte, error) {
	u := a.origin + "/api/v1/retained?filter=" + url.QueryEscape(filter) + "&limit=" + strconv.Itoa(limit)
	return fetch(ctx, u, a.options("GET"))
}

type fetchResult struct {
	status int
	body   []byte
	err    error
}

// fetch calls the browser's fetch and waits for the whole body, or for
// ctx. Its callbacks are released once the promise settled.
func fetch(ctx context.Context, u string, opts map[string]any) (int, []byte, error) {
	done := make(chan fetchResult, 1)
	var onResp, onBody, onErr js.Func
	release := func() { onResp.Release(); onBody.Release(); onErr.Release() }
	status := 0
	// Never block a callback: a second settlement would find done full.
	send := func(r fetchResult) {
		select {
		case done <- r:
		default:
		}
	}
	onErr = js.FuncOf(func(_ js.Value, args []js.Value) any {
		msg := "fetch failed"
		if len(args) > 0 && args[0].Truthy() {
			msg = args[0].Call("toString").String()
		}
		send(fetchResult{err: errors.New(msg)})
		return nil
	})
	onBody = js.FuncOf(func(_ js.Value, args []js.Value) any {
		b := make([]byte, args[0].Get("byteLength").Int())
		js.CopyBytesToGo(b, js.Global().Get("Uint8Array").New(args[0]))
		send(fetchResult{status: status, body: b})
		return nil
	})
	onResp = js.FuncOf(func(_ js.Value, args []js.Value) any {
		status = args[0].Get("status").Int()
		return args[0].Call("arrayBuffer").Call("then", onBody, onErr)
	})
	js.Global().Call("fetch", u, opts).Call("then", onResp).Call("catch", onErr)
	select {
	case r := <-done:
		go release()
		return r.status, r.body, r.err
	case <-ctx.Done():
		// The callbacks stay: the promise may still call them (a buffered
		// send that nobody reads).
		return 0, nil, ctx.Err()
	}
}
