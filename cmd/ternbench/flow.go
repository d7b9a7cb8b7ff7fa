package main

import (
	"context"
	"encoding/binary"
	"sync/atomic"
	"time"

	"github.com/ternmq/tern/codec"
)

// Every payload starts with a header the subscribers read back:
//
//	[0:2]   publisher index (big endian)
//	[2:10]  sequence number of the message for that publisher, from 1
//	[10:18] send time in nanoseconds since the run's epoch
//
// The rest is filler. Payloads are at least headerLen bytes.
const headerLen = 18

func putHeader(b []byte, pub int, seq int64, ts int64) {
	binary.BigEndian.PutUint16(b[0:], uint16(pub))
	binary.BigEndian.PutUint64(b[2:], uint64(seq))
	binary.BigEndian.PutUint64(b[10:], uint64(ts))
}

func readHeader(b []byte) (pub int, seq, ts int64, ok bool) {
	if len(b) < headerLen {
		return 0, 0, 0, false
	}
	return int(binary.BigEndian.Uint16(b[0:])), int64(binary.BigEndian.Uint64(b[2:])), int64(binary.BigEndian.Uint64(b[10:])), true
}

// clock gives nanoseconds since the run started, from the monotonic clock.
// Publishers and subscribers are in this process, so one-way latency is
// the difference of two readings.
type clock struct{ epoch time.Time }

func (c clock) now() int64 { return int64(time.Since(c.epoch)) }

// publisher sends messages as fast as the limits allow: its count, the
// deadline, the rate, the end-to-end window (how far it may run ahead of
// its slowest subscriber) and, for QoS 1/2, the packets not yet
// acknowledged. It encodes a batch into one buffer and writes it with one
// call; nothing is allocated per message.
type publisher struct {
	idx     int
	c       *client
	topics  []string // message seq uses topics[(seq-1)%len(topics)]
	qos     codec.QoS
	retain  bool
	payload int

	audience []*subscriber // who receives this publisher's messages (for the window)

	sent  atomic.Int64 // messages written
	acked atomic.Int64 // QoS 1/2: completed (PUBACK / PUBCOMP)
	wake  chan struct{}

	skipped atomic.Int64 // open loop: slots skipped because the in-flight window was full
	slots   atomic.Int64 // open loop: slots scheduled (sent + skipped), set at the end

	stalls int   // times the window did not open for stallTimeout
	floor  int64 // messages written off as lost after a stall
	err    error
}

// limits are what bounds a publisher's run.
type limits struct {
	count    int64         // messages; 0 = unbounded
	deadline time.Time     // stop sending after this
	rate     float64       // messages per second; 0 = as fast as possible
	window   int64         // end-to-end window; 0 = open loop
	inflight int64         // QoS 1/2: unacknowledged packets at most
	stall    time.Duration // give up waiting for the window after this
}

const maxBatchBytes = 64 << 10

func newPublisher(idx int, c *client, topics []string, qos codec.QoS, retain bool, payload int) *publisher {
	return &publisher{idx: idx, c: c, topics: topics, qos: qos, retain: retain, payload: payload, wake: make(chan struct{}, 1)}
}

func (p *publisher) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// progress returns the highest sequence number every subscriber of this
// publisher has received.
func (p *publisher) progress() int64 {
	low := int64(-1)
	for _, s := range p.audience {
		if v := s.maxSeq[p.idx].Load(); low < 0 || v < low {
			low = v
		}
	}
	return max(low, p.floor)
}

// batch encodes up to n messages, numbered from seq+1, into buf.
func (p *publisher) batch(buf []byte, pkt *codec.Publish, seq int64, n int, now int64) ([]byte, int64) {
	for range n {
		seq++
		putHeader(pkt.Payload, p.idx, seq, now)
		if len(p.topics) > 1 {
			pkt.Topic = p.topics[(seq-1)%int64(len(p.topics))]
		}
		if pkt.QoS > 0 {
			pkt.PacketID = uint16((seq-1)%65535 + 1)
		}
		var err error
		if buf, err = pkt.Append(buf, p.c.v); err != nil {
			panic(err) // the packet is built here and always valid
		}
	}
	return buf, seq
}

// prepare returns the packet a publisher sends (its payload filled after
// the header), how many fit in one batch, and a buffer for a batch.
func (p *publisher) prepare() (codec.Publish, int64, []byte, error) {
	pkt := codec.Publish{QoS: p.qos, Retain: p.retain, Topic: p.topics[0], Payload: make([]byte, p.payload)}
	if p.qos > 0 {
		pkt.PacketID = 1 // for Size; batch numbers the packets
	}
	for i := headerLen; i < len(pkt.Payload); i++ {
		pkt.Payload[i] = 'x'
	}
	size, err := pkt.Size(p.c.v)
	if err != nil {
		return pkt, 0, nil, err
	}
	perBatch := int64(max(1, maxBatchBytes/size))
	return pkt, perBatch, make([]byte, 0, int(perBatch)*size+size), nil
}

