// Package tracing is OpenTelemetry tracing for Shipgraph, configured by the
// standard OTEL_* environment variables only and off unless they ask for an
// OTLP exporter. Off means no exporter, no SDK and nothing wrapped: the
// server runs exactly the code it runs without this package.
//
// It is named for what it does rather than "otel", which would shadow the
// go.opentelemetry.io/otel package wherever both are imported.
//
// What the OpenTelemetry SDK reads from the environment by itself is left to
// it: the exporter's endpoint, headers, timeout, compression and
// certificates (otlptracehttp, otlptracegrpc), the sampler
// (OTEL_TRACES_SAMPLER, _ARG), the batch span processor (OTEL_BSP_*), span
// limits and OTEL_RESOURCE_ATTRIBUTES / OTEL_SERVICE_NAME
// (resource.WithFromEnv). This package only decides whether tracing is on,
// which exporter (protocol) to build, and the defaults of the resource.
package tracing

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// DefaultServiceName is service.name unless OTEL_SERVICE_NAME or
// OTEL_RESOURCE_ATTRIBUTES say otherwise.
const DefaultServiceName = "shipgraph"

// TraceIDHeader is the response header that echoes the request's trace id,
// so that a client's bug report leads straight to the trace (as
// X-Request-ID leads to the log lines). A plain header rather than W3C's
// traceresponse, which is still a draft and which people do not grep for.
const TraceIDHeader = "X-Trace-ID"

// Tracing is the process's tracing: an SDK tracer provider with its
// exporter and the W3C propagators. A nil *Tracing is tracing switched off;
// every method works on it and does nothing, so callers need no checks.
type Tracing struct {
	sdk        *sdktrace.TracerProvider
	propagator propagation.TextMapPropagator
}

// Enabled reports whether the environment asks for OTLP tracing: an OTLP
// endpoint is set or OTEL_TRACES_EXPORTER=otlp, and neither
// OTEL_SDK_DISABLED=true nor OTEL_TRACES_EXPORTER=none turns it off.
func Enabled(getenv func(string) string) bool {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false
	}
	switch strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))) {
	case "none":
		return false
	case "otlp":
		return true
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// FromEnv sets tracing up from the environment; it returns nil (tracing
// off) when Enabled is false. getenv must be the process environment
// (os.Getenv): the SDK reads the exporter's settings from there itself, and
// a decision taken from elsewhere (a .env file) would disagree with it.
func FromEnv(ctx context.Context, getenv func(string) string, version string) (*Tracing, error) {
	if !Enabled(getenv) {
		return nil, nil
	}
	if e := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))); e != "" && e != "otlp" {
		return nil, fmt.Errorf("tracing: OTEL_TRACES_EXPORTER=%q is not supported (otlp or none)", e)
	}
	protocol := getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if protocol == "" {
		protocol = getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	var (
		exp sdktrace.SpanExporter
		err error
	)
	switch protocol {
	case "", "http/protobuf", "http/json":
		// otlptracehttp reads the protocol (its encoding) itself.
		exp, err = otlptracehttp.New(ctx)
	case "grpc":
		exp, err = otlptracegrpc.New(ctx)
	default:
		return nil, fmt.Errorf("tracing: OTLP protocol %q is not supported (http/protobuf, http/json or grpc)", protocol)
	}
	if err != nil {
		return nil, fmt.Errorf("tracing: exporter: %w", err)
	}
	res, err := Resource(ctx, version)
	if err != nil {
		return nil, err
	}
	return New(exp, res), nil
}

