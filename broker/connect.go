package broker

import (
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/ternmq/tern/codec"
)

// connect handles an accepted CONNECT: checks, authentication, session
// take-over or creation, CONNACK, and the re-sending of in-flight messages.
func (c *conn) connect(ctx context.Context, p *codec.Connect) error {
	c.version = p.Version
	c.r.SetVersion(p.Version)
	v5 := p.Version == codec.V5
	c.logClient, c.logUsername = p.ClientID, p.Username

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
		c.logAssigned = clientID
	}
	method := p.Properties.AuthenticationMethod
	var enhanced EnhancedAuthenticator
	if method != "" {
		enhanced, _ = c.srv.opts.Authenticator.(EnhancedAuthenticator)
		if enhanced == nil || !slices.Contains(enhanced.AuthMethods(), method) {
			return refuse(codec.BadAuthenticationMethod, "", "authentication method "+strconv.Quote(method)+" is not supported")
		}
	}
	if w := p.Will; w != nil && isSysTopic(w.Topic) {
		return refuse(codec.TopicNameInvalid, "", "will topic in $SYS")
	}
	if w := p.Will; w != nil && v5 && w.Properties.PayloadFormatIndicator == 1 && !codec.ValidUTF8(w.Payload) {
		return refuse(codec.PayloadFormatInvalid, "", "will payload is not UTF-8")
	}
	if w := p.Will; w != nil && w.QoS > c.srv.opts.maxQoS() {
		return refuse(codec.QoSNotSupported, "MQTT-5:3.2.2-12", "will QoS above the broker's Maximum QoS")
	}
	if w := p.Will; w != nil && w.Retain && c.srv.opts.DisableRetain {
		return refuse(codec.RetainNotSupported, "MQTT-5:3.2.2-13", "will retained, and retained messages are off")
	}
	if max := c.srv.opts.MaxConnections; max > 0 && c.srv.connCount() > max {
		return refuse(codec.QuotaExceeded, "", "connection limit reached")
	}
	username := p.Username
	if auth := c.srv.opts.Authenticator; enhanced != nil {
		l := &Login{Connect: p, ClientID: clientID, Remote: c.nc.RemoteAddr()}
		step, rc, err := c.authenticate(ctx, enhanced, l, method)
		if err != nil {
			return err
		}
		if rc == codec.Success && step.Username != "" {
			if p.Username != "" && p.Username != step.Username {
				rc = codec.NotAuthorized
			}
			username = step.Username
		}
		if rc != codec.Success {
			c.srv.stats.AuthFailures.Add(1)
			return refuse(rc, "MQTT-5:4.12.0-4", "enhanced authentication: "+rc.String())
		}
		// [MQTT-5:4.12.0-5]: the CONNACK carries the method and the last data.
		ack.Properties.AuthenticationMethod = method
		ack.Properties.AuthenticationData = step.Data
		c.auth.Store(&enhancedAuth{method: method, valid: step.Valid})
	} else if auth != nil {
		l := &Login{Connect: p, ClientID: clientID, Remote: c.nc.RemoteAddr()}
		if rc := auth.Authenticate(ctx, l); rc != codec.Success {
			c.srv.stats.AuthFailures.Add(1)
			return refuse(rc, "", "authentication: "+rc.String())
		}
		c.password = p.Password // kept for Reauthorize
	}
	c.who = Client{ID: clientID, Username: username}
	if w := p.Will; w != nil && !c.srv.allowed(c.who, Write, w.Topic) {
		return refuse(codec.NotAuthorized, "", "will topic not authorized")
	}
	c.clientID = clientID

	// Keep-alive, capped by the server [MQTT-5:3.2.2-21].
	keepAlive := p.KeepAlive
	if max := c.srv.limit().MaxKeepAlive; max > 0 && (keepAlive == 0 || keepAlive > max) {
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
		if max := c.srv.limit().MaxSessionExpiry; expiry > max {
			expiry = max
			ack.Properties.SessionExpiryInterval = expiry
		}
	case !p.CleanStart:
		expiry = c.srv.limit().MaxSessionExpiry
	}

	window := c.srv.limit().MaxInflight
	if v5 {
		if rm := int(p.Properties.ReceiveMaximum); rm > 0 && rm < window {
			window = rm
		}
		c.maxSize = int(p.Properties.MaximumPacketSize)
		if !c.srv.opts.DisableTopicAliases {
			c.aliasMax = p.Properties.TopicAliasMaximum // 0: none [MQTT-5:3.1.2-27]
		}
	}

	sess, present, err := c.srv.claimSession(ctx, clientID, p.CleanStart, expiry != 0)
	if errors.Is(err, errTooManySessions) {
		c.srv.limitRefused(c, "sessions", "max", c.srv.opts.MaxSessions)
		return refuse(codec.QuotaExceeded, "", "session limit reached")
	}
	if errors.Is(err, ErrClusterUnavailable) {
		return refuse(codec.ServerUnavailable, "", err.Error())
	}
	if err != nil {
		return err
	}
	c.sess = sess

	ack.SessionPresent = present // [MQTT-3.2.2-2 of 3.1.1, MQTT-3.2.2-3 of 5.0]
	if v5 {
		o := &c.srv.opts
		ack.Properties.ReceiveMaximum = o.ReceiveMaximum
		ack.Properties.MaximumPacketSize = uint32(o.MaxPacketSize)
		ack.Properties.TopicAliasMaximum = o.TopicAliasMaximum
		if q := o.maxQoS(); q < codec.ExactlyOnce {
			ack.Properties.MaximumQoS = byte(q) // [MQTT-5:3.2.2-9]
			ack.Properties.Mark(codec.PropMaximumQoS)
		}
		if o.DisableRetain {
			ack.Properties.RetainAvailable = 0
			ack.Properties.Mark(codec.PropRetainAvailable)
		}
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
	c.presence(true, "")
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
	c.sess.setWill(m, w.Properties.WillDelayInterval)
}

