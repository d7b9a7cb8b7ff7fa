package broker_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/codec"
)

// runClient serves one 3.1.1 client over a pipe that sends pkts after its
// CONNECT and then disconnects; it returns when the broker is done with it.
func runClient(srv *broker.Server, id string, pkts ...codec.Packet) {
	client, server := net.Pipe()
	go func() {
		b, _ := (&codec.Connect{Version: codec.V311, ClientID: id, CleanStart: true}).Append(nil, codec.V311)
		for _, p := range pkts {
			b, _ = p.Append(b, codec.V311)
		}
		b, _ = (&codec.Disconnect{}).Append(b, codec.V311)
		go io.Copy(io.Discard, client) // CONNACK and acknowledgements
		client.Write(b)
	}()
	srv.ServeConn(context.Background(), server)
	client.Close()
}

// Metrics returns the broker's counters and gauges, as /metrics and $SYS
// publish them.
func ExampleServer_Metrics() {
	srv := broker.New(broker.Options{})
	defer srv.Shutdown(context.Background())
	runClient(srv, "sensor", &codec.Publish{Topic: "t", Payload: []byte("21.5")},
		&codec.Publish{QoS: 1, PacketID: 1, Topic: "t", Payload: []byte("21.6")})
	m := srv.Metrics()
	fmt.Println("CONNECTs:", m.Connects)
	fmt.Println("PUBLISH by QoS:", m.PublishReceived)
	fmt.Println("no subscribers:", m.Dropped[0], broker.DropReasons()[0])
	// Output:
	// CONNECTs: 1
	// PUBLISH by QoS: [1 1 0]
	// no subscribers: 2 no_subscribers
}

// DeleteRetained deletes the retained messages a filter matches, as the
// admin API's DELETE /api/v1/retained does; with a Store it returns once
// the deletions are on disk.
func ExampleServer_DeleteRetained() {
	srv := broker.New(broker.Options{})
	defer srv.Shutdown(context.Background())
	runClient(srv, "setup",
		&codec.Publish{Retain: true, Topic: "site/a", Payload: []byte("1")},
		&codec.Publish{Retain: true, Topic: "site/b/c", Payload: []byte("22")},
		&codec.Publish{Retain: true, Topic: "other", Payload: []byte("333")})
	n, err := srv.DeleteRetained(context.Background(), "site/#")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("deleted", n)
	srv.RetainedMessages("#", func(r broker.RetainedInfo) bool {
		fmt.Println(r.Topic, r.Bytes)
		return true
	})
	// Output:
	// deleted 2
	// other 3
}
