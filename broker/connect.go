package broker

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"strings"
	"time"

	"github.com/ternmq/tern/codec"
)

// connect handles an accepted CONNECT: checks, authentication, session
// take-over or creation, CONNACK, and the re-sending of in-flight messages.
func (c *conn) connect(ctx context.Context, p *codec.Connect) error {
	c.version = p.Version
	c.r.SetVersion(p.Version)
	v5 := p.Version == codec.V5
	c.log = c.log.With("client", p.ClientID, "mqtt", p.Version.String())

	refuse := func(rc codec.ReasonCode, rule, why string) error {
		if !v5 {
			var ok bool
			if rc, ok = codec.ConnackCodeV311(rc); !ok {
				return violation(0, rule, why)
			}
		}
		c.enqueuePacket(&codec.Connack{ReasonCode: rc}) // Session Present 0 [MQTT-3.2.2-4 of 3.1.1]
		return violation(0, rule, "CONNECT refused: "+why)
	}

	ack := &codec.Connack{}
	clientID := p.ClientID
	if clientID == "" {
		if !v5 && !p.CleanStart {
			// [MQTT-3.1.3-8 of 3.1.1]
			return refuse(codec.ClientIdentifierNotValid, "MQTT-3:3.1.3-8", "empty client id without CleanSession")
		}
		clientID = newClientID()
		if v5 {
			ack.Properties.AssignedClientIdentifier = clientID // [MQTT-5:3.2.2-16]
		}
		c.log = c.log.With("assigned", clientID)
	}
	if p.Properties.AuthenticationMethod != "" {
		return refuse(codec.BadAuthenticationMethod, "", "extended authentication is not supported")
	}
	if w := p.Will; w != nil && isSysTopic(w.Topic) {
		return refuse(codec.TopicNameInvalid, "", "will topic in $SYS")
	}
	if w := p.Will; w != nil && v5 && w.Properties.PayloadFormatIndicator == 1 && !codec.ValidUTF8(w.Payload) {
		return refuse(codec.PayloadFormatInvalid, "", "will payload is not UTF-8")
	}
	if max := c.srv.opts.MaxConnections; max > 0 && c.srv.connCount() > max {
		return refuse(codec.QuotaExceeded, "", "connection limit reached")
	}
	if auth := c.srv.opts.Authenticate; auth != nil {
		if rc := auth(ctx, p); rc != codec.Success {
			return refuse(rc, "", "authentication: "+rc.String())
		}
	}
	c.clientID = clientID

	// Keep-alive, capped by the server [MQTT-5:3.2.2-21].
	keepAlive := p.KeepAlive
	if max := c.srv.opts.MaxKeepAlive; max > 0 && (keepAlive == 0 || keepAlive > max) {
		keepAlive = max
		if v5 {
			ack.Properties.ServerKeepAlive = max
		}
	}
	c.keepAlive = time.Duration(keepAlive) * time.Second * 3 / 2 // [MQTT-3.1.2-24 of 3.1.1]

	// Session expiry: 3.1.1 CleanSession 0 keeps the session (up to the
	// server's cap); 5.0 uses the Session Expiry Interval.
	var expiry uint32
	switch {
	case v5:
		expiry = p.Properties.SessionExpiryInterval
		c.zeroExpiry = expiry == 0
		if expiry > c.srv.opts.MaxSessionExpiry {
			expiry = c.srv.opts.MaxSessionExpiry
			ack.Properties.SessionExpiryInterval = expiry
		}
	case !p.CleanStart:
		expiry = c.srv.opts.MaxSessionExpiry
	}

	window := c.srv.opts.MaxInflight
	if v5 {
		if rm := int(p.Properties.ReceiveMaximum); rm > 0 && rm < window {
			window = rm
		}
		c.maxSize = int(p.Properties.MaximumPacketSize)
		if !c.srv.opts.DisableTopicAliases {
			c.aliasMax = p.Properties.TopicAliasMaximum // 0: none [MQTT-5:3.1.2-27]
		}
	}

	sess, present := c.srv.takeSession(clientID, p.CleanStart)
	c.sess = sess

	ack.SessionPresent = present // [MQTT-3.2.2-2 of 3.1.1, MQTT-3.2.2-3 of 5.0]
	if v5 {
		o := &c.srv.opts
		ack.Properties.ReceiveMaximum = o.ReceiveMaximum
		ack.Properties.MaximumPacketSize = uint32(o.MaxPacketSize)
		ack.Properties.TopicAliasMaximum = o.TopicAliasMaximum
		if p.Properties.RequestResponseInformation == 1 {
			// Never when the client did not ask [MQTT-5:3.1.2-28].
			ack.Properties.ResponseInformation = o.ResponseInformation
		}
	}
	// Queuing the CONNACK also lets kick read version and sess and send a
	// DISCONNECT, in one step: a DISCONNECT always follows the CONNACK
	// [MQTT-5:3.14.0-1], and a client that has read its CONNACK is always
	// told why it is disconnected.
	c.enqueue(outItem{kind: codec.CONNACK, pkt: ack, accept: true}, false, 16)
	sess.attach(c, window, c.maxSize, expiry)
	if p.Will != nil {
		c.setWill(p.Will)
	}
	c.log.Info("client connected", "session_present", present, "keepalive", keepAlive, "clean", p.CleanStart)
	sess.resume()
	return nil
}

