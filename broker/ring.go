package broker

// ring is a session's deliveries in order: those in flight (sent, not yet
// acknowledged) followed by those queued. Each delivery has a sequence
// number; ring keeps the ones from head (the oldest still held) to tail
// (the next to be assigned) in a circular buffer, with nil for those that
// are done (acknowledged, dropped, expired or handed to another member of
// a shared group). next splits the two parts:
//
//	head ........ next ........ tail
//	 in flight    |   queued    |
//
// Every operation is O(1) (growth amortised): the queue never moves its
// contents to drop or acknowledge one message, which an open-loop fan-in
// into a full queue would otherwise pay on every PUBLISH. A delivery's
// packet identifier is derived from its sequence number (see pidOf), so an
// acknowledgement finds its delivery without a search and the identifier
// survives a restart with the queue.
//
// ring is not safe for concurrent use; the session's lock guards it.
type ring struct {
	buf  []*delivery // len is 0 or a power of two
	head uint64      // oldest sequence number held
	next uint64      // first sequence number not yet sent
	tail uint64      // sequence number of the next push
}

// pidSpan is the number of packet identifiers. Deliveries in flight lie
// within [head, next), and sending stops while next-head would reach
// pidSpan, so no two of them share an identifier [MQTT-2.3.1-2].
const pidSpan = 65535

// pidOf returns the packet identifier of sequence number seq: 1..65535,
// never 0 [MQTT-2.3.1-1].
func pidOf(seq uint64) uint16 { return uint16(seq%pidSpan) + 1 }

// seqOf returns the sequence number in [head, next) whose packet
// identifier is pid, and whether there is one.
func (r *ring) seqOf(pid uint16) (uint64, bool) {
	if pid == 0 || r.next == r.head {
		return 0, false
	}
	off := (uint64(pid-1) + pidSpan - r.head%pidSpan) % pidSpan
	seq := r.head + off
	return seq, seq < r.next
}

// at returns the delivery of seq, nil when it is done or not held.
func (r *ring) at(seq uint64) *delivery {
	if seq < r.head || seq >= r.tail {
		return nil
	}
	return r.buf[seq&uint64(len(r.buf)-1)]
}

// set replaces the delivery of a held seq.
func (r *ring) set(seq uint64, d *delivery) { r.buf[seq&uint64(len(r.buf)-1)] = d }

// push appends d and returns its sequence number.
func (r *ring) push(d *delivery) uint64 {
	if r.tail-r.head == uint64(len(r.buf)) {
		r.resize(max(8, 2*len(r.buf)))
	}
	seq := r.tail
	r.tail++
	r.set(seq, d)
	return seq
}

// placeAt puts d at seq, which must not be below tail; the sequence
// numbers skipped are holes. Recovery uses it to rebuild a queue whose
// numbers have gaps.
func (r *ring) placeAt(seq uint64, d *delivery) {
	if r.tail == r.head {
		r.head, r.next, r.tail = seq, seq, seq
	}
	for r.tail < seq {
		r.push(nil)
	}
	r.push(d)
}

// done marks seq finished and drops finished deliveries from the front.
func (r *ring) done(seq uint64) {
	if seq < r.head || seq >= r.tail {
		return
	}
	r.set(seq, nil)
	r.trim()
}

// trim advances head (and next, if it follows) past finished deliveries,
// and shrinks the buffer when it is mostly empty, so that a session whose
// queue once held many messages does not keep their slots for ever.
func (r *ring) trim() {
	for r.head < r.tail && r.at(r.head) == nil {
		r.head++
	}
	if r.next < r.head {
		r.next = r.head
	}
	if n := r.tail - r.head; len(r.buf) > 64 && n < uint64(len(r.buf))/4 {
		r.resize(max(8, 2*int(n)))
	}
	if r.head == r.tail {
		r.buf = nil
	}
}

// resize moves the held deliveries into a buffer of n slots (a power of
// two at least tail-head).
func (r *ring) resize(n int) {
	size := 8
	for size < n {
		size *= 2
	}
	buf := make([]*delivery, size)
	for seq := r.head; seq < r.tail; seq++ {
		buf[seq&uint64(size-1)] = r.at(seq)
	}
	r.buf = buf
}

// canSend reports whether the delivery at next may be given a packet
// identifier without reusing one still in flight.
func (r *ring) canSend() bool { return r.next < r.tail && r.next-r.head < pidSpan-1 }

// reset empties the ring, keeping the sequence numbers going.
func (r *ring) reset() {
	r.buf = nil
	r.head, r.next = r.tail, r.tail
}
