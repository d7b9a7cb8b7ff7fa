package ui

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/maxence-charriere/go-app/v9/pkg/app"

	"github.com/ternmq/tern/wasm/livetree"
	"github.com/ternmq/tern/wasm/service"
	"github.com/ternmq/tern/wasm/uistate"
)

// The go-app state keys of the topic tree.
const (
	keyTree     = "tern/tree"      // rows, values and counts
	keyTreeConn = "tern/tree-conn" // the tree's connection, clearing
	keyChart    = "tern/chart"     // the chart's series and points
)

// Subscription ids of the tree (negative: the log's are positive).
const (
	treeSubAll = -1 // "#"
	treeSubSys = -2 // "$SYS/#"
)

// treeMaxPending bounds the messages of one batch of the page's
// connection: the tree wants them all (the log keeps the newest 10,000).
const treeMaxPending = 50_000

// Clearing retained messages publishes this many at a time.
const clearParallel = 16

// treeHub is the topic tree's state. It reads the Hub's connection: once
// the tree page has been opened, the connection subscribes to "#" for the
// tree (uistate.SinkTree) besides the log's subscriptions, and each
// message arrives once for both.
type treeHub struct {
	h     *Hub
	t     *livetree.Tree
	chart livetree.Chart

	active     bool             // the page was opened: the tree follows the connection
	subscribed *service.Service // the connection subscribed for the tree
	err        string
	sys        bool // subscribe to $SYS/# too
	dropped    uint64
	scratch    []livetree.Message

	rate livetree.Rate // messages a second into the tree

	clear  *livetree.ClearJob
	result string // what the last clearing did

	// admin is the broker's admin API with the connection's credentials,
	// nil when the page cannot use it (another origin, no password);
	// adminRefused says why the API refused it on this connection, after
	// which the page clears by MQTT without asking again.
	admin        livetree.Admin
	adminRefused string
	loading      bool // loadRetained is under way

	paths map[string]string // the chart path chosen per topic
}

func newTreeHub(h *Hub) *treeHub {
	return &treeHub{h: h, t: livetree.New(livetree.Options{AutoOpen: true}), paths: map[string]string{}}
}

// state is the state of the connection the tree reads.
func (x *treeHub) state() uistate.ConnState { return x.h.m.Conn.State }

// open is called when the tree page mounts: from now on the tree follows
// the page's connection.
func (x *treeHub) open(ctx app.Context) {
	x.active = true
	x.follow(ctx)
}

// follow subscribes the connection for the tree when it is connected and
// the tree has not been subscribed on it yet; it is called on every
// change of the connection.
func (x *treeHub) follow(ctx app.Context) {
	svc := x.h.svc
	if !x.active || svc == nil || x.subscribed == svc || x.state() != uistate.Connected {
		x.changed(ctx, keyTreeConn)
		return
	}
	x.subscribed = svc
	x.subscribe(svc, treeSubAll, "#")
	if x.sys {
		x.subscribe(svc, treeSubSys, "$SYS/#")
	}
	x.changed(ctx, keyTreeConn)
}

// restart starts a fresh tree for a new connection of the page.
func (x *treeHub) restart(ctx app.Context) {
	x.t = livetree.New(livetree.Options{AutoOpen: true, RetainAsPublished: x.h.m.Form.Version == 5})
	x.chart.Clear()
	x.err, x.subscribed, x.dropped, x.clear, x.result = "", nil, 0, nil, ""
	m := x.h.m
	x.admin, x.adminRefused = nil, ""
	if origin := uistate.AdminOrigin(m.Conn.URL, m.PageURL, m.Form.Username, m.Form.Password); origin != "" {
		x.admin = fetchAdmin{origin: origin, user: m.Form.Username, password: m.Form.Password}
	}
	x.rate.Reset(0, time.Now())
	x.changed(ctx, keyTree, keyTreeConn, keyChart)
}

func (x *treeHub) changed(ctx app.Context, keys ...string) {
	for _, k := range keys {
		x.h.bump(ctx, k)
	}
}

