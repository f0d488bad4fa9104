# vcdb build, test and benchmark entry points. `make demo` and `make test` are
# the README's quick start; keep them working on a fresh machine.

GO       ?= go
BIN      := bin/vcdb
PKGS     := ./...
# Packages whose tests also run under the race detector (STYLE.md).
RACE_PKGS := ./kv/... ./replication/... ./server/...

.PHONY: all build test test-race bench demo lint fuzz-seeds clean

all: build

build:
	$(GO) build -o $(BIN) .

# The whole suite: unit, datadriven, end-to-end (real binary, psql, pgx) and
# the fuzz seed corpora, then the race detector over the concurrent packages.
test: build
	VCDB_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 20m $(PKGS)
	VCDB_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -race -timeout 20m $(RACE_PKGS)

bench: build
	./bench/run.sh

demo: build
	./$(BIN) demo

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

clean:
	rm -rf bin
