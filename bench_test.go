package main

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"testing"

	"github.com/shipgraph/shipgraph/internal/bench/benchtest"
	"github.com/shipgraph/shipgraph/internal/postgres"
	"github.com/shipgraph/shipgraph/internal/seed"
)

// BenchmarkNestedQuery measures the handler alone, without a network: what
// the nested read of make bench (internal/bench.Query) costs in time, bytes
// and allocations.
func BenchmarkNestedQuery(b *testing.B) {
	ctx := context.Background()
	if _, err := seed.Run(ctx, testDB.DB.Pool, seed.Options{Features: 1000, Uniform: true}); err != nil {
		b.Fatal(err)
	}
	cfg, err := loadConfig(os.Getenv) // SHIPGRAPH_LOADER_WAIT and friends apply
	if err != nil {
		b.Fatal(err)
	}
	// One caller sends every request: measure the query, not the rate
	// limiter's refusals once its hourly budget is spent.
	cfg.RateLimit = math.MaxInt32
	h := NewServer(serverDeps{
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Store:  postgres.NewStore(testDB.DB),
		Ready:  testDB.DB,
		Config: cfg,
		Auth:   testAuth,
	})
	benchtest.NestedQuery(b, h, http.Header{"Authorization": {"Bearer " + adminToken()}})
}
