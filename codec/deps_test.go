package codec_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// goTool returns the path of the go command, or skips the test when there is
// none (these tests drive the toolchain itself).
func goTool(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping toolchain test in -short mode")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("go command not found: %v", err)
	}
	return goBin
}

// TestCodecImportsOnlyStdlib enforces that the codec depends on the standard
// library only, both natively and for the browser, so that the broker, the
// native client and the wasm client can all share it.
func TestCodecImportsOnlyStdlib(t *testing.T) {
	goBin := goTool(t)
	for _, env := range [][]string{
		nil,
		{"GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0"},
	} {
		name := "native"
		if env != nil {
			name = "js/wasm"
		}
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(goBin, "list", "-deps",
				"-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "./")
			cmd.Env = append(os.Environ(), env...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("go list: %v\n%s", err, out)
			}
			for _, dep := range strings.Fields(string(out)) {
				if dep != "github.com/ternmq/tern/codec" {
					t.Errorf("codec depends on non-standard package %q; the codec must import the standard library only", dep)
				}
			}
		})
	}
}

// TestCodecBuildsForJSWasm enforces that the codec keeps building for the
// browser client.
func TestCodecBuildsForJSWasm(t *testing.T) {
	goBin := goTool(t)
	cmd := exec.Command(goBin, "build", "./")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=js GOARCH=wasm go build ./: %v\n%s", err, out)
	}
}
