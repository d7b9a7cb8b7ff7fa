package ui

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/maxence-charriere/go-app/v9/pkg/app"

	"github.com/ternmq/tern/codec"
	"github.com/ternmq/tern/wasm/uistate"
)

// The log list is virtualized: rows have a fixed height (the stylesheet's
// .log-row uses the same value) and only the rows in view, plus a few
// above and below, are rendered, whatever the number of messages held.
const (
	rowHeight     = 28
	overscan      = 6
	previewRunes  = 160
	defaultHeight = 480
)

// LogView is the message log: filter, pause, clear and format controls
// above a virtualized list, newest message first.
type LogView struct {
	app.Compo
	Hub *Hub

	typed  typed   // the filter fields
	top    float64 // the list's scrollTop
	height float64 // the list's visible height
	added  uint64  // the log's Added count at the last change

	list     app.Value // the scrolling element
	onScroll app.Func  // its scroll listener, released on dismount
}

// OnMount observes the log, measures the list and listens to its scroll
// events.
func (c *LogView) OnMount(ctx app.Context) {
	c.height = defaultHeight
	c.added = c.Hub.m.Log.Added()
	observe(ctx, uistate.ChangedLog|uistate.ChangedSubs|uistate.ChangedSettings, func() { c.logChanged(ctx) })
	ctx.Defer(c.measure)
	ctx.Defer(c.listen)
}

// listen follows the list's scroll position. It is a listener of its own
// rather than a go-app OnScroll handler, which would render the component
// on every scroll event: this one renders only when other rows come into
// view. The callback runs outside the UI goroutine, so it hands the
// position over with a Dispatch that does not render by itself.
func (c *LogView) listen(ctx app.Context) {
	list := elementByID("log-scroll")
	if list == nil || c.onScroll != nil {
		return
	}
	disp := ctx.Dispatcher()
	c.list = list
	c.onScroll = app.FuncOf(func(this app.Value, _ []app.Value) any {
		top := this.Get("scrollTop").Float()
		disp.Dispatch(app.Dispatch{Mode: app.Next, Source: c, Function: func(app.Context) {
			moved := int(top/rowHeight) != int(c.top/rowHeight)
			c.top = top
			if moved {
				c.Update()
			}
		}})
		return nil
	})
	list.Call("addEventListener", "scroll", c.onScroll, map[string]any{"passive": true})
}

// OnDismount removes the scroll listener and releases it.
func (c *LogView) OnDismount() {
	if c.onScroll != nil {
		c.list.Call("removeEventListener", "scroll", c.onScroll)
		c.onScroll.Release()
		c.onScroll, c.list = nil, nil
	}
}

// OnResize measures the list again.
func (c *LogView) OnResize(ctx app.Context) { c.measure(ctx) }

func (c *LogView) measure(ctx app.Context) {
	if e := elementByID("log-scroll"); e != nil {
		if h := e.Get("clientHeight").Float(); h > 0 && h != c.height {
			c.height = h
			c.Update()
		}
	}
}

// logChanged keeps the rows in view steady when messages arrive while the
// list is scrolled: new rows are added above, so the scroll position moves
// down by as many rows. At the top, the list follows the newest message.
func (c *LogView) logChanged(ctx app.Context) {
	l := c.Hub.m.Log
	added := l.Added() - c.added
	c.added = l.Added()
	if l.ViewLen() == 0 {
		c.top = 0
		return
	}
	if added == 0 || c.top < rowHeight/2 {
		return
	}
	c.top = min(c.top+float64(added)*rowHeight, float64(l.ViewLen())*rowHeight)
	c.scrollTo(ctx, c.top)
}

// scrollTo sets the list's scroll position once it has been rendered.
func (c *LogView) scrollTo(ctx app.Context, top float64) {
	ctx.Defer(func(app.Context) {
		if e := elementByID("log-scroll"); e != nil {
			e.Set("scrollTop", top)
		}
	})
}

// setFilter changes the log filter from one of the filter fields.
func (c *LogView) setFilter(ctx app.Context, f uistate.Filter) {
	c.top = 0
	c.scrollTo(ctx, 0)
	c.Hub.Change(ctx, func(m *uistate.Model) uistate.Changed {
		m.Log.SetFilter(f)
		return uistate.ChangedLog
	})
}

