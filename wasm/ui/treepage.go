package ui

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/maxence-charriere/go-app/v9/pkg/app"

	"github.com/ternmq/tern/wasm/livetree"
	"github.com/ternmq/tern/wasm/uistate"
)

// Tree rows use the log's fixed row height (the stylesheet's --row), so
// only the rows in view are rendered.
const (
	treeIndent   = 16 // px per level
	treePreview  = 60 // runes of a value in a row
	diffMaxLines = 400
)

// TreePage is the live topic tree: every topic seen on the page's broker,
// with the selected topic's values, diff, properties and chart beside it,
// and the publish form, which a click on a topic fills.
type TreePage struct {
	app.Compo
	Hub *Hub

	closeKeys  func()
	closeStats func()
}

// OnMount subscribes the page's connection for the tree when it is
// connected, and follows the connection from then on.
func (p *TreePage) OnMount(ctx app.Context) {
	h := p.Hub
	h.attach(ctx)
	x := h.tree
	observe(ctx, uistate.ChangedConn, func() { x.follow(ctx) })
	x.open(ctx)
	p.closeKeys = app.Window().AddEventListener("keydown", p.onKey)
	p.closeStats = exposeTreeStats(x)
}

// OnDismount releases the keyboard listener and the diagnostics hook.
func (p *TreePage) OnDismount() {
	if p.closeKeys != nil {
		p.closeKeys()
		p.closeKeys = nil
	}
	if p.closeStats != nil {
		p.closeStats()
		p.closeStats = nil
	}
}

// onKey focuses the search with "/" (when not typing).
func (p *TreePage) onKey(ctx app.Context, e app.Event) {
	tag := e.Get("target").Get("tagName").String()
	if isKey(e, "/", false) && tag != "INPUT" && tag != "TEXTAREA" && tag != "SELECT" {
		e.PreventDefault()
		focus("tt-search")
	}
}

// exposeTreeStats sets window.ternTreeStats(topic), which returns the
// tree's size, whether topic has a value, and the Go heap as JSON: a
// diagnostics hook, used by the browser load test. It returns the function
// that removes it.
func exposeTreeStats(x *treeHub) func() {
	if !app.IsClient {
		return nil
	}
	fn := app.FuncOf(func(_ app.Value, args []app.Value) any {
		topic := ""
		if len(args) > 0 && args[0].Type() == app.TypeString {
			topic = args[0].String()
		}
		b, _ := json.Marshal(x.stats(topic))
		return string(b)
	})
	app.Window().Set("ternTreeStats", fn)
	return func() {
		app.Window().Set("ternTreeStats", app.Undefined())
		fn.Release()
	}
}

// Render lays the page out; each part renders itself.
func (p *TreePage) Render() app.UI {
	h := p.Hub
	return app.Div().Class("page tree").Body(
		&ConnBar{Hub: h},
		&TreeStatus{Hub: h},
		app.Div().Class("tt-cols").Body(
			app.Div().Class("tt-main").Body(
				&TreeList{Hub: h},
				&TreeChart{Hub: h},
			),
			app.Div().Class("tt-side").Body(
				&TreeDetail{Hub: h},
				&PublishPanel{Hub: h},
			),
		),
		&TreeConfirm{Hub: h},
	)
}

// TreeStatus shows the tree's connection and counts, and the $SYS switch.
type TreeStatus struct {
	app.Compo
	Hub *Hub
}

// OnMount observes the tree and its connection.
func (s *TreeStatus) OnMount(ctx app.Context) {
	observeKey(ctx, keyTree, nil)
	observeKey(ctx, keyTreeConn, nil)
}

