package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/shipgraph/shipgraph/internal/postgres"
	"github.com/shipgraph/shipgraph/internal/tracing"
)

// startTracing sets tracing up from the standard OTEL_* variables (nil:
// off) and points the database and the pipeline at it. It reads the
// process environment, not the .env file: the OpenTelemetry SDK reads the
// exporter's settings (endpoint, headers, sampler…) from there itself, and
// the decision to trace must agree with them.
func startTracing(ctx context.Context, cfg *config, log *slog.Logger) (*tracing.Tracing, error) {
	tr, err := tracing.FromEnv(ctx, os.Getenv, buildVersion())
	if err != nil || !tr.Enabled() {
		return nil, err
	}
	cfg.sqlTracer = postgres.NewSpanTracer(tr.TracerProvider())
	cfg.Pipeline.TracerProvider = tr.TracerProvider()
	log.Info("tracing: exporting spans over OTLP")
	return tr, nil
}

// stopTracing exports the spans still buffered.
func stopTracing(tr *tracing.Tracing, cfg config, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		log.Warn("tracing: flushing spans at shutdown", "error", err)
	}
}
