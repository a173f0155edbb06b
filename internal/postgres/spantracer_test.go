package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/shipgraph/shipgraph/internal/postgres"
)

// The span tracer composes with the statement counter: statements under a
// span become its children, with their text and never their arguments;
// statements outside any span make none, and are still counted.
func TestSpanTracer(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	db, err := postgres.Open(t.Context(), postgres.Config{URL: testDB.URL, MaxConns: 2, ConnectTimeout: 10 * time.Second, Tracer: postgres.NewSpanTracer(tp)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	ctx := postgres.WithStatementCounter(context.Background())
	const secret = "an-argument-value"
	var got string
	if err := db.Pool.QueryRow(ctx, "SELECT $1::text", secret).Scan(&got); err != nil || got != secret {
		t.Fatalf("query: %v %q", err, got)
	}
	if n := len(rec.Ended()); n != 0 {
		t.Fatalf("%d spans for a statement outside any span", n)
	}

	ctx, parent := tp.Tracer("test").Start(ctx, "request")
	db.Pool.QueryRow(ctx, "  select $1::text", secret).Scan(&got)
	_, err = db.Pool.Exec(ctx, "SELECT * FROM no_such_table")
	parent.End()
	if err == nil {
		t.Fatal("no error from a missing table")
	}
	if n := postgres.StatementCount(ctx); n != 3 {
		t.Errorf("StatementCount %d, want 3: the counter must still see every statement", n)
	}
	var sql []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() != "request" {
			sql = append(sql, s)
		}
	}
	if len(sql) != 2 {
		t.Fatalf("%d SQL spans, want 2", len(sql))
	}
	for i, s := range sql {
		if s.Name() != "SELECT" || s.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("span %q under %s, want SELECT under the request", s.Name(), s.Parent().SpanID())
		}
		attrs := map[string]string{}
		for _, kv := range s.Attributes() {
			attrs[string(kv.Key)] = kv.Value.String()
			if strings.Contains(kv.Value.String(), secret) {
				t.Errorf("span carries an argument value: %s", kv.Key)
			}
		}
		if attrs["db.system"] != "postgresql" || !strings.Contains(attrs["db.statement"], "$1") && i == 0 {
			t.Errorf("attributes %v", attrs)
		}
		if wantErr := i == 1; (s.Status().Code == codes.Error) != wantErr {
			t.Errorf("span %d status %v", i, s.Status())
		}
	}
}
