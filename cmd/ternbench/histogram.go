package main

import "math/bits"

// histogram counts durations (nanoseconds) in log-linear buckets: exact
// below 2^subBits, then 2^subBits buckets per power of two, so a quantile
// is off by less than 1/2^subBits (under 1 %). Recording does not allocate
// after the first call.
type histogram struct {
	counts []uint32
	n      int64
	max    int64
}

const subBits = 7

func bucketOf(v int64) int {
	if v < 0 {
		v = 0
	}
	u := uint64(v)
	if u < 1<<(subBits+1) {
		return int(u)
	}
	k := bits.Len64(u) - subBits // >= 2
	return k<<subBits + int(u>>(k-1)) - 1<<subBits
}

// bucketLow is the smallest value of bucket i.
func bucketLow(i int) int64 {
	if i < 1<<(subBits+1) {
		return int64(i)
	}
	k := i >> subBits
	m := int64(i&(1<<subBits-1)) + 1<<subBits
	return m << (k - 1)
}

func (h *histogram) record(v int64) {
	if h.counts == nil {
		h.counts = make([]uint32, (64-subBits+1)<<subBits)
	}
	h.counts[bucketOf(v)]++
	h.n++
	if v > h.max {
		h.max = v
	}
}

func (h *histogram) merge(o *histogram) {
	if o.n == 0 {
		return
	}
	if h.counts == nil {
		h.counts = make([]uint32, len(o.counts))
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the value at quantile q (0 < q <= 1): the middle of its
// bucket, never above the largest value recorded.
func (h *histogram) quantile(q float64) int64 {
	if h.n == 0 {
		return 0
	}
	rank := int64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen int64
	for i, c := range h.counts {
		seen += int64(c)
		if seen >= rank {
			lo, hi := bucketLow(i), bucketLow(i+1)
			return min(lo+(hi-lo)/2, h.max)
		}
	}
	return h.max
}

// bands returns how many values fall in each band: up to bounds[0] µs,
// up to bounds[1], ..., and above the last bound (len(bounds)+1 counts).
// A bucket that straddles a bound counts in the band of its smallest value.
func (h *histogram) bands(bounds []int64) []int64 {
	out := make([]int64, len(bounds)+1)
	for i, c := range h.counts {
		if c == 0 {
			continue
		}
		lo := bucketLow(i)
		b := 0
		for b < len(bounds) && lo > bounds[b]*1000 {
			b++
		}
		out[b] += int64(c)
	}
	return out
}
