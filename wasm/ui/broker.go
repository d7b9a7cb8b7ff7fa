package ui

// The Broker page shows what a broker says about itself under $SYS/, with
// Mosquitto's topic names (uistate.Sys reads them): tiles for the figures
// an operator looks at first and two charts. Like the topic tree it reads
// the page's one connection: once the page has been opened, the
// connection subscribes to $SYS/# for it (uistate.SinkSys) beside the
// log's and the tree's subscriptions. A ticker (one Dispatch a second
// while subscribed) moves the page's clock on, so that "no $SYS" is
// reported and stale rates fall to zero.

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/maxence-charriere/go-app/v9/pkg/app"

	"github.com/ternmq/tern/wasm/service"
	"github.com/ternmq/tern/wasm/uistate"
)

// PathBroker is the Broker page's route.
const PathBroker = "/broker"

// keySys is the go-app state key of the Broker page.
const keySys = "tern/sys"

// sysSubID is the subscription id of the $SYS/# subscription (negative:
// the log's are positive).
const sysSubID = -3

// brokerHub is the Broker page's state.
type brokerHub struct {
	h   *Hub
	sys uistate.Sys

	active     bool             // the page was opened: it follows the connection
	subscribed *service.Service // the connection subscribed for the page
	err        string           // why subscribing failed
	stopT      chan struct{}    // closes the ticker
}

func newBrokerHub(h *Hub) *brokerHub { return &brokerHub{h: h} }

// broker returns the Hub's Broker page state.
func (h *Hub) broker() *brokerHub { return h.brk }

// open is called when the page mounts: from now on it follows the page's
// connection.
func (x *brokerHub) open(ctx app.Context) {
	x.active = true
	x.follow(ctx)
}

// follow subscribes the connection to $SYS/# when it is connected and has
// not been subscribed for the page yet, and stops reading when the page
// disconnects; it is called on every change of the connection.
func (x *brokerHub) follow(ctx app.Context) {
	svc := x.h.svc
	switch {
	case !x.active:
		return
	case svc == nil || x.h.m.Conn.State == uistate.Disconnected || x.h.m.Conn.State == uistate.Failed:
		if x.subscribed != nil {
			x.stop()
		}
	case x.subscribed != svc && x.h.m.Conn.State == uistate.Connected:
		x.stop()
		x.subscribed, x.err = svc, ""
		x.sys.Subscribed(time.Now())
		x.subscribe(svc)
		x.startTicker(svc)
	}
	x.changed(ctx)
}

// stop ends reading the connection; the last values stay on screen.
func (x *brokerHub) stop() {
	if x.stopT != nil {
		close(x.stopT)
		x.stopT = nil
	}
	x.subscribed = nil
	x.sys.Stop()
}

func (x *brokerHub) startTicker(svc *service.Service) {
	stop := make(chan struct{})
	x.stopT = stop
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				x.h.dispatch(func(ctx app.Context) { x.tick(ctx, svc) })
			}
		}
	}()
}

func (x *brokerHub) changed(ctx app.Context) { x.h.bump(ctx, keySys) }

func (x *brokerHub) tick(ctx app.Context, svc *service.Service) {
	if x.subscribed != svc {
		return
	}
	x.sys.Tick(time.Now())
	x.changed(ctx)
}

// apply applies the page's part of an update of the page's connection
// svc, on the UI goroutine.
func (x *brokerHub) apply(ctx app.Context, svc *service.Service, u uistate.Update) {
	if len(u.Conn) > 0 {
		x.follow(ctx)
	}
	if x.subscribed != svc {
		return
	}
	n := 0
	for i := range u.Messages {
		m := &u.Messages[i]
		if m.Sinks&uistate.SinkSys != 0 {
			x.sys.Apply(m.Topic, m.Payload, m.Time)
			n++
		}
	}
	if n > 0 {
		x.changed(ctx)
	}
}

// subscribe subscribes svc to $SYS/#; a refusal is shown on the page.
func (x *brokerHub) subscribe(svc *service.Service) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		code, err := svc.Subscribe(ctx, uistate.SinkSys, uistate.Subscription{ID: sysSubID, Filter: uistate.SysFilter})
		if err == nil && code.IsError() {
			err = fmt.Errorf("%v", code)
		}
		if err != nil {
			x.h.dispatch(func(ctx app.Context) {
				if x.subscribed == svc {
					x.sys.Refused(err.Error())
					x.changed(ctx)
				}
			})
		}
	}()
}

