package broker

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/internal/testkit"
)

// The tests in this file run the broker in a testing/synctest bubble over
// net.Pipe (Server.ServeConn), so timers run on the bubble's fake clock:
// advance (rawclient_test.go) moves fake time instantly, and after it rawConn
// waits with synctest.Wait until the broker has done everything that the
// new time makes due. No test here sleeps in real time.

// inBubble runs f as a subtest inside a synctest bubble.
func inBubble(t *testing.T, name string, f func(t *testing.T)) {
	t.Run(name, func(t *testing.T) { synctest.Test(t, f) })
}

// pipeConnect opens a pipe connection to srv and connects with p.
func pipeConnect(t *testing.T, srv *Server, v codec.Version, p *codec.Connect) (*testkit.Peer, *codec.Connack) {
	t.Helper()
	c := pipeRaw(t, srv, v)
	return c, c.Connect(t, p)
}

// willWatcher connects a 5.0 client subscribed to will/#.
func willWatcher(t *testing.T, srv *Server) *testkit.Peer {
	t.Helper()
	w, _ := pipeConnect(t, srv, codec.V5, &codec.Connect{ClientID: "watcher", CleanStart: true})
	w.Subscribe(t, 1, "will/#")
	return w
}

func will(topic, payload string, delay uint32) *codec.Will {
	w := &codec.Will{Topic: topic, Payload: []byte(payload)}
	w.Properties.WillDelayInterval = delay
	return w
}

// TestKeepAliveTimeout: a client silent for one and a half times its Keep
// Alive is disconnected as if the network had failed, so its will is
// published [MQTT-3:3.1.2-24] [MQTT-5:3.1.2-22] [MQTT-3:3.1.2-8]; at 1.4×
// (and up to just before 1.5×) it is still connected.
func TestKeepAliveTimeout(t *testing.T) {
	for _, v := range []codec.Version{codec.V311, codec.V5} {
		inBubble(t, v.String(), func(t *testing.T) {
			srv := startPipeServer(t, nil)
			watcher := willWatcher(t, srv)
			c, _ := pipeConnect(t, srv, v, &codec.Connect{ClientID: "ka", CleanStart: true, KeepAlive: 10,
				Will: will("will/ka", "timed out", 0)})

			advance(14 * time.Second) // fake time (synctest): 1.4 × Keep Alive
			c.ExpectIdle(t)
			advance(999 * time.Millisecond) // fake time (synctest)
			c.ExpectIdle(t)
			watcher.ExpectIdle(t)

			advance(time.Millisecond) // fake time (synctest): 1.5 × Keep Alive
			if v == codec.V5 {
				c.ExpectDescribed(t, "DISCONNECT rc=0x8d") // Keep Alive timeout
			}
			c.ExpectClosed(t)
			watcher.ExpectMessage(t, "will/ka", "timed out")
		})
	}
}

// TestKeepAlivePingreq: every control packet restarts the keep-alive
// period, so a PINGREQ at 1.4× (answered [MQTT-3:3.12.4-1]
// [MQTT-5:3.12.4-1]) keeps the client for another 1.5× [MQTT-3:3.1.2-24]
// [MQTT-5:3.1.2-22].
func TestKeepAlivePingreq(t *testing.T) {
	for _, v := range []codec.Version{codec.V311, codec.V5} {
		inBubble(t, v.String(), func(t *testing.T) {
			srv := startPipeServer(t, nil)
			c, _ := pipeConnect(t, srv, v, &codec.Connect{ClientID: "ping", CleanStart: true, KeepAlive: 10})
			advance(14 * time.Second) // fake time (synctest)
			c.Send(t, &codec.Pingreq{})
			c.ExpectDescribed(t, "PINGRESP")
			advance(15*time.Second - time.Millisecond) // fake time (synctest): 29 s after CONNECT
			c.ExpectIdle(t)
			advance(time.Millisecond) // fake time (synctest): 15 s after the PINGREQ
			if v == codec.V5 {
				c.ExpectDescribed(t, "DISCONNECT rc=0x8d")
			}
			c.ExpectClosed(t)
		})
	}
}

