package main

import (
	"log/slog"
	"net/http"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/broker/adminhttp"
)

// The admin API on the HTTP port (package broker/adminhttp: endpoints,
// JSON, the origin and credential checks) for users of the password file
// that --admin names or the ACL makes admins.

// adminACLTopic is the topic an ACL grants write access to in order to
// make a user an admin: "user NAME" followed by "topic write
// $CONTROL/tern/admin".
const adminACLTopic = "$CONTROL/tern/admin"

// adminAPI serves the admin endpoints.
type adminAPI struct {
	srv    *broker.Server
	sec    *security
	admins map[string]bool
	log    *slog.Logger
}

// register adds the admin endpoints to mux. Without a password file there
// is no one to authenticate, and the API is off.
func (a *adminAPI) register(mux *http.ServeMux) {
	if a.sec == nil || a.sec.users == nil {
		a.log.Info("admin API off: it needs --password-file")
		return
	}
	adminhttp.Register(mux, adminhttp.Options{Server: a.srv, Users: a.sec.users, IsAdmin: a.isAdmin, Logger: a.log})
}

// isAdmin reports whether user may use the admin API.
func (a *adminAPI) isAdmin(user string) bool {
	if a.admins[user] {
		return true
	}
	return a.sec.rules != nil && a.sec.rules.Authorize(broker.Client{Username: user}, broker.Write, adminACLTopic)
}

// basicAuth checks the request's HTTP basic credentials against the
// password file. On failure it answers 401 and reports false.
func (sec *security) basicAuth(w http.ResponseWriter, r *http.Request, realm string) (string, bool) {
	var users broker.Authenticator
	if sec != nil && sec.users != nil {
		users = sec.users
	}
	return adminhttp.BasicAuth(w, r, realm, users)
}

// adminSet returns the --admin users as a set.
func adminSet(users []string) map[string]bool {
	m := make(map[string]bool, len(users))
	for _, u := range users {
		m[u] = true
	}
	return m
}
