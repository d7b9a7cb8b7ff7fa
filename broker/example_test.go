package broker_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/broker/store/memory"
)

// A broker on a TCP listener and on WebSocket, stopped with Shutdown.
func Example() {
	srv := broker.New(broker.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background(), ln) }()

	// MQTT over WebSocket at /mqtt on an HTTP server of your own.
	mux := http.NewServeMux()
	mux.Handle("/mqtt", srv.WebSocketHandler(broker.WebSocketOptions{}))

	if err := srv.Shutdown(context.Background()); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-done)
	// Output: broker: server closed
}

// A broker that keeps sessions, queued messages and retained messages in a
// Store, read back by Open. The memory engine keeps them only for the life
// of the process; broker/store/pebble keeps them on disk.
func ExampleOpen() {
	st := memory.New()
	srv, err := broker.Open(context.Background(), broker.Options{Store: st})
	if err != nil {
		log.Fatal(err)
	}
	// Serve, ServeConn or WebSocketHandler as with New; then:
	srv.Shutdown(context.Background())
	st.Close() // the caller owns the store
	fmt.Println("stopped")
	// Output: stopped
}

// ServeConn serves one connection that is already established, such as
// one end of a pipe, and returns when it closes.
func ExampleServer_ServeConn() {
	srv := broker.New(broker.Options{})
	client, server := net.Pipe()
	go client.Close() // a client that leaves at once
	srv.ServeConn(context.Background(), server)
	srv.Shutdown(context.Background())
	fmt.Println("served")
	// Output: served
}
