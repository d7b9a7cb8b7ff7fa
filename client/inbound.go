package client

import (
	"bytes"
	"fmt"
	"sync/atomic"

	"github.com/ternmq/tern/codec"
)

// inMsg is a QoS 1 or 2 message from the server whose flow is not
// complete: its handlers are running (pending > 0), or it waits for its
// turn to be acknowledged, or (QoS 2) the PUBREC is sent and the PUBREL is
// awaited.
type inMsg struct {
	id      uint16
	qos     codec.QoS
	pending atomic.Int32 // handlers still running, plus one while dispatching
	done    bool         // handlers finished; guarded by Client.mu
	recd    bool         // QoS 2: PUBREC sent; guarded by Client.mu
}

// inbound is the server's half of the session, guarded by Client.mu.
type inbound struct {
	msgs  map[uint16]*inMsg
	order []*inMsg // not yet acknowledged, in the order received
	max   int      // the Receive Maximum the client announced
}

func (in *inbound) init(max int) {
	in.msgs = make(map[uint16]*inMsg)
	in.max = max
}

// reset discards the inbound session state [MQTT-3.2.2-5]. Handlers still
// running finish, but their messages are not acknowledged.
func (in *inbound) reset() {
	in.msgs = make(map[uint16]*inMsg)
	clear(in.order)
	in.order = in.order[:0]
}

// flushAcks acknowledges the messages whose handlers have finished, in the
// order they were received, stopping at the first one still being
// handled: PUBACK and PUBREC go out in the order of the PUBLISH packets
// ([MQTT-4.6.0-2], [MQTT-4.6.0-3]).
func (in *inbound) flushAcks(cn *conn) {
	if cn == nil {
		return
	}
	n := 0
	for _, e := range in.order {
		if !e.done {
			break
		}
		n++
		if e.qos == codec.AtLeastOnce {
			cn.writeAck(codec.PUBACK, e.id, codec.Success) // [MQTT-4.3.2-2]
			delete(in.msgs, e.id)
		} else {
			cn.writeAck(codec.PUBREC, e.id, codec.Success) // [MQTT-4.3.3-2]
			e.recd = true
		}
	}
	if n > 0 {
		k := copy(in.order, in.order[n:])
		clear(in.order[k:])
		in.order = in.order[:k]
	}
}

// handle processes one packet from the server, on the read loop.
func (c *Client) handle(cn *conn, p codec.Packet) error {
	switch p := p.(type) {
	case *codec.Publish:
		return c.handlePublish(cn, p)
	case *codec.Puback:
		c.handleAck(cn, codec.PUBACK, &p.Ack)
	case *codec.Pubrec:
		c.handleAck(cn, codec.PUBREC, &p.Ack)
	case *codec.Pubcomp:
		c.handleAck(cn, codec.PUBCOMP, &p.Ack)
	case *codec.Pubrel:
		c.handlePubrel(cn, p.PacketID)
	case *codec.Suback:
		c.handleCtrlAck(cn, codec.SUBSCRIBE, p.PacketID, p.ReasonCodes, &p.Properties)
	case *codec.Unsuback:
		c.handleCtrlAck(cn, codec.UNSUBSCRIBE, p.PacketID, p.ReasonCodes, &p.Properties)
	case *codec.Pingresp:
		cn.pingSent.Store(0)
	case *codec.Auth:
		return cn.handleAuth(p)
	case *codec.Disconnect:
		return &ReasonError{Op: "disconnect", Code: p.ReasonCode,
			Reason: p.Properties.ReasonString, ServerReference: p.Properties.ServerReference}
	default:
		return &protocolError{code: codec.ProtocolError, msg: "a server does not send " + p.Type().String()}
	}
	return nil
}

// handlePublish resolves the topic alias, detects resent QoS 1 and 2
// messages, and hands the message to the handlers of the matching
// subscriptions.
func (c *Client) handlePublish(cn *conn, p *codec.Publish) error {
	if cn.v == codec.V5 && p.Properties.TopicAlias != 0 {
		if err := cn.resolveAlias(p); err != nil {
			return err
		}
	}
	m := &Message{Topic: p.Topic, QoS: p.QoS, Retain: p.Retain, Dup: p.Dup,
		Payload: bytes.Clone(p.Payload), Properties: cloneProperties(&p.Properties)}
	if p.QoS == codec.AtMostOnce {
		c.dispatch(m, nil)
		return nil
	}
	c.mu.Lock()
	if e := c.in.msgs[p.PacketID]; e != nil {
		// The same message again (the server resent it after a
		// reconnect): it is not handed to the handlers twice
		// [MQTT-5:4.3.3-10]. A QoS 2 message already received is
		// acknowledged again; otherwise its acknowledgement comes when
		// its handlers finish.
		if e.recd {
			cn.writeAck(codec.PUBREC, e.id, codec.Success)
		}
		c.mu.Unlock()
		return nil
	}
	if len(c.in.msgs) >= c.in.max {
		c.mu.Unlock()
		return &protocolError{code: codec.ReceiveMaximumExceeded,
			msg: fmt.Sprintf("more than Receive Maximum (%d) unacknowledged QoS 1 and 2 messages", c.in.max)}
	}
	e := &inMsg{id: p.PacketID, qos: p.QoS}
	e.pending.Store(1)
	m.in, m.c = e, c
	c.in.msgs[e.id] = e
	c.in.order = append(c.in.order, e)
	c.mu.Unlock()
	c.dispatch(m, e)
	c.handled(e)
	return nil
}

// resolveAlias applies a server→client Topic Alias: any value from 1 to
// the maximum the client announced is accepted [MQTT-5:3.3.2-10]; others
// are a protocol violation.
func (cn *conn) resolveAlias(p *codec.Publish) error {
	a := p.Properties.TopicAlias
	if a > cn.inAliasMax {
		return &protocolError{code: codec.TopicAliasInvalid,
			msg: fmt.Sprintf("Topic Alias %d above the client's Topic Alias Maximum %d", a, cn.inAliasMax)}
	}
	if p.Topic != "" {
		if cn.inAliases == nil {
			cn.inAliases = make(map[uint16]string)
		}
		cn.inAliases[a] = p.Topic
	} else if t, ok := cn.inAliases[a]; ok {
		p.Topic = t
	} else {
		return &protocolError{code: codec.ProtocolError, msg: fmt.Sprintf("unknown Topic Alias %d", a)}
	}
	p.Properties.TopicAlias = 0
	p.Properties.Unmark(codec.PropTopicAlias)
	return nil
}

// handled is called when one handler of e returns (and once when the
// dispatch is over); the last call queues the acknowledgements now due.
func (c *Client) handled(e *inMsg) {
	if e.pending.Add(-1) != 0 {
		return
	}
	c.mu.Lock()
	e.done = true
	c.in.flushAcks(c.cur.Load())
	c.mu.Unlock()
}

// handlePubrel completes an inbound QoS 2 flow with PUBCOMP
// [MQTT-5:4.3.3-11]; the packet identifier is then free for a new message
// [MQTT-5:4.3.3-12].
func (c *Client) handlePubrel(cn *conn, id uint16) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rc := codec.Success
	if e := c.in.msgs[id]; e != nil && e.recd {
		delete(c.in.msgs, id)
	} else {
		rc = codec.PacketIdentifierNotFound
	}
	cn.writeAck(codec.PUBCOMP, id, rc)
}
