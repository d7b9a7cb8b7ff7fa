package ui

// The Broker page shows what a broker says about itself under $SYS/, with
// Mosquitto's topic names (uistate.Sys reads them): tiles for the figures
// an operator looks at first and two charts. Like the topic tree it has
// an MQTT service of its own (wasm/service), subscribed to $SYS/#, which
// follows the page's connection: it starts when the page is connected and
// the Broker page is open, and stops when the page disconnects. A ticker
// (one Dispatch a second while connected) moves the page's clock on, so
// that "no $SYS" is reported and stale rates fall to zero.

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/maxence-charriere/go-app/v9/pkg/app"

	"github.com/ternmq/tern/wasm/service"
	"github.com/ternmq/tern/wasm/uistate"
)

// PathBroker is the Broker page's route.
const PathBroker = "/broker"

// keySys is the go-app state key of the Broker page.
const keySys = "tern/sys"

// sysSubID is the subscription id of the $SYS/# subscription.
const sysSubID = 1

// brokerHub is the Broker page's state and its MQTT connection.
type brokerHub struct {
	h    *Hub
	sys  uistate.Sys
	revs revs

	svc   *service.Service
	state uistate.ConnState
	err   string
	stopT chan struct{} // closes the ticker
}

var (
	brokerMu sync.Mutex
	brokerOf = map[*Hub]*brokerHub{}
)

// broker returns the Hub's Broker page state, creating it on first use.
func (h *Hub) broker() *brokerHub {
	brokerMu.Lock()
	defer brokerMu.Unlock()
	x := brokerOf[h]
	if x == nil {
		x = &brokerHub{h: h, revs: revs{}}
		brokerOf[h] = x
	}
	return x
}

// follow starts the connection when the page is connected and stops it
// when the page disconnects.
func (x *brokerHub) follow(ctx app.Context) {
	switch x.h.m.Conn.State {
	case uistate.Connected:
		if x.svc == nil {
			x.start(ctx)
		}
	case uistate.Disconnected, uistate.Failed:
		if x.svc != nil {
			x.stop(ctx)
		}
	}
}

// start connects with the page's connection form (its own client id, a
// clean session, no will).
func (x *brokerHub) start(ctx app.Context) {
	prof := x.h.m.Form
	prof.CleanStart, prof.SessionExpiry, prof.Will = true, 0, nil
	x.state, x.err = uistate.Connecting, ""
	var svc *service.Service
	svc = service.New(service.Options{
		Profile:    prof,
		ClientID:   x.h.m.TabClientID + "-sys",
		MaxPending: 10_000,
		OnUpdate: func(u uistate.Update) {
			postTo(x.h, func(ctx app.Context) { x.apply(ctx, svc, u) })
		},
	})
	x.svc = svc
	stopT := make(chan struct{})
	x.stopT = stopT
	go func() {
		cctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
		defer cancel()
		svc.Connect(cctx) // the outcome arrives as an update
	}()
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stopT:
				return
			case <-tick.C:
				postTo(x.h, func(ctx app.Context) { x.tick(ctx, svc) })
			}
		}
	}()
	x.changed(ctx)
}

// stop closes the connection; the last values stay on screen.
func (x *brokerHub) stop(ctx app.Context) {
	if svc := x.svc; svc != nil {
		x.svc = nil
		close(x.stopT)
		go svc.Close()
	}
	x.state = uistate.Disconnected
	x.sys.Stop()
	x.changed(ctx)
}

func (x *brokerHub) changed(ctx app.Context) { x.revs.bump(ctx, keySys) }

func (x *brokerHub) tick(ctx app.Context, svc *service.Service) {
	if x.svc != svc {
		return
	}
	x.sys.Tick(time.Now())
	x.changed(ctx)
}

// apply applies an update of svc on the UI goroutine.
func (x *brokerHub) apply(ctx app.Context, svc *service.Service, u uistate.Update) {
	if x.svc != svc {
		return
	}
	for _, e := range u.Conn {
		x.state, x.err = e.State, ""
		if e.Failure != nil {
			x.err = e.Failure.Text
		}
		if e.State == uistate.Connected {
			x.sys.Subscribed(time.Now())
			x.subscribe(svc)
		}
	}
	for i := range u.Messages {
		m := &u.Messages[i]
		x.sys.Apply(m.Topic, m.Payload, m.Time)
	}
	x.changed(ctx)
}

// subscribe subscribes to $SYS/#; a refusal is shown on the page.
func (x *brokerHub) subscribe(svc *service.Service) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		code, err := svc.Subscribe(ctx, uistate.Subscription{ID: sysSubID, Filter: uistate.SysFilter})
		if err == nil && code.IsError() {
			err = fmt.Errorf("%v", code)
		}
		if err != nil {
			postTo(x.h, func(ctx app.Context) {
				if x.svc == svc {
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
	x := h.broker()
	observe(ctx, uistate.ChangedConn, func() { x.follow(ctx) })
	observeKey(ctx, keySys, nil)
	x.follow(ctx)
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
	case st == uistate.SysOff && x.svc == nil:
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
