package bridge

import (
	"context"
	"errors"
	"strings"

	"github.com/ternmq/tern/client"
	"github.com/ternmq/tern/codec"
)

// Error kinds, the TernError.kind values of the JavaScript API.
const (
	KindInvalid      = "invalid"       // an argument was refused before anything was sent
	KindReason       = "reason"        // the server answered with a failure reason code
	KindDial         = "dial"          // the WebSocket could not be opened
	KindClosed       = "closed"        // the client was ended, or lost its connection for good
	KindNotConnected = "not-connected" // a QoS 0 publish while reconnecting
	KindTimeout      = "timeout"       // the operation ran out of time
	KindError        = "error"         // anything else
)

// ErrorInfo describes an error for JavaScript: the TernError the promise
// is rejected with.
type ErrorInfo struct {
	Kind     string
	Code     int    // the MQTT reason code, -1 when there is none
	CodeName string // its name in the specification, "" when there is none
	Op       string // "connect", "publish", "subscribe", "unsubscribe", "disconnect" or ""
	Rule     string // the normative statement broken, for codec errors
	Message  string
}

// Describe classifies err. The reason code comes from a *client.ReasonError
// (a CONNACK, PUBACK, SUBACK, UNSUBACK or DISCONNECT with a failure code),
// a *codec.Error (a topic the specification forbids) or an *InvalidError,
// wherever it is in err's chain.
func Describe(err error) ErrorInfo {
	info := ErrorInfo{Kind: KindError, Code: -1, Message: err.Error()}
	var (
		re *client.ReasonError
		ce *codec.Error
		ie *InvalidError
	)
	switch {
	case errors.As(err, &re):
		info.setCode(re.Code)
		info.Op = re.Op
	case errors.As(err, &ce):
		info.setCode(ce.Code)
		info.Rule = ce.Rule
	case errors.As(err, &ie) && ie.Code != 0:
		info.setCode(ie.Code)
	}
	switch {
	case ie != nil || (ce != nil && re == nil):
		info.Kind = KindInvalid
	case errors.Is(err, client.ErrClosed), errors.Is(err, client.ErrConnectionLost):
		info.Kind = KindClosed
	case errors.Is(err, client.ErrNotConnected):
		info.Kind = KindNotConnected
	case errors.Is(err, context.DeadlineExceeded):
		info.Kind = KindTimeout
	case re != nil:
		info.Kind = KindReason
	case strings.Contains(info.Message, "cannot open WebSocket"):
		// The client's dial error in the browser (client/url.go).
		info.Kind = KindDial
	case strings.HasPrefix(info.Message, "mqtt: unsupported scheme"),
		strings.HasPrefix(info.Message, "mqtt: bad broker URL"),
		strings.HasPrefix(info.Message, "mqtt: no host"):
		info.Kind = KindInvalid
	}
	return info
}

func (info *ErrorInfo) setCode(c codec.ReasonCode) {
	info.Code = int(c)
	info.CodeName = c.String()
}
