package topictree

import (
	"strconv"
	"testing"
)

// subOpts stands in for the broker's per-subscription value.
type subOpts struct {
	qos     byte
	noLocal bool
	subID   uint32
}

// fleetFilters returns a realistic subscription mix of 100,000 exact
// filters — 100 sites × 10 devices × 100 metrics,
// "site/S/device/D/mM" with device ids unique across sites — followed by
// 400 wildcard filters: a dashboard per site ("site/S/#"), an alarm per
// device on any site ("site/+/device/D/alarm"), per-metric collectors
// ("site/+/device/+/mM"), and a few catch-alls ("#", "+/+/device/#").
func fleetFilters() []string {
	fs := make([]string, 0, 100_400)
	for d := range 1000 {
		prefix := "site/" + strconv.Itoa(d/10) + "/device/" + strconv.Itoa(d) + "/m"
		for m := range 100 {
			fs = append(fs, prefix+strconv.Itoa(m))
		}
	}
	for s := range 100 {
		fs = append(fs, "site/"+strconv.Itoa(s)+"/#")
	}
	for d := range 200 {
		fs = append(fs, "site/+/device/"+strconv.Itoa(d*5)+"/alarm")
	}
	for m := range 97 {
		fs = append(fs, "site/+/device/+/m"+strconv.Itoa(m))
	}
	fs = append(fs, "#", "+/+/device/#", "site/+/+/+/+")
	return fs
}

func BenchmarkMatch100k(b *testing.B) {
	tr := New[int, subOpts]()
	for i, f := range fleetFilters() {
		tr.Add(f, i, subOpts{qos: 1})
	}
	matches := 0
	fn := func(int, subOpts) { matches++ }
	b.ReportAllocs()
	for b.Loop() {
		tr.Match("site/42/device/420/m7", fn)
	}
	b.ReportMetric(float64(matches)/float64(b.N), "matches/op")
}

// BenchmarkMatch100kParallel is BenchmarkMatch100k from GOMAXPROCS
// goroutines: publishers share the read lock.
func BenchmarkMatch100kParallel(b *testing.B) {
	tr := New[int, subOpts]()
	for i, f := range fleetFilters() {
		tr.Add(f, i, subOpts{qos: 1})
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		n := 0
		fn := func(int, subOpts) { n++ }
		for pb.Next() {
			tr.Match("site/42/device/420/m7", fn)
		}
	})
}

// BenchmarkMatchWildcardHeavy matches against 10,000 filters that all have
// wildcards at different levels, so Match branches at every level.
func BenchmarkMatchWildcardHeavy(b *testing.B) {
	tr := New[int, subOpts]()
	k := 0
	add := func(f string) { tr.Add(f, k, subOpts{}); k++ }
	for i := range 2000 {
		s, d, m := strconv.Itoa(i%100), strconv.Itoa(i), strconv.Itoa(i%100)
		add("site/" + s + "/device/+/m" + m)
		add("site/+/device/" + d + "/#")
		add("+/" + s + "/+/" + d + "/+")
		add("site/" + s + "/+/+/#")
		add("+/+/device/" + d + "/m" + m)
	}
	matches := 0
	fn := func(int, subOpts) { matches++ }
	b.ReportAllocs()
	for b.Loop() {
		tr.Match("site/42/device/42/m42", fn)
	}
	b.ReportMetric(float64(matches)/float64(b.N), "matches/op")
}

// BenchmarkAdd adds the 100,400 filters of BenchmarkMatch100k to a tree,
// starting a fresh tree after each full round.
func BenchmarkAdd(b *testing.B) {
	fs := fleetFilters()
	tr := New[int, subOpts]()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == len(fs) {
			i = 0
			tr = New[int, subOpts]()
		}
		tr.Add(fs[i], i, subOpts{qos: 1})
		i++
	}
}

// BenchmarkAddRemove subscribes and unsubscribes one filter on a tree that
// already holds BenchmarkMatch100k's filters: the cost of a client's
// SUBSCRIBE/UNSUBSCRIBE pair, including node creation and pruning.
func BenchmarkAddRemove(b *testing.B) {
	tr := New[int, subOpts]()
	for i, f := range fleetFilters() {
		tr.Add(f, i, subOpts{qos: 1})
	}
	b.ReportAllocs()
	for b.Loop() {
		tr.Add("site/42/device/new/+", -1, subOpts{})
		tr.Remove("site/42/device/new/+", -1)
	}
}

// BenchmarkRetainedMatch looks up "site/+/device/1/#" among 50,000 retained
// topics (100 sites × 50 devices × 10 metrics, device ids per site): 1,000
// matches, 10 on each site.
func BenchmarkRetainedMatch(b *testing.B) {
	r := NewRetained[[]byte]()
	payload := []byte("21.5")
	for s := range 100 {
		for d := range 50 {
			prefix := "site/" + strconv.Itoa(s) + "/device/" + strconv.Itoa(d) + "/m"
			for m := range 10 {
				r.Set(prefix+strconv.Itoa(m), payload)
			}
		}
	}
	matches := 0
	fn := func(string, []byte) bool { matches++; return true }
	b.ReportAllocs()
	for b.Loop() {
		r.Match("site/+/device/1/#", fn)
	}
	b.ReportMetric(float64(matches)/float64(b.N), "matches/op")
}