// TestServerKeepAlive: Options.MaxKeepAlive caps the Keep Alive. A 5.0
// client asking for more, or for none, is told the cap as Server Keep Alive
// and held to it [MQTT-5:3.2.2-21]; one asking for less gets no Server Keep
// Alive and its own value is used [MQTT-5:3.2.2-22]. A 3.1.1 client is held
// to the cap silently.
func TestServerKeepAlive(t *testing.T) {
	cases := []struct {
		name      string
		v         codec.Version
		keepAlive uint16
		announced bool          // CONNACK carries Server Keep Alive 20
		closeAt   time.Duration // 1.5 × the Keep Alive in force
	}{
		{"5.0 above the cap", codec.V5, 60, true, 30 * time.Second},
		{"5.0 keep-alive off", codec.V5, 0, true, 30 * time.Second},
		{"5.0 below the cap", codec.V5, 10, false, 15 * time.Second},
		{"3.1.1 above the cap", codec.V311, 60, false, 30 * time.Second},
	}
	for _, tc := range cases {
		inBubble(t, tc.name, func(t *testing.T) {
			srv := startPipeServer(t, &Options{MaxKeepAlive: 20})
			c, ack := pipeConnect(t, srv, tc.v, &codec.Connect{ClientID: "ska", CleanStart: true, KeepAlive: tc.keepAlive})
			has := ack.Properties.Has(codec.PropServerKeepAlive)
			if has != tc.announced || (has && ack.Properties.ServerKeepAlive != 20) {
				t.Fatalf("CONNACK Server Keep Alive present=%v value=%d, want present=%v value 20",
					has, ack.Properties.ServerKeepAlive, tc.announced)
			}
			advance(tc.closeAt - time.Millisecond) // fake time (synctest)
			c.ExpectIdle(t)
			advance(time.Millisecond) // fake time (synctest)
			if tc.v == codec.V5 {
				c.ExpectDescribed(t, "DISCONNECT rc=0x8d")
			}
			c.ExpectClosed(t)
		})
	}
}

// TestConnectDeadline: a connection that does not complete a CONNECT
// within Options.ConnectTimeout is closed at the deadline and not before;
// a CONNECT just before the deadline is accepted and the deadline no
// longer applies.
func TestConnectDeadline(t *testing.T) {
	opts := &Options{ConnectTimeout: 5 * time.Second}
	inBubble(t, "silent", func(t *testing.T) {
		c := pipeRaw(t, startPipeServer(t, opts), codec.V311)
		advance(5*time.Second - time.Millisecond) // fake time (synctest)
		c.ExpectIdle(t)
		advance(time.Millisecond) // fake time (synctest)
		c.ExpectClosed(t)
	})
	inBubble(t, "partial CONNECT", func(t *testing.T) {
		c := pipeRaw(t, startPipeServer(t, opts), codec.V5)
		c.SendRaw(t, connectBytes(codec.V5, "slow", nil)[:6])
		advance(5*time.Second - time.Millisecond) // fake time (synctest)
		c.ExpectIdle(t)
		advance(time.Millisecond) // fake time (synctest)
		c.ExpectClosed(t)
	})
	inBubble(t, "CONNECT just in time", func(t *testing.T) {
		c := pipeRaw(t, startPipeServer(t, opts), codec.V311)
		advance(5*time.Second - time.Millisecond) // fake time (synctest)
		c.Connect(t, &codec.Connect{ClientID: "late", CleanStart: true})
		advance(time.Hour) // fake time (synctest): Keep Alive 0, nothing expires
		c.ExpectIdle(t)
	})
}

