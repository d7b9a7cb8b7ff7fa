package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// The restart scenario measures how a broker with a durable store comes
// back. ternbench starts the broker itself (the command line after --),
// so that it knows the moment the process started:
//
//  1. start the broker, wait for a CONNACK;
//  2. fill it: --sessions persistent sessions, session i subscribed at
//     QoS 1 to a topic of its own and disconnected, then --queued QoS 1
//     messages to every session's topic (sessions × queued distinct
//     messages, each acknowledged by the broker), then --retained
//     retained QoS 1 messages;
//  3. stop it with SIGTERM (--kill term) or SIGKILL (--kill kill) and wait
//     for it to exit;
//  4. start the same command again (same data directory) and measure the
//     time from the start of the process to the first CONNACK, and its
//     RSS then and --settle later;
//  5. check a sample: session 0 reconnects and counts its queued messages,
//     a new subscriber counts the retained ones;
//  6. stop the broker (SIGTERM).

// brokerProc is a broker process this run started.
type brokerProc struct {
	cmd   *exec.Cmd
	start time.Time
	done  chan struct{} // closed when the process has exited
}

// startBrokerProc starts argv with its output on stderr. The broker gets
// SIGKILL should this process die first.
func startBrokerProc(argv []string) (*brokerProc, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	b := &brokerProc{cmd: cmd, done: make(chan struct{})}
	b.start = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the broker: %w", err)
	}
	go func() {
		cmd.Wait()
		close(b.done)
	}()
	return b, nil
}

func (b *brokerProc) pid() int { return b.cmd.Process.Pid }

// stop sends sig to the broker's PID and waits for it to exit; after
// timeout it sends SIGKILL. It returns the time from the signal to the
// exit.
func (b *brokerProc) stop(sig syscall.Signal, timeout time.Duration) (time.Duration, error) {
	t0 := time.Now()
	select {
	case <-b.done:
		return 0, errors.New("the broker had already exited")
	default:
	}
	if err := b.cmd.Process.Signal(sig); err != nil {
		return 0, err
	}
	select {
	case <-b.done:
		return time.Since(t0), nil
	case <-time.After(timeout):
	}
	b.cmd.Process.Kill()
	<-b.done
	return time.Since(t0), fmt.Errorf("the broker did not exit within %v of %v; killed", timeout, sig)
}

// waitReady connects until the broker answers with a CONNACK, and returns
// the time since the process started.
func (r *run) waitReady(ctx context.Context, b *brokerProc) (time.Duration, error) {
	deadline := b.start.Add(r.cfg.Ready)
	id := "tb-" + r.prefix[10:18] + "-ready"
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		c, err := r.t.connect(cctx, id, r.v)
		cancel()
		if err == nil {
			d := time.Since(b.start)
			c.close()
			return d, nil
		}
		select {
		case <-b.done:
			return 0, fmt.Errorf("the broker exited before accepting a connection (%v)", b.cmd.ProcessState)
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("no CONNACK within %v of the start: %w", r.cfg.Ready, err)
		}
	}
}

// restart runs the restart scenario.
func (r *run) restart(ctx context.Context) error {
	cfg := r.cfg
	rep := r.rep
	rep.Sessions, rep.Queued, rep.Retained, rep.Kill, rep.QoS = cfg.Sessions, cfg.Queued, cfg.Retained, cfg.Kill, 1
	b, err := startBrokerProc(cfg.BrokerCmd)
	if err != nil {
		return err
	}
	defer func() { b.stop(syscall.SIGTERM, 30*time.Second) }()
	cold, err := r.waitReady(ctx, b)
	if err != nil {
		return err
	}
	rep.ColdReadyMs = ms(cold)
	f, err := r.fill(ctx)
	if err != nil {
		return fmt.Errorf("filling the broker: %w", err)
	}
	rep.RSSFullKB, _ = rssKB(b.pid())
	sig := syscall.SIGTERM
	if cfg.Kill == "kill" {
		sig = syscall.SIGKILL
	}
	down, err := b.stop(sig, 5*time.Minute)
	rep.ShutdownMs = ms(down)
	if err != nil {
		return err
	}
	if b, err = startBrokerProc(cfg.BrokerCmd); err != nil {
		return err
	}
	ready, err := r.waitReady(ctx, b)
	if err != nil {
		return err
	}
	rep.ReadyMs = ms(ready)
	rep.RSSReadyKB, _ = rssKB(b.pid())
	rep.BrokerCPU = -1
	r.checkRecovery(ctx, f)
	r.sleep(ctx, cfg.Settle)
	rep.RSSSettledKB, _ = rssKB(b.pid())
	return nil
}

func (r *run) sleep(ctx context.Context, d time.Duration) {
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
}

func ms(d time.Duration) float64 { return round3(float64(d) / 1e6) }

// queueTopic is the topic of persistent session i in the restart scenario.
func (r *run) queueTopic(i int) string { return r.prefix + "q/" + strconv.Itoa(i) }
