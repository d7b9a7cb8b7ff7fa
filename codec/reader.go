package codec

import (
	"errors"
	"io"
	"sync"
)

// Reader decodes a stream of packets from an io.Reader using one reusable
// buffer. It reads ahead, so several small packets cost one read, and it
// does not allocate in steady state: the packets it returns are reused by
// the next call, their byte slices (Payload, CorrelationData, ...) point
// into its buffer, and strings are interned. Everything except strings is
// valid only until the next call to ReadPacket, except a CONNECT, which is
// never reused and owns all of its memory.
//
// A Reader is not safe for concurrent use.
//
// Between packets, Release hands the buffer and the reusable packets to a
// pool shared by all Readers, so that a server's idle connections hold
// neither; the next ReadPacket takes them back.
type Reader struct {
	r       io.Reader
	buf     []byte
	start   int // first unread byte
	end     int // end of buffered data
	maxSize int
	version Version
	read    uint64     // bytes read from r in all, see BytesRead
	cache   *readCache // nil after Release, until the next ReadPacket
}

// readCache is what a Reader reuses from packet to packet. It is pooled
// as a whole: one Get and one Put per idle period, whatever was used.
type readCache struct {
	buf  []byte
	strs interner
	pkts [16]Packet // one reusable packet per type
	// dec is reused for every packet: a decoder on the stack would escape
	// to the heap through the Packet interface and cost an allocation each.
	dec decoder
}

// readCaches holds the caches of released Readers.
var readCaches = sync.Pool{New: func() any { return new(readCache) }}

// maxPooledBuffer is the largest buffer Release keeps with the pooled
// cache; a larger one, grown for a big packet, goes to the garbage
// collector instead of staying in the pool.
const maxPooledBuffer = 16 << 10

const (
	minReadBuffer = 512
	// maxIdleBuffer is the buffer size kept between packets; a larger buffer,
	// grown for a big packet, is dropped once it is no longer needed.
	maxIdleBuffer = 64 << 10
)

// NewReader returns a Reader that refuses packets larger than maxSize bytes
// (0 means MaxPacketSize). The version starts unset: the first packet a
// server reads is a CONNECT, which sets it, and any other packet is refused
// until then ([MQTT-3.1.0-1]); a client calls SetVersion.
func NewReader(r io.Reader, maxSize int) *Reader {
	if maxSize <= 0 || maxSize > MaxPacketSize {
		maxSize = MaxPacketSize
	}
	return &Reader{r: r, maxSize: maxSize}
}

// Release returns the Reader's buffer and reusable packets to a pool shared
// by all Readers, if no byte is buffered, and reports whether it did. Like
// the next ReadPacket, it invalidates the packet last returned. A server
// calls it before waiting a long time for a connection's next packet.
func (r *Reader) Release() bool {
	if r.start != r.end {
		return false
	}
	if c := r.cache; c != nil {
		r.cache = nil
		c.buf = r.buf[:0]
		if cap(c.buf) > maxPooledBuffer {
			c.buf = nil
		}
		c.dec = decoder{}
		readCaches.Put(c)
	}
	r.buf, r.start, r.end = nil, 0, 0
	return true
}

// take gets a cache (and its buffer) from the pool after a Release or at
// the first read.
func (r *Reader) take() *readCache {
	if r.cache == nil {
		r.cache = readCaches.Get().(*readCache)
		if r.buf == nil {
			r.buf = r.cache.buf[:cap(r.cache.buf)]
		}
		r.cache.buf = nil
	}
	return r.cache
}

// SetVersion sets the protocol version used to decode the packets that follow.
func (r *Reader) SetVersion(v Version) { r.version = v }

// Version returns the protocol version in use.
func (r *Reader) Version() Version { return r.version }

// BytesRead returns the number of bytes read from the underlying reader
// so far, read-ahead included: a server counts its traffic with it.
func (r *Reader) BytesRead() uint64 { return r.read }

// SetMaxSize changes the largest packet the Reader accepts.
func (r *Reader) SetMaxSize(n int) {
	if n <= 0 || n > MaxPacketSize {
		n = MaxPacketSize
	}
	r.maxSize = n
}

// Buffered returns the number of bytes read ahead and not yet decoded. A
// writer can use it to flush once per batch of packets: when Buffered is 0,
// the next ReadPacket will block.
func (r *Reader) Buffered() int { return r.end - r.start }

