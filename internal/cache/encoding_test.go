package cache

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// BenchmarkEncoding measures what a cached entity costs: its size in Redis
// and the time to encode (write-back) and decode (hit) it with
// encoding/json.
func BenchmarkEncoding(b *testing.B) {
	now := time.Now()
	errText := "stage EXECUTE failed: exit status 1"
	stages := []byte(`[{"name":"PRE_CHECKS","status":"SUCCEEDED","startedAt":"2026-11-25T23:00:00.123456Z","finishedAt":"2026-11-25T23:00:02.123456Z"},{"name":"BUILD_ARTIFACTS","status":"SUCCEEDED"},{"name":"PREPARE_INFRASTRUCTURE","status":"SUCCEEDED"},{"name":"EXECUTE","status":"FAILED"}]`)
	entities := []struct {
		name string
		v    any
		new  func() any
	}{
		{"Feature", &shipgraph.Feature{ID: 123456, Name: "Checkout with saved cards", Description: "Let returning customers pay with a card they saved before, without typing it again.",
			ComplexityPoints: 5, Status: shipgraph.FeatureInProgress, Version: 3, CreatedAt: now, UpdatedAt: now}, func() any { return new(shipgraph.Feature) }},
		{"Build", &shipgraph.Build{ID: 234567, FeatureID: 123456, Number: 4, CommitSHA: "0123456789abcdef0123456789abcdef01234567", Branch: "feature/saved-cards",
			Status: shipgraph.BuildSucceeded, StartedAt: &now, FinishedAt: &now, Version: 3, CreatedAt: now, UpdatedAt: now}, func() any { return new(shipgraph.Build) }},
		{"Deployment", &shipgraph.Deployment{ID: 345678, BuildID: 234567, FeatureID: 123456, Environment: "production", Status: shipgraph.DeploymentFailed,
			Progress: 75, StagesJSON: stages, Error: &errText, StartedAt: &now, FinishedAt: &now, Version: 9, CreatedAt: now, UpdatedAt: now}, func() any { return new(shipgraph.Deployment) }},
	}
	for _, e := range entities {
		enc, err := json.Marshal(e.v)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(e.name+"/encode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				json.Marshal(e.v)
			}
			b.ReportMetric(float64(len(enc)), "bytes")
		})
		b.Run(e.name+"/decode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := json.Unmarshal(enc, e.new()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
