package bridge_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/broker/bridge"
	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"
)

// A rule line, as in mosquitto.conf after "topic": the filters the bridge
// subscribes to on each side.
func ExampleParseRule() {
	r, err := bridge.ParseRule(`sensors/# out 1 "" site-a/`)
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Direction, r.QoS, r.LocalFilter(), "->", r.RemoteFilter())
	// Output: out 1 sensors/# -> site-a/sensors/#
}

// Bridge a local broker to a remote one (here both in this process, on
// loopback): what is published locally under sensors/ arrives on the
// remote broker under site-a/sensors/.
func ExampleNew() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	local, remote := broker.New(broker.Options{}), broker.New(broker.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go remote.Serve(ctx, ln)
	defer remote.Shutdown(context.Background())
	defer local.Shutdown(context.Background())

	// Someone on the remote broker listens.
	got := make(chan string, 1)
	sub, err := client.Connect(ctx, "mqtt://"+ln.Addr().String(), client.Options{ClientID: "listener"})
	if err != nil {
		panic(err)
	}
	defer sub.Disconnect(context.Background(), codec.NormalDisconnection)
	sub.Subscribe(ctx, func(m *client.Message) { got <- m.Topic + ": " + string(m.Payload) },
		codec.Subscription{Filter: "site-a/#", QoS: 1})

	rule, _ := bridge.ParseRule(`sensors/# out 1 "" site-a/`)
	b, err := bridge.New(local, bridge.Config{
		Name:      "site-a",
		Addresses: []string{"mqtt://" + ln.Addr().String()},
		Topics:    []bridge.Rule{rule},
	})
	if err != nil {
		panic(err)
	}
	bctx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- b.Run(bctx) }()
	defer func() { stop(); <-done }()

	// Once the bridge is up (its state topic says "1"), publish locally.
	pub := localClient(ctx, local)
	defer pub.Disconnect(context.Background(), codec.NormalDisconnection)
	up := make(chan bool, 4)
	pub.Subscribe(ctx, func(m *client.Message) { up <- string(m.Payload) == "1" },
		codec.Subscription{Filter: "$SYS/broker/connection/site-a/state", QoS: 1})
	for !<-up {
	}
	pub.Publish(ctx, &client.Message{Topic: "sensors/t1", Payload: []byte("21.5"), QoS: 1})
	fmt.Println(<-got)
	// Output: site-a/sensors/t1: 21.5
}

// localClient connects a client to srv over an in-process pipe.
func localClient(ctx context.Context, srv *broker.Server) *client.Client {
	c, err := client.Connect(ctx, "mqtt://local", client.Options{ClientID: "publisher",
		Dialer: func(context.Context, *url.URL) (net.Conn, error) {
			a, b := net.Pipe()
			go srv.ServeConn(context.Background(), b)
			return a, nil
		}})
	if err != nil {
		panic(err)
	}
	return c
}
