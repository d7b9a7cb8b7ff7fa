package pebble

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ternmq/tern/broker/store"
)

// BenchmarkApplySync measures synced writes of one 200-byte value per
// batch from 1, 16 and 256 concurrent writers, on the disk of b.TempDir.
func BenchmarkApplySync(b *testing.B) {
	for _, writers := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s := mustOpen(b, b.TempDir(), Options{})
			defer s.Close()
			val := bytes.Repeat([]byte{'v'}, 200)
			var next atomic.Int64
			var wg sync.WaitGroup
			errs := make(chan error, writers)
			b.ResetTimer()
			start := time.Now()
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					client := fmt.Sprintf("client-%03d", w)
					for {
						n := next.Add(1)
						if n > int64(b.N) {
							return
						}
						var batch store.Batch
						batch.Set(store.QueueKey(client, uint64(n)), val)
						if err := s.Apply(&batch, true); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "writes/s")
		})
	}
}

// BenchmarkScanAfterReopen estimates a restart: open a store of 1,000,000
// keys (queue entries of 10,000 clients with 200-byte values) and scan it
// all. Building the store takes a while, so it runs only with -bench.
func BenchmarkScanAfterReopen(b *testing.B) {
	const clients, each = 10000, 100
	dir := b.TempDir()
	s := mustOpen(b, dir, Options{})
	val := bytes.Repeat([]byte{'v'}, 200)
	var batch store.Batch
	for c := range clients {
		client := fmt.Sprintf("client-%05d", c)
		for i := range each {
			batch.Set(store.QueueKey(client, uint64(i)), val)
		}
		if batch.Len() >= 10000 {
			if err := s.Apply(&batch, false); err != nil {
				b.Fatal(err)
			}
			batch = store.Batch{}
		}
	}
	if err := s.Apply(&batch, true); err != nil {
		b.Fatal(err)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		s := mustOpen(b, dir, Options{})
		opened := time.Since(start)
		n := 0
		if err := s.Scan(nil, func(k, v []byte) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		if n != clients*each {
			b.Fatalf("scanned %d keys, want %d", n, clients*each)
		}
		b.ReportMetric(float64(opened.Milliseconds()), "open-ms")
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(clients*each), "keys")
}