// Render draws the status line.
func (s *TreeStatus) Render() app.UI {
	x := s.Hub.tree
	t := x.t
	var state string
	switch {
	case x.subscribed == nil && x.state() != uistate.Connected:
		state = "Connect to see the topics of the broker (the tree subscribes to #)."
	case x.state() == uistate.Connected:
		state = "Live"
	default:
		state = x.state().String()
	}
	rate := x.rate.PerSecond(time.Now())
	counts := strconv.Itoa(t.Len()) + " " + plural(t.Len(), "topic", "topics") + " · " +
		strconv.FormatUint(t.Messages(), 10) + " " + plural(int(t.Messages()), "message", "messages") + " · " +
		strconv.FormatFloat(rate, 'f', 0, 64) + " msg/s"
	if d := t.Dropped() + x.dropped; d > 0 {
		counts += " · " + strconv.FormatUint(d, 10) + " dropped"
	}
	return app.Section().ID("tt-status").Class("card row tt-status").Aria("label", "Topic tree status").Body(
		app.Span().ID("tt-state").Class("pill", "state-"+stateClass(x.state())).Body(
			app.Span().Class("dot").Aria("hidden", "true"),
			app.Span().Text(state),
		),
		app.Span().ID("tt-counts").Class("muted small grow").Text(counts),
		app.Label().Class("check small").Title("Also subscribe to $SYS/# (the broker's own topics)").Body(
			app.Input().ID("tt-sys").Type("checkbox").Checked(x.sys).
				OnChange(func(ctx app.Context, e app.Event) { x.setSys(ctx, checked(ctx)) }),
			app.Span().Text("$SYS"),
		),
		app.If(x.adminUsable(), app.Button().ID("tt-load-retained").Type("button").Class("btn small").
			Disabled(x.loading || x.state() != uistate.Connected).
			Title("List every retained topic on the broker (admin API) and add those this page has not received").
			Text("Load all retained topics").
			OnClick(func(ctx app.Context, e app.Event) { x.loadRetained(ctx) })),
		app.If(x.err != "", app.Span().ID("tt-error").Class("st-failed small").Text(x.err)),
		app.If(x.result != "", app.Span().ID("tt-result").Class("small").Role("status").Text(x.result)),
	)
}

// TreeList is the virtualized tree: a search field above the rows in
// view. It is a WAI-ARIA tree: arrow keys move and expand, Home/End and
// PageUp/PageDown jump, * expands everything below the selection.
type TreeList struct {
	app.Compo
	Hub *Hub

	top    float64
	height float64
}

// OnMount observes the tree and measures the list.
func (l *TreeList) OnMount(ctx app.Context) {
	l.height = defaultHeight
	observeKey(ctx, keyTree, nil)
	observe(ctx, uistate.ChangedSettings, nil) // the payload format
	ctx.Defer(l.measure)
}

// OnResize measures the list again.
func (l *TreeList) OnResize(ctx app.Context) { l.measure(ctx) }

func (l *TreeList) measure(ctx app.Context) {
	if e := elementByID("tt-scroll"); e != nil {
		if h := e.Get("clientHeight").Float(); h > 0 && h != l.height {
			l.height = h
			l.Update()
		}
	}
}

func (l *TreeList) onScroll(ctx app.Context, e app.Event) {
	top := ctx.JSSrc().Get("scrollTop").Float()
	if int(top/rowHeight) == int(l.top/rowHeight) {
		l.top = top
		ctx.PreventUpdate()
		return
	}
	l.top = top
}

