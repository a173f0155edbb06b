package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shipgraph/shipgraph/internal/persisted"
	"github.com/shipgraph/shipgraph/internal/postgres"
)

// BenchmarkPersistedQuery compares a request by hash (APQ, registered
// before the loop) with the same request sent as full text, through the
// whole handler without a network. Both hit gqlgen's parsed-document
// cache, so the difference is the upload, its JSON decoding and the hash
// lookup: compare the two in one run.
func BenchmarkPersistedQuery(b *testing.B) {
	h := NewServer(benchDeps(benchSetup(b), postgres.NewStore(testDB.DB)))
	send := func(b *testing.B, body []byte) {
		rec := benchPost(h, body)
		if rec.Code != http.StatusOK || bytes.Contains(rec.Body.Bytes(), []byte(`"errors"`)) {
			b.Fatalf("%d: %.300s", rec.Code, rec.Body.Bytes())
		}
	}
	for _, doc := range []struct{ name, query string }{
		// GraphiQL's first tab: a dashboard read of 5 features with their
		// test cases, builds and deployments (database-bound).
		{"overview", defaultQuery},
		// The same document with its read skipped: parsing, validation and
		// the transport are all there is, so the hash's saving shows most.
		{"overview-skipped", strings.Replace(defaultQuery, "features(first: 5, orderBy: {field: UPDATED_AT, direction: DESC})",
			"__typename features(first: 5, orderBy: {field: UPDATED_AT, direction: DESC}) @skip(if: true)", 1)},
		// GraphiQL's introspection query: a large document, no database.
		{"introspection", graphiqlIntrospectionQuery(b)},
	} {
		hash := persisted.Hash(doc.query)
		fullText, _ := json.Marshal(map[string]any{"query": doc.query})
		byHash, _ := json.Marshal(map[string]any{"extensions": pqExtension(hash)})
		register, _ := json.Marshal(map[string]any{"query": doc.query, "extensions": pqExtension(hash)})
		send(b, register)
		for _, mode := range []struct {
			name string
			body []byte
		}{{"full-text", fullText}, {"by-hash", byHash}} {
			b.Run(doc.name+"/"+mode.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					send(b, mode.body)
				}
				// After the loop: b.Loop's timer reset drops metrics reported before it.
				b.ReportMetric(float64(len(mode.body)), "request-bytes")
			})
		}
		// The two alternate request by request, so that the load of a
		// shared machine weighs on both alike: their ratio is the figure.
		b.Run(doc.name+"/interleaved", func(b *testing.B) {
			var full, hashed time.Duration
			for b.Loop() {
				start := time.Now()
				send(b, fullText)
				mid := time.Now()
				send(b, byHash)
				full, hashed = full+mid.Sub(start), hashed+time.Since(mid)
			}
			b.ReportMetric(float64(full.Nanoseconds())/float64(b.N), "full-text-ns/op")
			b.ReportMetric(float64(hashed.Nanoseconds())/float64(b.N), "by-hash-ns/op")
			b.ReportMetric(float64(hashed)/float64(full), "by-hash/full-text")
		})
	}
}
