package main

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/ternmq/tern/internal/testkit"
)

// TestRestartInterop: persistent sessions made by real clients survive a
// crash of tern (kill -9): one created by mosquitto_sub -c (3.1.1,
// CleanSession 0) and one by paho.golang (5.0, Session Expiry Interval
// 3600). Each receives, after the restart and without subscribing again,
// what was queued for it before the crash and after the restart
// [MQTT-3.1.2-4 of 3.1.1] [MQTT-5:3.1.2-5].
func TestRestartInterop(t *testing.T) {
	sub := testkit.RequireTool(t, "mosquitto_sub", "mosquitto-clients")
	pub := testkit.RequireTool(t, "mosquitto_pub", "mosquitto-clients")
	data := t.TempDir()
	proc := startTern(t, data)
	hp := func(addr string) []string {
		h, p, _ := net.SplitHostPort(addr)
		return []string{"-h", h, "-p", p}
	}
	runTool(t, sub, append(hp(proc.addr), "-c", "-i", "mosq-sub", "-q", "1", "-t", "restart/t", "-E")...)
	p := pahoConnect(t, proc.addr, "paho-sub", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := p.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "restart/t", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	p.Disconnect(&paho.Disconnect{})
	runTool(t, pub, append(hp(proc.addr), "-q", "1", "-t", "restart/t", "-m", "before")...)

	proc.kill()
	proc = startTern(t, data)
	runTool(t, pub, append(hp(proc.addr), "-q", "1", "-t", "restart/t", "-m", "after")...)

	out := runTool(t, sub, append(hp(proc.addr), "-c", "-i", "mosq-sub", "-q", "1", "-t", "restart/t", "-C", "2", "-W", "30")...)
	if out != "before\nafter\n" {
		t.Errorf("mosquitto_sub -c after the restart printed %q, want before and after", out)
	}
	got := make(chan string, 2)
	p = pahoConnect(t, proc.addr, "paho-sub", func(m *paho.Publish) { got <- string(m.Payload) })
	for _, want := range []string{"before", "after"} {
		select {
		case m := <-got:
			if m != want {
				t.Errorf("paho.golang received %q, want %q", m, want)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("paho.golang did not receive %q after the restart", want)
		}
	}
	p.Disconnect(&paho.Disconnect{})
	proc.stop(t)
}

// pahoConnect connects a paho.golang client with a persistent session
// (Session Expiry Interval 3600) and checks Session Present on the second
// connection; received, if set, gets every message.
func pahoConnect(t *testing.T, addr, id string, received func(*paho.Publish)) *paho.Client {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := paho.NewClient(paho.ClientConfig{
		Conn: nc,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			if received != nil {
				received(pr.Packet)
			}
			return true, nil
		}},
		OnClientError: func(error) {},
	})
	expiry := uint32(3600)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ack, err := c.Connect(ctx, &paho.Connect{ClientID: id, KeepAlive: 30, Properties: &paho.ConnectProperties{SessionExpiryInterval: &expiry}})
	if err != nil {
		t.Fatalf("paho.golang connect: %v", err)
	}
	if received != nil && !ack.SessionPresent {
		t.Error("paho.golang: Session Present 0 after the restart")
	}
	return c
}

// runTool runs a program to completion and returns its standard output.
func runTool(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, stderr)
	}
	return string(out)
}
