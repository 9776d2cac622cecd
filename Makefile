# asymjwt monorepo. Every target works on a fresh machine with Go installed.
SHELL := /bin/bash
MODULES := $(shell go list -m -f '{{.Dir}}')
FUZZTIME ?= 30s
BENCHTIME ?= 1s

.PHONY: all test fmt-check vet unit deps demo bench fuzz tidy

all: test

## test: gofmt check, go vet and go test -race in every module of go.work
test: deps fmt-check vet unit

deps:
	@./scripts/ensure-redis.sh

fmt-check:
	@out="$$(gofmt -l $(MODULES))"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	@set -e; for d in $(MODULES); do echo "== vet $${d#$(CURDIR)/}"; (cd "$$d" && go vet ./...); done

unit:
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
fuzz:
	@set -e; for d in $(MODULES); do (cd "$$d" && for p in $$(go list ./...); do \
		for t in $$(go test -list '^Fuzz' "$$p" | grep '^Fuzz' || true); do \
			echo "== $$p $$t"; go test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) "$$p"; done; done); done

tidy:
	@set -e; for d in $(MODULES); do (cd "$$d" && go mod tidy); done