// Render draws the search and the rows in view.
func (l *TreeList) Render() app.UI {
	x := l.Hub.tree
	t := x.t
	rows := t.Rows()
	n := len(rows)
	first := max(0, int(l.top/rowHeight)-overscan)
	last := min(n, int((l.top+l.height)/rowHeight)+overscan+1)
	sel := t.Selected()
	items := make([]app.UI, 0, max(0, last-first))
	for i := first; i < last; i++ {
		items = append(items, l.row(t, i, rows[i], rows[i] == sel))
	}
	active := ""
	if i := t.SelectedRow(); i >= 0 {
		active = "tt-row-" + strconv.Itoa(i)
	}
	matches := ""
	if q := t.Query(); q != "" {
		matches = strconv.Itoa(t.Matches()) + " matching"
	}
	return app.Section().ID("tt-tree").Class("card tt-tree").Aria("labelledby", "tt-title").Body(
		app.Div().Class("row").Body(
			app.H2().ID("tt-title").Text("Topics"),
			app.Span().ID("tt-matches").Class("muted small grow").Text(matches),
			app.Button().ID("tt-expand").Type("button").Class("btn small").Text("Expand all").
				Title("Expand every node (or everything below the selected node: *)").
				OnClick(func(ctx app.Context, e app.Event) { x.t.ExpandAll(nil); x.changed(ctx, keyTree) }),
			app.Button().ID("tt-collapse").Type("button").Class("btn small").Text("Collapse all").
				OnClick(func(ctx app.Context, e app.Event) { x.t.CollapseAll(); x.changed(ctx, keyTree) }),
		),
		app.Div().Class("row filters").Body(
			app.Label().For("tt-search").Class("sr-only").Text("Search topics"),
			app.Input().ID("tt-search").Type("search").Class("grow mono").Value(t.Query()).
				Placeholder("Search topics (text, or an MQTT filter such as home/+/temp) — press /").
				Spellcheck(false).AutoComplete(false).
				OnInput(func(ctx app.Context, e app.Event) {
					x.t.SetQuery(inputValue(ctx))
					l.top = 0
					l.scrollTo(ctx, 0)
					x.changed(ctx, keyTree)
				}),
		),
		app.Div().ID("tt-scroll").Class("tt-scroll").TabIndex(0).Role("tree").
			Aria("label", "Topics; arrow keys move, right and left expand and collapse").
			Aria("activedescendant", active).
			DataSet("query", t.Query()).DataSet("rows", n).
			OnScroll(l.onScroll).OnKeyDown(l.onKey).OnClick(l.onClick).Body(
			app.If(n == 0, app.P().Class("empty muted").Text(l.emptyText(x))),
			app.Div().Class("tt-spacer").Style("height", px(float64(n)*rowHeight)).Body(items...),
		),
	)
}

func (l *TreeList) emptyText(x *treeHub) string {
	switch {
	case x.t.Query() != "" && x.t.Nodes() > 0:
		return "No topic matches the search."
	case x.state() == uistate.Connected:
		return "No topics yet: nothing has been published since the tree subscribed, and no message is retained."
	}
	return "Not connected."
}

// row renders the i-th row.
func (l *TreeList) row(t *livetree.Tree, i int, n *livetree.Node, selected bool) app.UI {
	twisty := ""
	if n.NumChildren() > 0 {
		twisty = "▸"
		if t.IsOpen(n) {
			twisty = "▾"
		}
	}
	name := n.Name()
	nameClass := "tt-name"
	if name == "" {
		name, nameClass = "(empty)", "tt-name tt-emptyname"
	}
	if t.IsMatch(n) {
		nameClass += " tt-match"
	}
	var count, value string
	if v := n.Last(); v != nil && v.Unreceived {
		value = "retained on broker (not received), " + size(v.Size)
	} else if v != nil {
		value = uistate.PreviewAs(v.Payload, l.Hub.m.Format, treePreview)
		count = strconv.FormatUint(n.Count(), 10)
	}
	if n.NumChildren() > 0 {
		count = strconv.Itoa(n.Topics()) + " " + plural(n.Topics(), "topic", "topics") + " · " +
			strconv.FormatUint(n.Total(), 10) + " " + plural(int(n.Total()), "msg", "msgs")
	}
	row := app.Div().ID("tt-row-"+strconv.Itoa(i)).Class("tt-row").Role("treeitem").
		Aria("level", n.Depth()+1).Aria("selected", strconv.FormatBool(selected)).
		DataSet("topic", n.Topic()).
		Style("top", px(float64(i)*rowHeight)).Style("padding-left", px(float64(n.Depth()*treeIndent+4)))
	if n.NumChildren() > 0 {
		row = row.Aria("expanded", strconv.FormatBool(t.IsOpen(n)))
	}
	return row.Body(
		app.Span().Class("tt-twisty").Aria("hidden", "true").Text(twisty),
		app.Span().Class(nameClass).Text(name),
		app.If(n.Retained(), app.Span().Class("badge tt-retained").Title("retained").Text("R")),
		app.If(value != "", app.Span().Class("tt-value").Text(value)),
		app.Span().Class("tt-count").Text(count),
	)
}