// TestWillDelay covers the 5.0 Will Delay Interval.
func TestWillDelay(t *testing.T) {
	expiring := func(id string, expiry uint32, w *codec.Will) *codec.Connect {
		p := &codec.Connect{ClientID: id, CleanStart: true, Will: w}
		p.Properties.SessionExpiryInterval = expiry
		return p
	}
	resume := func(id string, expiry uint32) *codec.Connect {
		p := &codec.Connect{ClientID: id}
		p.Properties.SessionExpiryInterval = expiry
		return p
	}

	// [MQTT-5:3.1.2-8]: published once the Will Delay Interval has
	// elapsed after the connection was lost, not before.
	inBubble(t, "published after the delay", func(t *testing.T) {
		srv := startPipeServer(t, nil)
		watcher := willWatcher(t, srv)
		c, _ := pipeConnect(t, srv, codec.V5, expiring("wd", 100, will("will/wd", "late", 10)))
		// The network fails.
		c.Close()
		advance(10*time.Second - time.Millisecond) // fake time (synctest)
		watcher.ExpectIdle(t)
		advance(time.Millisecond) // fake time (synctest)
		watcher.ExpectMessage(t, "will/wd", "late")
		watcher.ExpectIdle(t)
	})

	// [MQTT-5:3.1.3-9]: a new connection to the session within the delay
	// means the will is never sent.
	inBubble(t, "cancelled by a reconnect", func(t *testing.T) {
		srv := startPipeServer(t, nil)
		watcher := willWatcher(t, srv)
		c, _ := pipeConnect(t, srv, codec.V5, expiring("wd", 100, will("will/wd", "late", 10)))
		c.Close()
		advance(5 * time.Second) // fake time (synctest)
		_, ack := pipeConnect(t, srv, codec.V5, resume("wd", 100))
		if !ack.SessionPresent {
			t.Fatal("Session Present 0 on reconnect within the Session Expiry Interval")
		}
		advance(time.Minute) // fake time (synctest)
		watcher.ExpectIdle(t)
	})

	// [MQTT-5:3.1.2-8]: "or the Session ends, whichever comes first": a
	// Session Expiry Interval shorter than the delay publishes the will
	// when the session ends, and the session is gone.
	inBubble(t, "session ends first", func(t *testing.T) {
		srv := startPipeServer(t, nil)
		watcher := willWatcher(t, srv)
		c, _ := pipeConnect(t, srv, codec.V5, expiring("wd", 5, will("will/wd", "session over", 10)))
		c.Close()
		advance(5*time.Second - time.Millisecond) // fake time (synctest)
		watcher.ExpectIdle(t)
		advance(time.Millisecond) // fake time (synctest)
		watcher.ExpectMessage(t, "will/wd", "session over")
		_, ack := pipeConnect(t, srv, codec.V5, resume("wd", 5))
		if ack.SessionPresent {
			t.Fatal("Session Present 1 after the session expired")
		}
		// Published once only.
		advance(time.Minute) // fake time (synctest)
		watcher.ExpectIdle(t)
	})

	// A normal DISCONNECT discards the will even while it waits for a
	// delay [MQTT-5:3.14.4-3] [MQTT-5:3.1.2-10]; DISCONNECT 0x04 keeps it,
	// and the delay still applies.
	inBubble(t, "DISCONNECT", func(t *testing.T) {
		srv := startPipeServer(t, nil)
		watcher := willWatcher(t, srv)
		c, _ := pipeConnect(t, srv, codec.V5, expiring("normal", 100, will("will/normal", "no", 10)))
		c.Disconnect(t)
		c, _ = pipeConnect(t, srv, codec.V5, expiring("with-will", 100, will("will/with", "yes", 10)))
		c.Send(t, &codec.Disconnect{ReasonCode: codec.DisconnectWithWillMessage})
		c.ExpectClosed(t)
		advance(10*time.Second - time.Millisecond) // fake time (synctest)
		watcher.ExpectIdle(t)
		advance(time.Millisecond) // fake time (synctest)
		watcher.ExpectMessage(t, "will/with", "yes")
		advance(time.Minute) // fake time (synctest)
		watcher.ExpectIdle(t)
	})
}

