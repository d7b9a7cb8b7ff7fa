package passwd

import (
	"context"
	"fmt"
	"net"
	"testing"

	"github.com/ternmq/tern/codec"
)

// BenchmarkAuthenticate measures uncached $7$ logins (each one a full
// PBKDF2 run), in parallel over the worker pool, and the cached path.
func BenchmarkAuthenticate(b *testing.B) {
	for _, tc := range []struct {
		name   string
		opts   HashOptions
		cached bool
	}{
		{"pbkdf2-101", HashOptions{Iterations: 101}, false},
		{"pbkdf2-1000", HashOptions{Iterations: 1000}, false},
		{"argon2id-default", HashOptions{Algorithm: Argon2id}, false},
		{"pbkdf2-101-cached", HashOptions{Iterations: 101}, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			h, err := NewHash([]byte("test"), tc.opts)
			if err != nil {
				b.Fatal(err)
			}
			f, err := Load(writeFile(b, "alice:"+h.String()), Options{Logger: quiet(nil)})
			if err != nil {
				b.Fatal(err)
			}
			l := login("alice", []byte("test"))
			l.Remote = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if !tc.cached {
						f.table.Load().mu.Lock()
						clear(f.table.Load().cache)
						f.table.Load().mu.Unlock()
					}
					if rc := f.Authenticate(ctx, l); rc != codec.Success {
						panic(fmt.Sprint(rc))
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
		})
	}
}