// Render draws the toolbar and the rows in view.
func (c *LogView) Render() app.UI {
	h := c.Hub
	m := h.m
	l := m.Log
	f := l.Filter()
	n := l.ViewLen()
	first := max(0, int(c.top/rowHeight)-overscan)
	last := min(n, int((c.top+c.height)/rowHeight)+overscan+1)
	rows := make([]app.UI, 0, max(0, last-first))
	for i := first; i < last; i++ {
		rows = append(rows, c.row(i, l.Newest(i)))
	}
	pause := "Pause"
	if l.Paused() {
		pause = "Resume"
		if k := l.Held(); k > 0 {
			pause += " (" + strconv.Itoa(k) + " new)"
		}
	}
	count := m.LogSummary(n)
	return app.Section().ID("log").Class("card log").Aria("labelledby", "log-title").Body(
		app.Div().Class("row").Body(
			app.H2().ID("log-title").Text("Messages"),
			app.Span().ID("log-count").Class("muted small grow").Aria("live", "off").Text(count),
			app.Button().ID("log-pause").Type("button").Class("btn small").Aria("pressed", l.Paused()).Text(pause).
				OnClick(func(ctx app.Context, e app.Event) {
					h.Change(ctx, func(m *uistate.Model) uistate.Changed {
						if m.Log.Paused() {
							m.Log.Resume()
						} else {
							m.Log.Pause()
						}
						return uistate.ChangedLog
					})
				}),
			app.Button().ID("log-export-jsonl").Type("button").Class("btn small").Text("Export JSON lines").
				Title("The messages shown (filter applied), oldest first, one JSON object a line").
				OnClick(func(ctx app.Context, e app.Event) {
					download("tern-messages.jsonl", "application/jsonl", h.m.Log.ExportJSONLines())
				}),
			app.Button().ID("log-export-csv").Type("button").Class("btn small").Text("CSV").
				Title("The messages shown (filter applied), oldest first, as CSV").
				OnClick(func(ctx app.Context, e app.Event) { download("tern-messages.csv", "text/csv", h.m.Log.ExportCSV()) }),
			app.Button().ID("log-clear").Type("button").Class("btn small").Text("Clear").
				OnClick(func(ctx app.Context, e app.Event) {
					c.top = 0
					h.Change(ctx, func(m *uistate.Model) uistate.Changed { m.ClearLog(); return uistate.ChangedLog | uistate.ChangedSubs })
				}),
		),
		app.Div().Class("row filters").Body(
			app.Label().For("log-filter-topic").Class("sr-only").Text("Filter by topic"),
			c.typed.input(app.Input().ID("log-filter-topic").Type("search").Class("grow mono"), "log-filter-topic", f.Topic).
				Placeholder("Filter topic (text or MQTT filter, e.g. sensors/+/temp)").Spellcheck(false).
				OnInput(func(ctx app.Context, e app.Event) {
					f := l.Filter()
					f.Topic = c.typed.read(ctx)
					c.setFilter(ctx, f)
				}),
			app.Label().For("log-filter-text").Class("sr-only").Text("Filter by payload"),
			c.typed.input(app.Input().ID("log-filter-text").Type("search").Class("grow"), "log-filter-text", f.Text).
				Placeholder("Filter payload text").Spellcheck(false).
				OnInput(func(ctx app.Context, e app.Event) {
					f := l.Filter()
					f.Text = c.typed.read(ctx)
					c.setFilter(ctx, f)
				}),
		),
		app.Div().ID("log-scroll").Class("log-scroll").TabIndex(0).Role("listbox").
			Aria("label", "Messages, newest first; use the arrow keys to select").
			Aria("activedescendant", activeRow(m)).
			OnKeyDown(c.onKey).OnClick(c.onClick).Body(
			app.If(n == 0, app.P().Class("empty muted").Text(emptyText(m))),
			app.Div().Class("log-spacer").Style("height", px(float64(n)*rowHeight)).Body(rows...),
		),
		app.P().ID("log-legend").Class("muted small legend").Text("Flags: "+uistate.FlagsLegend),
	)
}

func activeRow(m *uistate.Model) string {
	if m.Selected == 0 {
		return ""
	}
	return "row-" + strconv.FormatUint(m.Selected, 10)
}

func emptyText(m *uistate.Model) string {
	switch {
	case !m.Log.Filter().IsZero() && m.Log.Len() > 0:
		return "No message matches the filter."
	case m.Subs.Len() == 0:
		return "No messages yet. Subscribe to a topic filter (# for all) to see messages here."
	case m.Log.Paused():
		return "Paused."
	}
	return "No messages yet."
}

// row renders the i-th row (newest first).
func (c *LogView) row(i int, msg *uistate.Message) app.UI {
	m := c.Hub.m
	selected := msg.Seq == m.Selected
	color := m.Subs.Color(msg.Sub)
	if color == "" {
		color = "transparent"
	}
	return app.Div().ID("row-"+strconv.FormatUint(msg.Seq, 10)).Class("log-row").
		Role("option").Aria("selected", selected).DataSet("seq", msg.Seq).
		Style("top", px(float64(i)*rowHeight)).Body(
		app.Span().Class("log-bar").Style("background", color).Aria("hidden", "true"),
		app.Span().Class("log-time").Text(clock(msg.Time)),
		app.Span().Class("log-topic").Text(msg.Topic),
		app.Span().Class("log-flags").Title(msg.FlagsTitle()).Text(msg.Flags()),
		app.Span().Class("log-payload").Text(uistate.PreviewAs(msg.Payload, m.Format, previewRunes)),
	)
}