// setWill stores the CONNECT's will in the session.
func (c *conn) setWill(w *codec.Will) {
	pub := &codec.Publish{Topic: w.Topic, QoS: w.QoS, Retain: w.Retain, Payload: w.Payload, Properties: w.Properties}
	m := newMessage(pub, c.clientID, time.Now())
	if w.Properties.Has(codec.PropMessageExpiryInterval) {
		// Its lifetime starts when it is published (Server.publish).
		m.Expires = time.Time{}
		m.willLife, m.hasWillLife = time.Duration(w.Properties.MessageExpiryInterval)*time.Second, true
	}
	c.sess.mu.Lock()
	c.sess.will = m
	c.sess.willDelay = w.Properties.WillDelayInterval
	c.sess.mu.Unlock()
}

// takeSession finds or creates the session for clientID, taking it over
// from a connection that holds it [MQTT-3.1.4-2 of 3.1.1, MQTT-3.1.4-3 of
// 5.0]. It reports whether an existing session was resumed.
func (s *Server) takeSession(clientID string, clean bool) (*session, bool) {
	for {
		s.mu.Lock()
		ss := s.sessions[clientID]
		var (
			old  *conn
			busy bool
		)
		if ss != nil {
			ss.mu.Lock()
			old, busy = ss.conn, ss.conn != nil || ss.claimed
			ss.mu.Unlock()
		}
		if !busy {
			if ss != nil && clean {
				s.mu.Unlock()
				s.endSession(ss) // [MQTT-3.1.2-6 of 3.1.1, MQTT-3.1.2-4 of 5.0]
				continue
			}
			present := ss != nil
			if ss == nil {
				ss = newSession(s, clientID)
				s.sessions[clientID] = ss
			}
			// Claim it before unlocking so a concurrent CONNECT waits.
			// Until attach, deliveries are queued as for an offline
			// session, so nothing is sent before the CONNACK.
			ss.mu.Lock()
			ss.claimed = true
			ss.mu.Unlock()
			s.mu.Unlock()
			return ss, present
		}
		s.mu.Unlock()
		if old != nil {
			old.kick(codec.SessionTakenOver, "session taken over")
			<-old.done
		} else {
			time.Sleep(time.Millisecond) // another CONNECT is between claim and attach
		}
	}
}

// release hands a session back when its connection ends: the will is
// published or scheduled, and the session ends or waits for its expiry.
func (s *Server) release(c *conn) {
	ss := c.sess
	if !ss.detach(c) {
		return
	}
	ss.mu.Lock()
	var will *Message
	if c.willOnClose && ss.will != nil {
		if ss.willDelay == 0 || ss.expiry == 0 {
			will = ss.will
			ss.will = nil
		} else {
			// [MQTT-5:3.1.2-8]: after the Will Delay Interval or when the
			// session ends, whichever comes first.
			delay := time.Duration(min(ss.willDelay, ss.expiry)) * time.Second
			ss.willTimer = time.AfterFunc(delay, func() { s.safely("will delay", func() { s.fireWill(ss) }) })
		}
	} else {
		ss.will = nil // [MQTT-3.1.2-10]
	}
	expiry := ss.expiry
	if expiry != 0 && expiry != 0xFFFFFFFF {
		ss.expTimer = time.AfterFunc(time.Duration(expiry)*time.Second, func() { s.safely("session expiry", func() { s.expireSession(ss) }) })
	}
	ss.mu.Unlock()
	if will != nil {
		s.publish(will)
	}
	s.redistribute(ss, expiry == 0)
	if expiry == 0 {
		s.endSession(ss)
	}
}

func (s *Server) fireWill(ss *session) {
	ss.mu.Lock()
	will := ss.will
	ss.will, ss.willTimer = nil, nil
	ss.mu.Unlock()
	if will != nil {
		s.publish(will)
	}
}

// expireSession ends an offline session whose expiry interval has passed.
func (s *Server) expireSession(ss *session) {
	ss.mu.Lock()
	online := ss.conn != nil
	ss.mu.Unlock()
	if !online {
		s.redistribute(ss, true)
		s.endSession(ss)
	}
}

// endSession discards a session: its subscriptions, queue and in-flight
// state. A will still waiting for its delay is published now.
func (s *Server) endSession(ss *session) {
	s.mu.Lock()
	if s.sessions[ss.id] == ss {
		delete(s.sessions, ss.id)
	}
	s.mu.Unlock()
	ss.mu.Lock()
	if ss.ended {
		ss.mu.Unlock()
		return
	}
	ss.ended = true
	var will *Message
	if ss.willTimer != nil {
		// A will still waiting for its delay is published now, even when
		// its timer has just fired: fireWill then finds nothing to publish
		// [MQTT-5:3.1.2-8].
		ss.willTimer.Stop()
		ss.willTimer = nil
		will = ss.will
	}
	ss.will = nil
	if ss.expTimer != nil {
		ss.expTimer.Stop()
	}
	filters := make([]string, 0, len(ss.subs))
	for f := range ss.subs {
		filters = append(filters, f)
	}
	ss.subs = nil
	ss.queue, ss.inflight = nil, nil
	ss.mu.Unlock()
	for _, f := range filters {
		if codec.IsShared(f) {
			s.unsubscribeShared(ss, f)
		} else {
			s.subs.Remove(f, ss)
		}
	}
	if will != nil {
		s.publish(will)
	}
}

// newClientID returns a random client identifier for a client that sent
// none.
func newClientID() string {
	var b [15]byte
	rand.Read(b[:])
	return "tern-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}
