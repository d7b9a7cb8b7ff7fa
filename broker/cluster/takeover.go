package cluster

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/broker/store"
)

// A take-over across nodes: the node where a client connects asks the
// owner of its session, on tern.ctl.<owner>.takeover, to let it go. The
// owner disconnects its client (DISCONNECT 0x8E), puts the session's
// deliveries in TERN_SESSQ and its record in tern_sessions, and answers
// with the record's new revision, at which the new node then writes
// itself in as the owner (registry.go).

// The headers of a delivery in TERN_SESSQ.
const (
	hEpoch = "Tern-Epoch" // the epoch of the owner that wrote it
	hDSeq  = "Tern-Dseq"  // the delivery's sequence number in its session
	hSent  = "Tern-Sent"  // "1": sent before, re-sent with DUP
	// hMsgOrigin is the cluster's id of the delivery's message
	// (HandoffDelivery.Origin), query-escaped; absent for none.
	hMsgOrigin = "Tern-Msg-Origin"
)

// ctlSubject is where node answers take-overs.
func ctlSubject(node string) string { return "tern.ctl." + node + ".takeover" }

// takeoverReq asks a node to hand a session over.
type takeoverReq struct {
	ClientID string `json:"cid"`
	// Discard: Clean Start; the session ends instead.
	Discard bool   `json:"discard,omitempty"`
	From    string `json:"from"` // the asking node
}

// takeoverResp is the answer: Rev is the revision of the record the owner
// wrote (0 when it had no session to hand over) and Record that record.
type takeoverResp struct {
	Rev    uint64 `json:"rev,omitempty"`
	Record record `json:"record"`
	Err    string `json:"err,omitempty"`
	// Routed is the highest TERN_QOS sequence the owner had routed before
	// it handed the session over: every message up to it is among the
	// session's deliveries or was settled; the new owner reads the ones
	// after it (catchUp). 0: unknown.
	Routed uint64 `json:"routed,omitempty"`
}

// askTakeover asks owner to hand clientID's session over.
func (r *registry) askTakeover(ctx context.Context, owner, clientID string, discard bool) (*takeoverResp, error) {
	b, _ := json.Marshal(takeoverReq{ClientID: clientID, Discard: discard, From: r.n.id})
	ctx, cancel := context.WithTimeout(ctx, takeoverTimeout)
	defer cancel()
	msg, err := r.n.nc.RequestWithContext(ctx, ctlSubject(owner), b)
	if err != nil {
		return nil, fmt.Errorf("take-over from %s: %w", owner, err)
	}
	var resp takeoverResp
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return nil, fmt.Errorf("take-over from %s: %w", owner, err)
	}
	if resp.Err != "" {
		return nil, fmt.Errorf("take-over from %s: %s", owner, resp.Err)
	}
	return &resp, nil
}

// onTakeover answers a take-over on its own goroutine: handing over waits
// for the client's connection to finish.
func (r *registry) onTakeover(msg *nats.Msg) {
	var req takeoverReq
	if err := json.Unmarshal(msg.Data, &req); err != nil || req.ClientID == "" {
		r.log.Warn("cluster: a bad take-over request", "err", err)
		return
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return // no answer: the asking node times out, or finds the lease gone
	}
	r.handing[req.ClientID]++
	rev0 := r.owned[req.ClientID].rev
	r.wg.Add(1)
	r.mu.Unlock()
	go func() {
		defer r.wg.Done()
		resp := r.handOff(&req)
		r.mu.Lock()
		if r.handing[req.ClientID]--; r.handing[req.ClientID] == 0 {
			delete(r.handing, req.ClientID)
		}
		if r.owned[req.ClientID].rev == rev0 {
			delete(r.owned, req.ClientID) // not if a CONNECT here claimed it again since
		}
		r.mu.Unlock()
		b, _ := json.Marshal(resp)
		if err := msg.Respond(b); err != nil {
			r.log.Warn("cluster: answering a take-over", "client", req.ClientID, "err", err)
		}
	}()
}

// handoffCall is a hand-over of one client id's session, in progress or
// done, with its answer. The asking node waits takeoverTimeout for it and
// asks again after that, but the owner's hand-over may take longer (many
// deliveries to write, a busy machine): the request asked again gets the
// first one's answer. Answered by forget instead, it would find no
// session on the broker and clear the one just written.
type handoffCall struct {
	done chan struct{} // closed once resp is set
	resp *takeoverResp
}

// handoffMemory is how long a hand-over's answer is kept for a request
// asked again (handoffCall): a client refused with 0x88 after its session
// was handed over (the asking node could not read TERN_SESSQ, or lost a
// compare-and-swap to the end) usually comes back within it.
const handoffMemory = 2 * time.Minute

