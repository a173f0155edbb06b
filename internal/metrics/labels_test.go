package metrics

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestLabelsKeepTheFirstDistinctValues(t *testing.T) {
	t.Parallel()
	l := NewLabels(3)
	for _, v := range []string{"A", "B", "A", "C"} {
		if got := l.Get(v); got != v {
			t.Errorf("Get(%q) = %q within the bound", v, got)
		}
	}
	if got := l.Get("D"); got != Other {
		t.Errorf("Get(D) past the bound = %q, want %q", got, Other)
	}
	if got := l.Get("B"); got != "B" {
		t.Errorf("a value seen early keeps its label, got %q", got)
	}
}

func TestLabelsBoundHoldsUnderConcurrency(t *testing.T) {
	t.Parallel()
	l := NewLabels(10)
	var wg sync.WaitGroup
	kept := make([]map[string]bool, 8)
	for g := range kept {
		kept[g] = map[string]bool{}
		wg.Go(func() {
			for i := range 1000 {
				kept[g][l.Get(fmt.Sprint(i%50))] = true
			}
		})
	}
	wg.Wait()
	distinct := map[string]bool{}
	for _, k := range kept {
		for v := range k {
			distinct[v] = true
		}
	}
	// At most 10 values and "other".
	if len(distinct) > 11 || !distinct[Other] {
		t.Errorf("%d distinct labels (%v), want at most 10 and %q", len(distinct), distinct, Other)
	}
}

func TestOperationNamesAreBounded(t *testing.T) {
	t.Parallel()
	m := New("test")
	for i := range MaxOperationNames + 50 {
		m.ObserveOperation(Operation{Name: fmt.Sprintf("Op%d", i), Type: "query"})
	}
	m.ObserveOperation(Operation{Type: "query"})
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]float64{}
	for _, f := range fams {
		if f.GetName() != "shipgraph_graphql_operation_duration_seconds" {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, lp := range s.GetLabel() {
				if lp.GetName() == "operation" {
					names[lp.GetValue()] += float64(s.GetHistogram().GetSampleCount())
				}
			}
		}
	}
	// The first hundred names, "other" for the fifty after, "anonymous".
	if len(names) != MaxOperationNames+2 || names[Other] != 50 || names[Anonymous] != 1 || names["Op0"] != 1 {
		t.Errorf("%d names; other %v, anonymous %v, Op0 %v", len(names), names[Other], names[Anonymous], names["Op0"])
	}
}

// BenchmarkObserveOperation is what the metrics add to every GraphQL
// operation: the bounded name, the histogram and the statement count.
func BenchmarkObserveOperation(b *testing.B) {
	m := New("bench")
	op := Operation{Name: "Overview", Type: "query", Duration: 3 * time.Millisecond, Statements: 4}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.ObserveOperation(op)
		}
	})
}

// BenchmarkObserveHTTP is what the metrics add to every HTTP request.
func BenchmarkObserveHTTP(b *testing.B) {
	m := New("bench")
	b.ReportAllocs()
	for b.Loop() {
		m.ObserveHTTP("POST /graphql", "POST", 200, 3*time.Millisecond)
	}
}
