package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coder/websocket"

	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/internal/testkit"
	"github.com/ternmq/tern/internal/testkit/brokerkit"
)

// Broker URLs: the supported schemes, and clear errors for the others.
func TestURLs(t *testing.T) {
	srv := brokerkit.Start(t, nil, broker.WebSocketOptions{})
	tcp := strings.TrimPrefix(srv.TCP, "mqtt://")
	for _, u := range []string{"mqtt://" + tcp, "tcp://" + tcp, "MQTT://" + tcp, srv.WS} {
		c := connect(t, u, client.Options{})
		disconnect(t, c)
	}
	for _, tc := range []struct{ url, want string }{
		{"http://" + tcp, "unsupported scheme"},
		{"mqtt://", "no host"},
		{"://x", "bad broker URL"},
	} {
		_, err := client.Connect(testkit.Context(t), tc.url, client.Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Connect(%q) = %v, want an error about %q", tc.url, err, tc.want)
		}
	}
}

// A failed WebSocket dial names the URL and the likely causes; a server
// that does not select the "mqtt" subprotocol is refused ([MQTT-6.0.0-4]).
func TestWebSocketDialErrors(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/plain", func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil) // selects no subprotocol
		if err != nil {
			return
		}
		ws.Close(websocket.StatusNormalClosure, "")
	})
	hs := httptest.NewServer(mux)
	defer hs.Close()
	base := "ws://" + strings.TrimPrefix(hs.URL, "http://")

	_, err := client.Connect(testkit.Context(t), base+"/missing", client.Options{})
	if err == nil || !strings.Contains(err.Error(), base+"/missing") || !strings.Contains(err.Error(), `"mqtt" subprotocol`) {
		t.Errorf("dial of a missing path: %v, want the URL and hints", err)
	}
	_, err = client.Connect(testkit.Context(t), base+"/plain", client.Options{})
	if err == nil || !strings.Contains(err.Error(), `not "mqtt"`) {
		t.Errorf("server without the subprotocol: %v", err)
	}
}

// While reconnecting, a QoS 0 Publish fails at once with ErrNotConnected;
// a QoS 1 Publish waits and is sent on the new connection; one whose
// context ends before it could be sent is dropped.
func TestPublishWhileReconnecting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lost, back := make(chan error, 1), make(chan *codec.Connack, 1)
		c, s, accepted := fakeConnect(t, persistentOpts(codec.V5, lost, back), nil)
		s.nc.Close()
		testkit.WaitFor(t, (<-chan error)(lost), "OnConnectionLost")

		if err := c.Publish(context.Background(), &client.Message{Topic: "q0"}); !errors.Is(err, client.ErrNotConnected) {
			t.Errorf("QoS 0 while reconnecting: %v, want ErrNotConnected", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if err := c.Publish(ctx, &client.Message{Topic: "dropped", QoS: 1}); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("QoS 1 with an expired context: %v", err)
		}
		res := async(func() error { return c.Publish(context.Background(), &client.Message{Topic: "kept", QoS: 1}) })
		synctest.Wait()

		s2, _ := accept(t, accepted)
		s2.send(&codec.Connack{SessionPresent: true})
		p := s2.nextPublish()
		if p.Topic != "kept" || p.Dup {
			t.Fatalf("got %s dup=%v, want kept without DUP (never sent before)", p.Topic, p.Dup)
		}
		s2.quiet() // nothing for the dropped message
		s2.send(&codec.Puback{Ack: codec.Ack{PacketID: p.PacketID}})
		if err := testkit.WaitFor(t, res, "Publish"); err != nil {
			t.Fatal(err)
		}
	})
}
