//go:build js && wasm

// Command wasmtest runs the client inside a browser for the client
// package's browser test (browser_test.go): it connects to the broker that
// served its page (ws://<host>/mqtt), subscribes, publishes at each QoS
// (one payload larger than the WebSocket library's default 32 KiB read
// limit), stays idle past the broker's keep-alive deadline, checks the
// errors of a bad URL and a bad path, and disconnects. It writes "PASS" or
// "FAIL: <reason>" into the element #result, adds the element #done, and
// logs every step to the console.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall/js"
	"time"

	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"
)

func main() {
	err := run()
	result := "PASS"
	if err != nil {
		result = "FAIL: " + err.Error()
	}
	logf("%s", result)
	doc := js.Global().Get("document")
	doc.Call("getElementById", "result").Set("textContent", result)
	done := doc.Call("createElement", "div")
	done.Set("id", "done")
	done.Set("textContent", "done")
	doc.Get("body").Call("appendChild", done)
}

func logf(format string, args ...any) {
	js.Global().Get("console").Call("log", "wasmtest: "+fmt.Sprintf(format, args...))
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	host := js.Global().Get("location").Get("host").String()
	url := "ws://" + host + "/mqtt"

	opts := client.Options{ClientID: "wasm-test", KeepAlive: time.Second}
	opts.ConnectProperties.MaximumPacketSize = 1 << 20
	opts.ConnectProperties.TopicAliasMaximum = 8
	c, err := client.Connect(ctx, url, opts)
	if err != nil {
		return fmt.Errorf("connect %s: %w", url, err)
	}
	logf("connected to %s", url)

	got := make(chan *client.Message, 16)
	if _, err := c.Subscribe(ctx, func(m *client.Message) { got <- m },
		codec.Subscription{Filter: "wasm/#", QoS: codec.ExactlyOnce}); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 100<<10/16) // 100 KiB
	msgs := []*client.Message{
		{Topic: "wasm/qos0", QoS: 0, Payload: []byte("hello from the browser")},
		{Topic: "wasm/qos1", QoS: 1, Payload: big},
		{Topic: "wasm/qos2", QoS: 2, Payload: []byte("exactly once")},
	}
	check := func() error {
		for _, m := range msgs {
			if err := c.Publish(ctx, m); err != nil {
				return fmt.Errorf("publish %s: %w", m.Topic, err)
			}
			select {
			case r := <-got:
				if r.Topic != m.Topic || !bytes.Equal(r.Payload, m.Payload) {
					return fmt.Errorf("received %s (%d bytes), want %s (%d bytes)", r.Topic, len(r.Payload), m.Topic, len(m.Payload))
				}
				logf("received %s, %d bytes, QoS %d", r.Topic, len(r.Payload), r.QoS)
			case <-ctx.Done():
				return fmt.Errorf("waiting for %s: %w", m.Topic, ctx.Err())
			}
		}
		return nil
	}
	if err := check(); err != nil {
		return err
	}
	// Idle for longer than the broker allows without a packet (1.5 × Keep
	// Alive): only the client's PINGREQ keeps the connection, since a page
	// cannot send WebSocket pings.
	time.Sleep(2500 * time.Millisecond)
	if err := check(); err != nil {
		return fmt.Errorf("after idling past the keep-alive: %w", err)
	}

	// Dial errors name the URL and hint at the cause.
	bad := "ws://" + host + "/no-mqtt-here"
	_, err = client.Connect(ctx, bad, client.Options{ClientID: "wasm-bad"})
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "subprotocol") {
		return fmt.Errorf("dial error for a wrong path does not name the URL and the hints: %v", err)
	}
	logf("bad path: %v", err)
	_, err = client.Connect(ctx, "mqtt://"+host, client.Options{})
	if err == nil || !strings.Contains(err.Error(), "ws://") {
		return fmt.Errorf("mqtt:// in the browser: %v, want an error pointing to ws://", err)
	}
	logf("mqtt:// URL: %v", err)

	// The close handshake works in the browser.
	if err := c.Disconnect(ctx, codec.NormalDisconnection); err != nil {
		return fmt.Errorf("disconnect: %w", err)
	}
	if err := c.Publish(ctx, msgs[0]); !errors.Is(err, client.ErrClosed) {
		return fmt.Errorf("publish after disconnect: %v, want ErrClosed", err)
	}
	logf("disconnected")
	return nil
}
