package baseline

import (
	"context"
	"os"
	"testing"

	"github.com/shipgraph/shipgraph/internal/bench/benchtest"
)

// BenchmarkBaselineNestedQuery measures the baseline handler in process,
// against the database BENCH_DATABASE_URL names (make bench sets it to the
// seeded shipgraph_bench database); it is skipped without one.
func BenchmarkBaselineNestedQuery(b *testing.B) {
	u := os.Getenv("BENCH_DATABASE_URL")
	if u == "" {
		b.Skip("BENCH_DATABASE_URL is not set (make bench sets it)")
	}
	s, err := Open(context.Background(), u, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	benchtest.NestedQuery(b, s.Handler(), nil)
}
