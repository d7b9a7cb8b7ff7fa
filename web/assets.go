//go:build !wasm

package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/bits"
	"mime"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"

	"github.com/ternmq/tern/web/wasmbuild"
)

// static holds the stylesheet and icons served under /web/. dist holds
// the client build made by `make wasm` (only its README.md in a clean
// clone, so that this always compiles).
var (
	//go:embed static
	static embed.FS
	//go:embed dist
	dist embed.FS
)

// asset is one file served in identity, brotli and gzip encodings.
type asset struct {
	ctype string
	encoded
}

// encoded is a file's body in identity, brotli and gzip forms, as the UI
// handler and the embedding handler both serve it.
type encoded struct {
	identity []byte // nil when only compressed forms exist
	br, gz   []byte
	size     int    // uncompressed length
	etag     string // quoted, without the encoding suffix

	// lazy: br and gz are made from identity when first asked for (see
	// forms), so that starting the broker compresses nothing.
	lazy     bool
	compress sync.Once
}

// forms returns the brotli and gzip forms, compressing identity the
// first time when they are made lazily. Compressing every file at start
// took about 0.5 s of CPU and left the broker's RSS at 30–100 MiB for
// minutes afterwards, for files that may never be asked for.
func (e *encoded) forms() (br, gz []byte) {
	if e.lazy {
		e.compress.Do(func() {
			e.br = encodeBrotli(e.identity, brotli.BestCompression)
			e.gz = encodeGzip(e.identity, gzip.BestCompression)
		})
	}
	return e.br, e.gz
}

// compressible reports whether content of type ctype is worth compressing.
func compressible(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") || strings.Contains(ctype, "javascript") ||
		strings.Contains(ctype, "json") || strings.Contains(ctype, "svg") || strings.Contains(ctype, "xml") ||
		strings.Contains(ctype, "manifest")
}

// newAsset serves data, compressed (on first use) when it is of a
// compressible type.
func newAsset(name string, data []byte) *asset {
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	sum := sha256.Sum256(data)
	a := &asset{ctype: ctype, encoded: encoded{identity: data, size: len(data), etag: `"` + hex.EncodeToString(sum[:8]) + `"`}}
	a.lazy = compressible(ctype) && len(data) > 256
	return a
}

// encodeBrotli compresses data with a window just large enough for it.
// The encoder's default window (4 MiB, 2^22) makes it allocate tens of
// MiB at the best quality whatever the input's size: compressing the few
// small files served here at start held the broker's RSS at 87–99 MiB for
// minutes. A window that covers the input compresses exactly as well.
func encodeBrotli(data []byte, quality int) []byte {
	var b bytes.Buffer
	w := brotli.NewWriterOptions(&b, brotli.WriterOptions{Quality: quality, LGWin: brotliWindow(len(data))})
	w.Write(data)
	w.Close()
	return b.Bytes()
}

// brotliWindow is the base 2 logarithm of the smallest window brotli
// allows (2^10 to 2^24 bytes) that holds n bytes.
func brotliWindow(n int) int {
	return min(max(bits.Len(uint(n)), 10), 24)
}

func encodeGzip(data []byte, level int) []byte {
	var b bytes.Buffer
	w, _ := gzip.NewWriterLevel(&b, level)
	w.Write(data)
	w.Close()
	return b.Bytes()
}

// loadStatic returns the files under static/, precompressed, keyed by
// their URL path (/web/name). They are compressed once per process.
var loadStatic = sync.OnceValues(func() (map[string]*asset, error) {
	out := make(map[string]*asset)
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		out["/web/"+strings.TrimPrefix(p, "static/")] = newAsset(p, data)
		return nil
	})
	return out, err
})

// errNoBuild is returned by loadWasm when there is no client build.
var errNoBuild = errors.New("the web client is not built")

