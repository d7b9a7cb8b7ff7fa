package broker

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/ternmq/tern/broker/store"
)

// Open returns a Server that keeps its state in opts.Store, after reading
// back everything the store holds: retained messages, persistent sessions
// with their subscriptions, wills, queues, in-flight and inbound QoS 2
// state. Sessions and messages that expired while the broker was down are
// dropped by wall-clock time, and wills whose delay passed meanwhile are
// published. It refuses a store written in a newer format
// (*store.VersionError). Without a Store, Open is New.
//
// The caller owns the store: close it after Shutdown.
func Open(ctx context.Context, opts Options) (*Server, error) {
	if opts.Store == nil {
		return New(opts), nil
	}
	s := newServer(opts)
	r := &recovery{srv: s, st: opts.Store, now: time.Now()}
	if err := r.run(ctx); err != nil {
		return nil, fmt.Errorf("broker: reading the store: %w", err)
	}
	s.startSys()
	return s, nil
}

// recovery is the state of Open while it reads the store.
type recovery struct {
	srv *Server
	st  Store
	now time.Time
	// The stored messages in key (id) order, and for each the plain
	// delivery (no Subscription Identifiers, no group) that sessions
	// receiving it the same way share.
	ids    []uint64
	msgs   []*Message
	shared []*delivery
	fix    store.Batch // deletions of what expired or is inconsistent
	wills  []*Message  // to publish: their delay passed while the broker was down

	// The session being read: its keys are contiguous, inbound ids and
	// queue entries before the session record.
	client  string
	inbound []uint16
	queue   []queued
}

type queued struct {
	seq uint64
	rec store.QueueRecord
}

func (r *recovery) run(ctx context.Context) error {
	start := time.Now()
	if err := r.version(); err != nil {
		return err
	}
	steps := []struct {
		kind byte
		fn   func(k, v []byte) error
	}{{store.KindMessage, r.message}, {store.KindRetained, r.retained}, {store.KindSession, r.sessionKey}}
	for _, st := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := r.st.Scan([]byte{st.kind}, st.fn); err != nil {
			return err
		}
	}
	r.endClient()
	for i, m := range r.msgs {
		if m.refs == 0 {
			r.fix.Delete(store.MessageKey(r.ids[i])) // no session or topic holds it
		}
	}
	if !r.fix.Empty() {
		if err := r.st.Apply(&r.fix, true); err != nil {
			return err
		}
	}
	s := r.srv
	var maxID uint64
	if len(r.ids) > 0 {
		maxID = r.ids[len(r.ids)-1]
	}
	s.commit = newCommitter(r.st, s.log, &s.stats, maxID)
	s.commit.hist = &s.metrics.commits
	s.commit.rewrite = s.rewrite
	for _, w := range r.wills {
		s.publish(w)
	}
	s.log.Info("store read", "sessions", len(s.sessions), "retained", s.retained.Len(),
		"messages", len(r.msgs), "took", time.Since(start).Round(time.Millisecond))
	r.msgs, r.shared, r.ids = nil, nil, nil
	return nil
}

// version checks the format version, writing it into a new store.
func (r *recovery) version() error {
	found := false
	err := r.st.Scan(store.VersionKey(), func(k, v []byte) error {
		if len(k) != 1 {
			return nil
		}
		found = true
		return store.CheckVersion(v)
	})
	if err != nil || found {
		return err
	}
	var b store.Batch
	b.Set(store.VersionKey(), store.AppendVersion(nil))
	return r.st.Apply(&b, true)
}

func (r *recovery) message(k, v []byte) error {
	key, err := store.ParseKey(k)
	if err != nil {
		return err
	}
	rec, err := store.DecodeMessage(v)
	if err != nil {
		return fmt.Errorf("message %d: %w", key.ID, err)
	}
	m := fromRecord(&rec)
	m.id = key.ID
	r.ids = append(r.ids, key.ID)
	r.msgs = append(r.msgs, m)
	return nil
}

// message returns the index of the stored message id, or -1.
func (r *recovery) find(id uint64) int {
	if i, ok := slices.BinarySearch(r.ids, id); ok {
		return i
	}
	return -1
}

func (r *recovery) retained(k, v []byte) error {
	topic := string(k[1:])
	var m *Message
	if len(v) == 8 {
		if i := r.find(binary.BigEndian.Uint64(v)); i >= 0 {
			m = r.msgs[i]
		}
	}
	if m == nil || m.expired(r.now) {
		r.fix.Delete(bytes.Clone(k))
		return nil
	}
	r.srv.retained.Set(topic, m)
	r.srv.account(m, 1)
	m.refs++
	if !m.Expires.IsZero() {
		r.srv.sweepSoon()
	}
	return nil
}
