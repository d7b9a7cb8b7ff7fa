package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/ternmq/tern/codec"
)

// route is the local side of one subscription: the handler for a Topic
// Filter and the queue of messages waiting for it.
type route struct {
	filter string // as subscribed
	match  string // the filter messages are matched against ($share/{group}/ removed)
	ids    []int  // Subscription Identifiers given to the filter; guarded by routesMu
	h      atomic.Pointer[Handler]
	q      *serial[delivery]
}

type delivery struct {
	m *Message
	e *inMsg // nil for QoS 0
	r *route // whose handler takes it
}

// subscription is a granted subscription, remembered to make it again on
// a server that lost the session.
type subscription struct {
	sub codec.Subscription
	id  int // Subscription Identifier, 0 for none
}

// Subscribe subscribes to the Topic Filters in subs and sends every
// message matching one of them to h. It returns the server's reason code
// for each filter, in order (the granted QoS, or a failure), and a
// *ReasonError for the first failure. h replaces the handler of a filter
// already subscribed.
//
// Messages are routed locally, so a message that matches several filters
// reaches each of their handlers once. With a 5.0 server that supports
// Subscription Identifiers (most do), each filter is subscribed with an
// identifier of its own (one SUBSCRIBE per filter) and a message goes to
// the handlers of the identifiers it carries, so a server that sends one
// copy per matching subscription does not make handlers see duplicates.
// Otherwise messages are matched with codec.MatchTopic; a shared
// subscription ($share/{group}/{filter}) matches by its filter. The
// client remembers granted subscriptions and makes them again when it
// reconnects to a server that has lost the session.
func (c *Client) Subscribe(ctx context.Context, h Handler, subs ...codec.Subscription) ([]codec.ReasonCode, error) {
	if h == nil {
		return nil, errors.New("mqtt: subscribe: nil handler")
	}
	if len(subs) == 0 {
		return nil, errors.New("mqtt: subscribe: no topic filter")
	}
	for _, s := range subs {
		if err := codec.ValidTopicFilter(s.Filter); err != nil {
			return nil, fmt.Errorf("mqtt: subscribe: %w", err)
		}
		if s.QoS > codec.ExactlyOnce || s.RetainHandling > 2 {
			return nil, fmt.Errorf("mqtt: subscribe: invalid options for %q", s.Filter)
		}
	}
	if c.closed.Load() {
		return nil, ErrClosed
	}
	// One SUBSCRIBE per filter with its own Subscription Identifier, or
	// one for all without.
	var xs []*op
	if ids := c.newSubIDs(len(subs)); ids != nil {
		for i, s := range subs {
			xs = append(xs, &op{kind: codec.SUBSCRIBE, subs: []codec.Subscription{s}, subID: ids[i], done: make(chan struct{})})
		}
	} else {
		xs = []*op{{kind: codec.SUBSCRIBE, subs: slices.Clone(subs), done: make(chan struct{})}}
	}
	added := c.addRoutes(h, xs)
	for i, x := range xs {
		if err := c.sendCtrl(x); err != nil {
			c.abandonCtrl(xs[:i])
			c.removeRoutes(added)
			return nil, err
		}
	}
	var codes []codec.ReasonCode
	var reason string
	for i, x := range xs {
		if err := c.waitCtrl(ctx, x); err != nil {
			c.abandonCtrl(xs[i+1:])
			c.removeRoutes(added)
			return nil, err
		}
		if len(x.codes) != len(x.subs) {
			c.removeRoutes(added)
			return codes, &ReasonError{Op: "subscribe", Code: codec.ProtocolError,
				Reason: fmt.Sprintf("SUBACK has %d reason codes for %d topic filters", len(x.codes), len(x.subs))}
		}
		codes = append(codes, x.codes...)
		if reason == "" {
			reason = x.reason
		}
	}
	var firstErr error
	i := 0
	for _, x := range xs {
		for _, s := range x.subs {
			rc := codes[i]
			i++
			if rc.IsError() {
				if firstErr == nil {
					firstErr = &ReasonError{Op: "subscribe", Code: rc, Reason: reason}
				}
				c.removeRoutes(filterOf(added, s.Filter))
				continue
			}
			c.setHandler(s.Filter, h)
			c.mu.Lock()
			c.rememberSub(subscription{s, x.subID})
			c.mu.Unlock()
		}
	}
	return codes, firstErr
}