// onClick selects the clicked row (toggling it when the arrow was
// clicked) and fills the publish form with its topic: one handler for the
// whole list.
func (l *TreeList) onClick(ctx app.Context, e app.Event) {
	target := e.Get("target")
	row := target.Call("closest", ".tt-row")
	if row.IsNull() || row.IsUndefined() {
		return
	}
	x := l.Hub.tree
	n := x.t.Get(row.Get("dataset").Get("topic").String())
	if n == nil {
		return
	}
	if tw := target.Call("closest", ".tt-twisty"); !tw.IsNull() && !tw.IsUndefined() {
		x.t.Toggle(n)
	}
	x.t.Select(n)
	x.fillDraft(ctx, n)
	x.changed(ctx, keyTree)
}

func (l *TreeList) onKey(ctx app.Context, e app.Event) {
	x := l.Hub.tree
	page := max(1, int(l.height/rowHeight)-1)
	if !x.t.Key(e.Get("key").String(), page) {
		return
	}
	e.PreventDefault()
	if i := x.t.SelectedRow(); i >= 0 {
		rowTop := float64(i) * rowHeight
		switch {
		case rowTop < l.top:
			l.top = rowTop
			l.scrollTo(ctx, l.top)
		case rowTop+rowHeight > l.top+l.height:
			l.top = rowTop + rowHeight - l.height
			l.scrollTo(ctx, l.top)
		}
	}
	x.changed(ctx, keyTree)
}

func (l *TreeList) scrollTo(ctx app.Context, top float64) {
	ctx.Defer(func(app.Context) {
		if e := elementByID("tt-scroll"); e != nil {
			e.Set("scrollTop", top)
		}
	})
}

// TreeDetail shows the selected topic: its value, the diff against the
// previous one, its recent values, its 5.0 properties, what to chart, and
// the clearing of retained messages below it.
type TreeDetail struct {
	app.Compo
	Hub *Hub

	// The diff is computed again only when the selection or its value
	// changes.
	all      uint64 // the value (by Seq) shown in full
	diffNode *livetree.Node
	diffSeq  uint64
	diff     []livetree.DiffLine
}

// OnMount observes the tree.
func (d *TreeDetail) OnMount(ctx app.Context) {
	observeKey(ctx, keyTree, nil)
	observe(ctx, uistate.ChangedSettings, nil) // the payload format
	observeKey(ctx, keyTreeConn, nil)
}

// Render draws the selected topic.
func (d *TreeDetail) Render() app.UI {
	x := d.Hub.tree
	n := x.t.Selected()
	if n == nil {
		return app.Section().ID("tt-detail").Class("card detail").Aria("label", "Selected topic").Body(
			app.P().Class("muted").Text("Select a topic (click it, or use the arrow keys in the tree) to see its values; clicking also fills the publish form."),
		)
	}
	last, prev := n.Last(), n.Prev()
	kv := [][2]string{{"Messages", strconv.FormatUint(n.Count(), 10)}}
	if last != nil && last.Unreceived {
		kv = append(kv, [2]string{"Received", "no: retained on the broker, listed by its admin API"},
			[2]string{"Size", size(last.Size)})
	} else if last != nil {
		kv = append(kv,
			[2]string{"Received", last.Time().Format("2006-01-02 15:04:05.000")},
			[2]string{"QoS", strconv.Itoa(int(last.QoS))},
			[2]string{"Retained", yesNo(n.Retained())},
			[2]string{"Size", size(last.Size)})
	}
	if n.NumChildren() > 0 {
		kv = append(kv, [2]string{"Below", strconv.Itoa(n.Topics()) + " topics, " + strconv.FormatUint(n.Total(), 10) + " messages"})
	}
	retained := n.RetainedCount()
	busy := x.clear != nil && x.clear.Running()
	return app.Section().ID("tt-detail").Class("card detail").Aria("labelledby", "tt-detail-title").Body(
		app.Div().Class("row").Body(
			app.H2().ID("tt-detail-title").Class("grow").Text("Topic"),
			app.Button().ID("tt-topublish").Type("button").Class("btn small").Text("Edit & publish").
				Title("Copy the topic and its value into the publish form").
				OnClick(func(ctx app.Context, e app.Event) {
					if n := x.t.Selected(); n != nil {
						x.fillDraft(ctx, n)
						focus("pub-payload")
					}
				}),
			app.Button().ID("tt-clear").Type("button").Class("btn small danger").Disabled((retained == 0 && !x.adminUsable()) || busy || x.h.connected() == nil).
				Title(x.clearTitle()).
				Text("Clear retained ("+strconv.Itoa(retained)+")").
				OnClick(func(ctx app.Context, e app.Event) {
					if n := x.t.Selected(); n != nil {
						x.askClear(ctx, n)
					}
				}),
		),
		app.P().ID("tt-detail-topic").Class("mono topic").Text(n.Topic()),
		app.Table().Class("kv").Body(app.TBody().Body(
			app.Range(kv).Slice(func(i int) app.UI {
				return app.Tr().Body(app.Th().Scope("row").Text(kv[i][0]), app.Td().Text(kv[i][1]))
			}),
		)),
		d.valueOf(x, n, last, prev),
	)
}

