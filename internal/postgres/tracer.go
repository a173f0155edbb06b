package postgres

import (
	"context"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
)

type counterKey struct{}

// WithStatementCounter returns a context in which every statement sent to the
// database is counted: one request's cost in round trips, for its log line,
// a metric and the tests that hold nested queries to a fixed statement count.
func WithStatementCounter(ctx context.Context) context.Context {
	return context.WithValue(ctx, counterKey{}, new(atomic.Int64))
}

// StatementCount returns the statements sent so far under ctx (0 without a
// counter).
func StatementCount(ctx context.Context) int64 {
	if c, ok := ctx.Value(counterKey{}).(*atomic.Int64); ok {
		return c.Load()
	}
	return 0
}

// countingTracer is the pgx query tracer behind StatementCount. Loaders run
// their batches with the context of a resolver of the request, so their
// statements count towards it too.
type countingTracer struct{}

// TraceQueryStart implements pgx.QueryTracer.
func (countingTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	if c, ok := ctx.Value(counterKey{}).(*atomic.Int64); ok {
		c.Add(1)
	}
	return ctx
}

// TraceQueryEnd implements pgx.QueryTracer.
func (countingTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
