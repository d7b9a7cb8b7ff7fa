package cluster_test

import (
	"fmt"

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