// onClick selects the clicked row: one handler for the whole list rather
// than one per row.
func (c *LogView) onClick(ctx app.Context, e app.Event) {
	row := e.Get("target").Call("closest", ".log-row")
	if row.IsNull() || row.IsUndefined() {
		return
	}
	seq, err := strconv.ParseUint(row.Get("dataset").Get("seq").String(), 10, 64)
	if err != nil {
		return
	}
	c.Hub.Change(ctx, func(m *uistate.Model) uistate.Changed { m.Selected = seq; return uistate.ChangedLog })
}

// onKey moves the selection with the keyboard.
func (c *LogView) onKey(ctx app.Context, e app.Event) {
	l := c.Hub.m.Log
	n := l.ViewLen()
	if n == 0 {
		return
	}
	cur := l.IndexOf(c.Hub.m.Selected)
	page := max(1, int(c.height/rowHeight)-1)
	next := cur
	switch e.Get("key").String() {
	case "ArrowDown":
		next = cur + 1
	case "ArrowUp":
		next = cur - 1
		if cur < 0 {
			next = 0
		}
	case "PageDown":
		next = cur + page
	case "PageUp":
		next = cur - page
	case "Home":
		next = 0
	case "End":
		next = n - 1
	case "Escape":
		c.Hub.Change(ctx, func(m *uistate.Model) uistate.Changed { m.Selected = 0; return uistate.ChangedLog })
		return
	default:
		return
	}
	e.PreventDefault()
	next = min(max(next, 0), n-1)
	seq := l.Newest(next).Seq
	rowTop := float64(next) * rowHeight
	switch {
	case rowTop < c.top:
		c.top = rowTop
		c.scrollTo(ctx, c.top)
	case rowTop+rowHeight > c.top+c.height:
		c.top = rowTop + rowHeight - c.height
		c.scrollTo(ctx, c.top)
	}
	c.Hub.Change(ctx, func(m *uistate.Model) uistate.Changed { m.Selected = seq; return uistate.ChangedLog })
}

// Detail shows the selected message in full.
type Detail struct {
	app.Compo
	Hub *Hub

	all uint64 // the message whose payload is shown in full
}

// OnMount observes the log (the selection lives there) and the settings.
func (d *Detail) OnMount(ctx app.Context) {
	observe(ctx, uistate.ChangedLog|uistate.ChangedSubs|uistate.ChangedSettings, nil)
}

// Render draws the message, its properties and its payload.
func (d *Detail) Render() app.UI {
	h := d.Hub
	m := h.m
	msg := m.SelectedMessage()
	if msg == nil {
		return app.Section().ID("detail").Class("card detail").Aria("label", "Selected message").Body(
			app.P().Class("muted").Text("Select a message to see it in full (click it, or use ↑ ↓ in the list)."),
		)
	}
	limit := uistate.DetailLimit
	if d.all == msg.Seq {
		limit = 0
	}
	text, used, cut := uistate.FormatPayloadLimit(msg.Payload, m.Format, limit)
	seq := msg.Seq
	var subs []app.UI
	for _, s := range m.Subs.Matching(msg.Topic) {
		subs = append(subs, app.Span().Class("chip").Style("--c", s.Color).Text(s.Filter))
	}
	kv := [][2]string{
		{"Received", msg.Time.Format("2006-01-02 15:04:05.000")},
		{"QoS", strconv.Itoa(int(msg.QoS))},
		{"Retain", yesNo(msg.Retain)},
		{"Duplicate", yesNo(msg.Dup)},
		{"Size", size(len(msg.Payload))},
	}
	return app.Section().ID("detail").Class("card detail").Aria("labelledby", "detail-title").Body(
		app.Div().Class("row").Body(
			app.H2().ID("detail-title").Class("grow").Text("Message"),
			app.Button().ID("detail-topublish").Type("button").Class("btn small").Text("Edit & publish").
				Title("Copy topic, payload and properties into the publish form").
				OnClick(func(ctx app.Context, e app.Event) {
					h.Change(ctx, func(m *uistate.Model) uistate.Changed {
						m.Draft = uistate.FromMessage(msg)
						return uistate.ChangedPublish
					})
					focus("pub-payload")
				}),
			app.Button().Type("button").Class("btn ghost small").Aria("label", "Close").Text("×").
				OnClick(func(ctx app.Context, e app.Event) {
					h.Change(ctx, func(m *uistate.Model) uistate.Changed { m.Selected = 0; return uistate.ChangedLog })
				}),
		),
		app.P().ID("detail-topic").Class("mono topic").Text(msg.Topic),
		app.If(len(subs) > 0, app.Div().Class("chips").Body(subs...)),
		app.Table().Class("kv").Body(app.TBody().Body(
			app.Range(kv).Slice(func(i int) app.UI {
				return app.Tr().Body(app.Th().Scope("row").Text(kv[i][0]), app.Td().Text(kv[i][1]))
			}),
		)),
		properties(msg.Props),
		app.Div().Class("row").Body(
			app.H3().Class("grow").Text("Payload"),
			formatSelect(h, "detail-format", used),
		),
		app.Pre().ID("detail-payload").Class("payload", "fmt-"+used.String()).Text(text),
		showAll(cut, len(msg.Payload), func() { d.all = seq }),
	)
}

