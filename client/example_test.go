package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"
)

// startBroker runs a Tern broker on a free loopback port for an example
// and returns its URL and a function that stops it.
func startBroker() (url string, stop func()) {
	srv := broker.New(broker.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(context.Background(), ln)
	}()
	return "mqtt://" + ln.Addr().String(), func() {
		srv.Shutdown(context.Background())
		<-done
	}
}

// Connect, subscribe, publish, receive, disconnect.
func Example() {
	url, stop := startBroker()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := client.Connect(ctx, url, client.Options{ClientID: "example"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Disconnect(ctx, codec.NormalDisconnection)

	got := make(chan *client.Message, 1)
	if _, err := c.Subscribe(ctx, func(m *client.Message) { got <- m },
		codec.Subscription{Filter: "sensors/+/temperature", QoS: codec.AtLeastOnce}); err != nil {
		log.Fatal(err)
	}
	err = c.Publish(ctx, &client.Message{Topic: "sensors/kitchen/temperature", QoS: codec.AtLeastOnce, Payload: []byte("21.5")})
	if err != nil {
		log.Fatal(err)
	}
	m := <-got
	fmt.Printf("%s: %s (QoS %d)\n", m.Topic, m.Payload, m.QoS)
	// Output: sensors/kitchen/temperature: 21.5 (QoS 1)
}

// Options for a long-lived client: a session that outlives the
// connection, automatic reconnects, and a will.
func ExampleConnect() {
	url, stop := startBroker()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	opts := client.Options{
		ClientID:      "gateway-7",
		KeepAlive:     30 * time.Second,
		AutoReconnect: true,
		Will:          &codec.Will{Topic: "gateways/7/status", Payload: []byte("offline"), QoS: 1, Retain: true},
		OnConnectionLost: func(err error) {
			log.Print("connection lost: ", err)
		},
		OnReconnect: func(ack *codec.Connack) {
			log.Print("reconnected; session present: ", ack.SessionPresent)
		},
	}
	opts.ConnectProperties.SessionExpiryInterval = 3600 // keep the session for an hour
	c, err := client.Connect(ctx, url, opts)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Disconnect(ctx, codec.NormalDisconnection)
	fmt.Println("session present:", c.Connack().SessionPresent)
	// Output: session present: false
}

// The server's CONNACK tells its limits and the identifier it assigned.
func ExampleClient_Connack() {
	url, stop := startBroker()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := client.Connect(ctx, url, client.Options{}) // no ClientID: the server assigns one
	if err != nil {
		log.Fatal(err)
	}
	defer c.Disconnect(ctx, codec.NormalDisconnection)
	ack := c.Connack()
	fmt.Println("assigned an id:", ack.Properties.AssignedClientIdentifier != "")
	fmt.Println("receive maximum:", ack.Properties.ReceiveMaximum)
	// Output:
	// assigned an id: true
	// receive maximum: 65535
}

// Publish with MQTT 5.0 properties, for a request/response exchange.
func ExampleClient_Publish() {
	url, stop := startBroker()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := client.Connect(ctx, url, client.Options{ClientID: "requester"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Disconnect(ctx, codec.NormalDisconnection)
	got := make(chan *client.Message, 1)
	if _, err := c.Subscribe(ctx, func(m *client.Message) { got <- m }, codec.Subscription{Filter: "rpc/#"}); err != nil {
		log.Fatal(err)
	}

	m := &client.Message{Topic: "rpc/time", QoS: codec.ExactlyOnce, Payload: []byte(`{"tz":"UTC"}`)}
	m.Properties.ContentType = "application/json"
	m.Properties.ResponseTopic = "replies/requester"
	m.Properties.CorrelationData = []byte("req-1")
	m.Properties.UserProperties = []codec.UserProperty{{Key: "trace", Value: "abc"}}
	if err := c.Publish(ctx, m); err != nil { // returns after PUBCOMP
		var re *client.ReasonError
		if errors.As(err, &re) {
			log.Fatalf("refused by the server: %v", re.Code)
		}
		log.Fatal(err)
	}
	r := <-got
	fmt.Println(r.Properties.ContentType, r.Properties.ResponseTopic, string(r.Properties.CorrelationData), r.Properties.UserProperties)
	// Output: application/json replies/requester req-1 [{trace abc}]
}

// Overlapping subscriptions each get the message: routing is local.
func ExampleClient_Subscribe() {
	url, stop := startBroker()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := client.Connect(ctx, url, client.Options{ClientID: "dashboard"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Disconnect(ctx, codec.NormalDisconnection)
	all, alarms := make(chan string, 1), make(chan string, 1)
	codes, err := c.Subscribe(ctx, func(m *client.Message) { all <- m.Topic },
		codec.Subscription{Filter: "plant/#", QoS: codec.ExactlyOnce})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("granted:", codes)
	if _, err := c.Subscribe(ctx, func(m *client.Message) { alarms <- string(m.Payload) },
		codec.Subscription{Filter: "plant/+/alarm", QoS: codec.AtLeastOnce}); err != nil {
		log.Fatal(err)
	}
	if err := c.Publish(ctx, &client.Message{Topic: "plant/boiler/alarm", QoS: 1, Payload: []byte("overheat")}); err != nil {
		log.Fatal(err)
	}
	fmt.Println("all:", <-all)
	fmt.Println("alarms:", <-alarms)
	// Output:
	// granted: [Granted QoS 2]
	// all: plant/boiler/alarm
	// alarms: overheat
}

// Unsubscribe stops a handler.
func ExampleClient_Unsubscribe() {
	url, stop := startBroker()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := client.Connect(ctx, url, client.Options{ClientID: "unsub"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Disconnect(ctx, codec.NormalDisconnection)
	got := make(chan string, 10)
	h := func(m *client.Message) { got <- m.Topic }
	if _, err := c.Subscribe(ctx, h, codec.Subscription{Filter: "a", QoS: 1}, codec.Subscription{Filter: "b", QoS: 1}); err != nil {
		log.Fatal(err)
	}
	if err := c.Unsubscribe(ctx, "a"); err != nil {
		log.Fatal(err)
	}
	c.Publish(ctx, &client.Message{Topic: "a", QoS: 1})
	c.Publish(ctx, &client.Message{Topic: "b", QoS: 1})
	fmt.Println(<-got)
	// Output: b
}

// Disconnect with reason 0x04 asks a 5.0 server to publish the will.
func ExampleClient_Disconnect() {
	url, stop := startBroker()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	watcher, err := client.Connect(ctx, url, client.Options{ClientID: "watcher"})
	if err != nil {
		log.Fatal(err)
	}
	defer watcher.Disconnect(ctx, codec.NormalDisconnection)
	wills := make(chan string, 1)
	watcher.Subscribe(ctx, func(m *client.Message) { wills <- m.Topic + " " + string(m.Payload) },
		codec.Subscription{Filter: "status/#", QoS: 1})

	c, err := client.Connect(ctx, url, client.Options{ClientID: "worker",
		Will: &codec.Will{Topic: "status/worker", Payload: []byte("stopped"), QoS: 1}})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Disconnect(ctx, codec.DisconnectWithWillMessage); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-wills)
	// Output: status/worker stopped
}

// A refusal by the server carries its reason code.
func ExampleReasonError() {
	srv := broker.New(broker.Options{
		Authenticator: broker.AuthenticatorFunc(func(_ context.Context, l *broker.Login) codec.ReasonCode {
			if string(l.Connect.Password) != "secret" {
				return codec.BadUserNameOrPassword
			}
			return codec.Success
		}),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(context.Background(), ln) }()
	defer func() { srv.Shutdown(context.Background()); <-done }()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, v := range []codec.Version{codec.V311, codec.V5} {
		_, err = client.Connect(ctx, "mqtt://"+ln.Addr().String(),
			client.Options{Version: v, ClientID: "intruder", Username: "u", Password: []byte("guess")})
		var re *client.ReasonError
		if errors.As(err, &re) {
			fmt.Printf("%v: %s: %v\n", v, re.Op, re.Code)
		}
	}
	// Output:
	// 3.1.1: connect: Bad User Name or Password
	// 5.0: connect: Bad User Name or Password
}
