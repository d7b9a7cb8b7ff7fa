//go:build !js

package main

import (
	"github.com/ternmq/tern/internal/testkit"

	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ternmq/tern/web"
)

// Sizes of tern.wasm, in bytes. The goal is gzipGoal and the test
// fails above gzipLimit, the same, so that growth is noticed (1.25 MB at
// the time of writing; the client's browser build links neither net/http
// nor crypto/tls, which cost 0.5 MB).
const (
	gzipGoal  = 1_600_000
	gzipLimit = gzipGoal
)

// TestWasmSize reports the size of tern.wasm as the broker serves it:
// built as make embed builds it (-trimpath -ldflags="-s -w"), and
// compressed by the same command (web/tern/compress: gzip -9 and brotli
// quality 11, which takes about 15 s).
func TestWasmSize(t *testing.T) {
	needWasm(t)
	t.Parallel()
	raw, err := os.Stat(filepath.Join(wasmDir, web.EmbedWasmFile))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cmd := exec.Command(testkit.GoTool(), "run", "./web/tern/compress", "-o", out, filepath.Join(wasmDir, web.EmbedWasmFile))
	cmd.Dir = filepath.Join("..", "..") // the module root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("web/tern/compress: %v\n%s", err, b)
	} else {
		t.Logf("web/tern/compress: %s", strings.TrimSpace(string(b)))
	}
	size := func(name string) int64 {
		st, err := os.Stat(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	gz, br := size(web.EmbedWasmGzip), size(web.EmbedWasmBrotli)
	t.Logf("tern.wasm: raw %d bytes (%.2f MB), gzip %d (%.2f MB), brotli %d (%.2f MB)",
		raw.Size(), mb(raw.Size()), gz, mb(gz), br, mb(br))
	if gz <= gzipGoal {
		t.Logf("gzip is within the goal of %.1f MB", mb(gzipGoal))
	} else {
		t.Logf("gzip is %.0f KB over the goal of %.1f MB; browsers that accept brotli (all current ones) get %.2f MB", float64(gz-gzipGoal)/1000, mb(gzipGoal), mb(br))
	}
	if gz > gzipLimit {
		t.Errorf("tern.wasm is %d bytes of gzip, over the limit of %d", gz, gzipLimit)
	}
}

func mb(n int64) float64 { return float64(n) / 1e6 }
