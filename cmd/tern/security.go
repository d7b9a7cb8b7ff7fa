package main

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/ternmq/tern/broker"
	"github.com/ternmq/tern/broker/auth/acl"
	"github.com/ternmq/tern/broker/auth/passwd"
)

// security is who may connect and what they may touch: the password file
// and the ACL file, both reloaded on SIGHUP.
type security struct {
	users *passwd.File // nil without --password-file
	rules *acl.ACL     // nil without --acl-file
}

// openSecurity loads the files of the configuration and applies the safe
// default: anonymous access only while every listener is on a loopback
// address, unless --allow-anonymous says otherwise.
func openSecurity(cfg config, log *slog.Logger) (*security, error) {
	var sec security
	if cfg.PasswordFile == "" && !cfg.AllowAnonymous {
		for _, l := range []struct{ flag, addr string }{{"--mqtt", cfg.MQTT}, {"--mqtts", cfg.MQTTS}, {"--http", cfg.HTTP}} {
			if l.addr != "" && !isLoopback(l.addr) {
				return nil, fmt.Errorf("%s %s is not a loopback address, and anyone who reaches it could connect: "+
					"add --password-file FILE (create it with: tern passwd -c FILE USERNAME), "+
					"or --allow-anonymous to let anyone connect", l.flag, l.addr)
			}
		}
	}
	if cfg.PasswordFile != "" {
		f, err := passwd.Load(cfg.PasswordFile, passwd.Options{AllowAnonymous: cfg.AllowAnonymous, Logger: log.With("component", "passwd")})
		if err != nil {
			return nil, fmt.Errorf("password-file: %w", err)
		}
		sec.users = f
		log.Info("password file", "path", cfg.PasswordFile, "users", f.Len(), "anonymous", cfg.AllowAnonymous)
	}
	if cfg.ACLFile != "" {
		a, err := acl.Load(cfg.ACLFile)
		if err != nil {
			return nil, fmt.Errorf("acl-file: %w", err)
		}
		warnReadable(log, "acl-file", cfg.ACLFile)
		sec.rules = a
		log.Info("ACL file", "path", cfg.ACLFile, "lines", a.Len())
	}
	return &sec, nil
}

// apply sets the broker's Authenticator and Authorizer.
func (sec *security) apply(o *broker.Options) {
	if sec.users != nil {
		o.Authenticator = sec.users
	}
	if sec.rules != nil {
		o.Authorizer = sec.rules
	}
}

// reload re-reads both files; a file that fails keeps its old contents in
// force.
func (sec *security) reload(log *slog.Logger) {
	if sec.users != nil {
		if ch, err := sec.users.Reload(); err != nil {
			log.Error("password file not reloaded; the old one stays in force", "path", sec.users.Path(), "err", err)
		} else {
			log.Info("password file reloaded", "path", sec.users.Path(), "changes", ch.String())
		}
	}
	if sec.rules != nil {
		if err := sec.rules.Reload(); err != nil {
			log.Error("ACL file not reloaded; the old rules stay in force", "err", err)
		} else {
			log.Info("ACL file reloaded", "lines", sec.rules.Len())
		}
	}
}

// isLoopback reports whether a listen address is on a loopback interface
// only. An empty host, 0.0.0.0 and :: listen everywhere.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// warnReadable warns when a file that holds rules can be read by every
// user of the machine.
func warnReadable(log *slog.Logger, what, path string) {
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o004 != 0 {
		log.Warn(what+" is readable by every user of this machine; consider chmod o-r", "path", path, "mode", fi.Mode().Perm().String())
	}
}
