# Osiris build, demo and test entry points. `make demo` and `make test` are the two
# commands a fresh clone needs.
GO      ?= go
BIN     := bin
VERSION ?= v0.1.0
LDFLAGS := -X github.com/osirisgo/osiris/internal/cli.Version=$(VERSION) \
           -X github.com/osirisgo/osiris/internal/mcpserver.Version=$(VERSION)

.PHONY: test-deps build demo test test-short bench lint fmt clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/osiris ./cmd/osiris
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/osiris-mcp ./cmd/osiris-mcp

demo: build
	./scripts/demo.sh

test: test-deps
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) test -race -count=1 ./...

test-short:
	$(GO) test -short ./...

bench: build
	./scripts/bench.sh

lint:
	$(GO) vet ./...
	gofmt -l $$(git ls-files '*.go')

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN)

test-deps:
	./scripts/test-deps.sh