// TestSessionExpiry: a 5.0 session with Session Expiry Interval 10 outlives
// its connection [MQTT-5:3.1.2-23]: at 9 s a reconnect with Clean Start 0
// finds it, with its subscription and the message queued meanwhile
// [MQTT-5:3.1.2-5] [MQTT-5:3.2.2-3]; 11 s after the next disconnect it is
// gone, so Session Present is 0 and the subscription no longer exists.
func TestSessionExpiry(t *testing.T) {
	connect := func(clean bool) *codec.Connect {
		p := &codec.Connect{ClientID: "se", CleanStart: clean}
		p.Properties.SessionExpiryInterval = 10
		return p
	}
	inBubble(t, "interval 10", func(t *testing.T) {
		srv := startPipeServer(t, nil)
		pub, _ := pipeConnect(t, srv, codec.V5, &codec.Connect{ClientID: "se-pub", CleanStart: true})
		c, _ := pipeConnect(t, srv, codec.V5, connect(true))
		c.Subscribe(t, 1, "se/t")
		c.Disconnect(t)

		advance(9 * time.Second) // fake time (synctest)
		pub.Publish(t, 1, "se/t", "queued")
		c, ack := pipeConnect(t, srv, codec.V5, connect(false))
		if !ack.SessionPresent {
			t.Fatal("Session Present 0 at 9 s, want the session kept")
		}
		c.ExpectMessage(t, "se/t", "queued")
		c.Disconnect(t)

		advance(11 * time.Second) // fake time (synctest)
		c, ack = pipeConnect(t, srv, codec.V5, connect(false))
		if ack.SessionPresent {
			t.Fatal("Session Present 1 at 11 s, want the session expired")
		}
		pub.Publish(t, 1, "se/t", "nobody subscribed")
		c.ExpectIdle(t)
	})

	// A Session Expiry Interval in DISCONNECT replaces the CONNECT's.
	inBubble(t, "changed by DISCONNECT", func(t *testing.T) {
		srv := startPipeServer(t, nil)
		c, _ := pipeConnect(t, srv, codec.V5, connect(true))
		d := &codec.Disconnect{}
		d.Properties.SessionExpiryInterval = 100
		c.Send(t, d)
		c.ExpectClosed(t)
		advance(99 * time.Second) // fake time (synctest)
		c, ack := pipeConnect(t, srv, codec.V5, connect(false))
		if !ack.SessionPresent {
			t.Fatal("Session Present 0 at 99 s, want the interval from DISCONNECT (100 s)")
		}
		c.Disconnect(t)
	})

	// With no Session Expiry Interval the session ends with the connection.
	inBubble(t, "interval 0", func(t *testing.T) {
		srv := startPipeServer(t, nil)
		c, _ := pipeConnect(t, srv, codec.V5, &codec.Connect{ClientID: "se0"})
		c.Disconnect(t)
		_, ack := pipeConnect(t, srv, codec.V5, &codec.Connect{ClientID: "se0"})
		if ack.SessionPresent {
			t.Fatal("Session Present 1, want the session ended with its connection")
		}
	})
}

// TestMessageExpiry: a message queued for an offline session is deleted
// when its Message Expiry Interval passes before delivery [MQTT-5:3.3.2-5];
// one still valid is forwarded with the interval reduced by the time it
// waited [MQTT-5:3.3.2-6]; one without an interval never expires.
func TestMessageExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := startPipeServer(t, nil)
		pub, _ := pipeConnect(t, srv, codec.V5, &codec.Connect{ClientID: "me-pub", CleanStart: true})
		session := &codec.Connect{ClientID: "me", CleanStart: true}
		session.Properties.SessionExpiryInterval = 100
		c, _ := pipeConnect(t, srv, codec.V5, session)
		c.Subscribe(t, 1, "me/t")
		c.Disconnect(t)

		for _, m := range []struct {
			payload string
			expiry  uint32
		}{{"short", 5}, {"long", 20}, {"forever", 0}} {
			p := &codec.Publish{QoS: 1, Topic: "me/t", Payload: []byte(m.payload)}
			p.Properties.MessageExpiryInterval = m.expiry
			pub.PublishWith(t, p)
		}

		advance(10 * time.Second) // fake time (synctest)
		session.CleanStart = false
		c, ack := pipeConnect(t, srv, codec.V5, session)
		if !ack.SessionPresent {
			t.Fatal("Session Present 0, want the session kept")
		}
		long := c.ExpectMessage(t, "me/t", "long")
		if !long.Properties.Has(codec.PropMessageExpiryInterval) || long.Properties.MessageExpiryInterval != 10 {
			t.Errorf("Message Expiry Interval %d (present %v) after waiting 10 s of 20, want 10",
				long.Properties.MessageExpiryInterval, long.Properties.Has(codec.PropMessageExpiryInterval))
		}
		forever := c.ExpectMessage(t, "me/t", "forever")
		if forever.Properties.Has(codec.PropMessageExpiryInterval) {
			t.Errorf("Message Expiry Interval %d on a message sent without one", forever.Properties.MessageExpiryInterval)
		}
		c.ExpectIdle(t)
	})
}
