// Package browserkit starts Debian's chromium for browser tests, one way
// for every package: the flags that work here (design.md, Testing), a
// fresh profile, the page's console kept for failure reports and a
// screenshot of a failed test in its temporary directory.
//
// It is apart from package testkit so that testkit, which the broker's
// in-package tests import, does not pull in chromedp.
package browserkit

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ternmq/tern/internal/testkit"
)

// Start starts headless chromium (found by testkit.Chromium: the test
// skips without it, or fails under CI=true) with a fresh profile in the
// test's temporary directory, and returns the context of its first tab.
// extra options are added to the common ones (e.g. a window size or
// js-flags). The browser is closed when the test ends.
func Start(t testing.TB, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(testkit.Chromium(t)),
		chromedp.Headless,
		chromedp.NoSandbox, // tests run as root here, where the sandbox cannot start
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(filepath.Join(t.TempDir(), "chromium-profile")),
	)
	opts = append(opts, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil { // start it without a deadline
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// Console keeps the console messages of a tab.
type Console struct {
	mu    sync.Mutex
	lines []string
	stop  context.CancelFunc
	done  chan struct{}
}

// Record starts keeping the console of the tab ctx, until Stop or the
// end of ctx.
func Record(ctx context.Context) *Console {
	cctx, stop := context.WithCancel(ctx)
	c := &Console{stop: stop, done: make(chan struct{})}
	messages := chromedp.Console(cctx)
	go func() {
		defer close(c.done)
		for m, err := range messages {
			if err != nil {
				return
			}
			c.Add(m.String())
		}
	}()
	return c
}

// Add appends a line of the test's own to the record.
func (c *Console) Add(line string) {
	c.mu.Lock()
	c.lines = append(c.lines, line)
	c.mu.Unlock()
}

// Stop stops recording and waits for the recorder to finish.
func (c *Console) Stop() {
	c.stop()
	<-c.done
}

// String is the record, one message a line, indented for a test log.
func (c *Console) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return "  " + strings.Join(c.lines, "\n  ")
}

// Len is the number of messages recorded.
func (c *Console) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.lines)
}

// Screenshot saves a full-page screenshot of the tab ctx as dir/name.png
// and returns its path, or "" when the browser could not take it.
func Screenshot(ctx context.Context, dir, name string) string {
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100)) // quality 100 is PNG; below, JPEG
	if err != nil {
		return ""
	}
	file := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(name)+".png")
	if os.MkdirAll(dir, 0o755) != nil || os.WriteFile(file, png, 0o644) != nil {
		return ""
	}
	return file
}

// OnFailure registers a cleanup that, when t has failed, saves a
// screenshot of the tab ctx into dir (the test's temporary directory when
// empty) and logs it with the console record c (may be nil).
func OnFailure(t testing.TB, ctx context.Context, dir string, c *Console) {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		if shot := Screenshot(ctx, dir, t.Name()); shot != "" {
			t.Logf("screenshot of the failure: %s", shot)
		}
		if c != nil && c.Len() > 0 {
			t.Logf("browser console:\n%s", c.String())
		}
	})
}
