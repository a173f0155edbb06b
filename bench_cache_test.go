package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/shipgraph/shipgraph/internal/cache"
	"github.com/shipgraph/shipgraph/internal/postgres"
	"github.com/shipgraph/shipgraph/internal/redis"
	"github.com/shipgraph/shipgraph/internal/redistest"
	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// The by-id-heavy reads the entity cache is for: fifty nodes of three
// kinds with a relation each, and one deployment by id with its build and
// feature.
const (
	benchNodesQuery = `query($ids: [ID!]!) { nodes(ids: $ids) {
  ... on Feature { name builds(first: 2) { nodes { number } } }
  ... on Build { number commitSha feature { name } }
  ... on Deployment { status progress build { number } }
} }`
	benchNodeQuery = `query($id: ID!) { node(id: $id) { ... on Deployment { status progress build { number feature { name } } } } }`
)

// BenchmarkByIDLookups compares the by-id queries above with the entity
// cache off (PostgreSQL only) and on (Redis, then PostgreSQL for misses),
// in one run. The handler runs in process; PostgreSQL and Redis are the
// local servers, so their round trips are loopback ones.
func BenchmarkByIDLookups(b *testing.B) {
	cfg := benchSetup(b)
	ctx := context.Background()
	var ids []any
	for _, pick := range []struct {
		kind  shipgraph.Kind
		table string
		n     int
	}{{shipgraph.KindFeature, "features", 17}, {shipgraph.KindBuild, "builds", 17}, {shipgraph.KindDeployment, "deployments", 16}} {
		rows, err := testDB.DB.Pool.Query(ctx, "SELECT id FROM "+pick.table+" ORDER BY id DESC LIMIT $1", pick.n)
		if err != nil {
			b.Fatal(err)
		}
		for rows.Next() {
			var id int64
			rows.Scan(&id)
			ids = append(ids, shipgraph.EncodeID(pick.kind, id))
		}
		rows.Close()
	}
	queries := []struct{ name, body string }{
		{"nodes50", benchBody(b, benchNodesQuery, map[string]any{"ids": ids})},
		{"node", benchBody(b, benchNodeQuery, map[string]any{"id": ids[len(ids)-1]})},
	}

	url := redistest.URL(b)
	rdb, err := redis.Open(redis.Config{URL: url, Prefix: redistest.Prefix(b, url)})
	if err != nil {
		b.Fatal(err)
	}
	defer rdb.Close()
	rc := rdb.NewCache(redis.CacheConfig{TTL: time.Hour})
	defer rc.Close()
	pg := postgres.NewStore(testDB.DB)
	cached := cache.New(pg, rc, nil)
	defer cached.Close()
	modes := []struct {
		name string
		h    http.Handler
	}{{"cache=off", NewServer(benchDeps(cfg, pg))}, {"cache=on", NewServer(benchDeps(cfg, cached))}}

	for _, q := range queries {
		var want []byte
		for _, m := range modes {
			b.Run(q.name+"/"+m.name, func(b *testing.B) {
				serve := func() *httptest.ResponseRecorder { return benchPost(m.h, []byte(q.body)) }
				// Same answer either way, and (cache on) filled before the
				// timer starts.
				first := serve()
				cached.WaitFills()
				got := serve().Body.Bytes()
				if first.Code != http.StatusOK || bytes.Contains(got, []byte(`"errors"`)) {
					b.Fatalf("status %d: %.500s", first.Code, got)
				}
				if want == nil {
					want = bytes.Clone(got)
				} else if !bytes.Equal(got, want) {
					b.Fatalf("answers differ:\n%s\n%s", want, got)
				}
				hits := cached.Stats().Hits
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					serve()
				}
				b.StopTimer()
				if m.name == "cache=on" {
					b.ReportMetric(float64(cached.Stats().Hits-hits)/float64(b.N), "hits/op")
				}
			})
		}
	}
}

func benchBody(b *testing.B, query string, vars map[string]any) string {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		b.Fatal(err)
	}
	return string(body)
}
