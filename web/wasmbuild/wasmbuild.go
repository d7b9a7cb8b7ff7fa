// Package wasmbuild builds Tern's two browser programs and precompresses
// them: the web client (wasm/cmd/app, served as app.wasm) and the JS API
// (wasm/jsapi, served as /tern.wasm). make wasm and make jsapi use it
// through one command, web/cmd/precompress; the browser tests, which
// must build the programs themselves, call it directly.
//
// A build directory holds, for a program NAME (app.wasm, tern.wasm):
//
//	NAME.br    brotli, quality 11
//	NAME.gz    gzip, best compression
//	NAME.json  the Info: SHA-256 and size of the uncompressed NAME
//
// The uncompressed file is not needed to serve a program: browsers that
// accept neither encoding get the gzip file decompressed on the fly.
package wasmbuild

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/andybalholm/brotli"
)

// File names of the web client in a build directory.
const (
	Brotli = "app.wasm.br"
	Gzip   = "app.wasm.gz"
	Meta   = "app.wasm.json"
)

// The browser programs, as packages of the module.
const (
	App   = "./wasm/cmd/app" // the web client, app.wasm
	JSAPI = "./wasm/jsapi"   // the JS API, tern.wasm
)

// Info describes a compressed build.
type Info struct {
	Name   string `json:"name"`   // of the uncompressed file: app.wasm, tern.wasm
	SHA256 string `json:"sha256"` // of the uncompressed file, hex
	Size   int    `json:"size"`   // bytes of the uncompressed file
	Brotli int    `json:"br"`     // bytes of NAME.br
	Gzip   int    `json:"gz"`     // bytes of NAME.gz
}

// ModuleRoot returns the directory of the go.mod of the module that holds
// dir, found by walking up.
func ModuleRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
	}
}

// goTool returns the go command of the running toolchain if it can be
// found, or "go".
func goTool() string {
	if gr := os.Getenv("GOROOT"); gr != "" {
		if p := filepath.Join(gr, "bin", "go"); fileExists(p) {
			return p
		}
	}
	return "go"
}

// Build compiles the browser program pkg (App or JSAPI) of the module at
// root into the file out, with -trimpath -ldflags="-s -w" as make wasm
// and make jsapi do.
func Build(ctx context.Context, root, pkg, out string) error {
	cmd := exec.CommandContext(ctx, goTool(), "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s for js/wasm: %w\n%s", pkg, err, b)
	}
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Compress writes the brotli and gzip forms of wasm and its Info into dir
// as name.br, name.gz and name.json, compressing both at once.
func Compress(wasm []byte, dir, name string) (Info, error) {
	sum := sha256.Sum256(wasm)
	info := Info{Name: name, SHA256: hex.EncodeToString(sum[:]), Size: len(wasm)}
	var br, gz bytes.Buffer
	var brErr, gzErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		w := brotli.NewWriterOptions(&br, brotli.WriterOptions{Quality: brotli.BestCompression, LGWin: 24})
		if _, brErr = w.Write(wasm); brErr == nil {
			brErr = w.Close()
		}
	})
	wg.Go(func() {
		w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		if _, gzErr = w.Write(wasm); gzErr == nil {
			gzErr = w.Close()
		}
	})
	wg.Wait()
	if brErr != nil || gzErr != nil {
		return info, fmt.Errorf("compressing %s: %v %v", name, brErr, gzErr)
	}
	info.Brotli, info.Gzip = br.Len(), gz.Len()
	meta, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return info, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return info, err
	}
	// The Info goes last: an interrupted run leaves no record of success.
	for _, f := range []struct {
		suffix string
		data   []byte
	}{{".br", br.Bytes()}, {".gz", gz.Bytes()}, {".json", append(meta, '\n')}} {
		if err := writeFile(filepath.Join(dir, name+f.suffix), f.data); err != nil {
			return info, err
		}
	}
	return info, nil
}

// Precompress runs Compress on the file raw in a process of its own (go
// run ./web/cmd/precompress in the module at root), so that it runs at
// full speed when called from a test binary built with -race, where
// brotli is ten times slower.
func Precompress(ctx context.Context, root, raw, dir string) (Info, error) {
	cmd := exec.CommandContext(ctx, goTool(), "run", "./web/cmd/precompress", "-o", dir, raw)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return Info{}, fmt.Errorf("compressing %s: %w\n%s", raw, err, b)
	}
	meta, err := os.ReadFile(filepath.Join(dir, filepath.Base(raw)+".json"))
	if err != nil {
		return Info{}, err
	}
	return ReadInfo(meta)
}

// writeFile replaces name atomically, so that a broker reading the
// directory never sees half a file.
func writeFile(name string, b []byte) error {
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}

// Result is what a build and its compression took.
type Result struct {
	Info
	BuildTime    time.Duration
	CompressTime time.Duration
}

// String summarises r for a log line.
func (r Result) String() string {
	name := r.Name
	if name == "" {
		name = "app.wasm"
	}
	return fmt.Sprintf("%s %s raw, %s gzip, %s brotli; built in %v, compressed in %v",
		name, kib(r.Size), kib(r.Gzip), kib(r.Brotli), r.BuildTime.Round(100*time.Millisecond), r.CompressTime.Round(100*time.Millisecond))
}

func kib(n int) string { return fmt.Sprintf("%.0f KiB", float64(n)/1024) }

// UpToDate reports whether dir already holds the compressed forms of
// wasm under name, so that compressing again can be skipped.
func UpToDate(wasm []byte, dir, name string) (Info, bool) {
	data, err := os.ReadFile(filepath.Join(dir, name+".json"))
	if err != nil {
		return Info{}, false
	}
	info, err := ReadInfo(data)
	sum := sha256.Sum256(wasm)
	if err != nil || info.SHA256 != hex.EncodeToString(sum[:]) || info.Size != len(wasm) {
		return Info{}, false
	}
	for suffix, size := range map[string]int{".br": info.Brotli, ".gz": info.Gzip} {
		if st, err := os.Stat(filepath.Join(dir, name+suffix)); err != nil || st.Size() != int64(size) {
			return Info{}, false
		}
	}
	return info, true
}

// ReadInfo reads the Info (NAME.json) of a build directory.
func ReadInfo(data []byte) (Info, error) {
	var info Info
	if err := json.Unmarshal(data, &info); err != nil {
		return info, fmt.Errorf("build info: %w", err)
	}
	if len(info.SHA256) != 64 || strings.Trim(info.SHA256, "0123456789abcdef") != "" || info.Size <= 0 {
		return info, errors.New("build info: bad sha256 or size")
	}
	return info, nil
}