// apply applies the tree's part of an update of the page's connection
// svc, on the UI goroutine.
func (x *treeHub) apply(ctx app.Context, svc *service.Service, u uistate.Update) {
	if len(u.Conn) > 0 {
		x.follow(ctx)
	}
	if x.subscribed != svc {
		return
	}
	x.dropped += u.Dropped
	if u.Dropped > 0 {
		x.changed(ctx, keyTreeConn)
	}
	msgs := x.scratch[:0]
	for i := range u.Messages {
		m := &u.Messages[i]
		if m.Sinks&uistate.SinkTree == 0 {
			continue
		}
		msgs = append(msgs, livetree.Message{Topic: m.Topic, Payload: m.Payload, QoS: m.QoS,
			Retain: m.Retain, Time: m.Time, Props: m.Props})
	}
	if len(msgs) == 0 {
		return
	}
	x.t.Apply(msgs...)
	if x.chart.Observe(msgs) {
		x.changed(ctx, keyChart)
	}
	clear(msgs)
	x.scratch = msgs[:0]
	x.rate.Observe(x.t.Messages(), time.Now())
	x.changed(ctx, keyTree)
}

// subscribe subscribes the connection to filter for the tree, with Retain
// As Published on 5.0 so that the tree sees which live messages are
// retained.
func (x *treeHub) subscribe(svc *service.Service, id int, filter string) {
	sub := uistate.Subscription{ID: id, Filter: filter, RetainAsPublished: x.h.m.Form.Version == 5}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		code, err := svc.Subscribe(ctx, uistate.SinkTree, sub)
		if err == nil && code.IsError() {
			err = fmt.Errorf("refused: %v", code)
		}
		if err != nil {
			x.h.dispatch(func(ctx app.Context) {
				if x.subscribed == svc {
					x.err = fmt.Sprintf("Subscribing to %s failed: %v", filter, err)
					x.changed(ctx, keyTreeConn)
				}
			})
		}
	}()
}

// setSys turns the $SYS/# subscription on or off.
func (x *treeHub) setSys(ctx app.Context, on bool) {
	x.sys = on
	svc := x.subscribed
	if svc != nil {
		if on {
			x.subscribe(svc, treeSubSys, "$SYS/#")
		} else {
			go func() {
				cctx, cancel := context.WithTimeout(context.Background(), opTimeout)
				defer cancel()
				svc.Unsubscribe(cctx, uistate.SinkTree, "$SYS/#")
			}()
		}
	}
	x.changed(ctx, keyTreeConn)
}

// fillDraft puts a topic and its last value into the publish form.
func (x *treeHub) fillDraft(ctx app.Context, n *livetree.Node) {
	d := &x.h.m.Draft
	d.Topic = n.Topic()
	if v := n.Last(); v != nil && !v.Truncated() {
		d.Payload = string(v.Payload)
		d.Retain = n.Retained()
	}
	x.h.notify(ctx, uistate.ChangedPublish)
}

// askClear opens the confirmation for clearing the retained messages at
// and below n.
func (x *treeHub) askClear(ctx app.Context, n *livetree.Node) {
	if x.clear != nil && x.clear.Running() {
		return
	}
	x.clear = x.t.NewClearJob(n)
	if x.adminRefused != "" {
		x.clear.NoAdmin = x.adminRefused
	} else {
		x.clear.Admin = x.admin
	}
	x.result = ""
	x.changed(ctx, keyTreeConn)
	// Cancel has the focus, so that Enter does not clear by accident.
	ctx.Defer(func(app.Context) { focus("tt-clear-cancel") })
}

// adminUsable reports whether a clearing will ask the broker's admin API.
func (x *treeHub) adminUsable() bool { return x.admin != nil && x.adminRefused == "" }

// clearTitle is the tooltip of the clear button.
func (x *treeHub) clearTitle() string {
	if x.adminUsable() {
		return "Delete every retained message at and below this topic on the broker (admin API), or, if the broker refuses, the ones this page has seen"
	}
	return "Publish an empty retained message to every retained topic at and below this one"
}

// loadLimit bounds "load all retained topics": the tree's own limit on
// topics is higher, but a page is no place for more.
const loadLimit = 10_000

