package mosqconf_test

import (
	"fmt"

	"github.com/ternmq/tern/cmd/tern/internal/mosqconf"
)

func Example() {
	ds, err := mosqconf.Parse("mosquitto.conf", []byte(`# two listeners
listener 1883
listener 9001 127.0.0.1
protocol websockets
password_file /etc/mosquitto/passwd
user mosquitto
use_identity_as_username true
`))
	if err != nil {
		panic(err)
	}
	c, err := mosqconf.Interpret(ds)
	if err != nil {
		panic(err)
	}
	for _, l := range c.Listeners {
		fmt.Println(l.Protocol, l.Addr())
	}
	fmt.Println("password file:", c.Security.PasswordFile)
	fmt.Println("unsupported:", c.Unsupported)
	fmt.Println("refused:", c.Refused)
	// Output:
	// mqtt :1883
	// websockets 127.0.0.1:9001
	// password file: /etc/mosquitto/passwd
	// unsupported: [user (mosquitto.conf:6)]
	// refused: [use_identity_as_username (mosquitto.conf:7): takes the username from the client certificate]
}
