package tracing

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func TestEnabled(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  map[string]string
		want bool
	}{
		{"nothing set", nil, false},
		{"endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, true},
		{"traces endpoint", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, true},
		{"exporter otlp alone", map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true},
		{"exporter none wins", map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, false},
		{"sdk disabled wins", map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, false},
		{"sdk disabled any case", map[string]string{"OTEL_SDK_DISABLED": "TRUE", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, false},
		{"sdk disabled false", map[string]string{"OTEL_SDK_DISABLED": "false", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, true},
		{"other variables only", map[string]string{"OTEL_SERVICE_NAME": "x", "OTEL_TRACES_SAMPLER": "always_on"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Enabled(func(k string) string { return tc.env[k] }); got != tc.want {
				t.Errorf("Enabled = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFromEnvRefusesWhatItCannotDo(t *testing.T) {
	t.Parallel()
	for name, env := range map[string]map[string]string{
		"exporter":  {"OTEL_TRACES_EXPORTER": "zipkin", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"},
		"protocol":  {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_PROTOCOL": "thrift"},
		"protocol2": {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "udp"},
	} {
		t.Run(name, func(t *testing.T) {
			tr, err := FromEnv(t.Context(), func(k string) string { return env[k] }, "test")
			if err == nil {
				tr.Shutdown(context.Background())
				t.Fatal("FromEnv accepted it")
			}
		})
	}
	tr, err := FromEnv(t.Context(), func(string) string { return "" }, "test")
	if tr != nil || err != nil || tr.Enabled() {
		t.Fatalf("FromEnv with nothing set = %v, %v; want nil (off)", tr, err)
	}
}

// Off, the handler is next itself: no wrapper, no cost.
func TestOffWrapsNothing(t *testing.T) {
	t.Parallel()
	var tr *Tracing
	if tr.GraphQL() != nil {
		t.Error("GraphQL extension when off")
	}
	if tr.Shutdown(context.Background()) != nil {
		t.Error("Shutdown failed when off")
	}
	if _, span := tr.Tracer("x").Start(context.Background(), "s"); span.IsRecording() {
		t.Error("a recording span when off")
	}
}

func TestLogHandlerAddsTraceAndSpanIDs(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(LogHandler(slog.NewJSONHandler(&buf, nil))).With("component", "test")
	tp := sdktrace.NewTracerProvider()
	ctx, span := tp.Tracer("test").Start(context.Background(), "op")
	defer span.End()

	log.InfoContext(ctx, "inside")
	log.Info("outside")
	log.WithGroup("g").InfoContext(ctx, "grouped", "k", "v")

	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 3 {
		t.Fatalf("%d lines: %s", len(lines), buf.Bytes())
	}
	var inside, outside map[string]any
	json.Unmarshal(lines[0], &inside)
	json.Unmarshal(lines[1], &outside)
	sc := span.SpanContext()
	if inside["trace_id"] != sc.TraceID().String() || inside["span_id"] != sc.SpanID().String() || inside["component"] != "test" {
		t.Errorf("line in a span: %s; want trace_id %s span_id %s", lines[0], sc.TraceID(), sc.SpanID())
	}
	if _, ok := outside["trace_id"]; ok {
		t.Errorf("line without a span has a trace_id: %s", lines[1])
	}
	if !bytes.Contains(lines[2], []byte(sc.TraceID().String())) {
		t.Errorf("grouped logger lost the trace id: %s", lines[2])
	}
}

func TestChildOnlyStartsNoRootSpan(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	child := ChildOnly(tp).Tracer("test")

	ctx, span := child.Start(context.Background(), "orphan")
	span.End()
	if span.IsRecording() || trace.SpanContextFromContext(ctx).IsValid() {
		t.Error("a span without a parent was started")
	}
	pctx, parent := tp.Tracer("test").Start(context.Background(), "parent")
	_, span = child.Start(pctx, "child")
	span.End()
	parent.End()
	ended := rec.Ended()
	if len(ended) != 2 || ended[0].Name() != "child" || ended[0].Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Fatalf("ended spans %v, want child under parent", ended)
	}
	// A remote parent (an incoming traceparent) counts too.
	remote := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled, Remote: true})
	_, span = child.Start(trace.ContextWithRemoteSpanContext(context.Background(), remote), "under remote")
	if !span.IsRecording() {
		t.Error("no span under a remote parent")
	}
	span.End()
}

func TestInjectExtractRoundTrip(t *testing.T) {
	t.Parallel()
	tp := sdktrace.NewTracerProvider()
	ctx, span := tp.Tracer("test").Start(context.Background(), "op")
	defer span.End()
	carrier := map[string]string{}
	Inject(ctx, carrier)
	if got := Extract(carrier); got.TraceID() != span.SpanContext().TraceID() || got.SpanID() != span.SpanContext().SpanID() {
		t.Errorf("extracted %v from %v, want %v", got, carrier, span.SpanContext())
	}
	empty := map[string]string{}
	Inject(context.Background(), empty)
	if len(empty) != 0 || Extract(nil).IsValid() {
		t.Errorf("an untraced context injected %v", empty)
	}
}

// Each supported protocol builds its exporter (grpc with otlptracegrpc);
// exporting over OTLP/HTTP is tested end to end with the real server.
func TestFromEnvBuildsEachProtocol(t *testing.T) {
	t.Parallel()
	for _, protocol := range []string{"", "http/protobuf", "http/json", "grpc"} {
		env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_PROTOCOL": protocol}
		tr, err := FromEnv(t.Context(), func(k string) string { return env[k] }, "test")
		if err != nil || !tr.Enabled() {
			t.Errorf("protocol %q: %v, enabled %v", protocol, err, tr.Enabled())
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		tr.Shutdown(ctx) // nothing buffered: nothing to send to the closed port
		cancel()
	}
}