// run publishes until a limit is reached, then, for QoS 1/2, waits until
// everything sent is acknowledged (or stalls).
func (p *publisher) run(ctx context.Context, clk clock, lim limits) {
	pkt, perBatch, buf, err := p.prepare()
	if err != nil {
		p.err = err
		return
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	start := time.Now()
	var seq int64
	// wait blocks until a subscriber or the ack reader reports progress,
	// and reports false when nothing happened for lim.stall.
	wait := func(d time.Duration) bool {
		timer.Reset(d)
		select {
		case <-p.wake:
			return true
		case <-timer.C:
			return false
		case <-ctx.Done():
			return true
		}
	}
	for ctx.Err() == nil {
		if lim.count > 0 && seq >= lim.count || !lim.deadline.IsZero() && time.Now().After(lim.deadline) {
			break
		}
		n := perBatch
		if lim.count > 0 {
			n = min(n, lim.count-seq)
		}
		if lim.window > 0 {
			room := lim.window - (seq - p.progress())
			if room <= 0 {
				if !wait(lim.stall) {
					p.stalls++
					p.floor = seq // what is outstanding is lost
				}
				continue
			}
			n = min(n, room)
		}
		if p.qos > 0 {
			room := lim.inflight - (seq - p.acked.Load())
			if room <= 0 {
				if !wait(lim.stall) {
					p.err = errStalled
					return
				}
				continue
			}
			n = min(n, room)
		}
		if lim.rate > 0 {
			due := int64(time.Since(start).Seconds()*lim.rate) + 1
			if due <= seq {
				next := start.Add(time.Duration(float64(seq) / lim.rate * float64(time.Second)))
				time.Sleep(time.Until(next))
				continue
			}
			n = min(n, due-seq)
		}
		buf, seq = p.batch(buf[:0], &pkt, seq, int(n), clk.now())
		if err := p.c.write(buf); err != nil {
			p.err = err
			return
		}
		p.sent.Store(seq)
	}
	// QoS 1/2: wait for the last acknowledgements.
	for p.qos > 0 && p.acked.Load() < seq && ctx.Err() == nil {
		if !wait(lim.stall) {
			p.err = errStalled
			return
		}
	}
}

var errStalled = errorString("the broker stopped acknowledging messages")

type errorString string

func (e errorString) Error() string { return string(e) }

// readAcks is the publisher connection's reader: it counts PUBACK and
// PUBCOMP, answers PUBREC with PUBREL (one write per read batch), and
// wakes the publisher.
func (p *publisher) readAcks() {
	var (
		out   []byte
		acked int64
	)
	for {
		pk, err := p.c.r.ReadPacket()
		if err != nil {
			return
		}
		switch pk := pk.(type) {
		case *codec.Puback:
			acked++
		case *codec.Pubcomp:
			acked++
		case *codec.Pubrec:
			if pk.ReasonCode.IsError() {
				acked++
				break
			}
			rel := codec.Pubrel{Ack: codec.Ack{PacketID: pk.PacketID}}
			out, _ = rel.Append(out, p.c.v)
		}
		if p.c.r.Buffered() == 0 {
			if len(out) > 0 {
				if p.c.write(out) != nil {
					return
				}
				out = out[:0]
			}
			p.acked.Store(acked)
			p.signal()
		}
	}
}

// subscriber reads messages on one connection: it counts them, records
// their latency, acknowledges them (QoS 1/2) with one write per read
// batch, and tells the publishers how far it got.
type subscriber struct {
	idx    int
	c      *client
	pubs   []*publisher
	prefix string // count only topics with this prefix ("" = all)

	maxSeq []atomic.Int64 // per publisher: highest sequence number seen
	count  atomic.Int64   // messages counted
	last   atomic.Int64   // clock time of the last counted message
	hist   histogram      // latency; read only after done is closed
	dups   int64          // messages seen again (sequence not above the highest); read after done
	// lats: with --latency-log, every message's send time and latency
	// (clock ns), in pairs; read after done.
	lats []int64
	done chan struct{}
}

func newSubscriber(idx int, c *client, pubs []*publisher, prefix string) *subscriber {
	return &subscriber{idx: idx, c: c, pubs: pubs, prefix: prefix,
		maxSeq: make([]atomic.Int64, len(pubs)), done: make(chan struct{})}
}

func (s *subscriber) run(clk clock) {
	defer close(s.done)
	var (
		out     []byte
		n       int64
		now     int64
		high    = make([]int64, len(s.pubs))
		touched = make([]bool, len(s.pubs))
		list    = make([]int, 0, len(s.pubs))
	)
	for {
		pk, err := s.c.r.ReadPacket()
		if err != nil {
			return
		}
		switch pk := pk.(type) {
		case *codec.Publish:
			now = clk.now()
			out = s.ack(out, pk)
			if s.prefix != "" && !hasPrefix(pk.Topic, s.prefix) {
				break
			}
			n++
			pi, seq, ts, ok := readHeader(pk.Payload)
			if !ok || pi >= len(s.pubs) {
				break
			}
			s.hist.record(now - ts)
			if s.lats != nil {
				s.lats = append(s.lats, ts, now-ts)
			}
			if seq > high[pi] {
				high[pi] = seq
			} else {
				s.dups++
			}
			if !touched[pi] {
				touched[pi] = true
				list = append(list, pi)
			}
		case *codec.Pubrel:
			c := codec.Pubcomp{Ack: codec.Ack{PacketID: pk.PacketID}}
			out, _ = c.Append(out, s.c.v)
		}
		if s.c.r.Buffered() == 0 {
			if len(out) > 0 {
				if s.c.write(out) != nil {
					return
				}
				out = out[:0]
			}
			s.count.Store(n)
			s.last.Store(now)
			for _, pi := range list {
				s.maxSeq[pi].Store(high[pi])
				touched[pi] = false
				s.pubs[pi].signal()
			}
			list = list[:0]
		}
	}
}

// ack appends the acknowledgement a QoS 1/2 PUBLISH needs.
func (s *subscriber) ack(out []byte, p *codec.Publish) []byte {
	switch p.QoS {
	case 1:
		a := codec.Puback{Ack: codec.Ack{PacketID: p.PacketID}}
		out, _ = a.Append(out, s.c.v)
	case 2:
		a := codec.Pubrec{Ack: codec.Ack{PacketID: p.PacketID}}
		out, _ = a.Append(out, s.c.v)
	}
	return out
}

func hasPrefix(s, prefix string) bool { return len(s) >= len(prefix) && s[:len(prefix)] == prefix }