// loadRetained asks the broker's admin API for every retained topic and
// adds those the tree has not received, marked so.
func (x *treeHub) loadRetained(ctx app.Context) {
	admin := x.admin
	if admin == nil || x.adminRefused != "" || x.loading {
		return
	}
	x.loading, x.result = true, "Loading the retained topics from the broker…"
	x.changed(ctx, keyTreeConn)
	go func() {
		cctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		status, body, err := admin.ListRetained(cctx, "#", loadLimit)
		list, truncated, o := livetree.DecideList(status, body, err)
		x.h.dispatch(func(ctx app.Context) {
			x.loading = false
			if x.admin != admin { // another connection since
				return
			}
			if !o.OK {
				if o.Refused {
					x.adminRefused = o.Why
				}
				x.result = "Cannot load the retained topics: " + o.Why + "."
				x.changed(ctx, keyTreeConn)
				return
			}
			added := x.t.AddUnreceived(list)
			x.result = fmt.Sprintf("The broker holds %d retained %s; %d not received by this page %s added, marked \"not received\".",
				len(list), plural(len(list), "topic", "topics"), added, plural(added, "was", "were"))
			if truncated {
				x.result += fmt.Sprintf(" (Only the first %d were listed.)", loadLimit)
			}
			x.changed(ctx, keyTree, keyTreeConn)
		})
	}()
}

// cancelClear closes the confirmation.
func (x *treeHub) cancelClear(ctx app.Context) {
	if x.clear != nil && !x.clear.Running() {
		x.clear = nil
		x.changed(ctx, keyTreeConn)
	}
}

// confirmClear asks the broker's admin API, when the page may, to delete
// the retained messages at and below the node; otherwise, or when it
// refuses, it publishes an empty retained message (QoS 1) to each topic
// of the job, clearParallel at a time, and reports the progress a few
// times a second (one Dispatch each, whatever the number of topics).
func (x *treeHub) confirmClear(ctx app.Context) {
	job, svc := x.clear, x.h.connected()
	if job == nil || job.Running() || svc == nil {
		return
	}
	publish := func(ctx context.Context, topic string) error {
		ctx, cancel := context.WithTimeout(ctx, opTimeout)
		defer cancel()
		return svc.Publish(ctx, uistate.Publish{Topic: topic, QoS: 1, Retain: true})
	}
	progress := func() { x.h.dispatch(func(ctx app.Context) { x.changed(ctx, keyTreeConn) }) }
	job.Start()
	go func() {
		job.Run(context.Background(), clearParallel, 150*time.Millisecond, publish, progress)
		x.h.dispatch(func(ctx app.Context) { x.finishClear(ctx, job) })
	}()
	x.changed(ctx, keyTreeConn)
}

func (x *treeHub) finishClear(ctx app.Context, job *livetree.ClearJob) {
	if x.clear != job {
		return
	}
	x.result = job.Result()
	x.clear = nil
	if o, asked := job.Outcome(); o.OK {
		// The broker sends nothing when its admin API deletes.
		x.t.DropRetained(job.Topics)
		x.changed(ctx, keyTree)
	} else if asked && o.Refused {
		x.adminRefused = o.Why
	}
	x.changed(ctx, keyTreeConn)
}

// addChart charts the topic's numbers at its chosen path.
func (x *treeHub) addChart(ctx app.Context, n *livetree.Node, path string) {
	if _, err := x.chart.Add(n, path); err != nil {
		x.result = "Cannot chart " + n.Topic() + ": " + err.Error()
		x.changed(ctx, keyTreeConn)
		return
	}
	x.changed(ctx, keyChart, keyTree)
}

func (x *treeHub) removeChart(ctx app.Context, topic, path string) {
	x.chart.Remove(topic, path)
	x.changed(ctx, keyChart, keyTree)
}

// stats reports the tree's size, whether topic (if not "") has a value,
// and the Go heap after a collection.
func (x *treeHub) stats(topic string) livetree.Stats {
	v, b := x.t.HistoryLen()
	st := livetree.Stats{Topics: x.t.Len(), Nodes: x.t.Nodes(), Messages: x.t.Messages(), Dropped: x.t.Dropped() + x.dropped,
		Rate: x.rate.PerSecond(time.Now()), HistoryValues: v, HistoryBytes: b}
	if n := x.t.Get(topic); topic != "" && n != nil {
		st.Has = n.HasValue()
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st.HeapAlloc, st.HeapSys, st.Sys = ms.HeapAlloc, ms.HeapSys, ms.Sys
	return st
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
