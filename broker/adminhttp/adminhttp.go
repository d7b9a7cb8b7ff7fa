// Package adminhttp is the broker's admin API over HTTP: JSON endpoints
// for users that a password file authenticates and the configuration
// names as admins.
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
//
// It lives apart from cmd/tern so that other programs (and the web
// client's browser tests) can serve the same API in front of a
// broker.Server.
package adminhttp

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

// MaxRetainedList bounds one retained listing; ?limit= may ask for less.
const MaxRetainedList = 100_000

// Options configure the admin API.
type Options struct {
	// Server is the broker the API reads and changes.
	Server *broker.Server
	// Users checks the HTTP basic credentials as it would a CONNECT's
	// username and password (a password file). Required.
	Users broker.Authenticator
	// IsAdmin reports whether an authenticated user may use the API.
	// Required: without it nobody may.
	IsAdmin func(user string) bool
	// Logger gets a line per change and per refused non-admin (nil:
	// slog.Default()).
	Logger *slog.Logger
}

type api struct {
	o   Options
	log *slog.Logger
}

// Register adds the admin endpoints to mux.
func Register(mux *http.ServeMux, o Options) {
	a := &api{o: o, log: o.Logger}
	if a.log == nil {
		a.log = slog.Default()
	}
	mux.Handle("GET /api/v1/clients", a.guard(a.listClients))
	mux.Handle("DELETE /api/v1/clients/{id...}", a.guard(a.kickClient))
	mux.Handle("GET /api/v1/sessions", a.guard(a.listSessions))
	mux.Handle("DELETE /api/v1/sessions/{id...}", a.guard(a.deleteSession))
	mux.Handle("GET /api/v1/retained", a.guard(a.listRetained))
	mux.Handle("DELETE /api/v1/retained", a.guard(a.deleteRetained))
}

// guard checks origin, credentials and admin rights before h.
func (a *api) guard(h func(w http.ResponseWriter, r *http.Request, user string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if crossOrigin(r) {
			jsonError(w, http.StatusForbidden, "cross-origin requests are refused")
			return
		}
		user, ok := BasicAuth(w, r, "tern admin", a.o.Users)
		if !ok {
			return
		}
		if a.o.IsAdmin == nil || !a.o.IsAdmin(user) {
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

// BasicAuth checks the request's HTTP basic credentials with users (nil:
// nobody is authenticated) and returns the username. On failure it
// answers 401 with a JSON error and reports false.
func BasicAuth(w http.ResponseWriter, r *http.Request, realm string, users broker.Authenticator) (string, bool) {
	user, pass, ok := r.BasicAuth()
	if ok && users != nil && user != "" {
		l := &broker.Login{
			Connect:  &codec.Connect{Username: user, HasUsername: true, Password: []byte(pass)},
			ClientID: "http:" + user,
			Remote:   remoteAddr(r),
		}
		if users.Authenticate(r.Context(), l) == codec.Success {
			return user, true
		}
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="`+realm+`", charset="UTF-8"`)
	jsonError(w, http.StatusUnauthorized, "valid credentials required")
	return "", false
}

func (a *api) listClients(w http.ResponseWriter, _ *http.Request, _ string) {
	writeJSON(w, http.StatusOK, map[string]any{"clients": a.o.Server.Clients()})
}

func (a *api) kickClient(w http.ResponseWriter, r *http.Request, user string) {
	id := r.PathValue("id")
	err := a.o.Server.Kick(r.Context(), id)
	a.log.Info("admin API: kick", "username", user, "client", id, "err", err)
	answer(w, err, nil)
}

func (a *api) listSessions(w http.ResponseWriter, _ *http.Request, _ string) {
	writeJSON(w, http.StatusOK, map[string]any{"sessions": a.o.Server.Sessions()})
}

func (a *api) deleteSession(w http.ResponseWriter, r *http.Request, user string) {
	id := r.PathValue("id")
	err := a.o.Server.DeleteSession(r.Context(), id)
	a.log.Info("admin API: delete session", "username", user, "client", id, "err", err)
	answer(w, err, nil)
}

func (a *api) listRetained(w http.ResponseWriter, r *http.Request, _ string) {
	filter := r.URL.Query().Get("filter")
	if filter == "" {
		filter = "#"
	}
	limit := MaxRetainedList
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			jsonError(w, http.StatusBadRequest, "limit must be a positive number")
			return
		}
		limit = min(n, MaxRetainedList)
	}
	list := []broker.RetainedInfo{}
	truncated := false
	err := a.o.Server.RetainedMessages(filter, func(ri broker.RetainedInfo) bool {
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

func (a *api) deleteRetained(w http.ResponseWriter, r *http.Request, user string) {
	filter := r.URL.Query().Get("filter")
	if filter == "" {
		jsonError(w, http.StatusBadRequest, "filter is required (use filter=%23 for every retained message)")
		return
	}
	n, err := a.o.Server.DeleteRetained(r.Context(), filter)
	a.log.Info("admin API: delete retained", "username", user, "filter", filter, "deleted", n, "err", err)
	if errors.Is(err, broker.ErrInvalidFilter) {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	answer(w, err, map[string]any{"filter": filter, "deleted": n})
}

// answer writes the outcome of a change: 200 with body (204 without), 404
// for what does not exist, 500 otherwise.
func answer(w http.ResponseWriter, err error, body any) {
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
