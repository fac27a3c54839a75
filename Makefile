# xalived: run `make help` for the targets.
SHELL := /bin/bash
GO ?= go
export PATH := $(PATH):/usr/local/go/bin:$(HOME)/go/bin
STATICCHECK_VERSION := v0.6.1
BIN := bin
# where go generate writes (bpf2go output); check-generate compares only these, so local edits elsewhere don't trip it
GENERATED_DIRS := loader bpf

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: deps
deps: ## install the Debian packages the build and tests need (as root, only what is missing)
	@scripts/install-deps.sh

.PHONY: build
build: ## build xalived and xalivectl into bin/
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/...

.PHONY: test
test: deps check-generate ## run every test tier that exists (unit, BPF, network namespaces, VM); root runs the privileged ones
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt would change:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) test -count=1 -timeout 40m ./...
	$(GO) run ./vmtest

.PHONY: demo
demo: deps build ## two xalived nodes and a client in network namespaces: election, failover, measured outage (root)
	@scripts/demo.sh

.PHONY: generate
generate: deps ## regenerate committed generated files (bpf2go objects and Go bindings; clang-14)
	$(GO) generate ./...

.PHONY: check-generate
check-generate: generate ## regenerate and fail if the committed generated files are stale
	@git diff --exit-code --stat -- $(GENERATED_DIRS) || { echo "generated files are stale: run make generate and commit" >&2; exit 1; }
	@test -z "$$(git status --porcelain --untracked-files=all -- $(GENERATED_DIRS) | grep '^??')" || { git status --porcelain -- $(GENERATED_DIRS); echo "generate made new files: commit them" >&2; exit 1; }

.PHONY: lint
lint: ## go vet, gofmt and staticcheck
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

.PHONY: bench
bench: deps ## benchmarks: each prints ratios against a baseline measured in the same run
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./...
	$(GO) run ./vmtest -run '^$$' -bench . -timeout 40m

.PHONY: vmtest
vmtest: deps ## boot Debian kernels (VMTEST_KERNELS) under qemu and run the //go:build vmtest tests in each
	$(GO) run ./vmtest