// handOff answers a take-over: the answer of a hand-over of the same
// client id in progress or just done, while the record is still at the
// revision it wrote; otherwise a new hand-over.
func (r *registry) handOff(req *takeoverReq) *takeoverResp {
	wait, cancel := context.WithTimeout(r.ctx, takeoverTimeout)
	defer cancel()
	for {
		r.mu.Lock()
		c := r.handoffs[req.ClientID]
		if c == nil {
			c = &handoffCall{done: make(chan struct{})}
			r.handoffs[req.ClientID] = c
			r.mu.Unlock()
			c.resp = r.handOffOnce(req)
			close(c.done)
			// Remembered while the asking node may still ask again: its
			// claim retries for claimTimeout, and a claim that failed
			// after the hand-over (0x88) is asked again when the client
			// comes back.
			time.AfterFunc(handoffMemory, func() {
				r.mu.Lock()
				if r.handoffs[req.ClientID] == c {
					delete(r.handoffs, req.ClientID)
				}
				r.mu.Unlock()
			})
			return c.resp
		}
		r.mu.Unlock()
		select {
		case <-c.done:
		case <-wait.Done():
			return &takeoverResp{Err: "a hand-over of the session is in progress"}
		}
		if c.resp.Err == "" && c.resp.Rev != 0 {
			if _, rev, err := r.get(wait, sessionKey(req.ClientID)); err == nil && rev == c.resp.Rev {
				return c.resp // asked again: the same answer
			}
		}
		r.mu.Lock()
		if r.handoffs[req.ClientID] == c {
			delete(r.handoffs, req.ClientID) // stale: hand over anew
		}
		r.mu.Unlock()
	}
}

// handOffOnce takes the session off the broker and writes it for the
// asking node.
func (r *registry) handOffOnce(req *takeoverReq) *takeoverResp {
	ctx, cancel := context.WithTimeout(r.ctx, handOffTimeout)
	defer cancel()
	srv := r.n.srv.Load()
	if srv == nil {
		return &takeoverResp{}
	}
	r.mu.Lock()
	adopting := r.adopting[req.ClientID]
	r.mu.Unlock()
	if adopting != nil { // this node owns the session, the broker will have it
		select {
		case <-adopting:
		case <-ctx.Done():
			return &takeoverResp{Err: "the session is being adopted"}
		}
	}
	var routed uint64
	if q := r.n.q; q != nil && q.ready.Load() {
		routed = q.routed.Load() // before the hand-over: see catchUp
	}
	h, err := srv.HandOff(ctx, req.ClientID, req.Discard)
	if err != nil {
		return &takeoverResp{Err: err.Error()}
	}
	if h == nil {
		return r.forget(ctx, req.ClientID)
	}
	r.stats.HandOffs.Add(1)
	rev, rec, err := r.flush(ctx, req.ClientID, h)
	if err != nil {
		r.log.Error("cluster: a session handed over lost its state", "client", req.ClientID, "to", req.From, "err", err)
		return &takeoverResp{Err: err.Error()}
	}
	r.log.Debug("cluster: session handed over", "client", req.ClientID, "to", req.From, "deliveries", len(h.Deliveries))
	return &takeoverResp{Rev: rev, Record: rec, Routed: routed}
}

// fence drops the sessions this node holds that the cluster no longer
// names it the owner of: a survivor adopted them, or ended them, while
// this node was taken for dead (durable.watchConsumer). A connection that
// holds one is sent DISCONNECT 0x8E Session taken over and closed, and its
// client, connecting again, resumes the session where the cluster has
// it. The will is not published here: the adopting node did. It returns
// how many sessions it dropped; a session whose record cannot be read
// stays.
func (r *registry) fence(ctx context.Context) int {
	srv := r.n.srv.Load()
	if srv == nil {
		return 0
	}
	dropped := 0
	for _, s := range srv.Sessions() {
		rec, rev, err := r.get(ctx, sessionKey(s.ID))
		if err != nil || rev != 0 && rec.Owner == r.n.id {
			continue
		}
		r.mu.Lock()
		delete(r.owned, s.ID) // the record is not this node's to write
		r.mu.Unlock()
		r.detach(s.ID)
		if _, err := srv.HandOff(ctx, s.ID, false); err != nil {
			r.log.Warn("cluster: dropping a session the cluster gave to another node", "client", s.ID, "err", err)
			continue
		}
		dropped++
	}
	return dropped
}

// forget answers a take-over of a client id that has no session here:
// a session the record still holds (from a hand-over to this node) has
// ended since, and must not be resumed elsewhere.
func (r *registry) forget(ctx context.Context, clientID string) *takeoverResp {
	key := sessionKey(clientID)
	rec, rev, err := r.get(ctx, key)
	if err != nil || rev == 0 || rec.Owner != r.n.id || rec.Session == nil {
		return &takeoverResp{}
	}
	rec.Session, rec.Inbound = nil, nil
	b, _ := json.Marshal(rec)
	nrev, err := r.kv.Update(ctx, key, b, rev)
	if err != nil {
		return &takeoverResp{}
	}
	return &takeoverResp{Rev: nrev, Record: rec}
}

