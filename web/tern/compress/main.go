// Command compress writes the brotli (quality 11) and gzip (best) forms
// of a file into a directory, as NAME.br and NAME.gz, both at once; make
// embed runs it on the embedding client:
//
//	go run ./web/tern/compress -o web/tern/dist bin/tern.wasm
//
// It skips the work when the directory already holds the forms of this
// very input (NAME.sha256 records it), and prints the sizes.
package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/andybalholm/brotli"
)

func main() {
	out := flag.String("o", "web/tern/dist", "write NAME.br and NAME.gz into this `dir`")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: compress [-o dir] file\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *out); err != nil {
		fmt.Fprintln(os.Stderr, "compress:", err)
		os.Exit(1)
	}
}

func run(in, dir string) error {
	data, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	name := filepath.Base(in)
	sum := sha256.Sum256(data)
	hexSum := hex.EncodeToString(sum[:])
	brName, gzName, sumName := filepath.Join(dir, name+".br"), filepath.Join(dir, name+".gz"), filepath.Join(dir, name+".sha256")
	if old, err := os.ReadFile(sumName); err == nil && strings.TrimSpace(string(old)) == hexSum {
		br, err1 := os.Stat(brName)
		gz, err2 := os.Stat(gzName)
		if err1 == nil && err2 == nil {
			fmt.Printf("%s: %d bytes, gzip %d, brotli %d (up to date in %s)\n", name, len(data), gz.Size(), br.Size(), dir)
			return nil
		}
	}
	t0 := time.Now()
	var br, gz bytes.Buffer
	var brErr, gzErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		w := brotli.NewWriterOptions(&br, brotli.WriterOptions{Quality: brotli.BestCompression, LGWin: 24})
		if _, brErr = w.Write(data); brErr == nil {
			brErr = w.Close()
		}
	})
	wg.Go(func() {
		w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		if _, gzErr = w.Write(data); gzErr == nil {
			gzErr = w.Close()
		}
	})
	wg.Wait()
	if brErr != nil || gzErr != nil {
		return fmt.Errorf("compressing %s: %v %v", in, brErr, gzErr)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// The sum goes last: an interrupted run leaves no record of success.
	for _, f := range []struct {
		name string
		data []byte
	}{{brName, br.Bytes()}, {gzName, gz.Bytes()}, {sumName, []byte(hexSum + "\n")}} {
		if err := writeFile(f.name, f.data); err != nil {
			return err
		}
	}
	fmt.Printf("%s: %d bytes, gzip %d, brotli %d (written to %s in %v)\n", name, len(data), gz.Len(), br.Len(), dir, time.Since(t0).Round(100*time.Millisecond))
	return nil
}

// writeFile replaces name atomically.
func writeFile(name string, b []byte) error {
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}
