package uistate

// Route is one page of the web client: its path and its tab title.
type Route struct {
	Path  string
	Title string
}

// Routes lists the web client's pages in tab order. The browser renders
// them with the components of wasm/ui (ui.Pages, which a test keeps equal
// to this list); the broker's web handler registers the same paths with
// go-app's server side, without linking the components.
var Routes = []Route{
	{Path: "/", Title: "Messages"},
	{Path: "/connection", Title: "Connection"},
	{Path: "/tree", Title: "Topic tree"},
	{Path: "/chat", Title: "Chat"},
	{Path: "/broker", Title: "Broker"},
}
