package cluster_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/broker/cluster"
)

func ExampleSubject() {
	fmt.Println(cluster.Subject("sensors/room 1/temp.c"))
	fmt.Println(cluster.Subject("a//b"))
	fmt.Println(cluster.Subject("$SYS/broker/uptime"))
	fmt.Println(cluster.Topic("tern.m.sensors.room%201.temp%2Ec"))
	// Output:
	// tern.m.sensors.room%201.temp%2Ec
	// tern.m.a.%.b
	// tern.d.$SYS.broker.uptime
	// sensors/room 1/temp.c <nil>
}

func ExampleFilterSubjects() {
	fmt.Println(cluster.FilterSubjects("sensors/+/temp"))
	fmt.Println(cluster.FilterSubjects("sensors/#"))
	// Output:
	// [tern.m.sensors.*.temp]
	// [tern.m.sensors.> tern.m.sensors]
}

// A node with an embedded nats-server, joined to a broker. With
// ClusterPort and Routes set (see Config) the same code joins the other
// nodes; with URL set it uses an existing NATS cluster instead.
func ExampleStart() {
	dir, err := os.MkdirTemp("", "tern-node")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	node, err := cluster.Start(ctx, cluster.Config{
		Name:     "n1",
		StoreDir: dir,
		Logger:   slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	defer node.Close() // after the broker's Shutdown
	srv := broker.New(broker.Options{Cluster: node})
	node.Attach(srv)
	defer srv.Shutdown(ctx)

	// Every message published on this node goes to the nodes that
	// subscribe to its topic's subject.
	if err := srv.Publish(&broker.Message{Topic: "sensors/room 1", Payload: []byte("21.5")}); err != nil {
		panic(err)
	}
	fmt.Println(node.Stats().Published.Load(), cluster.Subject("sensors/room 1"))
	// Output: 1 tern.m.sensors.room%201
}
