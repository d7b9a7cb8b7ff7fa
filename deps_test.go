package tern_test

// The layering rules of the package table in design.md, enforced: each
// rule is a row of a table, checked against `go list -deps -json` of the
// whole module, natively and for GOOS=js GOARCH=wasm. A failure names the
// rule and the import chain that breaks it.

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/ternmq/tern/internal/testkit"
)

const mod = "github.com/ternmq/tern"

// listed is one package of `go list -json`.
type listed struct {
	ImportPath string
	Standard   bool
	Imports    []string
	Deps       []string
	Error      *struct{ Err string }
}

// graph is the packages of the module and of its dependencies.
type graph map[string]*listed

func (g graph) std(path string) bool { p := g[path]; return p != nil && p.Standard }

// has reports whether pkg depends on dep, directly or not.
func (g graph) has(pkg, dep string) bool {
	p := g[pkg]
	return p != nil && slices.Contains(p.Deps, dep)
}

func under(dirs ...string) func(string) bool {
	return func(p string) bool {
		for _, d := range dirs {
			if p == d || strings.HasPrefix(p, d+"/") {
				return true
			}
		}
		return false
	}
}

// own matches the module's packages in and below dirs.
func own(dirs ...string) func(string) bool {
	full := make([]string, len(dirs))
	for i, d := range dirs {
		full[i] = mod + "/" + d
	}
	return under(full...)
}

func not(f func(string) bool) func(string) bool { return func(p string) bool { return !f(p) } }

var goApp = under("github.com/maxence-charriere/go-app")

// rule is one line of the package table: the packages it is about (from)
// and the dependencies they may not have (forbidden): all of them, or the
// direct imports only (direct), where the rest is an engine's business.
type rule struct {
	name      string
	from      func(string) bool
	forbidden func(g graph, from, dep string) bool
	direct    bool
}

var rules = []rule{{
	name:      "codec imports the standard library only",
	from:      own("codec"),
	forbidden: func(g graph, _, dep string) bool { return !g.std(dep) && !own("codec")(dep) },
}, {
	name: "broker never imports client, wasm or go-app (broker/bridge aside)",
	from: not(own("broker/bridge")),
	forbidden: func(g graph, from, dep string) bool {
		return own("broker")(from) && (own("client", "wasm")(dep) || goApp(dep))
	},
}, {
	// A bridge is a client of the remote broker, and of the local one:
	// it may use the client package, and nothing else the broker may not.
	// The broker itself never imports broker/bridge (the rule above
	// would catch the client package through it).
	name:      "broker/bridge imports client (a bridge is a client of both brokers) but never wasm or go-app",
	from:      own("broker/bridge"),
	forbidden: func(g graph, _, dep string) bool { return own("wasm")(dep) || goApp(dep) },
}, {
	name: "broker/store imports only codec, the standard library and its engine",
	from: own("broker/store"),
	forbidden: func(g graph, _, dep string) bool {
		return !g.std(dep) && !own("codec", "broker/store")(dep) && !under("github.com/cockroachdb/pebble/v2")(dep)
	},
	direct: true,
}, {
	name: "client imports only codec, internal/scram and coder/websocket",
	from: own("client"),
	forbidden: func(g graph, _, dep string) bool {
		return !g.std(dep) && !own("codec", "client", "internal/scram")(dep) && !under("github.com/coder/websocket")(dep)
	},
}, {
	name:      "internal/scram is stdlib only (it runs in the browser)",
	from:      own("internal/scram"),
	forbidden: func(g graph, _, dep string) bool { return !g.std(dep) && !own("internal/scram")(dep) },
}, {
	name:      "wasm never imports broker, web or cmd",
	from:      own("wasm"),
	forbidden: func(g graph, _, dep string) bool { return own("broker", "web", "cmd")(dep) },
}, {
	name:      "web never imports broker or the repository's root package",
	from:      own("web"),
	forbidden: func(g graph, _, dep string) bool { return own("broker", "cmd")(dep) || dep == mod },
}, {
	name:      "cmd/ternbench uses client or codec, never the broker, web or wasm",
	from:      own("cmd/ternbench"),
	forbidden: func(g graph, _, dep string) bool { return own("broker", "web", "wasm")(dep) },
}, {
	name: "only cmd/tern joins broker and web",
	from: not(own("cmd/tern")),
	forbidden: func(g graph, from, dep string) bool {
		return own("web")(dep) && (own("broker")(from) || g.has(from, mod+"/broker"))
	},
}, {
	name:      "the broker binary does not link wasm/ui (web registers placeholders for go-app's server side)",
	from:      own("cmd/tern"),
	forbidden: func(g graph, _, dep string) bool { return own("wasm/ui")(dep) },
}, {
	name:      "broker/adminhttp imports only broker, codec and the standard library",
	from:      own("broker/adminhttp"),
	forbidden: func(g graph, _, dep string) bool { return !g.std(dep) && !own("broker", "codec")(dep) },
	direct:    true,
}, {
	name: "broker/cluster imports only broker, codec, NATS and the standard library",
	from: own("broker/cluster"),
	forbidden: func(g graph, _, dep string) bool {
		return !g.std(dep) && !own("broker", "codec")(dep) &&
			!under("github.com/nats-io/nats-server/v2", "github.com/nats-io/nats.go")(dep)
	},
	direct: true,
}, {
	name:      "internal/testkit is for tests only",
	from:      not(own("internal/testkit")),
	forbidden: func(g graph, _, dep string) bool { return own("internal/testkit")(dep) },
}}

