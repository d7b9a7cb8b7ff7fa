package broker

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/ternmq/tern/codec"
)

// testRules: user "eve" may not connect; nobody may write under secret/
// or set a will there; nobody may subscribe to a filter under
// private/; only "boss" may read topics under a/secret.
var testRules = struct {
	auth  Authenticator
	authz Authorizer
}{
	auth: AuthenticatorFunc(func(_ context.Context, l *Login) codec.ReasonCode {
		if l.Connect.Username == "eve" {
			return codec.NotAuthorized
		}
		return codec.Success
	}),
	authz: AuthorizerFunc(func(c Client, a Access, topic string) bool {
		switch a {
		case Write:
			return !strings.HasPrefix(topic, "secret/")
		case Subscribe:
			return !strings.HasPrefix(topic, "private/")
		default:
			return !strings.HasPrefix(topic, "a/secret") || c.Username == "boss"
		}
	}),
}

// TestAuthorization: every denial answers with the code of its protocol
// version: a refused CONNECT (3.1.1 0x05, 5.0 0x87), a will on a denied
// topic (the same), a denied QoS 1 PUBLISH (5.0 PUBACK 0x87; 3.1.1
// acknowledged and dropped), a denied SUBSCRIBE (3.1.1 0x80, 5.0 0x87),
// and deliveries through a wildcard filter are checked per message,
// retained ones included.
func TestAuthorization(t *testing.T) {
	for _, v := range []codec.Version{codec.V311, codec.V5} {
		inBubble(t, v.String(), func(t *testing.T) {
			srv := startPipeServer(t, &Options{Authenticator: testRules.auth, Authorizer: testRules.authz})
			denied := "0x87"
			if v == codec.V311 {
				denied = "0x05"
			}
			eve := pipeRaw(t, srv, v)
			eve.Send(t, &codec.Connect{Version: v, ClientID: "eve", Username: "eve", CleanStart: true})
			eve.ExpectDescribed(t, "CONNACK sp=0 rc="+denied)
			eve.ExpectClosed(t)

			will := pipeRaw(t, srv, v)
			will.Send(t, &codec.Connect{Version: v, ClientID: "w", CleanStart: true, Will: &codec.Will{Topic: "secret/w", Payload: []byte("x")}})
			will.ExpectDescribed(t, "CONNACK sp=0 rc="+denied)
			will.ExpectClosed(t)

			sub, _ := pipeConnect(t, srv, v, &codec.Connect{ClientID: "sub", Username: "sub", CleanStart: true})
			sub.Subscribe(t, 1, "a/#", "secret/#")
			sub.Send(t, &codec.Subscribe{PacketID: 9, Subscriptions: []codec.Subscription{{Filter: "private/x", QoS: 1}, {Filter: "ok/x", QoS: 1}}})
			refused := "0x87"
			if v == codec.V311 {
				refused = "0x80"
			}
			sub.ExpectDescribed(t, "SUBACK id=9 ["+refused+" 0x01]")
			boss, _ := pipeConnect(t, srv, v, &codec.Connect{ClientID: "boss", Username: "boss", CleanStart: true})
			boss.Subscribe(t, 1, "a/#")

			pub, _ := pipeConnect(t, srv, v, &codec.Connect{ClientID: "pub", CleanStart: true})
			pub.Send(t, &codec.Publish{QoS: 1, PacketID: 1, Topic: "secret/x", Payload: []byte("no")})
			if v == codec.V5 {
				pub.ExpectDescribed(t, "PUBACK id=1 rc=0x87")
			} else {
				pub.ExpectDescribed(t, "PUBACK id=1 rc=0x00") // acknowledged and dropped
			}
			pub.Publish(t, 1, "a/secret/plan", "boss only")
			pub.Publish(t, 1, "a/public", "everyone")
			boss.ExpectMessage(t, "a/secret/plan", "boss only")
			boss.ExpectMessage(t, "a/public", "everyone")
			sub.ExpectMessage(t, "a/public", "everyone")
			sub.ExpectIdle(t)

			pub.PublishWith(t, &codec.Publish{QoS: 1, Retain: true, Topic: "a/secret/kept", Payload: []byte("r")})
			boss.ExpectMessage(t, "a/secret/kept", "r")
			late, _ := pipeConnect(t, srv, v, &codec.Connect{ClientID: "late", CleanStart: true})
			late.Subscribe(t, 1, "a/#")
			late.ExpectIdle(t) // the retained message is not theirs to read
			if n := srv.Stats().Denied.Load(); n < 6 {
				t.Errorf("Stats.Denied = %d, want every denial counted", n)
			}
		})
	}
}

// TestReauthorize: after the rules change, a client whose credentials no
// longer pass is disconnected (5.0: DISCONNECT 0x98), the subscriptions
// the new rules refuse are removed, and the other clients carry on.
func TestReauthorize(t *testing.T) {
	inBubble(t, "5.0", func(t *testing.T) {
		banned := map[string]bool{}
		var mu sync.Mutex
		auth := AuthenticatorFunc(func(_ context.Context, l *Login) codec.ReasonCode {
			mu.Lock()
			defer mu.Unlock()
			if banned[l.Connect.Username] {
				return codec.NotAuthorized
			}
			return codec.Success
		})
		authz := AuthorizerFunc(func(_ Client, a Access, topic string) bool {
			mu.Lock()
			defer mu.Unlock()
			return !(a == Subscribe && banned[topic])
		})
		srv := startPipeServer(t, &Options{Authenticator: auth, Authorizer: authz})
		gone, _ := pipeConnect(t, srv, codec.V5, &codec.Connect{ClientID: "gone", Username: "gone", CleanStart: true})
		stays, _ := pipeConnect(t, srv, codec.V5, &codec.Connect{ClientID: "stays", Username: "stays", CleanStart: true})
		stays.Subscribe(t, 0, "old/rule", "fine")
		mu.Lock()
		banned["gone"], banned["old/rule"] = true, true
		mu.Unlock()
		if d, u := srv.Reauthorize(context.Background()); d != 1 || u != 1 {
			t.Errorf("Reauthorize = %d disconnected, %d unsubscribed; want 1, 1", d, u)
		}
		expectDisconnect(t, gone, codec.AdministrativeAction)
		pub, _ := pipeConnect(t, srv, codec.V5, clean5("pub"))
		pub.Publish(t, 0, "old/rule", "not any more")
		pub.Publish(t, 0, "fine", "still")
		stays.ExpectMessage(t, "fine", "still")
		stays.ExpectIdle(t)
	})
}
