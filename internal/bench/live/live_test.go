package live

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shipgraph/shipgraph/internal/bench"
	"github.com/shipgraph/shipgraph/internal/bench/loadgen"
)

func TestSummarize(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	d := Summarize(ds)
	if d.N != 100 || d.P50 != 50 || d.P99 != 99 || d.Max != 100 || d.Min != 1 || d.Mean != 50.5 {
		t.Fatalf("%+v", d)
	}
	if got := Summarize(nil); got.N != 0 {
		t.Fatalf("empty: %+v", got)
	}
	if p := loadgen.Percentile([]time.Duration{7}, 99.9); p != 7 {
		t.Fatalf("one value: %v", p)
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 75000: "75,000", 1234567: "1,234,567", -5000: "-5,000"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func writeResults(t *testing.T, lines ...any) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "results.jsonl")
	var b strings.Builder
	for _, l := range lines {
		j, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(j)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRenderResults(t *testing.T) {
	d := &DeploysResult{Kind: "deploys", N: 1000, Concurrency: 16, Seconds: 5, PerSecond: 200, EventsPerDeployment: 11, SeenLive: 1000,
		CPU: CPUUse{Seconds: 5, Server: 2, Postgres: 4, Tool: 0.2, Cores: 1.5}}
	s := &SubsResult{Kind: "subs", Deployments: 100, Conns: 250, PerConn: 20, Subscriptions: 5000,
		Latency: Dist{N: 70000, P50: 20, P99: 150, Max: 300}, BySequence: []SeqDist{{Sequence: 2, Dist: Dist{P99: 120}}, {Sequence: 3, Dist: Dist{P99: 80}}},
		EventsPerDeployment: 15, EventsExpected: 75000, EventsReceived: 75000, Gapless: 5000,
		RSSPerSub: 15000, Loaded: MemPoint{Mem: MemStats{HeapAlloc: 1}}, HeapPerSub: 9000, StackPerSub: 4000}
	r, err := ReadResults(writeResults(t, d, s))
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() {
		t.Fatal("not OK")
	}
	out := Render(r)
	for _, want := range []string{
		"| **200.0/s** (1,000 in 5.00 s) | ≥ 100/s | met |",
		"20.0 / **150** / 300 ms", "p99 < 100 ms | **missed** |",
		"75,000 of 75,000 events received; 5,000 of 5,000 subscriptions gapless 1..15",
		"**15.0 KB**", "≤ 20 KB | met |", "120, 80.0 ms",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}

	// A lost event fails the run; a failed phase shows up in the table.
	s.EventsReceived, s.Gapless = 74999, 4999
	r, err = ReadResults(writeResults(t, Failure{Kind: "deploys", Error: "server died | badly"}, s))
	if err != nil {
		t.Fatal(err)
	}
	if r.OK() {
		t.Fatal("OK despite a lost event and a failed phase")
	}
	out = Render(r)
	for _, want := range []string{"**failed**: server died \\| badly", "nothing lost | **FAILED** |"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestReadMemStats(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/debug/pprof/heap":
			if r.URL.Query().Get("gc") != "1" {
				t.Error("the heap profile is read without a collection")
			}
			io.WriteString(w, "heap profile: 1: 2 [3: 4] @ heap/1048576\n\n# runtime.MemStats\n# Alloc = 10\n# Sys = 5000\n# HeapAlloc = 1000\n# HeapInuse = 2000\n# Stack = 300 / 300\n# NumGC = 3\n")
		case "/debug/pprof/goroutine":
			io.WriteString(w, "goroutine profile: total 42\n1 @ 0x1\n")
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	m, err := ReadMemStats(t.Context(), srv.URL+"/debug/pprof")
	if err != nil {
		t.Fatal(err)
	}
	if m != (MemStats{HeapAlloc: 1000, HeapInuse: 2000, StackInuse: 300, Sys: 5000, Goroutines: 42}) {
		t.Fatalf("%+v", m)
	}
}

func TestProcReaders(t *testing.T) {
	pid := os.Getpid()
	if rss, err := VmRSS(pid); err != nil || rss <= 0 {
		t.Fatalf("VmRSS = %d, %v", rss, err)
	}
	if _, err := ProcessCPU(pid); err != nil {
		t.Fatal(err)
	}
	if busy, total := BoxCPU(); total <= 0 || busy > total {
		t.Fatalf("BoxCPU = %v of %v", busy, total)
	}
	if !bench.Alive(pid) {
		t.Fatal("this process is not alive")
	}
}
