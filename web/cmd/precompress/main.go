// Command precompress writes the brotli and gzip forms of a web client
// build, with its SHA-256 and size, into a directory that the web handler
// serves (make wasm runs it):
//
//	go run ./web/cmd/precompress -o web/dist bin/app.wasm
//
// With -build it first compiles the web client itself, as the browser
// tests do:
//
//	go run ./web/cmd/precompress -build -o web/dist bin/app.wasm
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/ternmq/tern/web/wasmbuild"
)

func main() {
	out := flag.String("o", "web/dist", "write app.wasm.br, app.wasm.gz and app.wasm.json into this `dir`")
	build := flag.Bool("build", false, "build the web client (GOOS=js GOARCH=wasm) into the input file first")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: precompress [-build] [-o dir] app.wasm\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *out, *build); err != nil {
		fmt.Fprintln(os.Stderr, "precompress:", err)
		os.Exit(1)
	}
}

func run(raw, out string, build bool) error {
	var r wasmbuild.Result
	if build {
		root, err := wasmbuild.ModuleRoot(".")
		if err != nil {
			return err
		}
		t0 := time.Now()
		if err := wasmbuild.Build(context.Background(), root, raw); err != nil {
			return err
		}
		r.BuildTime = time.Since(t0)
	}
	wasm, err := os.ReadFile(raw)
	if err != nil {
		return err
	}
	if info, ok := wasmbuild.UpToDate(wasm, out); ok {
		r.Info = info
		fmt.Printf("%s -> %s: up to date (%v)\n", raw, out, r)
		return nil
	}
	t0 := time.Now()
	if r.Info, err = wasmbuild.Compress(wasm, out); err != nil {
		return err
	}
	r.CompressTime = time.Since(t0)
	fmt.Printf("%s -> %s: %v\n", raw, out, r)
	return nil
}