func (d *TreeDetail) valueOf(x *treeHub, n *livetree.Node, last, prev *livetree.Value) app.UI {
	if last == nil {
		return nil
	}
	return d.value(x, n, last, prev)
}

// value renders the current value, the diff, the history, the properties
// and the chart choice.
func (d *TreeDetail) value(x *treeHub, n *livetree.Node, last, prev *livetree.Value) app.UI {
	var diff app.UI
	if prev != nil {
		if d.diffNode != n || d.diffSeq != last.Seq {
			d.diffNode, d.diffSeq = n, last.Seq
			d.diff = livetree.Diff(prev.Payload, last.Payload)
		}
		lines := d.diff[:min(len(d.diff), diffMaxLines)]
		diff = app.Div().Body(
			app.H3().Text("Change from the previous value ("+prev.Time().Format("15:04:05.000")+")"),
			app.Pre().ID("tt-diff").Class("payload tt-diff").Body(
				app.Range(lines).Slice(func(i int) app.UI {
					l := lines[i]
					cls := "d-same"
					switch l.Op {
					case livetree.Add:
						cls = "d-add"
					case livetree.Del:
						cls = "d-del"
					}
					return app.Span().Class(cls).Text(string(l.Op) + " " + l.Text + "\n")
				}),
			),
		)
	}
	hist := n.History(nil)
	paths, path := chartPath(x, n)
	topic := n.Topic()
	var chart app.UI
	if len(paths) > 0 {
		charted := x.chart.Has(topic, path)
		chart = app.Div().Class("row tt-chartpick").Body(
			app.Label().For("tt-chart-path").Class("small").Text("Chart"),
			app.Select().ID("tt-chart-path").Class("mono").OnChange(func(ctx app.Context, e app.Event) {
				if n := x.t.Selected(); n != nil {
					x.paths[n.Topic()] = inputValue(ctx)
				}
			}).Body(app.Range(paths).Slice(func(i int) app.UI {
				label := paths[i]
				if label == "" {
					label = "(the value)"
				}
				return app.Option().Value(paths[i]).Selected(paths[i] == path).Text(label)
			})),
			app.Button().ID("tt-chart-add").Type("button").Class("btn small").Disabled(charted).
				Text(map[bool]string{false: "Add to chart", true: "In the chart"}[charted]).
				OnClick(func(ctx app.Context, e app.Event) {
					if n := x.t.Selected(); n != nil {
						if _, path := chartPath(x, n); n.Last() != nil {
							x.addChart(ctx, n, path)
						}
					}
				}),
		)
	}
	m := d.Hub.m
	limit := uistate.DetailLimit
	if d.all == last.Seq {
		limit = 0
	}
	text, used, cut := uistate.FormatPayloadLimit(last.Payload, m.Format, limit)
	seq := last.Seq
	return app.Div().Body(
		app.Div().Class("row").Body(
			app.H3().Class("grow").Text("Value"),
			formatSelect(d.Hub, "tt-format", used),
		),
		app.Pre().ID("tt-detail-value").Class("payload", "fmt-"+used.String()).Text(text),
		showAll(cut, len(last.Payload), func() { d.all = seq }),
		app.If(last.Truncated(), app.P().Class("muted small").Text("Only the first "+size(len(last.Payload))+" are kept.")),
		chart,
		diff,
		properties(last.Props),
		app.H3().Text("Recent values"),
		app.Ol().ID("tt-history").Class("list tt-history").Body(
			app.Range(hist).Slice(func(i int) app.UI {
				v := &hist[i]
				return app.Li().Body(
					app.Span().Class("log-time").Text(clock(v.Time())),
					app.If(v.Retain, app.Span().Class("badge").Text("R")),
					app.Span().Class("mono clip grow").Text(uistate.PreviewAs(v.Payload, m.Format, 120)),
				)
			}),
		),
	)
}

