package topictree

import "slices"

// entries holds the (key, value) pairs of one filter. Match only iterates
// them, so they live in a slice: iterating a map costs more than the rest
// of a typical Match (measured: about half of BenchmarkMatch100k), and a map
// per filter costs about 200 bytes even for a single entry. Past indexAt
// entries (a popular filter such as "#") a map from key to position keeps
// put and del O(1).
type entries[K comparable, V any] struct {
	list  []entry[K, V]
	index map[K]int // position in list; nil while len(list) <= indexAt
}

type entry[K comparable, V any] struct {
	key K
	val V
}

// indexAt is the length above which entries builds its index. Below it a
// linear scan over the keys is as fast as a map lookup.
const indexAt = 16

// find returns the position of key, or -1.
func (e *entries[K, V]) find(key K) int {
	if e.index != nil {
		if i, ok := e.index[key]; ok {
			return i
		}
		return -1
	}
	for i := range e.list {
		if e.list[i].key == key {
			return i
		}
	}
	return -1
}

// put stores val for key and reports whether it replaced a value.
func (e *entries[K, V]) put(key K, val V) (replaced bool) {
	if i := e.find(key); i >= 0 {
		e.list[i].val = val
		return true
	}
	e.list = append(e.list, entry[K, V]{key, val})
	switch {
	case e.index != nil:
		e.index[key] = len(e.list) - 1
	case len(e.list) > indexAt:
		e.index = make(map[K]int, len(e.list))
		for i := range e.list {
			e.index[e.list[i].key] = i
		}
	}
	return false
}

// del removes key and reports whether it was there. The last entry takes the
// freed place, so the order of entries is not stable.
func (e *entries[K, V]) del(key K) bool {
	i := e.find(key)
	if i < 0 {
		return false
	}
	last := len(e.list) - 1
	if i != last {
		e.list[i] = e.list[last]
		if e.index != nil {
			e.index[e.list[i].key] = i
		}
	}
	e.list[last] = entry[K, V]{} // drop references for the GC
	e.list = e.list[:last]
	if e.index != nil {
		delete(e.index, key)
		if len(e.list) <= indexAt/2 {
			e.index = nil
		}
	}
	switch {
	case len(e.list) == 0:
		e.list = nil
	case cap(e.list) >= 64 && len(e.list) <= cap(e.list)/4:
		e.list = slices.Clip(slices.Clone(e.list))
	}
	return true
}

func (e *entries[K, V]) len() int { return len(e.list) }
