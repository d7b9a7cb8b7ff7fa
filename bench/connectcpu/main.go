//go:build linux

// Command connectcpu measures a broker's CPU per TCP connect (Linux): n
// clients, w dialers at a time, each send a 3.1.1 CONNECT (Keep Alive 0,
// clean session) and read the CONNACK, and keep the connection open. The
// broker's CPU time is read from /proc before and after the connect phase
// only (not its start, not the closes): the sum of its threads' run time
// from schedstat (ns), and utime+stime from stat (10 ms ticks), with the
// threads' voluntary and involuntary context switches. It prints one JSON
// line per run: broker_us_per (µs of broker CPU per connect), broker_tick_us
// (the same from ticks), gen_us_per (this program's CPU per connect, from
// getrusage), broker_vcs_per / broker_ncs_per (context switches per
// connect), rate (connects/s) and seconds. bench/connect-ab.sh runs it
// against fresh brokers, interleaved.
//
// Usage: connectcpu -addr 127.0.0.1:1883 -pid PID [-n 10000] [-w 16] [-label L] [-hold 0s]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// threadStats sums the run time (ns) and context switches of pid's threads.
func threadStats(pid int) (runNS int64, vcs, ncs int64, threads int) {
	ds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", pid))
	for _, d := range ds {
		b, err := os.ReadFile(d + "/schedstat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		v, _ := strconv.ParseInt(f[0], 10, 64)
		runNS += v
		threads++
		st, _ := os.ReadFile(d + "/status")
		for _, l := range strings.Split(string(st), "\n") {
			if x, ok := strings.CutPrefix(l, "voluntary_ctxt_switches:"); ok {
				n, _ := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
				vcs += n
			}
			if x, ok := strings.CutPrefix(l, "nonvoluntary_ctxt_switches:"); ok {
				n, _ := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
				ncs += n
			}
		}
	}
	return
}

// statTicks returns pid's utime+stime in clock ticks.
func statTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		fmt.Fprintln(os.Stderr, "connectcpu:", err)
		os.Exit(1)
	}
	s := string(b)
	s = s[strings.LastIndexByte(s, ')')+2:]
	f := strings.Fields(s)
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return u + k
}

// connectPkt returns a 3.1.1 CONNECT for id (clean session, Keep Alive 0).
func connectPkt(id string) []byte {
	body := []byte{0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 0}
	body = append(body, byte(len(id)>>8), byte(len(id)))
	body = append(body, id...)
	return append([]byte{0x10, byte(len(body))}, body...)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:1883", "")
	n := flag.Int("n", 10000, "")
	w := flag.Int("w", 16, "")
	pid := flag.Int("pid", 0, "")
	label := flag.String("label", "", "")
	hold := flag.Duration("hold", 0, "wait after the connects, before closing")
	flag.Parse()
	conns := make([]net.Conn, *n)
	next := make(chan int, *w)
	go func() {
		for i := range conns {
			next <- i
		}
		close(next)
	}()
	var ru0, ru1 syscall.Rusage
	run0, v0, n0, _ := threadStats(*pid)
	t0 := statTicks(*pid)
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	start := time.Now()
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var firstErr error
	for range *w {
		wg.Go(func() {
			d := net.Dialer{KeepAlive: -1}
			var ack [4]byte
			for i := range next {
				nc, err := d.Dial("tcp", *addr)
				if err == nil {
					_, err = nc.Write(connectPkt("cpc-" + strconv.Itoa(i)))
				}
				if err == nil {
					_, err = io.ReadFull(nc, ack[:])
					if err == nil && (ack[0] != 0x20 || ack[3] != 0) {
						err = fmt.Errorf("CONNACK %x", ack)
					}
				}
				if err != nil {
					errMu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					errMu.Unlock()
					continue
				}
				conns[i] = nc
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	run1, v1, n1, th := threadStats(*pid)
	t1 := statTicks(*pid)
	if firstErr != nil {
		fmt.Fprintln(os.Stderr, "connectcpu:", firstErr)
		os.Exit(1)
	}
	tv := func(t syscall.Timeval) int64 { return t.Sec*1e6 + int64(t.Usec) }
	gen := (tv(ru1.Utime) + tv(ru1.Stime) - tv(ru0.Utime) - tv(ru0.Stime))
	out := map[string]any{
		"label": *label, "conns": *n, "seconds": el.Seconds(),
		"rate":           float64(*n) / el.Seconds(),
		"broker_us_per":  float64(run1-run0) / 1e3 / float64(*n),
		"broker_tick_us": float64(t1-t0) * 1e4 / float64(*n),
		"gen_us_per":     float64(gen) / float64(*n),
		"broker_vcs_per": float64(v1-v0) / float64(*n),
		"broker_ncs_per": float64(n1-n0) / float64(*n),
		"broker_threads": th,
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
	if *hold > 0 {
		time.Sleep(*hold)
	}
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}
