package client

import (
	"errors"
	"net"
	"testing"

	"github.com/ternmq/tern/codec"
)

// TestWriteAckThatCannotBeEncodedEndsConnection: an acknowledgement the
// codec refuses (here a reason code that PUBACK does not have) ends the
// connection instead of leaving the server waiting for it.
func TestWriteAckThatCannotBeEncodedEndsConnection(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	cn := &conn{nc: a, v: codec.V5, done: make(chan struct{}), wake: make(chan struct{}, 1)}
	cn.writeAck(codec.PUBACK, 1, codec.GrantedQoS2)
	select {
	case <-cn.done:
	default:
		t.Fatal("the connection goes on after an acknowledgement that could not be encoded")
	}
	var ce *codec.Error
	if !errors.As(cn.err, &ce) {
		t.Fatalf("err = %v, want the codec's error", cn.err)
	}
	if len(cn.out) != 0 {
		t.Fatalf("%d bytes queued, want none", len(cn.out))
	}
}