// loadWasm reads a client build from fsys: the files wasmbuild writes, or
// a plain app.wasm, which is then gzipped here (run make wasm for brotli).
func loadWasm(fsys fs.FS) (*asset, error) {
	meta, err := fs.ReadFile(fsys, wasmbuild.Meta)
	if err == nil {
		info, err := wasmbuild.ReadInfo(meta)
		if err != nil {
			return nil, err
		}
		br, err1 := fs.ReadFile(fsys, wasmbuild.Brotli)
		gz, err2 := fs.ReadFile(fsys, wasmbuild.Gzip)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("incomplete client build: %w", err)
		}
		if n, ok := gzipSize(gz); !ok || n != uint32(info.Size) {
			return nil, fmt.Errorf("%s does not match %s (size %d, want %d)", wasmbuild.Gzip, wasmbuild.Meta, n, info.Size)
		}
		return &asset{ctype: "application/wasm", encoded: encoded{br: br, gz: gz, size: info.Size, etag: `"` + info.SHA256[:16] + `"`}}, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	raw, err := fs.ReadFile(fsys, "app.wasm")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNoBuild
	}
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	return &asset{ctype: "application/wasm", encoded: encoded{identity: raw, gz: encodeGzip(raw, gzip.DefaultCompression),
		size: len(raw), etag: `"` + hex.EncodeToString(sum[:8]) + `"`}}, nil
}

// loadEmbedded loads the client build embedded from web/dist, once.
var loadEmbedded = sync.OnceValues(func() (*asset, error) {
	fsys, err := fs.Sub(dist, "dist")
	if err != nil {
		return nil, err
	}
	return loadWasm(fsys)
})

// gzipSize reads the uncompressed size (modulo 2³²) from the trailer of
// a gzip stream, without decompressing it.
func gzipSize(gz []byte) (uint32, bool) {
	if len(gz) < 18 || gz[0] != 0x1f || gz[1] != 0x8b {
		return 0, false
	}
	return binary.LittleEndian.Uint32(gz[len(gz)-4:]), true
}

// version derives the app version from the client build and the static
// files: it changes when either does, which makes the service worker
// install the new version and the page offer a reload.
func version(wasm *asset, statics map[string]*asset, mqttPath string) string {
	h := sha256.New()
	if wasm != nil {
		io.WriteString(h, wasm.etag)
	}
	names := make([]string, 0, len(statics))
	for n := range statics {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		io.WriteString(h, n+statics[n].etag)
	}
	io.WriteString(h, mqttPath)
	return hex.EncodeToString(h.Sum(nil)[:10])
}

// encoding picks br, then gzip, among the encodings r accepts ("" for
// none).
func encoding(r *http.Request) string {
	var br, gz bool
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if q, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if v, err := strconv.ParseFloat(q, 64); err == nil && v == 0 {
				continue
			}
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "br":
			br = true
		case "gzip":
			gz = true
		}
	}
	switch {
	case br:
		return "br"
	case gz:
		return "gzip"
	}
	return ""
}

// write sends the body in the best encoding r accepts, answering a
// matching If-None-Match with 304. The caller has set the other headers.
func (e *encoded) write(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	enc := encoding(r)
	var body []byte
	br, gz := e.forms()
	switch {
	case enc == "br" && br != nil:
		body = br
	case enc != "" && gz != nil:
		enc, body = "gzip", gz
	default:
		enc, body = "", e.identity
	}
	if br != nil || gz != nil {
		hd.Add("Vary", "Accept-Encoding")
	}
	etag := e.etag
	if enc != "" {
		etag = strings.TrimSuffix(etag, `"`) + "-" + enc + `"`
		hd.Set("Content-Encoding", enc)
	}
	hd.Set("ETag", etag)
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if body == nil { // only compressed forms: decompress the gzip one
		hd.Set("Content-Length", strconv.Itoa(e.size))
		if r.Method == http.MethodHead {
			return
		}
		zr, err := gzip.NewReader(bytes.NewReader(e.gz))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.Copy(w, zr)
		return
	}
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}
