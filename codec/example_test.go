package codec_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/ternmq/tern/codec"
)

func ExamplePublish_Append() {
	p := &codec.Publish{
		QoS:      codec.AtLeastOnce,
		PacketID: 10,
		Topic:    "a/b",
		Payload:  []byte("hi"),
	}
	// Append into a reused buffer: with room in it, encoding does not
	// allocate.
	buf := make([]byte, 0, 64)
	buf, err := p.Append(buf[:0], codec.V311)
	if err != nil {
		panic(err)
	}
	fmt.Printf("3.1.1: % x\n", buf)

	// In 5.0 the same packet carries a Property Length and properties.
	p.Properties.ContentType = "text/plain"
	buf, err = p.Append(buf[:0], codec.V5)
	if err != nil {
		panic(err)
	}
	fmt.Printf("5.0:   % x\n", buf)
	// Output:
	// 3.1.1: 32 09 00 03 61 2f 62 00 0a 68 69
	// 5.0:   32 17 00 03 61 2f 62 00 0a 0d 03 00 0a 74 65 78 74 2f 70 6c 61 69 6e 68 69
}

func ExampleDecode() {
	b := []byte{0x32, 0x09, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x0a, 'h', 'i', 0x40 /* next packet */}
	p, n, err := codec.Decode(b, codec.V311, 1024)
	if err != nil {
		panic(err)
	}
	fmt.Println("used", n, "bytes")
	switch p := p.(type) {
	case *codec.Publish:
		fmt.Printf("PUBLISH %q QoS %d id %d payload %q\n", p.Topic, p.QoS, p.PacketID, p.Payload)
	}

	// Part of a packet is not an error yet: read more and try again.
	_, _, err = codec.Decode(b[n:], codec.V311, 1024)
	fmt.Println(err == codec.ErrIncomplete)
	// Output:
	// used 11 bytes
	// PUBLISH "a/b" QoS 1 id 10 payload "hi"
	// true
}

func ExampleReader() {
	// What a client sends a server: CONNECT, then whatever it likes.
	var stream []byte
	for _, p := range []codec.Packet{
		&codec.Connect{Version: codec.V5, CleanStart: true, KeepAlive: 30, ClientID: "sensor-1"},
		&codec.Subscribe{PacketID: 1, Subscriptions: []codec.Subscription{{Filter: "cmd/sensor-1/#", QoS: codec.AtLeastOnce}}},
		&codec.Publish{Topic: "sensors/1/temp", Payload: []byte("21.5"),
			Properties: codec.Properties{ContentType: "text/plain"}},
		&codec.Disconnect{},
	} {
		stream, _ = p.Append(stream, codec.V5)
	}

	// A server's Reader starts without a version; the CONNECT sets it.
	r := codec.NewReader(bytes.NewReader(stream), 64*1024)
	for {
		p, err := r.ReadPacket()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println("close the connection:", err)
			return
		}
		switch p := p.(type) {
		case *codec.Connect:
			fmt.Println("CONNECT", p.ClientID, "speaks", p.Version)
		case *codec.Subscribe:
			fmt.Println("SUBSCRIBE", p.Subscriptions[0].Filter)
		case *codec.Publish:
			// p.Payload points into the Reader's buffer: copy it to keep
			// it past the next ReadPacket. Strings are safe to keep.
			fmt.Printf("PUBLISH %s %s %q\n", p.Topic, p.Properties.ContentType, p.Payload)
		default:
			fmt.Println(p.Type())
		}
	}
	// Output:
	// CONNECT sensor-1 speaks 5.0
	// SUBSCRIBE cmd/sensor-1/#
	// PUBLISH sensors/1/temp text/plain "21.5"
	// DISCONNECT
}

