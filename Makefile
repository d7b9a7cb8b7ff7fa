# Tern — build, test, bench and fuzz entry points. `make help` lists them.
#
# CI runs `.ci/run`, which is `make test` with CI=true.

GO       ?= go
MODULE   := github.com/ternmq/tern
GOFMT    ?= gofmt
FUZZTIME ?= 10s

# Benchmarks run in these packages (override: make bench BENCH_PKGS=./codec/...).
BENCH_PKGS ?= ./...

# Packages that must build for the browser (GOOS=js GOARCH=wasm). A directory
# is listed only once it holds at least one non-test Go file, so an empty or
# not-yet-written directory does not break the build.
WASM_DIRS := codec client wasm
WASM_PKGS := $(foreach d,$(WASM_DIRS),$(if $(filter-out %_test.go,$(wildcard $(d)/*.go)),./$(d)/...))

# Go files checked by gofmt: everything except VCS and generated/third-party dirs.
GOFMT_FILES = $(shell find . \( -name .git -o -name node_modules -o -name vendor -o -name bin -o -name dist \) -prune -o -name '*.go' -type f -print)

WASM_ENV := GOOS=js GOARCH=wasm CGO_ENABLED=0

# The web client (wasm/cmd/app): built into bin/, compressed into web/dist,
# which the broker binary embeds (see web/doc.go).
WASM_OUT := bin/app.wasm
WEB_DIST := web/dist

# The JS API (wasm/jsapi): built into bin/, compressed into web/tern/dist,
# which the broker binary embeds and serves as /tern.wasm beside /tern.js
# (see web/jsapi.go).
JSAPI_OUT  := bin/tern.wasm
JSAPI_DIST := web/tern/dist

.PHONY: help setup build test fmt-check vet test-go wasm-check bench fuzz run clean bench-compare wasm screenshots jsapi wasm-exec

help:
	@echo 'make setup   install missing test dependencies (mosquitto, chromium, npm packages)'
	@echo 'make build   go build ./... and the js/wasm build of: $(WASM_PKGS)'
	@echo 'make test    setup, gofmt check, go vet, go test -race, js/wasm vet'
	@echo 'make bench   benchmarks with -benchmem in BENCH_PKGS (default ./...)'
	@echo 'make bench-compare   Tern vs Mosquitto on loopback (bench/compare.sh; REPS, DURATION, CONNS, ...)'
	@echo 'make fuzz    every Fuzz target for FUZZTIME each (default 10s)'
	@echo 'make wasm    build the web client (js/wasm) and precompress it into $(WEB_DIST)'
	@echo 'make jsapi   build the JS API client (wasm/jsapi, /tern.wasm) and precompress it into $(JSAPI_DIST)'
	@echo 'make wasm-exec   copy wasm_exec.js of this Go release into web/tern (after a Go upgrade)'
	@echo 'make run     build both browser programs (wasm, jsapi), then run the broker (cmd/tern): http://localhost:8080/'
	@echo 'make screenshots  refresh docs/screenshots from the browser test (needs chromium)'
	@echo 'make clean   remove build output'

setup:
	@bash scripts/setup.sh

build:
	$(GO) build ./...
ifneq ($(strip $(WASM_PKGS)),)
	$(WASM_ENV) $(GO) build $(WASM_PKGS)
endif

test: setup
	@$(MAKE) --no-print-directory fmt-check vet test-go wasm-check

fmt-check:
	@out="$$($(GOFMT) -l $(GOFMT_FILES) </dev/null)"; \
	if [ -n "$$out" ]; then \
		echo 'gofmt: these files need formatting (run gofmt -w):'; \
		echo "$$out"; \
		exit 1; \
	fi

vet:
	$(GO) vet ./...

# The packages whose tests drive chromium run after the others, one at a
# time: on 2 cores a browser test that shares the CPU with the crash tests
# or with another wasm build misses its deadlines.
BROWSER_PKGS := ./client ./wasm/jsapi ./web/e2e

test-go:
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v -x -e '$(MODULE)/client' -e '$(MODULE)/wasm/jsapi' -e '$(MODULE)/web/e2e')
	$(GO) test -race -count=1 -p 1 $(BROWSER_PKGS)

# Vet (which also type-checks the test files) for the browser target, so
# `//go:build js && wasm` glue is checked too. Test files in WASM_PKGS must
# compile for js/wasm or carry a `//go:build !js` constraint.
wasm-check:
ifneq ($(strip $(WASM_PKGS)),)
	$(WASM_ENV) $(GO) vet $(WASM_PKGS)
else
	@echo 'wasm-check: no browser packages with Go files yet'
endif

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(BENCH_PKGS)

# Tern against Debian's mosquitto with cmd/ternbench; knobs (REPS, DURATION,
# CONNS, RETAINED, MQTT_VERSION, CASES, OUT) are passed through the
# environment, e.g. make bench-compare REPS=5 DURATION=10s.
bench-compare:
	@REPS='$(REPS)' DURATION='$(DURATION)' CONNS='$(CONNS)' RETAINED='$(RETAINED)' \
		MQTT_VERSION='$(MQTT_VERSION)' CASES='$(CASES)' bash bench/compare.sh

fuzz:
	@FUZZTIME='$(FUZZTIME)' GO='$(GO)' bash scripts/fuzz.sh

# -trimpath and -s -w make the build smaller and reproducible; precompress
# (the one compress command of both browser programs) writes app.wasm.br
# (brotli 11), app.wasm.gz and app.wasm.json, or does nothing when they
# are up to date.
wasm:
	@mkdir -p $(dir $(WASM_OUT))
	$(WASM_ENV) $(GO) build -trimpath -ldflags="-s -w" -o $(WASM_OUT) ./wasm/cmd/app
	$(GO) run ./web/cmd/precompress -o $(WEB_DIST) $(WASM_OUT)

# The JS API client, served as /tern.wasm: the same build flags and the
# same precompress command, writing tern.wasm.br, tern.wasm.gz and
# tern.wasm.json.
jsapi:
	@mkdir -p $(dir $(JSAPI_OUT))
	$(WASM_ENV) $(GO) build -trimpath -ldflags="-s -w" -o $(JSAPI_OUT) ./wasm/jsapi
	$(GO) run ./web/cmd/precompress -o $(JSAPI_DIST) $(JSAPI_OUT)

# tern.js carries wasm_exec.js, which must be the one of the Go release
# that builds tern.wasm (a test in web/ checks it).
wasm-exec:
	cp "$$($(GO) env GOROOT)/lib/wasm/wasm_exec.js" web/tern/wasm_exec.js

run: wasm jsapi
	$(GO) run ./cmd/tern $(ARGS)

# The browser test writes its screenshots here when TERN_SCREENSHOTS is set.
screenshots:
	TERN_SCREENSHOTS=$(CURDIR)/docs/screenshots $(GO) test -count=1 -run '^(TestBrowser|TestTopicTree|TestChat|TestScreens|TestBrokerPage)$$' ./web/e2e/

clean:
	rm -rf bin dist $(WEB_DIST)/app.wasm* $(JSAPI_DIST)/tern.wasm*