// browserPackages must build for GOOS=js GOARCH=wasm.
var browserPackages = own("codec", "client", "wasm")

func TestImportRules(t *testing.T) {
	goTool := testkit.GoTool()
	for _, target := range []struct {
		name string
		env  []string
	}{
		{"native", nil},
		{"js/wasm", []string{"GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0"}},
	} {
		t.Run(target.name, func(t *testing.T) {
			g, pkgs := list(t, goTool, target.env)
			for _, r := range rules {
				for _, path := range pkgs {
					if !r.from(path) {
						continue
					}
					if chain := violation(g, path, r); chain != nil {
						t.Errorf("rule %q (design.md, package table) is broken for %s: %s",
							r.name, target.name, strings.Join(chain, " -> "))
					}
				}
			}
			if target.env == nil {
				return
			}
			for _, path := range pkgs {
				if p := g[path]; browserPackages(path) && p.Error != nil {
					t.Errorf("rule %q is broken: %s", "codec, client and wasm build for js/wasm", p.Error.Err)
				}
			}
		})
	}
}

// list runs go list -deps -json on the module with env and returns every
// package and the module's own, in order.
func list(t *testing.T, goTool string, env []string) (graph, []string) {
	t.Helper()
	cmd := exec.Command(goTool, "list", "-e", "-deps", "-json=ImportPath,Standard,Imports,Deps,Error", "./...")
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	g := graph{}
	var own []string
	for dec := json.NewDecoder(strings.NewReader(string(out))); ; {
		p := new(listed)
		if err := dec.Decode(p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		g[p.ImportPath] = p
		if under(mod)(p.ImportPath) {
			own = append(own, p.ImportPath)
		}
	}
	return g, own
}

// violation returns the import chain from path to the first dependency
// that rule r forbids, or nil.
func violation(g graph, path string, r rule) []string {
	p := g[path]
	deps := p.Deps
	if r.direct {
		deps = p.Imports
	}
	for _, d := range deps {
		if r.forbidden(g, path, d) {
			return chain(g, path, d)
		}
	}
	return nil
}

// chain is the shortest import chain from a to b.
func chain(g graph, a, b string) []string {
	prev := map[string]string{a: ""}
	for queue := []string{a}; len(queue) > 0; queue = queue[1:] {
		p := queue[0]
		if p == b {
			var c []string
			for ; p != ""; p = prev[p] {
				c = append(c, p)
			}
			slices.Reverse(c)
			return c
		}
		if q := g[p]; q != nil {
			for _, i := range q.Imports {
				if _, seen := prev[i]; !seen {
					prev[i] = p
					queue = append(queue, i)
				}
			}
		}
	}
	return []string{a, "...", b}
}
