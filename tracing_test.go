package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/shipgraph/shipgraph/internal/redistest"
)

// otlpReceiver is an OTLP/HTTP trace receiver (protobuf), what a collector
// is to the server: it keeps every span it is sent.
type otlpReceiver struct {
	URL string

	mu    sync.Mutex
	spans []otlpSpan
	posts int
}

// otlpSpan is an exported span with its resource's service.name.
type otlpSpan struct {
	*tracepb.Span
	service string
}

func (s otlpSpan) traceID() string { return hex.EncodeToString(s.TraceId) }
func (s otlpSpan) spanID() string  { return hex.EncodeToString(s.SpanId) }
func (s otlpSpan) parentID() string {
	return hex.EncodeToString(s.ParentSpanId)
}
func (s otlpSpan) attr(key string) string { return otlpAttr(s.Attributes, key) }

func otlpAttr(kvs []*commonpb.KeyValue, key string) string {
	for _, kv := range kvs {
		if kv.Key == key {
			switch v := kv.Value.Value.(type) {
			case *commonpb.AnyValue_StringValue:
				return v.StringValue
			case *commonpb.AnyValue_IntValue:
				return itoa(v.IntValue)
			}
		}
	}
	return ""
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	r := &otlpReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" {
			http.NotFound(w, req)
			return
		}
		body, err := io.ReadAll(req.Body)
		var export coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(body, &export)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.posts++
		for _, rs := range export.ResourceSpans {
			service := otlpAttr(rs.GetResource().GetAttributes(), "service.name")
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					r.spans = append(r.spans, otlpSpan{Span: sp, service: service})
				}
			}
		}
		r.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

// await polls until cond holds for the spans received so far and returns
// them.
func (r *otlpReceiver) await(t *testing.T, what string, cond func([]otlpSpan) bool) []otlpSpan {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r.mu.Lock()
		spans := append([]otlpSpan(nil), r.spans...)
		r.mu.Unlock()
		if cond(spans) {
			return spans
		}
		if time.Now().After(deadline) {
			var names []string
			for _, s := range spans {
				names = append(names, s.Name+"@"+s.traceID()[:8])
			}
			t.Fatalf("no %s in 15s; received %v", what, names)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *otlpReceiver) received() (posts, spans int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.posts, len(r.spans)
}

func inTrace(spans []otlpSpan, traceID string) []otlpSpan {
	var out []otlpSpan
	for _, s := range spans {
		if s.traceID() == traceID {
			out = append(out, s)
		}
	}
	return out
}

func named(spans []otlpSpan, name string) (otlpSpan, bool) {
	for _, s := range spans {
		if s.Name == name {
			return s, true
		}
	}
	return otlpSpan{}, false
}

// descendsFrom reports whether s is under the span ancestor in spans.
func descendsFrom(spans []otlpSpan, s otlpSpan, ancestor string) bool {
	byID := map[string]otlpSpan{}
	for _, x := range spans {
		byID[x.spanID()] = x
	}
	for p := s.parentID(); p != ""; p = byID[p].parentID() {
		if p == ancestor {
			return true
		}
		if _, ok := byID[p]; !ok {
			return false
		}
	}
	return false
}

// requestLogLine returns the access log line of the request with id.
func requestLogLine(t *testing.T, p *serverProcess, requestID string) map[string]any {
	t.Helper()
	line := p.log.await(t, 5*time.Second, func(l string) bool {
		return strings.Contains(l, `"msg":"request"`) && strings.Contains(l, `"request_id":"`+requestID+`"`)
	})
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("log line %s: %v", line, err)
	}
	return m
}

