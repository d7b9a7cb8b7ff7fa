package acl_test

import (
	"fmt"
	"strings"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/broker/auth/acl"
)

func Example() {
	// A file written for Mosquitto's acl_file option.
	const file = `# anonymous clients may read the public tree
topic read public/#

user alice
topic readwrite alice/#
topic deny alice/private/#

# every client owns a subtree named after its client id
pattern readwrite clients/%c/#
`
	a, err := acl.Parse(strings.NewReader(file))
	if err != nil {
		fmt.Println(err)
		return
	}
	// With a file on disk: a, err := acl.Load(path), and a.Reload() on
	// SIGHUP. The broker uses it as its Authorizer:
	_ = broker.Options{Authorizer: a}

	anon := broker.Client{ID: "sensor-1"}
	alice := broker.Client{ID: "laptop", Username: "alice"}
	fmt.Println(a.Authorize(anon, broker.Read, "public/weather"))
	fmt.Println(a.Authorize(anon, broker.Write, "public/weather"))
	fmt.Println(a.Authorize(anon, broker.Write, "clients/sensor-1/temp"))
	fmt.Println(a.Authorize(alice, broker.Write, "alice/notes"))
	fmt.Println(a.Authorize(alice, broker.Read, "alice/private/diary"))
	fmt.Println(a.Authorize(alice, broker.Subscribe, "alice/#"))
	fmt.Println(a.Authorize(alice, broker.Subscribe, "alice/private/+"))

	_, err = acl.Parse(strings.NewReader("topic read a/#/b\n"))
	fmt.Println(err)
	// Output:
	// true
	// false
	// true
	// true
	// false
	// true
	// false
	// acl: line 1: invalid ACL topic "a/#/b": '#' must be the whole last level
}
