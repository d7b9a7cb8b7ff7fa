package main

import (
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ternmq/tern/codec"
)

// TestConnectStorm: 8 clients hammering tern with 200 CONNECTs with wrong
// passwords (each costs a PBKDF2 verification, and the failures slow
// their address down) do not stop two authenticated clients from
// exchanging 200 QoS 1 messages meanwhile.
func TestConnectStorm(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "passwd")
	writeUsers(t, users, "alice", "bob", "mallory")
	d := startDaemon(t, config{MQTT: "127.0.0.1:0", PasswordFile: users})
	addr := d.addrs["mqtt"]
	alice := mustPeer(t, addr, login("alice"))
	defer alice.close()
	bob := mustPeer(t, addr, login("bob"))
	defer bob.close()
	bob.send(&codec.Subscribe{PacketID: 1, Subscriptions: []codec.Subscription{{Filter: "storm/#", QoS: 1}}})
	expectPacket[*codec.Suback](t, bob)

	var attempts, refused atomic.Int64
	stop := make(chan struct{})
	var storm sync.WaitGroup
	for w := range 8 {
		storm.Go(func() {
			for i := 0; attempts.Add(1) <= 200; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c := &codec.Connect{Version: codec.V311, ClientID: fmt.Sprintf("storm-%d-%d", w, i), CleanStart: true,
					Username: "mallory", Password: []byte("wrong")}
				if p, _, err := dialPeer(addr, c); err == nil {
					p.close()
					t.Error("a wrong password was accepted")
				} else {
					refused.Add(1)
				}
			}
		})
	}
	for i := range 200 {
		alice.send(&codec.Publish{QoS: 1, PacketID: uint16(i + 1), Topic: "storm/t", Payload: []byte("m")})
		expectPacket[*codec.Puback](t, alice)
		m := expectPacket[*codec.Publish](t, bob)
		bob.send(ack(codec.PUBACK, m.PacketID))
	}
	close(stop)
	storm.Wait()
	t.Logf("200 messages exchanged during %d refused CONNECTs", refused.Load())
}