// newSubIDs returns n new Subscription Identifiers, or nil when the
// server does not take them (3.1.1, or a CONNACK saying so).
func (c *Client) newSubIDs(n int) []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.opts.Version != codec.V5 || c.connack == nil {
		return nil
	}
	p := &c.connack.Properties
	if p.Has(codec.PropSubscriptionIdentifierAvailable) && p.SubscriptionIdentifierAvailable == 0 {
		return nil
	}
	ids := make([]int, n)
	for i := range ids {
		c.lastSubID++
		if c.lastSubID > codec.MaxSubscriptionIdentifier {
			c.lastSubID = 1
		}
		ids[i] = c.lastSubID
	}
	return ids
}

// Unsubscribe ends the subscriptions to filters. Their handlers get the
// messages already received, and no more once the server has
// acknowledged. A 5.0 server's failure reason code is returned as a
// *ReasonError; "No subscription existed" is not an error.
func (c *Client) Unsubscribe(ctx context.Context, filters ...string) error {
	if len(filters) == 0 {
		return errors.New("mqtt: unsubscribe: no topic filter")
	}
	for _, f := range filters {
		if err := codec.ValidTopicFilter(f); err != nil {
			return fmt.Errorf("mqtt: unsubscribe: %w", err)
		}
	}
	if c.closed.Load() {
		return ErrClosed
	}
	x := &op{kind: codec.UNSUBSCRIBE, filters: slices.Clone(filters), done: make(chan struct{})}
	if err := c.sendCtrl(x); err != nil {
		return err
	}
	if err := c.waitCtrl(ctx, x); err != nil {
		return err
	}
	var firstErr error
	for i, f := range filters {
		if i < len(x.codes) && x.codes[i].IsError() {
			if firstErr == nil {
				firstErr = &ReasonError{Op: "unsubscribe", Code: x.codes[i], Reason: x.reason}
			}
			continue
		}
		c.mu.Lock()
		c.forgetSub(f)
		c.mu.Unlock()
		c.routesMu.Lock()
		c.routes = slices.DeleteFunc(c.routes, func(r *route) bool { return r.filter == f })
		c.routesMu.Unlock()
	}
	return firstErr
}

func (c *Client) sendCtrl(x *op) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return ErrClosed
	}
	return c.out.sendCtrl(x, c.cur.Load())
}

// waitCtrl waits for the acknowledgement of a SUBSCRIBE or UNSUBSCRIBE,
// which survives reconnects.
func (c *Client) waitCtrl(ctx context.Context, x *op) error {
	select {
	case <-x.done:
		return x.err
	case <-ctx.Done():
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-x.done:
		return x.err
	default:
	}
	c.out.removeCtrl(x)
	return ctx.Err()
}

// abandonCtrl stops waiting for the acknowledgements of xs.
func (c *Client) abandonCtrl(xs []*op) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, x := range xs {
		c.out.removeCtrl(x)
	}
}

// handleCtrlAck completes a SUBSCRIBE or UNSUBSCRIBE.
func (c *Client) handleCtrlAck(cn *conn, kind codec.PacketType, id uint16, codes []codec.ReasonCode, props *codec.Properties) {
	c.mu.Lock()
	defer c.mu.Unlock()
	x := c.out.ctrlOp(id, kind)
	if x == nil {
		c.log.Debug("acknowledgement for an unknown packet identifier", "type", kind, "id", id)
		return
	}
	c.out.removeCtrl(x)
	x.codes, x.reason = slices.Clone(codes), props.ReasonString
	if x.internal {
		for i, rc := range x.codes {
			if rc.IsError() && i < len(x.subs) {
				c.log.Warn("re-subscription refused", "filter", x.subs[i].Filter, "reason", rc)
				c.forgetSub(x.subs[i].Filter)
			}
		}
	}
	x.finish(nil)
}

// rememberSub records a granted subscription. The caller holds mu.
func (c *Client) rememberSub(s subscription) {
	for i := range c.subs {
		if c.subs[i].sub.Filter == s.sub.Filter {
			c.subs[i] = s
			return
		}
	}
	c.subs = append(c.subs, s)
}

// forgetSub drops a remembered subscription. The caller holds mu.
func (c *Client) forgetSub(filter string) {
	c.subs = slices.DeleteFunc(c.subs, func(s subscription) bool { return s.sub.Filter == filter })
}

// resubscribe makes the remembered subscriptions again on a server that
// has no session for the client, each with its Subscription Identifier
// when the server takes them. The caller holds mu.
func (c *Client) resubscribe(cn *conn) {
	if len(c.subs) == 0 {
		return
	}
	var xs []*op
	if cn.subIDs {
		for _, s := range c.subs {
			xs = append(xs, &op{kind: codec.SUBSCRIBE, subs: []codec.Subscription{s.sub}, subID: s.id, internal: true})
		}
	} else {
		x := &op{kind: codec.SUBSCRIBE, internal: true}
		for _, s := range c.subs {
			x.subs = append(x.subs, s.sub)
		}
		xs = []*op{x}
	}
	for _, x := range xs {
		if err := c.out.sendCtrl(x, cn); err != nil {
			c.log.Error("cannot re-subscribe", "err", err)
		}
	}
}

