package redis_test

import (
	"context"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/shipgraph/shipgraph/internal/redistest"
	"github.com/shipgraph/shipgraph/internal/tracing"
)

// Commands run under a span get a child span each, named after the
// command and without its arguments; commands outside any span get none.
func TestInstrumentTracingSpansCommandsUnderASpan(t *testing.T) {
	t.Parallel()
	url := redistest.URL(t)
	c := open(t, url, redistest.Prefix(t, url))
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	if err := c.InstrumentTracing(tracing.ChildOnly(tp)); err != nil {
		t.Fatal(err)
	}
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
			if strings.Contains(kv.Value.Emit(), secretKey) {
				t.Errorf("span %s carries the command's arguments: %s=%s", sp.Name(), kv.Key, kv.Value.Emit())
			}
			if kv.Key == "db.system" {
				system = kv.Value.Emit()
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