func ExampleMatchTopic() {
	for _, c := range []struct{ filter, topic string }{
		{"sport/tennis/+", "sport/tennis/player1"},
		{"sport/tennis/+", "sport/tennis/player1/ranking"},
		{"sport/#", "sport"}, // '#' also matches the parent level
		{"+/+", "/finance"},  // '+' matches an empty level
		{"#", "$SYS/uptime"}, // wildcards at the start never match '$' topics
		{"$SYS/#", "$SYS/uptime"},
	} {
		fmt.Println(c.filter, c.topic, codec.MatchTopic(c.filter, c.topic))
	}
	// Output:
	// sport/tennis/+ sport/tennis/player1 true
	// sport/tennis/+ sport/tennis/player1/ranking false
	// sport/# sport true
	// +/+ /finance true
	// # $SYS/uptime false
	// $SYS/# $SYS/uptime true
}

func ExampleParseShared() {
	for _, f := range []string{"$share/consumers/sport/+", "sport/+", "$share/consumers"} {
		group, filter, err := codec.ParseShared(f)
		if err != nil {
			fmt.Println("invalid:", f)
			continue
		}
		fmt.Printf("group %q filter %q\n", group, filter)
	}
	// Output:
	// group "consumers" filter "sport/+"
	// group "" filter "sport/+"
	// invalid: $share/consumers
}

func ExampleValidTopicFilter() {
	for _, f := range []string{"sport/+/player1", "sport/#", "sport/tennis#", "sport+", ""} {
		var e *codec.Error
		if err := codec.ValidTopicFilter(f); errors.As(err, &e) {
			fmt.Printf("%q: %v\n", f, e.Code)
			continue
		}
		fmt.Printf("%q: ok\n", f)
	}
	// Output:
	// "sport/+/player1": ok
	// "sport/#": ok
	// "sport/tennis#": Topic Filter invalid
	// "sport+": Topic Filter invalid
	// "": Topic Filter invalid
}

func ExampleError() {
	// A PUBLISH with both QoS bits set.
	_, _, err := codec.Decode([]byte{0x36, 0x05, 0x00, 0x01, 'a', 0x00, 0x01}, codec.V5, 0)

	var e *codec.Error
	if errors.As(err, &e) {
		// A 5.0 server sends DISCONNECT with e.Code, then closes the
		// connection; a 3.1.1 server just closes it.
		fmt.Println("reason code:", byte(e.Code), e.Code)
		fmt.Println("rule:", e.Rule)
	}
	// Output:
	// reason code: 129 Malformed Packet
	// rule: MQTT-3.3.1-4
}

func ExampleProperties_Mark() {
	// A zero value is not sent unless it is marked: Maximum QoS 0 must be
	// said explicitly, since its absence means QoS 2.
	var ack codec.Connack
	b, _ := ack.Append(nil, codec.V5)
	fmt.Printf("unmarked: % x\n", b)

	ack.Properties.Mark(codec.PropMaximumQoS)
	b, _ = ack.Append(nil, codec.V5)
	fmt.Printf("marked:   % x\n", b)

	// After decoding, Has tells which properties were on the wire.
	p, _, _ := codec.Decode(b, codec.V5, 0)
	props := p.(*codec.Connack).Properties
	fmt.Println(props.Has(codec.PropMaximumQoS), props.MaximumQoS, props.Has(codec.PropRetainAvailable))
	// Output:
	// unmarked: 20 03 00 00 00
	// marked:   20 05 00 00 02 24 00
	// true 0 false
}

func ExampleConnect_Append() {
	c := &codec.Connect{
		Version:    codec.V311,
		CleanStart: true,
		KeepAlive:  60,
		ClientID:   "c1",
		Username:   "alice",
		Password:   []byte("secret"),
	}
	// A CONNECT is encoded in its own Version; the argument is used only
	// when Version is zero.
	b, err := c.Append(nil, 0)
	if err != nil {
		panic(err)
	}
	fmt.Printf("% x\n", b)

	// The server reads the version from the packet.
	p, _, _ := codec.Decode(b, 0, 0)
	fmt.Println(p.(*codec.Connect).Version, p.(*codec.Connect).Username)
	// Output:
	// 10 1d 00 04 4d 51 54 54 04 c2 00 3c 00 02 63 31 00 05 61 6c 69 63 65 00 06 73 65 63 72 65 74
	// 3.1.1 alice
}
