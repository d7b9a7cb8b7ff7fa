package uistate

import "net/url"

// AdminOrigin returns the origin ("http://host:port") of the broker's
// admin API when the page may try it for a connection to dialURL: the
// WebSocket is on the page's own origin (so the broker that serves the
// page is the one connected to, and the API refuses other origins anyway)
// and the connection has a username and a password for HTTP basic
// credentials. Otherwise it returns "".
func AdminOrigin(dialURL, pageURL, username, password string) string {
	if username == "" || password == "" {
		return ""
	}
	ws, err := url.Parse(dialURL)
	if err != nil {
		return ""
	}
	page, err := url.Parse(pageURL)
	if err != nil || !sameOrigin(ws, page) {
		return ""
	}
	return page.Scheme + "://" + page.Host
}
