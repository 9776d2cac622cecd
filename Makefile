# asymjwt monorepo. Every target works on a fresh machine with Go installed.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c

# Without Go every module loop below would run zero times and pass.
ifeq ($(shell command -v go 2>/dev/null),)
$(error go: command not found. Install Go 1.26 or put it on PATH (.ci/run also looks in /usr/local/go/bin))
endif

MODULES := $(shell go list -m -f '{{.Dir}}')
WORK_USES := $(shell go work edit -json | grep -c '"DiskPath"')
FUZZTIME ?= 30s
BENCHTIME ?= 1s
# staticcheck on PATH or in GOPATH/bin, else the pinned version through go run.
STATICCHECK ?= $(or $(shell command -v staticcheck 2>/dev/null),$(wildcard $(shell go env GOPATH)/bin/staticcheck),go run honnef.co/go/tools/cmd/staticcheck@v0.8.2)
# The release tool builds on its own (GOWORK=off), so it runs even when the
# workspace does not resolve (a sibling required at a version nobody serves).
RELEASE := GOWORK=off go -C internal/release run .

.PHONY: all test modules fmt-check vet lint gowork-off unit deps demo bench fuzz tidy release

all: test

## test: every module of go.work: gofmt, go vet, staticcheck, GOWORK=off build
## and tidiness, go test -race (which includes the release test, internal/release)
test: modules deps fmt-check vet lint gowork-off unit

## modules: fail unless go list -m names every module that go.work uses
modules:
	@if [ "$(WORK_USES)" -eq 0 ] || [ "$(words $(MODULES))" -lt "$(WORK_USES)" ]; then \
		echo "make: go list -m found $(words $(MODULES)) module(s) but go.work uses $(WORK_USES): is go.work readable and every module's go.mod valid?"; exit 1; fi
	@echo "== $(words $(MODULES)) modules"

deps:
	@./scripts/ensure-test-servers.sh

fmt-check: modules
	@out="$$(gofmt -l $(MODULES))" || exit 1; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet: modules
	@set -e; for d in $(MODULES); do echo "== vet $${d#$(CURDIR)/}"; (cd "$$d" && go vet ./...); done

## lint: staticcheck in every module
lint: modules
	@set -e; for d in $(MODULES); do echo "== staticcheck $${d#$(CURDIR)/}"; (cd "$$d" && $(STATICCHECK) ./...); done

## gowork-off: go build ./... and go mod tidy -diff in every module with GOWORK=off
## (cmd/asymjwt, which carries no replace, against a file proxy of the working tree)
gowork-off: modules
	@$(RELEASE) check

unit: modules
	@set -e; for d in $(MODULES); do echo "== test $${d#$(CURDIR)/}"; (cd "$$d" && go test -race -count=1 ./...); done

## demo: the quickstart — a real server and client on loopback
demo:
	cd examples && go run ./quickstart

## bench: core benchmarks, then asymjwt against peer libraries as a markdown table
## (BENCHMARKS.md records the tables and the commands that produced them)
bench:
	cd core && go test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) .
	cd bench && go run ./cmd/benchtable

## fuzz: run every fuzz target of every module for FUZZTIME each
fuzz: modules
	@set -e; for d in $(MODULES); do (cd "$$d" && for p in $$(go list ./...); do \
		for t in $$(go test -list '^Fuzz' "$$p" | grep '^Fuzz' || true); do \
			echo "== $$p $$t"; go test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) "$$p"; done; done); done

## tidy: go mod tidy in every module (cmd/asymjwt against a file proxy of the working tree)
tidy: modules
	@$(RELEASE) tidy

## release VERSION=v0.2.0: set every cross-module requirement (go.mod, go.work,
## cmd/asymjwt's go.sum) to VERSION and print the tags to push; see CONTRIBUTING.md
release:
	@if [ -z "$(VERSION)" ]; then echo "usage: make release VERSION=vX.Y.Z"; exit 2; fi
	@$(RELEASE) bump $(VERSION)
