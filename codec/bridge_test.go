package codec

import (
	"bytes"
	"errors"
	"testing"
)

// A CONNECT with Bridge set carries Protocol Level 0x84, Mosquitto's
// try_private marker; 5.0 refuses it, and the decoder refuses the level.
func TestConnectBridgeBit(t *testing.T) {
	c := &Connect{Version: V311, Bridge: true, KeepAlive: 60, ClientID: "b"}
	got, err := c.Append(nil, V311)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 0x84, 0x00, 0, 60, 0, 1, 'b'}
	if !bytes.Equal(got, want) {
		t.Fatalf("encoded % x, want % x", got, want)
	}
	if _, err := (&Connect{Version: V5, Bridge: true}).Append(nil, V5); err == nil {
		t.Error("5.0 CONNECT with the bridge bit encoded")
	}
	_, _, err = Decode(got, 0, 0)
	var e *Error
	if !errors.As(err, &e) || e.Code != UnsupportedProtocolVersion {
		t.Errorf("decoding level 0x84: %v, want Unsupported Protocol Version", err)
	}
}
