# Shipgraph: `make run` serves the API with GraphiQL on http://127.0.0.1:8080;
# `make test` runs every test. Both bring up PostgreSQL first when needed.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
# Go lives in /usr/local/go on Debian images even when a login shell has not
# put it on PATH.
export PATH := $(PATH):/usr/local/go/bin

BIN := bin/shipgraph
SEED_FEATURES ?= 200

.PHONY: run test build generate check-generate bench bench-live fuzz clean

# The version /healthz, `shipgraph version` and the build_info metric report:
# from git, so it does not depend on the machine's -buildvcs setting.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

build:
	go build -ldflags "-X main.version=$(VERSION)" -o $(BIN) .

## run: ensure PostgreSQL, create the database, migrate, seed once, serve in
## dev mode (loopback only; prints an admin token, pre-filled in GraphiQL).
run: build
	export DATABASE_URL="$$(scripts/ensure-postgres.sh shipgraph)"; \
	$(BIN) migrate up; \
	$(BIN) seed --features $(SEED_FEATURES); \
	exec $(BIN) serve --dev

## test: ensure PostgreSQL and Redis, vet, check generated code, run every test.
test:
	export TEST_DATABASE_URL="$$(scripts/ensure-postgres.sh postgres)"; \
	export TEST_REDIS_URL="$$(scripts/ensure-redis.sh)"; \
	export SHIPGRAPH_CHROMIUM="$$(scripts/ensure-chromium.sh)"; \
	go vet ./...; \
	scripts/check-generate.sh; \
	go test -race -count=1 ./...

## generate: regenerate graph/ from schema/.
generate:
	go tool gqlgen generate

check-generate:
	scripts/check-generate.sh

## bench: Shipgraph vs a hand-written pgx baseline on one nested query:
## req/s, latency, SQL statements, peak RSS, allocs (scripts/bench.sh; not
## part of test). BENCH_SECONDS=N sets the measured seconds per point.
## Then the live benchmark (bench-live).
bench:
	scripts/bench.sh
	scripts/bench-live.sh

## bench-live: deployments/s end to end, commit-to-client latency of 5,000
## subscriptions on 100 running deployments, memory per idle subscription
## (scripts/bench-live.sh; about a minute; appends to bench-results.md).
bench-live:
	scripts/bench-live.sh

## fuzz: explore the GraphQL endpoint with go test -fuzz (FuzzGraphQLEndpoint;
## its seed corpus already runs in test). FUZZTIME=5m for longer.
FUZZTIME ?= 60s
fuzz:
	export TEST_DATABASE_URL="$$(scripts/ensure-postgres.sh postgres)"; \
	go test -run '^$$' -fuzz FuzzGraphQLEndpoint -fuzztime $(FUZZTIME) .

clean:
	rm -rf bin