// chartPath returns the numeric paths of n's value and the one chosen
// for the chart (the first unless the user chose another).
func chartPath(x *treeHub, n *livetree.Node) ([]string, string) {
	last := n.Last()
	if last == nil {
		return nil, ""
	}
	paths := livetree.NumericPaths(last.Payload, 24)
	path, ok := x.paths[n.Topic()]
	if !ok || !contains(paths, path) {
		path = ""
		if len(paths) > 0 {
			path = paths[0]
		}
	}
	return paths, path
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TreeChart draws the charted series in one SVG chart, with a legend
// that removes them.
type TreeChart struct {
	app.Compo
	Hub *Hub

	width float64
}

// OnMount observes the chart and measures its width.
func (c *TreeChart) OnMount(ctx app.Context) {
	c.width = 800
	observeKey(ctx, keyChart, nil)
	ctx.Defer(c.measure)
}

// OnResize measures the chart again.
func (c *TreeChart) OnResize(ctx app.Context) { c.measure(ctx) }

func (c *TreeChart) measure(ctx app.Context) {
	if e := elementByID("tt-chart"); e != nil {
		if w := e.Get("clientWidth").Float() - 26; w > 100 && w != c.width {
			c.width = w
			c.Update()
		}
	}
}

// Render draws the legend and the chart.
func (c *TreeChart) Render() app.UI {
	x := c.Hub.tree
	series := x.chart.Series()
	if len(series) == 0 {
		return app.Section().ID("tt-chart").Class("card tt-chart").Aria("label", "Chart").Body(
			app.P().Class("muted small").Text("Chart: select a topic with numeric values (or JSON with numbers) and choose Add to chart. Several topics share one chart."),
		)
	}
	svg := x.chart.SVG(int(c.width), 240, time.Now())
	return app.Section().ID("tt-chart").Class("card tt-chart").Aria("labelledby", "tt-chart-title").Body(
		app.Div().Class("row").Body(
			app.H2().ID("tt-chart-title").Text("Chart"),
			app.Div().ID("tt-legend").Class("chips grow").Body(
				app.Range(series).Slice(func(i int) app.UI {
					s := series[i]
					last, axis := "", ""
					if p, ok := s.Last(); ok {
						last = " = " + strconv.FormatFloat(p.V, 'g', 6, 64)
					}
					if lo, hi, ok := x.chart.AxisRange(i); ok {
						axis = "axis " + strconv.FormatFloat(lo, 'g', 6, 64) + " to " + strconv.FormatFloat(hi, 'g', 6, 64)
					}
					topic, path := s.Topic, s.Path
					return app.Span().Class("chip tt-series").Style("--c", s.Color).DataSet("topic", topic).Title(axis).Body(
						app.Span().Text(s.Label()+last),
						// The scope makes go-app replace the handler when the
						// series in this place changes.
						app.Button().Type("button").Class("btn ghost small").Aria("label", "Remove "+s.Label()+" from the chart").Text("×").
							OnClick(func(ctx app.Context, e app.Event) { x.removeChart(ctx, topic, path) }, topic, path),
					)
				}),
			),
			app.Label().Class("check small").Title("Draw every series against one value axis (otherwise each has its own: the first on the left, the second on the right)").Body(
				app.Input().ID("tt-chart-shared").Type("checkbox").Checked(x.chart.SharedAxis).
					OnChange(func(ctx app.Context, e app.Event) { x.chart.SharedAxis = checked(ctx); x.changed(ctx, keyChart) }),
				app.Text(" One axis"),
			),
			app.Button().ID("tt-chart-pause").Type("button").Class("btn small").Aria("pressed", x.chart.Paused).
				Text(map[bool]string{false: "Pause", true: "Resume"}[x.chart.Paused]).
				OnClick(func(ctx app.Context, e app.Event) { x.chart.Paused = !x.chart.Paused; x.changed(ctx, keyChart) }),
			app.Button().ID("tt-chart-csv").Type("button").Class("btn small").Text("Export CSV").
				Title("The points of the series shown, as time, series, value").
				OnClick(func(ctx app.Context, e app.Event) { download("tern-chart.csv", "text/csv", x.chart.CSV()) }),
			app.Button().ID("tt-chart-clear").Type("button").Class("btn small").Text("Clear chart").
				OnClick(func(ctx app.Context, e app.Event) { x.chart.Clear(); x.changed(ctx, keyChart, keyTree) }),
		),
		app.Div().ID("tt-chart-box").Class("tt-chart-box").Body(app.Raw(svg)),
	)
}

// TreeConfirm asks before clearing retained messages, showing how many
// and which, then shows the progress.
type TreeConfirm struct {
	app.Compo
	Hub *Hub
}

// OnMount observes the clearing.
func (c *TreeConfirm) OnMount(ctx app.Context) { observeKey(ctx, keyTreeConn, nil) }

// Render draws the dialog while a clearing is asked or running.
func (c *TreeConfirm) Render() app.UI {
	x := c.Hub.tree
	job := x.clear
	if job == nil {
		return app.Div().ID("tt-confirm-none").Hidden(true)
	}
	n := len(job.Topics)
	shown := job.Topics[:min(n, 12)]
	var body app.UI
	if job.Running() {
		body = app.P().ID("tt-clear-progress").Role("status").
			Text("Clearing… " + strconv.Itoa(first(job.Progress())) + " of " + strconv.Itoa(n))
	} else {
		body = app.Div().Body(
			app.Ul().ID("tt-clear-list").Class("list mono small").Body(
				app.Range(shown).Slice(func(i int) app.UI { return app.Li().Text(shown[i]) }),
			),
			app.If(n > len(shown), app.P().Class("muted small").Text("…and "+strconv.Itoa(n-len(shown))+" more.")),
			app.Div().Class("row").Body(
				app.Span().Class("grow"),
				app.Button().ID("tt-clear-cancel").Type("button").Class("btn").Text("Cancel").
					OnClick(func(ctx app.Context, e app.Event) { x.cancelClear(ctx) }),
				app.Button().ID("tt-clear-confirm").Type("button").Class("btn primary danger").
					Text(confirmLabel(job)).
					OnClick(func(ctx app.Context, e app.Event) { x.confirmClear(ctx) }),
			),
		)
	}
	return app.Div().ID("tt-confirm").Class("modal-back").Body(
		app.Div().Class("modal card").Role("alertdialog").Aria("modal", "true").
			Aria("labelledby", "tt-confirm-title").Aria("describedby", "tt-confirm-text").
			OnKeyDown(func(ctx app.Context, e app.Event) {
				if isKey(e, "Escape", false) {
					x.cancelClear(ctx)
				}
			}).Body(
			app.H2().ID("tt-confirm-title").Text("Clear retained messages?"),
			app.P().ID("tt-confirm-text").Text(job.Plan()),
			app.P().Class("small").Body(
				app.Text("Retained topics this page has seen: "),
				app.Strong().ID("tt-clear-count").Text(strconv.Itoa(n)+" "+plural(n, "topic", "topics")),
			),
			body,
		),
	)
}

// confirmLabel is the text of the clearing's confirm button.
func confirmLabel(job *livetree.ClearJob) string {
	if job.Admin != nil {
		return "Delete on the broker"
	}
	return "Clear " + strconv.Itoa(len(job.Topics))
}