// The real server, tracing to an OTLP receiver: each request is one trace
// (server span, operation span, resolver spans, SQL and Redis spans), its
// id echoed in X-Trace-ID and written in its log line; an incoming
// traceparent continues the caller's trace; a deployment's job links to
// the request that created it.
func TestTracingExportsOneTracePerRequest(t *testing.T) {
	t.Parallel()
	bin := serverBinary(t)
	db := processDatabase(t)
	recv := newOTLPReceiver(t)
	redisURL := redistest.URL(t)
	p := startProcess(t, bin, "traced", map[string]string{
		"DATABASE_URL":                db.URL,
		"REDIS_URL":                   redisURL,
		"SHIPGRAPH_REDIS_PREFIX":      redistest.Prefix(t, redisURL),
		"SHIPGRAPH_STAGE_DURATION":    "0",
		"OTEL_EXPORTER_OTLP_ENDPOINT": recv.URL,
		"OTEL_BSP_SCHEDULE_DELAY":     "50", // ms: spans arrive at once
	})
	api := p.api()
	api.createFeature(t, "traced feature")

	t.Run("a query is one trace with operation, resolver, SQL and Redis spans", func(t *testing.T) {
		r := api.post(t, `query Tour { features(first: 3) { nodes { name testCases(first: 2) { totalCount } } } }`, nil)
		if len(r.Errors) > 0 {
			t.Fatalf("errors: %s", r.raw)
		}
		traceID := r.Header.Get("X-Trace-ID")
		if len(traceID) != 32 {
			t.Fatalf("X-Trace-ID %q", traceID)
		}
		spans := inTrace(recv.await(t, "SQL span in the query's trace", func(all []otlpSpan) bool {
			_, op := named(inTrace(all, traceID), "query Tour")
			_, server := named(inTrace(all, traceID), "POST /graphql")
			_, sql := named(inTrace(all, traceID), "SELECT")
			return op && server && sql
		}), traceID)
		server, _ := named(spans, "POST /graphql")
		if server.Kind != tracepb.Span_SPAN_KIND_SERVER || server.parentID() != "" || server.service != "shipgraph" {
			t.Errorf("server span: kind %v, parent %q, service %q", server.Kind, server.parentID(), server.service)
		}
		op, _ := named(spans, "query Tour")
		if op.parentID() != server.spanID() {
			t.Errorf("operation span's parent %s, want the server span %s", op.parentID(), server.spanID())
		}
		if op.attr("graphql.operation.name") != "Tour" || op.attr("graphql.operation.type") != "query" ||
			!strings.HasPrefix(op.attr("graphql.document.hash"), "sha256:") || op.Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR {
			t.Errorf("operation span: attributes %v, status %v", op.Attributes, op.Status)
		}
		features, ok := named(spans, "Query.features")
		if !ok || features.parentID() != op.spanID() {
			t.Errorf("Query.features resolver span missing or not under the operation (%v)", ok)
		}
		if _, ok := named(spans, "Feature.testCases"); !ok {
			t.Errorf("no Feature.testCases resolver span")
		}
		if _, ok := named(spans, "Feature.name"); ok {
			t.Errorf("a span for the plain field Feature.name")
		}
		var sqlUnderOp int
		for _, s := range spans {
			if s.attr("db.system") == "postgresql" {
				if s.attr("db.statement") == "" || s.Kind != tracepb.Span_SPAN_KIND_CLIENT {
					t.Errorf("SQL span %s: statement %q, kind %v", s.Name, s.attr("db.statement"), s.Kind)
				}
				if descendsFrom(spans, s, op.spanID()) {
					sqlUnderOp++
				}
			}
		}
		if sqlUnderOp < 2 {
			t.Errorf("%d SQL spans under the operation, want the features and test cases statements", sqlUnderOp)
		}
		var redisSpans int
		for _, s := range spans {
			if s.attr("db.system") == "redis" && descendsFrom(spans, s, server.spanID()) {
				redisSpans++
			}
		}
		if redisSpans == 0 {
			t.Errorf("no Redis span (the rate limit) in the request's trace")
		}

		line := requestLogLine(t, p, r.Header.Get("X-Request-ID"))
		if line["trace_id"] != traceID || line["span_id"] != server.spanID() {
			t.Errorf("request log line: trace_id %v span_id %v; want %s %s", line["trace_id"], line["span_id"], traceID, server.spanID())
		}
	})

	t.Run("an incoming traceparent is continued", func(t *testing.T) {
		const callerTrace, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
		body := []byte(`{"query":"query Continued { features(first: 1) { totalCount } }"}`)
		r := api.sendWith(t, http.MethodPost, "application/json", body, "traceparent: 00-"+callerTrace+"-"+callerSpan+"-01")
		if got := r.Header.Get("X-Trace-ID"); got != callerTrace {
			t.Fatalf("X-Trace-ID %q, want the caller's %s", got, callerTrace)
		}
		spans := inTrace(recv.await(t, "the continued trace", func(all []otlpSpan) bool {
			_, ok := named(inTrace(all, callerTrace), "query Continued")
			return ok
		}), callerTrace)
		server, ok := named(spans, "POST /graphql")
		if !ok || server.parentID() != callerSpan {
			t.Errorf("server span parent %q, want the caller's span %s", server.parentID(), callerSpan)
		}
		if line := requestLogLine(t, p, r.Header.Get("X-Request-ID")); line["trace_id"] != callerTrace {
			t.Errorf("log line trace_id %v", line["trace_id"])
		}
	})

	t.Run("an operation with errors has an error status", func(t *testing.T) {
		r := api.post(t, `query Broken { feature(id: "RmVhdHVyZTo5OTk5OTk5") { name } node(id: "not an id") { id } }`, nil)
		if len(r.Errors) == 0 {
			t.Fatalf("no error: %s", r.raw)
		}
		traceID := r.Header.Get("X-Trace-ID")
		spans := inTrace(recv.await(t, "the failed operation", func(all []otlpSpan) bool {
			_, ok := named(inTrace(all, traceID), "query Broken")
			return ok
		}), traceID)
		op, _ := named(spans, "query Broken")
		if op.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || op.attr("graphql.errors") == "" {
			t.Errorf("operation span status %v, attributes %v", op.Status, op.Attributes)
		}
	})

	t.Run("a deployment's job span links to the creating request", func(t *testing.T) {
		_, build := api.succeededBuild(t)
		r := api.post(t, createDeployment, map[string]any{"b": build, "env": "traced"})
		if len(r.Errors) > 0 {
			t.Fatalf("errors: %s", r.raw)
		}
		requestTrace := r.Header.Get("X-Trace-ID")
		var created createdDeployment
		if err := json.Unmarshal(r.Data, &created); err != nil {
			t.Fatal(err)
		}
		// A subscription works through the traced handler (the WebSocket
		// upgrade passes the server span's response writer).
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		evs := subscribeProgress(ctx, t, p, created.CreateDeployment.Deployment.ID).collect(ctx, t, nil, nil)
		if last := evs[len(evs)-1]; last.Status != "SUCCEEDED" {
			t.Fatalf("the stream ended on %s", last)
		}
		var job otlpSpan
		spans := recv.await(t, "a job span linked to the request", func(all []otlpSpan) bool {
			for _, s := range all {
				for _, l := range s.Links {
					if s.Name == "deployment job" && hex.EncodeToString(l.TraceId) == requestTrace {
						job = s
						return len(inTrace(all, s.traceID())) > 4 // with its stages
					}
				}
			}
			return false
		})
		if job.traceID() == requestTrace {
			t.Errorf("the job runs in the request's trace; want its own, linked")
		}
		stages := 0
		for _, s := range inTrace(spans, job.traceID()) {
			if strings.HasPrefix(s.Name, "stage ") && s.parentID() == job.spanID() {
				stages++
			}
		}
		if stages != 4 {
			t.Errorf("%d stage spans under the job, want 4", stages)
		}
	})

	t.Run("probes are not traced", func(t *testing.T) {
		res, err := http.Get(p.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if id := res.Header.Get("X-Trace-ID"); id != "" {
			t.Errorf("/healthz traced: %s", id)
		}
	})
}

// With the SDK disabled, nothing is exported even though an endpoint is
// set, no trace id is echoed and log lines carry none; with no OTEL_*
// variable at all the same holds (every other process test runs so).
func TestTracingOffExportsNothing(t *testing.T) {
	t.Parallel()
	bin := serverBinary(t)
	db := processDatabase(t)
	recv := newOTLPReceiver(t)
	for name, env := range map[string]map[string]string{
		"sdk disabled":   {"OTEL_EXPORTER_OTLP_ENDPOINT": recv.URL, "OTEL_SDK_DISABLED": "true", "OTEL_BSP_SCHEDULE_DELAY": "50"},
		"exporter none":  {"OTEL_EXPORTER_OTLP_ENDPOINT": recv.URL, "OTEL_TRACES_EXPORTER": "none", "OTEL_BSP_SCHEDULE_DELAY": "50"},
		"nothing is set": {},
	} {
		t.Run(name, func(t *testing.T) {
			env["DATABASE_URL"] = db.URL
			p := startProcess(t, bin, name, env)
			body := []byte(`{"query":"{ features(first: 1) { totalCount } }"}`)
			r := p.api().sendWith(t, http.MethodPost, "application/json", body, "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
			if r.Status != http.StatusOK || r.Header.Get("X-Trace-ID") != "" {
				t.Errorf("status %d, X-Trace-ID %q", r.Status, r.Header.Get("X-Trace-ID"))
			}
			if line := requestLogLine(t, p, r.Header.Get("X-Request-ID")); line["trace_id"] != nil {
				t.Errorf("log line carries trace_id %v", line["trace_id"])
			}
			if p.log.contains("tracing: exporting") {
				t.Errorf("the server says it traces")
			}
		})
	}
	// Absence has no signal to wait for: give a batch 20 times its
	// schedule delay to arrive.
	time.Sleep(time.Second)
	if posts, spans := recv.received(); posts != 0 {
		t.Errorf("the receiver got %d exports (%d spans)", posts, spans)
	}
}

// Spans still buffered when the server is told to stop are exported
// before it exits.
func TestTracingFlushesOnShutdown(t *testing.T) {
	t.Parallel()
	bin := serverBinary(t)
	db := processDatabase(t)
	recv := newOTLPReceiver(t)
	p := startProcess(t, bin, "flush", map[string]string{
		"DATABASE_URL":                db.URL,
		"OTEL_EXPORTER_OTLP_ENDPOINT": recv.URL,
		"OTEL_BSP_SCHEDULE_DELAY":     "600000", // 10 minutes: only the shutdown exports
	})
	r := p.api().post(t, `query BeforeStop { features(first: 1) { totalCount } }`, nil)
	traceID := r.Header.Get("X-Trace-ID")
	if posts, _ := recv.received(); posts != 0 {
		t.Fatalf("exported before shutdown (%d posts): the schedule delay did not apply", posts)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatal("the server did not stop")
	}
	posts, _ := recv.received()
	r2 := recv.await(t, "the operation span", func(all []otlpSpan) bool {
		_, ok := named(inTrace(all, traceID), "query BeforeStop")
		return ok
	})
	if posts == 0 || len(r2) == 0 {
		t.Errorf("nothing exported by the time the process exited")
	}
}
