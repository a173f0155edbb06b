# Shipgraph: `make run` serves the API with GraphiQL on http://127.0.0.1:8080;
# `make test` runs every test. Both bring up PostgreSQL first when needed.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
# Go lives in /usr/local/go on Debian images even when a login shell has not
# put it on PATH.
export PATH := $(PATH):/usr/local/go/bin

BIN := bin/shipgraph
SEED_FEATURES ?= 200

.PHONY: run test build generate check-generate bench clean

build:
	go build -o $(BIN) .

## run: ensure PostgreSQL, create the database, migrate, seed once, serve.
run: build
	export DATABASE_URL="$$(scripts/ensure-postgres.sh shipgraph)"; \
	$(BIN) migrate up; \
	$(BIN) seed --features $(SEED_FEATURES); \
	exec $(BIN) serve

## test: ensure PostgreSQL, vet, check generated code, run every test.
test:
	export TEST_DATABASE_URL="$$(scripts/ensure-postgres.sh postgres)"; \
	go vet ./...; \
	scripts/check-generate.sh; \
	go test -race -count=1 ./...

## generate: regenerate graph/ from schema/.
generate:
	go tool gqlgen generate

check-generate:
	scripts/check-generate.sh

clean:
	rm -rf bin
