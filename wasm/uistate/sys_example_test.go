package uistate_test

import (
	"fmt"
	"time"

	"github.com/ternmq/tern/wasm/uistate"
)

func ExampleSys() {
	var s uistate.Sys
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.Subscribed(t0)
	s.Apply("$SYS/broker/version", []byte("mosquitto version 2.0.11"), t0)
	s.Apply("$SYS/broker/publish/messages/received", []byte("100"), t0)
	s.Apply("$SYS/broker/publish/messages/received", []byte("120"), t0.Add(2*time.Second))
	for _, tl := range s.Tiles()[:4] {
		fmt.Printf("%s: %s\n", tl.Label, tl.Value)
	}
	st, _ := s.Status()
	fmt.Println(st)
	// Output:
	// Version: mosquitto version 2.0.11
	// Uptime: —
	// Clients connected: —
	// PUBLISH in /s: 10
	// Live
}