// addRoutes creates the routes for the filters not routed yet, and gives
// every route its new Subscription Identifier before the SUBSCRIBE goes
// out (retained messages follow the SUBACK at once). It returns the new
// routes.
func (c *Client) addRoutes(h Handler, xs []*op) []*route {
	c.routesMu.Lock()
	defer c.routesMu.Unlock()
	var added []*route
	for _, x := range xs {
		for _, s := range x.subs {
			i := slices.IndexFunc(c.routes, func(r *route) bool { return r.filter == s.Filter })
			if i >= 0 {
				if x.subID > 0 {
					c.routes[i].ids = append(c.routes[i].ids, x.subID)
				}
				continue
			}
			_, match, _ := codec.ParseShared(s.Filter)
			r := c.newRoute(s.Filter, match, h)
			if x.subID > 0 {
				r.ids = []int{x.subID}
			}
			added = append(added, r)
			c.routes = append(c.routes, r)
		}
	}
	return added
}

// newRoute returns a route to h with its queue.
// With Options.SerialHandlers every route shares the client's one queue.
func (c *Client) newRoute(filter, match string, h Handler) *route {
	r := &route{filter: filter, match: match}
	r.h.Store(&h)
	r.q = c.oneQueue
	if r.q == nil {
		r.q = newSerial(&c.userWG, c.deliver)
	}
	return r
}

// deliver runs the handler of d's route, and counts it done.
func (c *Client) deliver(d delivery) {
	(*d.r.h.Load())(d.m)
	if d.e != nil {
		c.handled(d.e)
	}
}

func (c *Client) removeRoutes(rs []*route) {
	if len(rs) == 0 {
		return
	}
	c.routesMu.Lock()
	defer c.routesMu.Unlock()
	c.routes = slices.DeleteFunc(c.routes, func(r *route) bool { return slices.Contains(rs, r) })
}

func filterOf(rs []*route, filter string) []*route {
	for _, r := range rs {
		if r.filter == filter {
			return []*route{r}
		}
	}
	return nil
}

func (c *Client) setHandler(filter string, h Handler) {
	c.routesMu.RLock()
	defer c.routesMu.RUnlock()
	for _, r := range c.routes {
		if r.filter == filter {
			r.h.Store(&h)
		}
	}
}

// wants reports whether the route takes m: its filter matches the topic
// and, when both the message and the route carry Subscription
// Identifiers, one of the message's is the route's.
func (r *route) wants(m *Message) bool {
	if !codec.MatchTopic(r.match, m.Topic) {
		return false
	}
	ids := m.Properties.SubscriptionIdentifiers
	if len(ids) == 0 || len(r.ids) == 0 {
		return true
	}
	for _, id := range ids {
		if slices.Contains(r.ids, id) {
			return true
		}
	}
	return false
}

// dispatch queues m for the handler of every subscription it matches, or
// for Options.DefaultHandler when it matches none. A QoS 1 or 2 message
// counts its handlers in e, so that it is acknowledged when the last one
// returns.
func (c *Client) dispatch(m *Message, e *inMsg) {
	limit := 0
	if e == nil {
		limit = maxQueuedQoS0
	}
	refused, matched := 0, 0
	c.routesMu.RLock()
	push := func(r *route) {
		if e != nil {
			e.pending.Add(1)
		}
		if !r.q.push(delivery{m, e, r}, limit) {
			refused++
			if e == nil {
				c.log.Warn("QoS 0 message dropped: its handler is too far behind", "filter", r.filter, "topic", m.Topic)
			}
		}
	}
	for _, r := range c.routes {
		if r.wants(m) {
			matched++
			push(r)
		}
	}
	c.routesMu.RUnlock()
	switch {
	case matched > 0:
	case c.fallback != nil:
		push(c.fallback)
	default:
		c.log.Debug("message matches no subscription: dropped", "topic", m.Topic)
	}
	if e != nil {
		for range refused {
			c.handled(e)
		}
	}
}

// closeRoutes stops every handler queue.
func (c *Client) closeRoutes() {
	c.routesMu.RLock()
	defer c.routesMu.RUnlock()
	for _, r := range c.routes {
		r.q.close()
	}
	if c.fallback != nil {
		c.fallback.q.close()
	}
}
