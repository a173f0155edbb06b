package postgres

import (
	"context"
	"strings"
	"unicode"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// NewSpanTracer returns a pgx query tracer that makes a span per statement,
// as a child of the span in the statement's context; a statement outside
// any span (River polling for jobs, migrations) gets none, so that
// background work does not make a trace every few milliseconds. The span
// holds the statement's text, which carries $n placeholders and never the
// argument values. Give it to Config.Tracer.
func NewSpanTracer(tp trace.TracerProvider) pgx.QueryTracer {
	return spanTracer{tracer: tp.Tracer("github.com/shipgraph/shipgraph/internal/postgres")}
}

type spanTracer struct{ tracer trace.Tracer }

// sqlSpanKey marks the context of a statement this tracer opened a span
// for: TraceQueryEnd must end that span, never the caller's.
type sqlSpanKey struct{}

// TraceQueryStart implements pgx.QueryTracer.
func (t spanTracer) TraceQueryStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx
	}
	attrs := []attribute.KeyValue{
		attribute.String("db.system", "postgresql"),
		attribute.String("db.statement", data.SQL),
	}
	if conn != nil {
		attrs = append(attrs, attribute.String("db.name", conn.Config().Database))
	}
	ctx, span := t.tracer.Start(ctx, statementName(data.SQL), trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return context.WithValue(ctx, sqlSpanKey{}, span)
}

// TraceQueryEnd implements pgx.QueryTracer.
func (spanTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	span, ok := ctx.Value(sqlSpanKey{}).(trace.Span)
	if !ok {
		return
	}
	if data.Err != nil {
		span.RecordError(data.Err)
		span.SetStatus(codes.Error, data.Err.Error())
	} else {
		span.SetAttributes(attribute.Int64("db.rows_affected", data.CommandTag.RowsAffected()))
	}
	span.End()
}

// statementName names a span after the statement's first keyword (SELECT,
// INSERT, WITH…): a name of few values, as span names should be; the text
// is in db.statement.
func statementName(sql string) string {
	sql = strings.TrimLeftFunc(sql, unicode.IsSpace)
	end := strings.IndexFunc(sql, func(r rune) bool { return !unicode.IsLetter(r) })
	if end < 0 {
		end = len(sql)
	}
	if end == 0 {
		return "SQL"
	}
	return strings.ToUpper(sql[:end])
}
