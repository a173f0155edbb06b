package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/shipgraph/shipgraph/internal/bench/benchtest"
	"github.com/shipgraph/shipgraph/internal/postgres"
	"github.com/shipgraph/shipgraph/internal/seed"
	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// BenchmarkNestedQuery measures the handler alone, without a network: what
// the nested read of make bench (internal/bench.Query) costs in time, bytes
// and allocations.
func BenchmarkNestedQuery(b *testing.B) {
	cfg := benchSetup(b)
	h := NewServer(benchDeps(cfg, postgres.NewStore(testDB.DB)))
	benchtest.NestedQuery(b, h, http.Header{"Authorization": {"Bearer " + adminToken()}})
}

// benchSetup seeds the package's database with make bench's data (1,000
// features of one shape, see seed.Options.Uniform) and returns the
// configuration of the environment (SHIPGRAPH_LOADER_WAIT and friends
// apply) with the rate limit out of the way: one caller sends every
// request, and a benchmark measures the query, not the limiter's refusals
// once its budget is spent.
//
// Every benchmark of the package seeds through here: seed.Run only tops
// up, so whichever benchmark ran first would otherwise decide the shape of
// the data all the others read.
func benchSetup(b *testing.B) config {
	b.Helper()
	if _, err := seed.Run(context.Background(), testDB.DB.Pool, seed.Options{Features: 1000, Uniform: true}); err != nil {
		b.Fatal(err)
	}
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		b.Fatal(err)
	}
	cfg.RateLimit = math.MaxInt32
	return cfg
}

// benchDeps are the dependencies of a benchmark's handler: store in front
// of the package's database, the tests' authenticator, logs discarded.
func benchDeps(cfg config, store shipgraph.Store) serverDeps {
	return serverDeps{
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Store:  store,
		Ready:  testDB.DB,
		Config: cfg,
		Auth:   testAuth,
	}
}

// benchPost serves a POST /graphql of body with the admin token, without a
// network.
func benchPost(h http.Handler, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+adminToken())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}
