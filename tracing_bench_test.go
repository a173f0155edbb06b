package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/shipgraph/shipgraph/internal/bench/benchtest"
	"github.com/shipgraph/shipgraph/internal/postgres"
	"github.com/shipgraph/shipgraph/internal/tracing"
)

// BenchmarkNestedQueryTracing is BenchmarkNestedQuery with tracing off and
// on, in one run so that the two can be compared on a shared machine. On,
// every span (server, operation, resolvers, SQL) is exported over
// OTLP/HTTP to a receiver that discards it; the batch queue is made large
// enough that no span is dropped, so the cost of exporting all of them is
// measured. Reported: spans/op (on), besides ns/op and allocs/op.
func BenchmarkNestedQueryTracing(b *testing.B) {
	ctx := context.Background()
	cfg := benchSetup(b)
	header := http.Header{"Authorization": {"Bearer " + adminToken()}}
	deps := func(db *postgres.DB, tr *tracing.Tracing) serverDeps {
		d := benchDeps(cfg, postgres.NewStore(db))
		d.Logger = slog.New(tracing.LogHandler(slog.NewJSONHandler(io.Discard, nil)))
		d.Ready, d.Tracing = db, tr
		return d
	}

	b.Run("off", func(b *testing.B) {
		benchtest.NestedQuery(b, NewServer(deps(testDB.DB, nil)), header)
	})

	b.Run("on", func(b *testing.B) {
		var spans atomic.Int64
		recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n, _ := io.Copy(io.Discard, r.Body)
			spans.Add(n) // bytes, for the report below
			w.Header().Set("Content-Type", "application/x-protobuf")
		}))
		defer recv.Close()
		b.Setenv("OTEL_BSP_MAX_QUEUE_SIZE", "1000000")
		b.Setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
		exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(recv.URL+"/v1/traces"))
		if err != nil {
			b.Fatal(err)
		}
		res, err := tracing.Resource(ctx, "bench")
		if err != nil {
			b.Fatal(err)
		}
		counter := &spanCounter{}
		tr := tracing.New(exp, res, sdktrace.WithSpanProcessor(counter))
		db, err := postgres.Open(ctx, postgres.Config{URL: testDB.URL, ConnectTimeout: 10 * time.Second, Tracer: postgres.NewSpanTracer(tr.TracerProvider())})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		benchtest.NestedQuery(b, NewServer(deps(db, tr)), header)
		b.StopTimer()
		if err := tr.Shutdown(ctx); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(counter.n.Load())/float64(b.N+1), "spans/op") // +1: NestedQuery's first, checked request
		b.ReportMetric(float64(spans.Load())/float64(b.N+1), "exportB/op")
	})
}

// spanCounter counts the spans that end.
type spanCounter struct{ n atomic.Int64 }

func (c *spanCounter) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (c *spanCounter) OnEnd(sdktrace.ReadOnlySpan)                     { c.n.Add(1) }
func (c *spanCounter) Shutdown(context.Context) error                  { return nil }
func (c *spanCounter) ForceFlush(context.Context) error                { return nil }
