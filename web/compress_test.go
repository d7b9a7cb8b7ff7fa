//go:build !wasm

package web

import (
	"bytes"
	"io"
	"net/http/httptest"
	"testing"

	"github.com/andybalholm/brotli"
)

// TestAssetsCompressedOnFirstUse: a compressible file is not compressed
// when the handler is made (which held the broker's RSS at 87–99 MiB
// after start), but on the first request that accepts an encoding, once;
// both forms decode to the file.
func TestAssetsCompressedOnFirstUse(t *testing.T) {
	data := bytes.Repeat([]byte("body { color: #11151c; } .tern { margin: 0 }\n"), 200)
	a := newAsset("x.css", data)
	if a.br != nil || a.gz != nil {
		t.Fatal("compressed when made, want on first use")
	}
	for _, enc := range []string{"br", "gzip", ""} {
		r := httptest.NewRequest("GET", "/web/x.css", nil)
		r.Header.Set("Accept-Encoding", enc)
		w := httptest.NewRecorder()
		a.write(w, r)
		resp := w.Result()
		if got := resp.Header.Get("Content-Encoding"); got != enc {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q", enc, got)
		}
		if !bytes.Equal(decoded(t, resp), data) {
			t.Errorf("Accept-Encoding %q: body does not decode to the file", enc)
		}
	}
	br := a.br
	a.write(httptest.NewRecorder(), httptest.NewRequest("GET", "/web/x.css", nil))
	if &a.br[0] != &br[0] {
		t.Error("compressed again on a later request")
	}
}

// TestBrotliWindow: the window fits the input (never below brotli's 2^10
// or above 2^24), and compressing with it round-trips at every size around
// the window boundaries.
func TestBrotliWindow(t *testing.T) {
	for _, tt := range []struct{ n, want int }{{0, 10}, {1000, 10}, {1024, 11}, {65535, 16}, {65536, 17}, {1 << 30, 24}} {
		if got := brotliWindow(tt.n); got != tt.want {
			t.Errorf("brotliWindow(%d) = %d, want %d", tt.n, got, tt.want)
		}
	}
	for _, n := range []int{0, 1, 1023, 1024, 1025, 4095, 4096, 70000} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i*i>>3) ^ byte(i>>7)
		}
		got, err := io.ReadAll(brotli.NewReader(bytes.NewReader(encodeBrotli(data, brotli.BestCompression))))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%d bytes: round trip failed (%v)", n, err)
		}
	}
}
