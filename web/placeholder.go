//go:build !wasm

package web

import (
	"github.com/maxence-charriere/go-app/v9/pkg/app"

	"github.com/ternmq/tern/wasm/uistate"
)

// placeholder is what the server renders for every route of the web
// client: the header with the tabs (plain links) and a line saying the
// client is loading. go-app's server side needs a component per route
// to answer the route at all (other paths are 404), but the browser
// replaces the page's first element with its own tree when app.wasm
// starts, so prerendering the real components (wasm/ui) would only
// link the whole UI into the broker binary for HTML nobody keeps.
type placeholder struct {
	app.Compo
	path     string
	mqttPath string
}

// Render draws the frame of wasm/ui's Shell with no page in it.
func (p *placeholder) Render() app.UI {
	return app.Div().ID("tern-app").Class("app").Body(
		app.Header().Class("top").Body(
			app.A().Href("/").Class("brand").Title("Tern MQTT web client").Body(
				app.Img().Src("/web/icon.svg").Alt("").Width(28).Height(28),
				app.Span().Text("Tern"),
			),
			app.Nav().Class("tabs").Aria("label", "Pages").Body(
				app.Range(uistate.Routes).Slice(func(i int) app.UI {
					r := uistate.Routes[i]
					a := app.A().Href(r.Path).Class("tab").Text(r.Title)
					if r.Path == p.path {
						a = a.Class("active").Aria("current", "page")
					}
					return a
				}),
			),
		),
		app.Main().ID("main").Body(
			app.P().Class("muted").Text("Loading the web client…"),
			app.P().Class("muted").Body(
				app.Text("MQTT over WebSocket is served at "),
				app.Code().Text(p.mqttPath),
				app.Text(" on this host and port (subprotocol "),
				app.Code().Text("mqtt"),
				app.Text(")."),
			),
		),
	)
}

// registerPlaceholders registers a placeholder for every route of the
// client with go-app. go-app's routes are global: the last handler made
// in a process sets the MQTT path shown.
func registerPlaceholders(mqttPath string) {
	for _, r := range uistate.Routes {
		path := r.Path
		app.RouteFunc(path, func() app.Composer { return &placeholder{path: path, mqttPath: mqttPath} })
	}
}
