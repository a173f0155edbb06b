package tracing

import (
	"context"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// discard is an exporter that drops everything, so that a benchmark
// measures making and batching spans, not a network.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// BenchmarkInterceptField is the cost of one field through the extension:
// a resolver field gets a span, a plain field only the IsResolver check.
func BenchmarkInterceptField(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discard{}, sdktrace.WithMaxQueueSize(1<<20)))
	defer tp.Shutdown(context.Background())
	g := GraphQL{Tracer: tp.Tracer("bench")}
	ctx, parent := tp.Tracer("bench").Start(context.Background(), "operation")
	defer parent.End()
	next := func(context.Context) (any, error) { return nil, nil }
	for _, resolver := range []bool{true, false} {
		name := "plain"
		if resolver {
			name = "resolver"
		}
		b.Run(name, func(b *testing.B) {
			fc := &graphql.FieldContext{Object: "Feature", Field: graphql.CollectedField{Field: &ast.Field{Name: "builds"}}, IsResolver: resolver}
			fctx := graphql.WithFieldContext(ctx, fc)
			b.ReportAllocs()
			for b.Loop() {
				g.InterceptField(fctx, next)
			}
		})
	}
}
