package redis_test

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/shipgraph/shipgraph/internal/redis"
	"github.com/shipgraph/shipgraph/internal/redistest"
	"github.com/shipgraph/shipgraph/internal/tracing"
)

// tracedClient is a client of the test Redis traced as serve traces it
// (child spans only), with the provider and what it recorded.
func tracedClient(t *testing.T) (*redis.Client, *sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	t.Helper()
	url := redistest.URL(t)
	c := open(t, url, redistest.Prefix(t, url))
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	if err := c.InstrumentTracing(tracing.ChildOnly(tp)); err != nil {
		t.Fatal(err)
	}
	return c, tp, rec
}

// Commands run under a span get a child span each, named after the
// command and without its arguments; commands outside any span get none.
func TestInstrumentTracingSpansCommandsUnderASpan(t *testing.T) {
	t.Parallel()
	c, tp, rec := tracedClient(t)
	if err := c.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Ended()); n != 0 {
		t.Fatalf("%d spans for a command outside any span: %v", n, rec.Ended())
	}

	ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
	const secretKey = "caller-with-a-secret-name"
	if _, _, err := c.RateCounter().Take(ctx, secretKey, 1, 10, time.Minute); err != nil {
		t.Fatal(err)
	}
	parent.End()

	var cmds []string
	for _, sp := range rec.Ended() {
		if sp.Name() == "request" {
			continue
		}
		cmds = append(cmds, sp.Name())
		if sp.Parent().SpanID() != parent.SpanContext().SpanID() && sp.Name() != "redis.dial" {
			t.Errorf("span %s is not a child of the request span", sp.Name())
		}
		if sp.SpanKind() != trace.SpanKindClient {
			t.Errorf("span %s kind %v", sp.Name(), sp.SpanKind())
		}
		system := ""
		for _, kv := range sp.Attributes() {
			if strings.Contains(kv.Value.String(), secretKey) {
				t.Errorf("span %s carries the command's arguments: %s=%s", sp.Name(), kv.Key, kv.Value.String())
			}
			if kv.Key == "db.system" {
				system = kv.Value.String()
			}
		}
		if system != "redis" {
			t.Errorf("span %s: db.system %q", sp.Name(), system)
		}
	}
	// The rate counter runs a script: EVALSHA, or EVAL the first time.
	if !strings.Contains(strings.Join(cmds, " "), "eval") {
		t.Errorf("spans %v, want the script's evalsha/eval", cmds)
	}
}

// The entity cache runs on a client of its own (NewCache): made after
// InstrumentTracing, it is traced too, so a cached read's MGET shows in
// the request's trace.
func TestInstrumentTracingCoversTheCacheClient(t *testing.T) {
	t.Parallel()
	c, tp, rec := tracedClient(t)
	cache := c.NewCache(redis.CacheConfig{TTL: time.Hour, Timeout: time.Second})
	t.Cleanup(func() { cache.Close() })

	ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
	cache.Get(ctx, []string{"f:1", "f:2"})
	parent.End()

	var children []string
	for _, sp := range rec.Ended() {
		if sp.Parent().SpanID() == parent.SpanContext().SpanID() {
			children = append(children, sp.Name())
		}
	}
	if !slices.Contains(children, "mget") {
		t.Fatalf("the request span's children are %v, want the cache's mget", children)
	}
}

// The entity cache's breaker lines, logged while a request reads, carry
// that request's trace id like every line logged in a traced context: the
// trace of a slow read leads to why the cache was skipped.
func TestCacheBreakerLinesCarryTheTraceID(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer // Get logs before it returns, on this goroutine
	log := slog.New(tracing.LogHandler(slog.NewJSONHandler(&logs, nil)))
	cache := open(t, redistest.UnreachableURL(t), "x:").NewCache(redis.CacheConfig{TTL: time.Hour, BackoffMin: time.Hour, Log: log})
	t.Cleanup(func() { cache.Close() })

	ctx, span := sdktrace.NewTracerProvider().Tracer("test").Start(context.Background(), "request")
	cache.Get(ctx, []string{"f:1"})
	span.End()
	want := `"trace_id":"` + span.SpanContext().TraceID().String() + `"`
	if !strings.Contains(logs.String(), "Redis failed") || !strings.Contains(logs.String(), want) {
		t.Fatalf("want the breaker's line with %s, logged:\n%s", want, logs.String())
	}
}