// showAll is the "Show all" button under a payload cut for the page.
func showAll(cut bool, n int, show func()) app.UI {
	if !cut {
		return nil
	}
	return app.Button().Class("btn small show-all").Type("button").Text("Show all (" + size(n) + ")").
		OnClick(func(ctx app.Context, e app.Event) { show() })
}

// formatSelect is the payload format switch, one for the log, the
// message detail and the topic tree (Model.Format); used is the format
// auto chose for the payload shown beside it.
func formatSelect(h *Hub, id string, used uistate.Format) app.UI {
	m := h.m
	return app.Span().Body(
		app.Label().For(id).Class("sr-only").Text("Payload format"),
		app.Select().ID(id).Class("fmt-select").Title("How payloads are shown, here, in the log and in the topic tree").
			OnChange(func(ctx app.Context, e app.Event) {
				f := uistate.ParseFormat(inputValue(ctx))
				h.Change(ctx, func(m *uistate.Model) uistate.Changed {
					m.Format = f
					return uistate.ChangedSettings | uistate.ChangedLog
				})
			}).Body(app.Range(uistate.Formats).Slice(func(i int) app.UI {
			f := uistate.Formats[i]
			label := formatLabel(f)
			if f == uistate.FormatAuto && m.Format == uistate.FormatAuto && used != uistate.FormatAuto {
				label += " (" + formatLabel(used) + ")"
			}
			return app.Option().Value(f.String()).Selected(f == m.Format).Text(label)
		})),
	)
}

func formatLabel(f uistate.Format) string {
	switch f {
	case uistate.FormatText:
		return "Text"
	case uistate.FormatJSON:
		return "JSON"
	case uistate.FormatHex:
		return "Hex"
	case uistate.FormatBase64:
		return "Base64"
	}
	return "Auto"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// properties renders the MQTT 5.0 properties of a message.
func properties(p *codec.Properties) app.UI {
	if p == nil {
		return nil
	}
	var kv [][2]string
	if p.Has(codec.PropPayloadFormatIndicator) {
		v := "0 (unspecified bytes)"
		if p.PayloadFormatIndicator == 1 {
			v = "1 (UTF-8 text)"
		}
		kv = append(kv, [2]string{"Payload format", v})
	}
	if p.Has(codec.PropMessageExpiryInterval) {
		kv = append(kv, [2]string{"Message expiry", strconv.FormatUint(uint64(p.MessageExpiryInterval), 10) + " s"})
	}
	if p.ContentType != "" {
		kv = append(kv, [2]string{"Content type", p.ContentType})
	}
	if p.ResponseTopic != "" {
		kv = append(kv, [2]string{"Response topic", p.ResponseTopic})
	}
	if p.CorrelationData != nil {
		v := string(p.CorrelationData)
		if !utf8.Valid(p.CorrelationData) {
			v = strings.TrimSpace(uistate.HexDump(p.CorrelationData))
		}
		kv = append(kv, [2]string{"Correlation data", v})
	}
	if len(p.SubscriptionIdentifiers) > 0 {
		ids := make([]string, len(p.SubscriptionIdentifiers))
		for i, id := range p.SubscriptionIdentifiers {
			ids[i] = strconv.Itoa(id)
		}
		kv = append(kv, [2]string{"Subscription identifiers", strings.Join(ids, ", ")})
	}
	for _, u := range p.UserProperties {
		kv = append(kv, [2]string{u.Key, u.Value})
	}
	if len(kv) == 0 {
		return nil
	}
	return app.Div().ID("detail-props").Body(
		app.H3().Text("Properties (MQTT 5.0)"),
		app.Table().Class("kv props").Body(app.TBody().Body(
			app.Range(kv).Slice(func(i int) app.UI {
				return app.Tr().Body(app.Th().Scope("row").Text(kv[i][0]), app.Td().Class("mono").Text(kv[i][1]))
			}),
		)),
	)
}
