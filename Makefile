# Tern — build, test, bench and fuzz entry points. `make help` lists them.
#
# CI runs `.ci/run`, which is `make test` with CI=true.

GO       ?= go
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

.PHONY: help setup build test fmt-check vet test-go wasm-check bench fuzz run clean

help:
	@echo 'make setup   install missing test dependencies (mosquitto, chromium, npm packages)'
	@echo 'make build   go build ./... and the js/wasm build of: $(WASM_PKGS)'
	@echo 'make test    setup, gofmt check, go vet, go test -race, js/wasm vet'
	@echo 'make bench   benchmarks with -benchmem in BENCH_PKGS (default ./...)'
	@echo 'make fuzz    every Fuzz target for FUZZTIME each (default 10s)'
	@echo 'make run     run the broker (cmd/tern)'
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

test-go:
	$(GO) test -race -count=1 ./...

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

fuzz:
	@FUZZTIME='$(FUZZTIME)' GO='$(GO)' bash scripts/fuzz.sh

run:
	$(GO) run ./cmd/tern $(ARGS)

clean:
	rm -rf bin dist web/app.wasm web/*.wasm.*