// ReadPacket reads and decodes the next packet. A CONNECT sets the Reader's
// version to the one it carries. It returns io.EOF when the stream ends
// cleanly between packets, io.ErrUnexpectedEOF when it ends inside one, and
// an *Error for a protocol violation; after an error the stream is not in a
// known state and the connection should be closed.
func (r *Reader) ReadPacket() (Packet, error) {
	c := r.take()
	r.compact()
	var (
		h FixedHeader
		n int
	)
	for {
		var err error
		h, n, err = ParseFixedHeader(r.buf[r.start:r.end], r.version)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			break
		}
		if err := r.readOnce(5); err != nil {
			return nil, err
		}
	}
	total := n + h.RemainingLength
	if total > r.maxSize {
		return nil, errPacketTooLarge(r.version, total, r.maxSize)
	}
	if err := r.fill(total); err != nil {
		return nil, err
	}
	body := r.buf[r.start+n : r.start+total]
	r.start += total

	p := c.pkts[h.Type]
	if p == nil {
		p = newPacket(h.Type)
		c.pkts[h.Type] = p
	}
	resetPacket(p)
	// A CONNECT is kept for the whole connection (its Will above all), so
	// it is decoded like Decode does, owning its bytes; it comes once. Its
	// strings are not interned either: that would only make every idle
	// connection hold an interner map for its client id.
	c.dec = decoder{b: body, v: r.version, alias: h.Type != CONNECT}
	if h.Type != CONNECT {
		c.dec.strs = &c.strs
	}
	if err := decodeBody(&c.dec, p, h); err != nil {
		return nil, err
	}
	if cp, ok := p.(*Connect); ok {
		r.version = cp.Version
		c.pkts[CONNECT] = nil // a Connect is kept by its caller; never reuse it
	}
	return p, nil
}

// fill reads until at least need unread bytes are buffered.
func (r *Reader) fill(need int) error {
	for r.end-r.start < need {
		if err := r.readOnce(need); err != nil {
			return err
		}
	}
	return nil
}

// readOnce makes room towards need unread bytes and reads once.
func (r *Reader) readOnce(need int) error {
	if r.start+need > len(r.buf) {
		r.grow(need)
	}
	m, err := r.r.Read(r.buf[r.end:])
	r.end += m
	r.read += uint64(m)
	if err != nil && m == 0 {
		if errors.Is(err, io.EOF) {
			if r.end == r.start {
				return io.EOF
			}
			return io.ErrUnexpectedEOF
		}
		return err
	}
	return nil
}

// grow makes room towards need unread bytes. It moves the unread bytes to
// the front of the buffer; if that is not enough, the next read goes into
// the space left, and only a full buffer is replaced by one twice its size.
// So the buffer grows with the bytes that actually arrive, not with the
// length a fixed header announces: a peer cannot make the Reader allocate
// maxSize bytes by sending a five-byte header.
func (r *Reader) grow(need int) {
	r.shift()
	if need <= len(r.buf) || r.end < len(r.buf) {
		return
	}
	nb := make([]byte, max(len(r.buf)*2, minReadBuffer))
	r.end = copy(nb, r.buf[:r.end])
	r.buf = nb
}

func (r *Reader) shift() {
	if r.start > 0 {
		r.end = copy(r.buf, r.buf[r.start:r.end])
		r.start = 0
	}
}

// compact runs at the start of each ReadPacket, when the previous packet is
// no longer in use: it drops a large buffer that is no longer needed and
// moves leftover bytes to the front.
func (r *Reader) compact() {
	if r.start == r.end {
		r.start, r.end = 0, 0
		if len(r.buf) > maxIdleBuffer {
			r.buf = nil
		}
	}
}

// resetPacket clears a reused packet, keeping slice capacity.
func resetPacket(p Packet) {
	switch p := p.(type) {
	case *Publish:
		props := p.Properties
		props.Reset()
		*p = Publish{Properties: props}
	case *Puback:
		p.reset()
	case *Pubrec:
		p.reset()
	case *Pubrel:
		p.reset()
	case *Pubcomp:
		p.reset()
	case *Subscribe:
		props := p.Properties
		props.Reset()
		*p = Subscribe{Properties: props, Subscriptions: p.Subscriptions[:0]}
	case *Suback:
		props := p.Properties
		props.Reset()
		*p = Suback{Properties: props, ReasonCodes: p.ReasonCodes[:0]}
	case *Unsubscribe:
		props := p.Properties
		props.Reset()
		*p = Unsubscribe{Properties: props, Filters: p.Filters[:0]}
	case *Unsuback:
		props := p.Properties
		props.Reset()
		*p = Unsuback{Properties: props, ReasonCodes: p.ReasonCodes[:0]}
	case *Connack:
		*p = Connack{}
	case *Disconnect:
		*p = Disconnect{}
	case *Auth:
		*p = Auth{}
	}
}

func (a *Ack) reset() {
	props := a.Properties
	props.Reset()
	*a = Ack{Properties: props}
}
