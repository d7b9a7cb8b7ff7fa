// Command app is Tern's web client, built for the browser:
//
//	GOOS=js GOARCH=wasm go build -trimpath -ldflags="-s -w" -o bin/app.wasm ./wasm/cmd/app
//
// (make wasm does this and compresses the result into web/dist). The
// broker serves it with the handler of package web, which answers the
// same routes (uistate.Routes) with a placeholder page until this program
// starts and replaces it.
package main

import (
	"github.com/maxence-charriere/go-app/v9/pkg/app"

	"github.com/ternmq/tern/wasm/ui"
)

func main() {
	ui.Register(ui.NewHub(ui.BrowserEnv()))
	app.RunWhenOnBrowser()
}
