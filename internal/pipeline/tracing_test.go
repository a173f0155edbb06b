package pipeline

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/shipgraph/shipgraph/internal/postgres"
	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// spanAttr returns the value of attribute key of s, "" without it.
func spanAttr(s sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}

// A deployment created inside a traced request runs in a job span of its
// own trace, linked to the request's, with a child span per stage.
func TestPipelineTracesJobAndStages(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	pool := testDB.DB.Pool
	s := postgres.NewStore(testDB.DB)
	p := newTestPipeline(t, pool, s, Config{StageDuration: 0, FailStage: shipgraph.StageExecute, TracerProvider: tp})
	start(t, p)

	// The "request" that creates the deployment.
	b := succeededBuild(t, s)
	reqCtx, reqSpan := tp.Tracer("test").Start(t.Context(), "POST /graphql")
	d, _, err := s.CreateDeployment(reqCtx, shipgraph.DeploymentCreate{BuildID: b.ID, Environment: "staging"})
	reqSpan.End()
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, s, d.ID, shipgraph.DeploymentFailed, 10*time.Second)

	var job sdktrace.ReadOnlySpan
	eventually(t, 5*time.Second, "the job span to end", func() bool {
		for _, sp := range rec.Ended() {
			if sp.Name() == "deployment job" && spanAttr(sp, "shipgraph.deployment.id") == attribute.Int64Value(d.ID).String() {
				job = sp
				return true
			}
		}
		return false
	})
	if job.SpanKind() != trace.SpanKindConsumer || job.Parent().IsValid() {
		t.Errorf("job span: kind %v, parent %v; want a consumer root span", job.SpanKind(), job.Parent())
	}
	if job.SpanContext().TraceID() == reqSpan.SpanContext().TraceID() {
		t.Errorf("the job span is in the request's trace; want a trace of its own, linked")
	}
	if links := job.Links(); len(links) != 1 || links[0].SpanContext.SpanID() != reqSpan.SpanContext().SpanID() ||
		links[0].SpanContext.TraceID() != reqSpan.SpanContext().TraceID() {
		t.Errorf("job span links %+v, want one to the request span %s", job.Links(), reqSpan.SpanContext().SpanID())
	}
	if spanAttr(job, "river.job.attempt") != "1" {
		t.Errorf("river.job.attempt = %q", spanAttr(job, "river.job.attempt"))
	}

	stages := map[string]sdktrace.ReadOnlySpan{}
	for _, sp := range rec.Ended() {
		if sp.Parent().SpanID() == job.SpanContext().SpanID() && sp.Name() != "" && spanAttr(sp, "shipgraph.stage") != "" {
			stages[sp.Name()] = sp
		}
	}
	for _, st := range shipgraph.Stages {
		sp, ok := stages["stage "+string(st)]
		if !ok {
			t.Errorf("no span for stage %s under the job span (have %v)", st, stages)
			continue
		}
		wantStatus, wantCode := "SUCCEEDED", codes.Unset
		if st == shipgraph.StageExecute {
			wantStatus, wantCode = "FAILED", codes.Error
		}
		if got := spanAttr(sp, "shipgraph.stage.status"); got != wantStatus || sp.Status().Code != wantCode {
			t.Errorf("stage %s span: status attribute %q, code %v; want %q, %v", st, got, sp.Status().Code, wantStatus, wantCode)
		}
	}
}

// Without a traced request (the seed, an untraced caller) the job carries
// no trace context and its span has no link.
func TestPipelineJobWithoutRequestTraceHasNoLink(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	pool := testDB.DB.Pool
	s := postgres.NewStore(testDB.DB)
	p := newTestPipeline(t, pool, s, Config{StageDuration: 0, TracerProvider: tp})
	start(t, p)
	d := createDeployment(t, s)
	waitStatus(t, s, d.ID, shipgraph.DeploymentSucceeded, 10*time.Second)
	var args string
	if err := pool.QueryRow(context.Background(), `SELECT args::text FROM river_job WHERE (args->>'deployment_id')::bigint = $1`, d.ID).Scan(&args); err != nil {
		t.Fatal(err)
	}
	if want := `{"deployment_id": ` + attribute.Int64Value(d.ID).String() + `}`; args != want {
		t.Errorf("job args %s, want %s", args, want)
	}
	eventually(t, 5*time.Second, "the job span to end", func() bool {
		for _, sp := range rec.Ended() {
			if sp.Name() == "deployment job" && spanAttr(sp, "shipgraph.deployment.id") == attribute.Int64Value(d.ID).String() {
				if len(sp.Links()) != 0 {
					t.Errorf("links %+v, want none", sp.Links())
				}
				return true
			}
		}
		return false
	})
}