// Resource describes this process: service.name "shipgraph" and its
// version, overridden by OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
func Resource(ctx context.Context, version string) (*resource.Resource, error) {
	res, err := resource.New(ctx,
		// Later detectors win: the environment overrides the defaults.
		resource.WithAttributes(
			attribute.String("service.name", DefaultServiceName),
			attribute.String("service.version", version),
		),
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithFromEnv(),
	)
	// A partial resource (one detector failed) is still worth exporting with.
	if err != nil && res == nil {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	return res, nil
}

// New returns tracing that batches spans to exp. The sampler and the batch
// settings come from the environment (OTEL_TRACES_SAMPLER, OTEL_BSP_*),
// read by the SDK; opts add to them (tests and benchmarks add span
// processors).
func New(exp sdktrace.SpanExporter, res *resource.Resource, opts ...sdktrace.TracerProviderOption) *Tracing {
	opts = append([]sdktrace.TracerProviderOption{sdktrace.WithBatcher(exp), sdktrace.WithResource(res)}, opts...)
	return &Tracing{
		sdk: sdktrace.NewTracerProvider(opts...),
		// W3C trace context and baggage: an incoming traceparent continues
		// the caller's trace.
		propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	}
}

// Enabled reports whether tracing is on.
func (t *Tracing) Enabled() bool { return t != nil }

// TracerProvider returns the provider to create spans with: a no-op one
// when tracing is off.
func (t *Tracing) TracerProvider() trace.TracerProvider {
	if t == nil {
		return noop.NewTracerProvider()
	}
	return t.sdk
}

// Tracer returns a tracer named after the instrumenting package.
func (t *Tracing) Tracer(name string) trace.Tracer { return t.TracerProvider().Tracer(name) }

// ChildTracerProvider returns a provider whose spans are only ever children:
// where the context holds no span it starts none. Database and Redis
// instrumentation use it, so that River's job polling and the event bus's
// background commands, which serve no request, do not each export a trace
// of their own.
func (t *Tracing) ChildTracerProvider() trace.TracerProvider {
	return ChildOnly(t.TracerProvider())
}

// Shutdown exports the spans still buffered and stops the exporter; call it
// last, after the HTTP server and the pipeline have stopped.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.sdk.Shutdown(ctx)
}

// untracedPaths get no server span: probes and scrapes every few seconds
// would bury the traces that matter.
var untracedPaths = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// spanRoutes are the paths that name a server span; any other path is
// named by its method alone, so that unknown URLs cannot make span names
// of unbounded variety.
var spanRoutes = map[string]bool{"/graphql": true, "/": true, "/schema.graphql": true}

// Handler starts a server span for each request to next (continuing the
// caller's trace when it sends a traceparent) and echoes the trace id in
// X-Trace-ID. Put it outermost, so that everything below, the request's
// log line included, runs inside the span. Off, it returns next.
func (t *Tracing) Handler(next http.Handler) http.Handler {
	if t == nil {
		return next
	}
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sc := trace.SpanContextFromContext(r.Context()); sc.IsValid() {
			w.Header().Set(TraceIDHeader, sc.TraceID().String())
		}
		next.ServeHTTP(w, r)
	})
	return otelhttp.NewHandler(echo, "http.server",
		otelhttp.WithTracerProvider(t.sdk),
		otelhttp.WithPropagators(t.propagator),
		// Metrics are Prometheus's business here (/metrics), not OTLP's.
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithFilter(func(r *http.Request) bool { return !untracedPaths[r.URL.Path] }),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			if spanRoutes[r.URL.Path] {
				return r.Method + " " + r.URL.Path
			}
			return r.Method
		}),
	)
}

// Inject writes ctx's trace context into carrier (W3C traceparent and
// tracestate); it writes nothing when ctx holds no span.
func Inject(ctx context.Context, carrier map[string]string) {
	propagation.TraceContext{}.Inject(ctx, propagation.MapCarrier(carrier))
}

// Extract returns the span context carried by carrier, invalid when there
// is none.
func Extract(carrier map[string]string) trace.SpanContext {
	if len(carrier) == 0 {
		return trace.SpanContext{}
	}
	ctx := propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier(carrier))
	return trace.SpanContextFromContext(ctx)
}
