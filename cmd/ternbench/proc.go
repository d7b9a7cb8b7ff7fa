package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat.
// It is 100 on every Linux architecture Go supports.
const clockTicks = 100

// cpuTime returns the user+system CPU time a process has used, from
// /proc/PID/stat (fields 14 and 15, counted after the command name, which
// may contain spaces and parentheses).
func cpuTime(pid int) (time.Duration, error) {
	if pid == os.Getpid() {
		var ru syscall.Rusage // finer than clock ticks for ourselves
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			return 0, err
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	ut, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	st, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad utime/stime", pid)
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// rssKB returns VmRSS from /proc/PID/status, in KiB.
func rssKB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range bytes.SplitSeq(b, []byte{'\n'}) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := bytes.Fields(v)
			if len(f) == 0 {
				break
			}
			return strconv.ParseInt(string(f[0]), 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
}

// cpuMeter measures the CPU time of the generator and the broker over the
// same window.
type cpuMeter struct {
	brokerPID int
	t0        time.Time
	gen0, b0  time.Duration
	bErr      error
}

func startCPU(brokerPID int) *cpuMeter {
	m := &cpuMeter{brokerPID: brokerPID, t0: time.Now()}
	m.gen0, _ = cpuTime(os.Getpid())
	if brokerPID > 0 {
		m.b0, m.bErr = cpuTime(brokerPID)
	}
	return m
}

// stop returns the generator's and the broker's CPU use over the window as
// a percentage of one core (-1 when the broker is unknown), and the window.
func (m *cpuMeter) stop() (gen, broker float64, brokerCPU time.Duration, window time.Duration) {
	window = time.Since(m.t0)
	g1, _ := cpuTime(os.Getpid())
	gen = pct(g1-m.gen0, window)
	broker = -1
	if m.brokerPID > 0 && m.bErr == nil {
		if b1, err := cpuTime(m.brokerPID); err == nil {
			brokerCPU = b1 - m.b0
			broker = pct(brokerCPU, window)
		}
	}
	return gen, broker, brokerCPU, window
}

func pct(cpu, wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return 100 * cpu.Seconds() / wall.Seconds()
}
