package main

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/codec"
)

// This file is the admin API on the HTTP port: JSON over HTTP, for users
// of the password file that --admin names or the ACL makes admins.
//
//	GET    /api/v1/clients                 connected clients
//	DELETE /api/v1/clients/{id}            disconnect a client (5.0: DISCONNECT 0x98)
//	GET    /api/v1/sessions                sessions, online or not
//	DELETE /api/v1/sessions/{id}           end a session
//	GET    /api/v1/retained?filter=F       retained messages whose topic matches F (default #)
//	DELETE /api/v1/retained?filter=F       delete them (F required)
//
// Every request needs an Authorization header with HTTP basic credentials
// (401 without valid ones) of an admin (403 for other users). A browser
// must not be able to use the API from another site with credentials it
// holds: a request whose Origin is not the API's own is refused (403), as
// is one that a browser marks Sec-Fetch-Site: cross-site, and no CORS
// header is ever sent, so a cross-origin DELETE fails its preflight.

// adminACLTopic is the topic an ACL grants write access to in order to
// make a user an admin: "user NAME" followed by "topic write
// $CONTROL/tern/admin".
const adminACLTopic = "$CONTROL/tern/admin"

// maxRetainedList bounds one retained listing; ?limit= may ask for less.
const maxRetainedList = 100_000

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
	mux.Handle("GET /api/v1/clients", a.guard(a.listClients))
	mux.Handle("DELETE /api/v1/clients/{id...}", a.guard(a.kickClient))
	mux.Handle("GET /api/v1/sessions", a.guard(a.listSessions))
	mux.Handle("DELETE /api/v1/sessions/{id...}", a.guard(a.deleteSession))
	mux.Handle("GET /api/v1/retained", a.guard(a.listRetained))
	mux.Handle("DELETE /api/v1/retained", a.guard(a.deleteRetained))
}

// isAdmin reports whether user may use the admin API.
func (a *adminAPI) isAdmin(user string) bool {
	if a.admins[user] {
		return true
	}
	return a.sec.rules != nil && a.sec.rules.Authorize(broker.Client{Username: user}, broker.Write, adminACLTopic)
}

// guard checks origin, credentials and admin rights before h.
func (a *adminAPI) guard(h func(w http.ResponseWriter, r *http.Request, user string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if crossOrigin(r) {
			jsonError(w, http.StatusForbidden, "cross-origin requests are refused")
			return
		}
		user, ok := a.sec.basicAuth(w, r, "tern admin")
		if !ok {
			return
		}
		if !a.isAdmin(user) {
			a.log.Warn("admin API: not an admin", "username", user, "remote", r.RemoteAddr, "path", r.URL.Path)
			jsonError(w, http.StatusForbidden, "not an admin")
			return
		}
		h(w, r, user)
	})
}

// crossOrigin reports whether a browser sent r from another origin.
func crossOrigin(r *http.Request) bool {
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return true
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return false
	}
	u, err := url.Parse(o)
	return err != nil || !strings.EqualFold(u.Host, r.Host)
}

// basicAuth checks the request's HTTP basic credentials against the
// password file. On failure it answers 401 and reports false.
func (sec *security) basicAuth(w http.ResponseWriter, r *http.Request, realm string) (string, bool) {
	user, pass, ok := r.BasicAuth()
	if ok && sec != nil && sec.users != nil && user != "" {
		l := &broker.Login{
			Connect:  &codec.Connect{Username: user, HasUsername: true, Password: []byte(pass)},
			ClientID: "http:" + user,
			Remote:   remoteAddr(r),
		}
		if sec.users.Authenticate(r.Context(), l) == codec.Success {
			return user, true
		}
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="`+realm+`", charset="UTF-8"`)
	jsonError(w, http.StatusUnauthorized, "valid credentials required")
	return "", false
}

func (a *adminAPI) listClients(w http.ResponseWriter, _ *http.Request, _ string) {
	writeJSON(w, http.StatusOK, map[string]any{"clients": a.srv.Clients()})
}

func (a *adminAPI) kickClient(w http.ResponseWriter, r *http.Request, user string) {
	id := r.PathValue("id")
	err := a.srv.Kick(r.Context(), id)
	a.log.Info("admin API: kick", "username", user, "client", id, "err", err)
	a.answer(w, err, nil)
}

func (a *adminAPI) listSessions(w http.ResponseWriter, _ *http.Request, _ string) {
	writeJSON(w, http.StatusOK, map[string]any{"sessions": a.srv.Sessions()})
}

func (a *adminAPI) deleteSession(w http.ResponseWriter, r *http.Request, user string) {
	id := r.PathValue("id")
	err := a.srv.DeleteSession(r.Context(), id)
	a.log.Info("admin API: delete session", "username", user, "client", id, "err", err)
	a.answer(w, err, nil)
}

func (a *adminAPI) listRetained(w http.ResponseWriter, r *http.Request, _ string) {
	filter := r.URL.Query().Get("filter")
	if filter == "" {
		filter = "#"
	}
	limit := maxRetainedList
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			jsonError(w, http.StatusBadRequest, "limit must be a positive number")
			return
		}
		limit = min(n, maxRetainedList)
	}
	list := []broker.RetainedInfo{}
	truncated := false
	err := a.srv.RetainedMessages(filter, func(ri broker.RetainedInfo) bool {
		if len(list) == limit {
			truncated = true
			return false
		}
		list = append(list, ri)
		return true
	})
	if err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"filter": filter, "retained": list, "truncated": truncated})
}

func (a *adminAPI) deleteRetained(w http.ResponseWriter, r *http.Request, user string) {
	filter := r.URL.Query().Get("filter")
	if filter == "" {
		jsonError(w, http.StatusBadRequest, "filter is required (use filter=%23 for every retained message)")
		return
	}
	n, err := a.srv.DeleteRetained(r.Context(), filter)
	a.log.Info("admin API: delete retained", "username", user, "filter", filter, "deleted", n, "err", err)
	if errors.Is(err, broker.ErrInvalidFilter) {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	a.answer(w, err, map[string]any{"filter": filter, "deleted": n})
}

// answer writes the outcome of a change: 200 with body (204 without), 404
// for what does not exist, 500 otherwise.
func (a *adminAPI) answer(w http.ResponseWriter, err error, body any) {
	switch {
	case errors.Is(err, broker.ErrNotFound):
		jsonError(w, http.StatusNotFound, err.Error())
	case err != nil:
		jsonError(w, http.StatusInternalServerError, err.Error())
	case body == nil:
		w.WriteHeader(http.StatusNoContent)
	default:
		writeJSON(w, http.StatusOK, body)
	}
}

// remoteAddr is the request's peer as a net.Addr, for the password file's
// throttling of failed logins by address.
func remoteAddr(r *http.Request) net.Addr {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return net.TCPAddrFromAddrPort(ap)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func jsonError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// adminSet returns the --admin users as a set.
func adminSet(users []string) map[string]bool {
	m := make(map[string]bool, len(users))
	for _, u := range users {
		m[u] = true
	}
	return m
}