// flush writes a session handed over: its deliveries to TERN_SESSQ with
// this node's epoch, then the session into its record, with a
// compare-and-swap so that a record another node owns meanwhile is left
// alone.
func (r *registry) flush(ctx context.Context, clientID string, h *broker.SessionHandoff) (uint64, record, error) {
	key := sessionKey(clientID)
	rec, rev, err := r.get(ctx, key)
	if err != nil {
		return 0, record{}, err
	}
	if rev == 0 || rec.Owner != r.n.id {
		return 0, record{}, fmt.Errorf("the record of %q is not this node's (owner %q)", clientID, rec.Owner)
	}
	subj := queueSubject(clientID)
	epoch := rec.Epoch
	// The deliveries written through as they were queued are there, once
	// their PubAcks are in; they are all written again (sent, released),
	// then the older copies purged: resume keeps the last copy of each
	// sequence number, and finds no settled delivery.
	if err := r.barrier(ctx); err != nil {
		return 0, record{}, err
	}
	r.detach(clientID)
	acks := make([]jetstream.PubAckFuture, 0, len(h.Deliveries))
	for i := range h.Deliveries {
		m := encodeDelivery(subj, strconv.FormatUint(epoch, 10), &h.Deliveries[i])
		f, err := r.js.PublishMsgAsync(m)
		if err != nil {
			return 0, record{}, fmt.Errorf("TERN_SESSQ: %w", err)
		}
		acks = append(acks, f)
	}
	var first uint64
	for _, f := range acks {
		select {
		case a := <-f.Ok():
			if first == 0 {
				first = a.Sequence
			}
		case err := <-f.Err():
			return 0, record{}, fmt.Errorf("TERN_SESSQ: %w", err)
		case <-ctx.Done():
			return 0, record{}, fmt.Errorf("TERN_SESSQ: %w", ctx.Err())
		}
	}
	purge := []jetstream.StreamPurgeOpt{jetstream.WithPurgeSubject(subj)}
	if first != 0 {
		purge = append(purge, jetstream.WithPurgeSequence(first))
	}
	if err := r.sq.Purge(ctx, purge...); err != nil {
		r.log.Warn("cluster: purging a session's settled deliveries before a hand-over", "client", clientID, "err", err)
	}
	session := h.Session.Append(nil)
	for try := 0; ; try++ {
		rec.Session, rec.Inbound = session, h.Inbound
		b, _ := json.Marshal(rec)
		nrev, err := r.kv.Update(ctx, key, b, rev)
		if err == nil {
			return nrev, rec, nil
		}
		if r.conflict(err); try == 2 {
			return 0, record{}, err
		}
		// A record write of this node's (SessionChanged) came between.
		if rec, rev, err = r.get(ctx, key); err != nil {
			return 0, record{}, err
		}
		if rev == 0 || rec.Owner != r.n.id || rec.Epoch != epoch {
			return 0, record{}, fmt.Errorf("the record of %q changed owner during the hand-over", clientID)
		}
	}
}

// encodeDelivery is the TERN_SESSQ message of d: the headers, then the
// queue record with its length as a uvarint, then the message record.
func encodeDelivery(subj, epoch string, d *broker.HandoffDelivery) *nats.Msg {
	h := nats.Header{hEpoch: {epoch}, hDSeq: {strconv.FormatUint(d.Seq, 10)}}
	if d.Sent {
		h[hSent] = []string{"1"}
	}
	if d.Origin != "" {
		h[hMsgOrigin] = []string{url.QueryEscape(d.Origin)}
	}
	q := d.Delivery.Append(nil)
	b := binary.AppendUvarint(nil, uint64(len(q)))
	b = append(b, q...)
	if d.Message != nil {
		b = d.Message.Append(b)
	}
	return &nats.Msg{Subject: subj, Header: h, Data: b}
}

// errDelivery is returned (wrapped) for a TERN_SESSQ message that
// encodeDelivery did not write.
var errDelivery = errors.New("cluster: bad handed-over delivery")

// decodeDelivery reverses encodeDelivery.
func decodeDelivery(h nats.Header, b []byte) (broker.HandoffDelivery, error) {
	var d broker.HandoffDelivery
	seq, err := strconv.ParseUint(h.Get(hDSeq), 10, 64)
	if err != nil {
		return d, fmt.Errorf("%w: %s %q", errDelivery, hDSeq, h.Get(hDSeq))
	}
	d.Seq, d.Sent = seq, h.Get(hSent) == "1"
	if v := h.Get(hMsgOrigin); v != "" {
		if d.Origin, err = url.QueryUnescape(v); err != nil {
			return d, fmt.Errorf("%w: %s %q", errDelivery, hMsgOrigin, v)
		}
	}
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return d, fmt.Errorf("%w: length", errDelivery)
	}
	q, rest := b[k:k+int(n)], b[k+int(n):]
	if d.Delivery, err = store.DecodeQueue(q); err != nil {
		return d, fmt.Errorf("%w: %w", errDelivery, err)
	}
	if len(rest) > 0 {
		m, err := store.DecodeMessage(rest)
		if err != nil {
			return d, fmt.Errorf("%w: %w", errDelivery, err)
		}
		d.Message = &m
	}
	return d, nil
}