// authenticate runs the enhanced authentication of a CONNECT: the server's
// data goes out in AUTH 0x18 [MQTT-5:4.12.0-2] and the client answers
// with AUTH 0x18 [MQTT-5:4.12.0-3], within the CONNECT deadline, until the
// exchange is done or refuses (rc). Any packet but AUTH or DISCONNECT
// before the CONNACK is a protocol error, answered with CONNACK 0x82.
func (c *conn) authenticate(ctx context.Context, ea EnhancedAuthenticator, l *Login, method string) (AuthStep, codec.ReasonCode, error) {
	refuse := func(rc codec.ReasonCode, rule, why string) error {
		c.enqueuePacket(&codec.Connack{ReasonCode: rc})
		return violation(0, rule, "CONNECT refused: "+why)
	}
	ex := ea.BeginAuth(ctx, l, method)
	data := l.Connect.Properties.AuthenticationData
	for {
		step, rc := ex.Next(ctx, data)
		if rc != codec.Success || step.Done {
			return step, rc, nil
		}
		c.enqueuePacket(&codec.Auth{ReasonCode: codec.ContinueAuthentication,
			Properties: codec.Properties{AuthenticationMethod: method, AuthenticationData: step.Data}})
		p, err := c.r.ReadPacket()
		if err != nil {
			var ne net.Error
			var ce *codec.Error
			switch {
			case errors.As(err, &ne) && ne.Timeout():
				return step, 0, violation(0, "", "no AUTH before the CONNECT deadline")
			case errors.As(err, &ce):
				rc := ce.Code
				if !rc.ValidFor(codec.CONNACK) {
					rc = codec.ProtocolError
				}
				return step, 0, refuse(rc, ce.Rule, "invalid AUTH: "+ce.Msg)
			}
			return step, 0, err
		}
		switch p := p.(type) {
		case *codec.Auth:
			if p.ReasonCode != codec.ContinueAuthentication {
				return step, 0, refuse(codec.ProtocolError, "MQTT-5:4.12.0-3", "AUTH with reason code "+p.ReasonCode.String()+" during authentication")
			}
			if p.Properties.AuthenticationMethod != method {
				return step, 0, refuse(codec.ProtocolError, "MQTT-5:4.12.0-3", "AUTH with another Authentication Method")
			}
			data = p.Properties.AuthenticationData
		case *codec.Disconnect:
			return step, 0, errNormal
		default:
			return step, 0, refuse(codec.ProtocolError, "", p.Type().String()+" during authentication, before the CONNACK")
		}
	}
}
