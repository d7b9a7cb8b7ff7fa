package livetree

// valueCost is what a kept value counts against MaxHistoryBytes besides
// its payload: roughly the size of a Value.
const valueCost = 64

// ring holds a node's older values, oldest first. It grows by doubling up
// to HistoryLen-1 and shrinks when mostly empty, so that a topic with one
// or two older values costs little.
type ring struct {
	buf  []Value
	head int // index of the oldest
	n    int
}

// at returns the i-th oldest value.
func (r *ring) at(i int) *Value { return &r.buf[(r.head+i)%len(r.buf)] }

func (r *ring) oldest() *Value { return &r.buf[r.head] }

// push appends v; the caller has made room when the ring is at its limit.
func (r *ring) push(v Value, limit int) {
	if r.n == len(r.buf) {
		r.resize(min(max(2, 2*len(r.buf)), limit))
	}
	r.buf[(r.head+r.n)%len(r.buf)] = v
	r.n++
}

// pop drops the oldest value and returns its cost.
func (r *ring) pop() int {
	v := &r.buf[r.head]
	cost := len(v.Payload) + valueCost
	*v = Value{}
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	if len(r.buf) > 4 && r.n <= len(r.buf)/4 {
		r.resize(len(r.buf) / 2)
	}
	return cost
}

func (r *ring) resize(size int) {
	buf := make([]Value, size)
	for i := 0; i < r.n; i++ {
		buf[i] = *r.at(i)
	}
	r.buf, r.head = buf, 0
}

// budget bounds the older values of all nodes together. Every value that
// becomes history is also queued in a tree-wide FIFO; when the bounds are
// exceeded, the FIFO's oldest entry is evicted from its node, if the node
// still has it (a node's own limit, or clearing, may have dropped it
// first: such stale entries are skipped).
type budget struct {
	o      *Options
	fifo   []fifoEntry // a ring
	head   int
	n      int
	values int // older values kept
	bytes  int // their cost
}

type fifoEntry struct {
	node *Node
	seq  uint64
}

func (b *budget) init(o *Options) { b.o = o }

// push makes v, the node's previous current value, history.
func (b *budget) push(n *Node, v Value) {
	limit := b.o.HistoryLen - 1
	if limit <= 0 {
		return
	}
	if n.hist == nil {
		n.hist = &ring{}
	}
	if n.hist.n == limit {
		b.account(-n.hist.pop())
	}
	n.hist.push(v, limit)
	b.account(len(v.Payload) + valueCost)
	b.enqueue(fifoEntry{n, v.Seq})
	for b.n > b.o.MaxHistory || b.bytes > b.o.MaxHistoryBytes {
		e := b.dequeue()
		if h := e.node.hist; h != nil && h.n > 0 && h.oldest().Seq == e.seq {
			b.account(-h.pop())
			if h.n == 0 {
				e.node.hist = nil
			}
		}
	}
}

// account adds cost (negative when a value goes) to the totals.
func (b *budget) account(cost int) {
	if cost > 0 {
		b.values++
	} else {
		b.values--
	}
	b.bytes += cost
}

// drop forgets a node's history (its topic was cleared).
func (b *budget) drop(n *Node) {
	if h := n.hist; h != nil {
		for h.n > 0 {
			b.account(-h.pop())
		}
		n.hist = nil
	}
}

func (b *budget) enqueue(e fifoEntry) {
	if b.n == len(b.fifo) {
		size := min(max(64, 2*len(b.fifo)), b.o.MaxHistory+1)
		if size <= b.n {
			size = b.n + 1
		}
		buf := make([]fifoEntry, size)
		for i := 0; i < b.n; i++ {
			buf[i] = b.fifo[(b.head+i)%len(b.fifo)]
		}
		b.fifo, b.head = buf, 0
	}
	b.fifo[(b.head+b.n)%len(b.fifo)] = e
	b.n++
}

func (b *budget) dequeue() fifoEntry {
	e := b.fifo[b.head]
	b.fifo[b.head] = fifoEntry{}
	b.head = (b.head + 1) % len(b.fifo)
	b.n--
	return e
}