// BrokerPage is the Broker page: the connection bar, the status of $SYS,
// the tiles and the charts.
type BrokerPage struct {
	app.Compo
	Hub *Hub
}

// OnMount starts the page's $SYS connection when the page is connected,
// and follows the page's connection from then on.
func (p *BrokerPage) OnMount(ctx app.Context) {
	h := p.Hub
	h.attach(ctx)
	observe(ctx, uistate.ChangedConn, nil)
	observeKey(ctx, keySys, nil)
	h.broker().open(ctx)
}

// Render draws the page.
func (p *BrokerPage) Render() app.UI {
	x := p.Hub.broker()
	st, why := x.sys.Status()
	tiles := x.sys.Tiles()
	return app.Div().Class("page broker").Body(
		&ConnBar{Hub: p.Hub},
		app.Section().Class("card").Aria("labelledby", "sys-title").Body(
			app.Div().Class("row").Body(
				app.H2().ID("sys-title").Class("grow").Text("Broker"),
				app.Span().ID("sys-state").Class("pill", "state-"+sysClass(st)).Role("status").Text(st.String()),
				app.Span().ID("sys-count").Class("muted small").Text(sysCount(&x.sys)),
			),
			p.notice(x, st, why),
			app.Div().ID("sys-tiles").Class("sys-tiles").Body(
				app.Range(tiles).Slice(func(i int) app.UI {
					tl := tiles[i]
					return app.Div().ID("sys-tile-"+tl.Key).Class("sys-tile").DataSet("key", tl.Key).Body(
						app.Div().Class("sys-label muted small").Text(tl.Label),
						app.Div().Class("sys-value mono").Text(tl.Value),
						app.If(tl.Detail != "", app.Div().Class("sys-detail muted small mono").Text(tl.Detail)),
					)
				}),
			),
		),
		app.Div().Class("sys-charts").Body(
			sysChart("sys-chart-rates", "PUBLISH per second", x.sys.Rates()),
			sysChart("sys-chart-clients", "Connected clients", x.sys.Clients()),
		),
	)
}

// notice explains the states in which the page shows no figures.
func (p *BrokerPage) notice(x *brokerHub, st uistate.SysStatus, why string) app.UI {
	var msg string
	switch {
	case x.err != "":
		msg = "The Broker page's connection failed: " + x.err
	case st == uistate.SysOff && x.subscribed == nil:
		msg = "Connect to see what the broker publishes under $SYS/."
	case st == uistate.SysNone:
		msg = "This broker publishes no $SYS topics: nothing arrived on $SYS/# in " +
			strconv.Itoa(int(uistate.SysWait/time.Second)) + " s. Tern publishes them when started with --sys-interval; " +
			"Mosquitto every sys_interval seconds (10 by default)."
	case st == uistate.SysRefused:
		msg = "The broker refused the subscription to $SYS/# (" + why + "): your user may not read $SYS."
	}
	if msg == "" {
		return app.Div().ID("sys-notice-none").Hidden(true)
	}
	return app.P().ID("sys-notice").Class("notice").Role("status").Text(msg)
}

func sysChart(id, title string, series []*uistate.SysSeries) app.UI {
	return app.Section().ID(id).Class("card sys-chart").Aria("label", title).Body(
		app.Div().Class("row").Body(
			app.H2().Class("grow").Text(title),
			app.Range(series).Slice(func(i int) app.UI {
				s := series[i]
				last := ""
				if p := s.Points(); len(p) > 0 {
					last = " " + uistate.SysNumber(p[len(p)-1].V)
				}
				return app.Span().Class("chip").Style("--c", s.Color).Text(s.Label + last)
			}),
		),
		app.Div().Class("tt-chart-box").Body(app.Raw(uistate.SysChartSVG(title, series, 560, 160))),
	)
}

func sysClass(s uistate.SysStatus) string {
	switch s {
	case uistate.SysLive:
		return "ok"
	case uistate.SysWaiting:
		return "busy"
	case uistate.SysNone, uistate.SysRefused:
		return "bad"
	}
	return "off"
}

func sysCount(s *uistate.Sys) string {
	if s.Messages() == 0 {
		return ""
	}
	return strconv.Itoa(s.Messages()) + " $SYS messages, last at " + s.Last().Format("15:04:05")
}
