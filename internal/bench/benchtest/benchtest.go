// Package benchtest is the in-process half of the benchmark: it drives an
// http.Handler with the benchmark query for a Go benchmark, so that
// `go test -bench -benchmem` reports the server side's time, bytes and
// allocations per request with no network and no load generator in the
// way. Shipgraph's BenchmarkNestedQuery (package main) and the baseline's
// BenchmarkBaselineNestedQuery both call NestedQuery, so their numbers are
// measured the same way.
package benchtest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/shipgraph/shipgraph/internal/bench"
)

// recorder is a reusable http.ResponseWriter: after the first request its
// header map and buffer are reused, so it allocates nothing per request and
// the benchmark's allocations are the handler's.
type recorder struct {
	status int
	header http.Header
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(p)
}

func (r *recorder) reset() {
	r.status = 0
	clear(r.header)
	r.body.Reset()
}

// NestedQuery benchmarks h answering bench.Query as POST /graphql, with
// header (an Authorization, say; nil for none) on every request. It first
// checks that the answer is a successful one with bench.Features features,
// then fails the benchmark if any later answer differs from the first.
func NestedQuery(b *testing.B, h http.Handler, header http.Header) {
	b.Helper()
	body := bench.RequestBody()
	tmpl := httptest.NewRequest(http.MethodPost, "/graphql", nil)
	for k, v := range header {
		tmpl.Header[k] = v
	}
	tmpl.Header.Set("Content-Type", "application/json")
	tmpl.ContentLength = int64(len(body))
	rd := bytes.NewReader(body)
	rc := io.NopCloser(rd)
	rec := &recorder{header: http.Header{}}
	serve := func() {
		rec.reset()
		rd.Reset(body)
		// A shallow copy per request (one small allocation), since a
		// handler may set fields of the request it is given.
		r := new(http.Request)
		*r = *tmpl
		r.Body = rc
		h.ServeHTTP(rec, r)
	}

	serve()
	if rec.status != http.StatusOK {
		b.Fatalf("status %d: %.500s", rec.status, rec.body.Bytes())
	}
	s, err := bench.Verify(rec.body.Bytes())
	if err != nil {
		b.Fatal(err)
	}
	want := bytes.Clone(rec.body.Bytes())

	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for b.Loop() {
		serve()
		if rec.status != http.StatusOK || !bytes.Equal(rec.body.Bytes(), want) {
			b.Fatalf("answer changed (status %d): %.500s", rec.status, rec.body.Bytes())
		}
	}
	cpu := processCPU() - cpu0
	// After the loop: ResetTimer deletes reported metrics.
	b.ReportMetric(float64(s.Objects), "objects/op")
	// The process's CPU time (user + system, every thread: the GC's
	// too) per request. On a busy machine ns/op also counts the time the
	// benchmark waited for a CPU; this does not. PostgreSQL's time is in
	// another process and not counted.
	if cpu > 0 && b.N > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// processCPU is the CPU time this process has used so far, 0 if unknown.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
