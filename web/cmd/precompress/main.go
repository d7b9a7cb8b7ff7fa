// Command precompress writes the brotli and gzip forms of a browser
// program, with its SHA-256 and size (NAME.json), into a directory that
// the broker embeds and serves. It is the one compress step of both
// browser programs: make wasm runs it on the web client and make jsapi on
// the JS API:
//
//	go run ./web/cmd/precompress -o web/dist bin/app.wasm
//	go run ./web/cmd/precompress -o web/tern/dist bin/tern.wasm
//
// With -build PKG it first compiles that program (GOOS=js GOARCH=wasm)
// into the input file, as the browser tests do:
//
//	go run ./web/cmd/precompress -build ./wasm/cmd/app -o web/dist bin/app.wasm
//
// It skips the compression when the directory already holds the forms of
// this very input, and prints the sizes.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ternmq/tern/web/wasmbuild"
)

func main() {
	out := flag.String("o", "web/dist", "write NAME.br, NAME.gz and NAME.json into this `dir`")
	build := flag.String("build", "", "build this `package` (js/wasm, e.g. "+wasmbuild.App+" or "+wasmbuild.JSAPI+") into the input file first")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: precompress [-build pkg] [-o dir] file.wasm\n")
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

func run(raw, out, pkg string) error {
	var r wasmbuild.Result
	if pkg != "" {
		root, err := wasmbuild.ModuleRoot(".")
		if err != nil {
			return err
		}
		t0 := time.Now()
		if err := wasmbuild.Build(context.Background(), root, pkg, raw); err != nil {
			return err
		}
		r.BuildTime = time.Since(t0)
	}
	wasm, err := os.ReadFile(raw)
	if err != nil {
		return err
	}
	name := filepath.Base(raw)
	if info, ok := wasmbuild.UpToDate(wasm, out, name); ok {
		r.Info = info
		fmt.Printf("%s -> %s: up to date (%v)\n", raw, out, r)
		return nil
	}
	t0 := time.Now()
	if r.Info, err = wasmbuild.Compress(wasm, out, name); err != nil {
		return err
	}
	r.CompressTime = time.Since(t0)
	fmt.Printf("%s -> %s: %v\n", raw, out, r)
	return nil
}
