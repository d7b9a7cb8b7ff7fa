package client_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"
)

// Forward messages from one subscription to another topic, in order and
// with several in flight: each message is queued with PublishAsync, and
// its acknowledgement to the server is deferred until the forwarded copy
// has been acknowledged. This is how a bridge keeps at-least-once from end
// to end without waiting for one message before taking the next.
func ExampleMessage_Defer() {
	url, stop := startBroker()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	out, err := client.Connect(ctx, url, client.Options{ClientID: "forwarder-out"})
	if err != nil {
		log.Fatal(err)
	}
	defer out.Disconnect(ctx, codec.NormalDisconnection)
	in, err := client.Connect(ctx, url, client.Options{ClientID: "forwarder-in", SerialHandlers: true})
	if err != nil {
		log.Fatal(err)
	}
	defer in.Disconnect(ctx, codec.NormalDisconnection)

	type flow struct {
		wait    func(context.Context) error
		release func()
	}
	flows := make(chan flow, 16)
	go func() { // completes the flows in order
		for {
			select {
			case f := <-flows:
				if err := f.wait(ctx); err == nil {
					f.release() // now the original is acknowledged
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	in.Subscribe(ctx, func(m *client.Message) {
		release := m.Defer()
		wait, err := out.PublishAsync(ctx, &client.Message{Topic: "copy/" + m.Topic, Payload: m.Payload, QoS: m.QoS})
		if err != nil {
			release() // give up: acknowledge the original
			return
		}
		flows <- flow{wait, release}
	}, codec.Subscription{Filter: "orig/#", QoS: 1})

	got := make(chan string, 3)
	out.Subscribe(ctx, func(m *client.Message) { got <- m.Topic + " " + string(m.Payload) },
		codec.Subscription{Filter: "copy/#", QoS: 1})
	for i := range 3 {
		out.Publish(ctx, &client.Message{Topic: "orig/n", Payload: []byte(fmt.Sprint(i)), QoS: 1})
	}
	for range 3 {
		fmt.Println(<-got)
	}
	// Output:
	// copy/orig/n 0
	// copy/orig/n 1
	// copy/orig/n 2
}
