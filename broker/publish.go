package broker

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/ternmq/tern/codec"
)

// ErrRetainRefused is returned by Publish when a cap on retained messages
// (Options.MaxRetainedBytes and the like) refuses a retained message.
var ErrRetainRefused = errors.New("broker: retained message refused by a cap")

// Publish routes a message that the broker itself publishes, as if a
// client had sent it: to every matching subscription (No Local never
// applies: its publisher is no client) and, with Retain, into the retained
// messages and the store. It is for in-process publishers such as a
// bridge's state on $SYS/broker/connection/<name>/state, which no client
// may publish. Publish copies what it keeps of m, never blocks on a
// subscriber, and does not wait for the store: a retained message is
// written with the next group of the committer.
func (s *Server) Publish(m *Message) error {
	if err := codec.ValidTopicName(m.Topic); err != nil {
		return fmt.Errorf("broker: publish: %w", err)
	}
	if m.QoS > codec.ExactlyOnce {
		return fmt.Errorf("broker: publish %s: invalid QoS %d", m.Topic, m.QoS)
	}
	if s.isClosing() {
		return ErrServerClosed
	}
	cp := &Message{Topic: m.Topic, Payload: bytes.Clone(m.Payload), QoS: m.QoS, Retain: m.Retain, Expires: m.Expires}
	if m.Props != nil {
		p := *m.Props
		cp.Props = &p
	}
	if _, refused := s.route(cp); refused {
		return ErrRetainRefused
	}
	return nil
}
