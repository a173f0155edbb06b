package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/shipgraph/shipgraph/internal/postgres"
	"github.com/shipgraph/shipgraph/internal/seed"
)

// benchQuery is the nested read of the benchmark: 50 features with their
// test cases, builds and the builds' deployments, 1,300 objects.
const benchQuery = `query Bench { features(first: 50) { nodes { id name complexityPoints status
  testCases(first: 10) { totalCount nodes { id title status } }
  builds(first: 5) { nodes { id number status commitSha
    deployments(first: 2) { nodes { id environment status progress } } } } } } }`

// BenchmarkNestedQuery measures the handler alone, without a network: what
// one nested read costs in time, bytes and allocations.
func BenchmarkNestedQuery(b *testing.B) {
	ctx := context.Background()
	if _, err := seed.Run(ctx, testDB.DB.Pool, seed.Options{Features: 1000}); err != nil {
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
	body, _ := json.Marshal(map[string]string{"query": benchQuery})
	request := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+adminToken())
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	if rec := request(); rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), `"errors"`) {
		b.Fatalf("status %d: %.500s", rec.Code, rec.Body)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		request()
	}
}
