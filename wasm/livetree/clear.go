package livetree

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// ClearJob is a "clear the retained messages at and below a node": the
// topics the tree knows to be retained there, asked first, then run
// (Run) by publishing an empty retained message to each, a few at a time,
// while the page shows the progress. The UI goroutine reads Progress
// while Run's workers count.
type ClearJob struct {
	Node   string   // the node's topic
	Topics []string // the retained topics at and below it

	// Admin, when set, is asked first to delete every retained message
	// at and below Node on the broker, the topics the page has not seen
	// included; only if it refuses does Run publish to Topics.
	Admin Admin
	// NoAdmin, when Admin is nil, says why the admin API is not used, if
	// the page knows ("" otherwise), for the confirmation.
	NoAdmin string

	running atomic.Bool
	ran     atomic.Bool
	done    atomic.Int64
	failed  atomic.Int64
	mu      sync.Mutex
	err     string // the first failure
	outcome AdminOutcome
	asked   bool // Admin was asked: outcome is its answer
}

// NewClearJob returns the job of clearing the retained messages at and
// below n.
func (t *Tree) NewClearJob(n *Node) *ClearJob {
	return &ClearJob{Node: n.Topic(), Topics: t.RetainedUnder(n)}
}

// Start marks the job running, so that the page shows its progress
// before Run, on a goroutine of its own, gets going; Run calls it too.
func (j *ClearJob) Start() { j.running.Store(true) }

// Running reports whether the job has started.
func (j *ClearJob) Running() bool { return j.running.Load() }

// Progress returns how many topics are done (cleared or failed) of all.
func (j *ClearJob) Progress() (done, total int) { return int(j.done.Load()), len(j.Topics) }

// Run asks the admin API, if the job has one, to delete the retained
// messages; if there is none or it refuses, Run publishes an empty
// retained message to each topic with publish, parallel at a time, calls
// progress every interval while it runs (from a goroutine of its own),
// and returns when every topic is done. It runs once: a second call
// returns at once.
func (j *ClearJob) Run(ctx context.Context, parallel int, interval time.Duration,
	publish func(ctx context.Context, topic string) error, progress func()) {
	j.Start()
	if !j.ran.CompareAndSwap(false, true) {
		return
	}
	if j.Admin != nil && j.runAdmin(ctx) {
		return
	}
	j.publishAll(ctx, parallel, interval, publish, progress)
}

func (j *ClearJob) publishAll(ctx context.Context, parallel int, interval time.Duration,
	publish func(ctx context.Context, topic string) error, progress func()) {
	topics := make(chan string)
	var wg sync.WaitGroup
	for range min(max(parallel, 1), len(j.Topics)) {
		wg.Go(func() {
			for t := range topics {
				if err := publish(ctx, t); err != nil {
					j.fail(t, err)
				}
				j.done.Add(1)
			}
		})
	}
	finished := make(chan struct{})
	var tick sync.WaitGroup
	tick.Go(func() {
		tk := time.NewTicker(interval)
		defer tk.Stop()
		for {
			select {
			case <-finished:
				return
			case <-tk.C:
				progress()
			}
		}
	})
	for _, t := range j.Topics {
		topics <- t
	}
	close(topics)
	wg.Wait()
	close(finished)
	tick.Wait()
}

func (j *ClearJob) fail(topic string, err error) {
	j.failed.Add(1)
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err == "" {
		j.err = fmt.Sprintf("%s: %v", topic, err)
	}
}

// Result says what the job did, once Run has returned.
func (j *ClearJob) Result() string {
	o, asked := j.Outcome()
	if o.OK {
		return fmt.Sprintf("Deleted %d retained %s on the broker at and below %s.", o.Deleted, plural(o.Deleted, "message", "messages"), j.Node)
	}
	n, failed := len(j.Topics), int(j.failed.Load())
	ok := n - failed
	s := fmt.Sprintf("Cleared %d retained %s under %s.", ok, plural(ok, "message", "messages"), j.Node)
	if asked {
		s = fmt.Sprintf("%s: cleared the %d %s this page has seen under %s.", capitalize(o.Why), ok, plural(ok, "topic", "topics"), j.Node)
	}
	if failed > 0 {
		j.mu.Lock()
		s += fmt.Sprintf(" %d failed (%s).", failed, j.err)
		j.mu.Unlock()
	}
	return s
}

// Rate measures messages a second from a running total, over spans of
// about a second.
type Rate struct {
	at   time.Time
	from uint64
	rate float64
}

// Reset starts measuring from total at now.
func (r *Rate) Reset(total uint64, now time.Time) { *r = Rate{at: now, from: total} }

// Observe takes the total at now; a second or more after the last span
// began it computes the rate of that span and begins the next.
func (r *Rate) Observe(total uint64, now time.Time) {
	if d := now.Sub(r.at); d >= time.Second {
		r.rate = float64(total-r.from) / d.Seconds()
		r.at, r.from = now, total
	}
}

// PerSecond returns the last rate measured, or 0 when nothing was observed
// for two seconds (nothing arrived lately).
func (r *Rate) PerSecond(now time.Time) float64 {
	if now.Sub(r.at) > 2*time.Second {
		return 0
	}
	return r.rate
}
